"""The periodic django-q2 schedule of alert delivery, registered idempotently after migrate."""

from __future__ import annotations

from django.db import DEFAULT_DB_ALIAS, connections

DRAIN_NAME = "alerting.deliveries_drain"


def ensure_schedules(using: str = DEFAULT_DB_ALIAS, **kwargs) -> None:
    """post_migrate hook: drain due deliveries every minute (retries come due on their own; new
    events also enqueue a drain at once)."""
    from django_q.models import Schedule

    if Schedule._meta.db_table not in connections[using].introspection.table_names():
        return
    Schedule.objects.using(using).update_or_create(
        name=DRAIN_NAME,
        defaults={
            "func": "alerting.tasks.deliveries_drain",
            "schedule_type": Schedule.MINUTES,
            "minutes": 1,
            "repeats": -1,
        },
    )
