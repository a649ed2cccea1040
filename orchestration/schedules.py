"""The periodic django-q2 schedule of orchestration, registered idempotently after migrate."""

from __future__ import annotations

from django.db import DEFAULT_DB_ALIAS, connections

TICK_NAME = "orchestration.scheduler_tick"


def ensure_schedules(using: str = DEFAULT_DB_ALIAS, **kwargs) -> None:
    """post_migrate hook: one ``scheduler_tick`` schedule, every minute (reap, plan, dispatch).

    Skipped while django-q2's own tables are not migrated yet (a partial ``migrate``).
    """
    from django_q.models import Schedule

    if Schedule._meta.db_table not in connections[using].introspection.table_names():
        return
    Schedule.objects.using(using).update_or_create(
        name=TICK_NAME,
        defaults={
            "func": "orchestration.tasks.scheduler_tick",
            "schedule_type": Schedule.MINUTES,
            "minutes": 1,
            "repeats": -1,
        },
    )
