"""django-q2 schedules, registered idempotently after migrate: one helper for every app's
schedules, and the platform's own (daily retention)."""

from __future__ import annotations

from django.db import DEFAULT_DB_ALIAS, connections

RETENTION_NAME = "platform.retention_daily"


def schedule_ensure(using: str, *, name: str, func: str, every_minutes: int | None = None) -> None:
    """Create or update the schedule ``name`` running ``func`` every ``every_minutes`` minutes, or
    daily when that is None. Skipped while django-q2's own tables are not migrated yet (a partial
    ``migrate``)."""
    from django_q.models import Schedule

    if Schedule._meta.db_table not in connections[using].introspection.table_names():
        return
    timing = (
        {"schedule_type": Schedule.DAILY}
        if every_minutes is None
        else {"schedule_type": Schedule.MINUTES, "minutes": every_minutes}
    )
    defaults = {"func": func, "repeats": -1, **timing}
    Schedule.objects.using(using).update_or_create(name=name, defaults=defaults)


def ensure_schedules(using: str = DEFAULT_DB_ALIAS, **kwargs) -> None:
    """post_migrate hook: daily retention."""
    schedule_ensure(using, name=RETENTION_NAME, func="platform_site.tasks.retention_daily")
