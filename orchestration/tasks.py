"""django-q2 entry points: take ids, call one service, stay idempotent.

``scheduler_tick`` is registered as a django-q2 schedule (every minute) by a post_migrate hook
(``orchestration.schedules``); ``task_execute`` is what ``tasks_dispatch`` enqueues.
"""

from __future__ import annotations

from orchestration import services
from platform_site.metrics import PLANNING_SECONDS, REAPER_ACTIONS


def task_execute(task_id: str) -> str:
    """Run one task from the ledger (a second delivery of the same message claims nothing).

    A django-q2 worker process is disposable (its cluster starts a new one), so a runaway operator
    that ignores its interrupt may end the process.
    """
    return services.task_execute(task_id=task_id, hard_stop=True)


def scheduler_tick() -> dict:
    """Reap lost work, plan every active job that may have stale partitions, dispatch."""
    reaped = services.tasks_reap()
    REAPER_ACTIONS.inc(reaped)
    with PLANNING_SECONDS.time():
        planned = services.plan_active_jobs()
    dispatched = services.tasks_dispatch()
    return {"reaped": reaped, "created": sum(r.created for r in planned), "dispatched": len(dispatched)}
