"""The query service's django-q2 schedules, registered idempotently after migrate."""

from __future__ import annotations

from django.db import DEFAULT_DB_ALIAS, connections

PURGE_NAME = "queries.purge_results"
REAP_NAME = "queries.reap_results"


def ensure_schedules(using: str = DEFAULT_DB_ALIAS, **kwargs) -> None:
    """post_migrate hook: a daily purge of expired results and a per-minute reaper of lost runs."""
    from django_q.models import Schedule

    if Schedule._meta.db_table not in connections[using].introspection.table_names():
        return
    Schedule.objects.using(using).update_or_create(
        name=PURGE_NAME,
        defaults={
            "func": "queries.tasks.query_results_purge",
            "schedule_type": Schedule.DAILY,
            "repeats": -1,
        },
    )
    Schedule.objects.using(using).update_or_create(
        name=REAP_NAME,
        defaults={
            "func": "queries.tasks.query_results_reap",
            "schedule_type": Schedule.MINUTES,
            "minutes": 1,
            "repeats": -1,
        },
    )
