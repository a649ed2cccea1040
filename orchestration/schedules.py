"""The periodic django-q2 schedule of orchestration, registered idempotently after migrate."""

from __future__ import annotations

from django.db import DEFAULT_DB_ALIAS

from platform_site.schedules import schedule_ensure

TICK_NAME = "orchestration.scheduler_tick"


def ensure_schedules(using: str = DEFAULT_DB_ALIAS, **kwargs) -> None:
    """post_migrate hook: one ``scheduler_tick`` schedule, every minute (reap, plan, dispatch)."""
    schedule_ensure(using, name=TICK_NAME, func="orchestration.tasks.scheduler_tick", every_minutes=1)
