"""The periodic django-q2 schedule of orchestration, registered idempotently after migrate."""

from __future__ import annotations

TICK_NAME = "orchestration.scheduler_tick"


def ensure_schedules(**kwargs) -> None:
    """post_migrate hook: one ``scheduler_tick`` schedule, every minute (reap, plan, dispatch)."""
    from django_q.models import Schedule

    Schedule.objects.update_or_create(
        name=TICK_NAME,
        defaults={
            "func": "orchestration.tasks.scheduler_tick",
            "schedule_type": Schedule.MINUTES,
            "minutes": 1,
            "repeats": -1,
        },
    )
