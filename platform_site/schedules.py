"""The platform's own django-q2 schedule (daily retention), registered idempotently after migrate."""

from __future__ import annotations

from django.db import DEFAULT_DB_ALIAS, connections

RETENTION_NAME = "platform.retention_daily"


def ensure_schedules(using: str = DEFAULT_DB_ALIAS, **kwargs) -> None:
    from django_q.models import Schedule

    if Schedule._meta.db_table not in connections[using].introspection.table_names():
        return
    Schedule.objects.using(using).update_or_create(
        name=RETENTION_NAME,
        defaults={
            "func": "platform_site.tasks.retention_daily",
            "schedule_type": Schedule.DAILY,
            "repeats": -1,
        },
    )
