"""The query service's django-q2 schedules, registered idempotently after migrate."""

from __future__ import annotations

from django.db import DEFAULT_DB_ALIAS

from platform_site.schedules import schedule_ensure

PURGE_NAME = "queries.purge_results"
REAP_NAME = "queries.reap_results"


def ensure_schedules(using: str = DEFAULT_DB_ALIAS, **kwargs) -> None:
    """post_migrate hook: a daily purge of expired results and a per-minute reaper of lost runs."""
    schedule_ensure(using, name=PURGE_NAME, func="queries.tasks.query_results_purge")
    schedule_ensure(using, name=REAP_NAME, func="queries.tasks.query_results_reap", every_minutes=1)
