"""django-q2 entry points: take ids, call one service, stay idempotent.

``scheduler_tick`` is registered as a django-q2 schedule (every minute) by a post_migrate hook
(``orchestration.schedules``); ``task_execute`` is what ``tasks_dispatch`` enqueues.
"""

from __future__ import annotations

import contextlib
import time

from orchestration import services
from orchestration.services import messages
from platform_site.metrics import PLANNING_SECONDS, REAPER_ACTIONS


def task_execute(*task_ids: str) -> str:
    """Run tasks from the ledger, one after another (a second delivery of the same message claims
    nothing). A message names several when a large dispatch bundled them (``services.messages``);
    once the bundle has run ``BUNDLE_SECONDS``, the tasks not yet started go back to the broker, one
    per message, for whichever workers are free.

    A django-q2 worker process is disposable (its cluster starts a new one), so a runaway operator
    that ignores its interrupt may end the process.
    """
    started = time.monotonic()
    outcomes = []
    for index, task_id in enumerate(task_ids):
        if index and time.monotonic() - started > messages.BUNDLE_SECONDS:
            messages.send_run_messages(task_ids[index:])
            outcomes.append(f"{len(task_ids) - index} sent back")
            break
        try:
            outcomes.append(services.task_execute(task_id=task_id, hard_stop=True))
        except Exception:
            if index + 1 < len(task_ids):  # the rest must not wait for the lost-message recovery
                with contextlib.suppress(Exception):
                    messages.send_run_messages(task_ids[index + 1 :])
            raise
    return outcomes[0] if len(outcomes) == 1 else ", ".join(outcomes)


def scheduler_tick() -> dict:
    """Reap lost work, plan every active job that may have stale partitions, dispatch."""
    reaped = services.tasks_reap()
    REAPER_ACTIONS.inc(reaped)
    with PLANNING_SECONDS.time():
        planned = services.plan_active_jobs()
    dispatched = services.tasks_dispatch()
    return {"reaped": reaped, "created": sum(r.created for r in planned), "dispatched": len(dispatched)}
