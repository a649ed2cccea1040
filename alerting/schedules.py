"""The periodic django-q2 schedule of alert delivery, registered idempotently after migrate."""

from __future__ import annotations

from django.db import DEFAULT_DB_ALIAS

from platform_site.schedules import schedule_ensure

DRAIN_NAME = "alerting.deliveries_drain"


def ensure_schedules(using: str = DEFAULT_DB_ALIAS, **kwargs) -> None:
    """post_migrate hook: drain due deliveries every minute (retries come due on their own; new
    events also enqueue a drain at once)."""
    schedule_ensure(using, name=DRAIN_NAME, func="alerting.tasks.deliveries_drain", every_minutes=1)
