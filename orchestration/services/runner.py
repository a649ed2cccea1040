"""Running one task: claim it, run its operator under a watchdog, publish (or fail), then plan what
its outputs made stale downstream and dispatch."""

from __future__ import annotations

import logging
import time
import uuid

from orchestration import schema_changes, selectors
from orchestration.models import Job, Task
from orchestration.operators import get_operator
from orchestration.operators.base import PermanentOperatorError, TaskContext
from platform_site.database import discard_if_broken
from platform_site.logging import log_task_transition
from platform_site.record_logs import task_log_context
from versioning.storage import lake

from .dispatch import tasks_dispatch
from .failure import task_fail
from .inputs import has_new_input, is_rebuild, task_context
from .jobs import parse_duration
from .leases import Lease, LeaseLost, new_worker_id, task_claim_loaded
from .publish import has_nothing_to_publish, task_complete, task_publish, task_publish_nothing
from .scheduler import job_backfill, job_plan_isolated, plan_downstream
from .watchdog import watchdog_for

log = logging.getLogger(__name__)


def task_execute(*, task_id: uuid.UUID | str, worker_id: str | None = None, hard_stop: bool = False) -> str:
    """Claim, run, publish (or fail) one task; then plan downstream and dispatch. Idempotent.

    ``hard_stop``: this process may be ended to stop a runaway operator (set by the django-q2
    entry point; never in a process that does other work, such as a test or a command).

    Every line logged during the run (the operator's own included) carries the task's id, and is
    kept for the task's page (``platform_site.record_logs``).
    """
    with task_log_context(task_id):
        return _task_execute(task_id=task_id, worker_id=worker_id, hard_stop=hard_stop)


def _task_execute(*, task_id: uuid.UUID | str, worker_id: str | None, hard_stop: bool) -> str:
    claimed = task_claim_loaded(task_id=task_id, worker_id=worker_id or new_worker_id())
    if claimed is None:
        return "not claimed"
    lease, task, cursors = claimed
    job = task.job
    log_task_transition(task, to=Task.Status.RUNNING, worker_id=lease.worker_id)
    if job.activation == Job.Activation.CONTINUOUS and not is_rebuild(task):
        return _run_continuous(lease=lease, task=task, hard_stop=hard_stop)
    watchdog = None
    try:
        operator = get_operator(job.operator)
        if operator is None:
            raise RuntimeError(f"unknown operator {job.operator}")
        ctx = task_context(lease=lease, job=job, task=task, cursors=cursors)
        watchdog = watchdog_for(lease, ctx, job, hard_stop=hard_stop)
        watchdog.start()
        changed = schema_changes.check(job=job, inputs=ctx.inputs)
        try:
            operator.run(ctx)
        finally:
            watchdog.stopped.set()
        if ctx.lease_lost.is_set():
            raise LeaseLost(str(lease.task_id))
        ctx.check_interrupted()
        if has_nothing_to_publish(ctx):
            # One statement, rerun on a fresh connection if the server dropped this one.
            published, job_has_due = False, task_publish_nothing(lease=lease, ctx=ctx)
        else:
            discard_if_broken()  # the operator may have run across a database restart
            published, job_has_due = True, True
            task_publish(lease=lease, ctx=ctx)
        log_task_transition(task, to=Task.Status.SUCCEEDED, worker_id=lease.worker_id)
    except LeaseLost:
        log.warning(
            "task %s lost its lease; its output is discarded",
            task_id,
            extra={
                "task_id": str(task.id),
                "job_id": str(job.id),
                "org_id": str(job.org_id),
                "worker_id": lease.worker_id,
            },
        )
        return "lease lost"
    except Exception as exc:
        stop_reason = watchdog.ctx.stop_reason if watchdog is not None else None
        if stop_reason is not None and watchdog.ctx.lease_lost.is_set():
            log.warning("task %s lost its lease; its operator was stopped", task_id)
            return "lease lost"
        error = stop_reason if stop_reason is not None else f"{type(exc).__name__}: {exc}"
        # With the exception, so the task's page shows where the operator failed.
        log.warning("task %s failed: %s", task_id, error, exc_info=exc)
        status = task_fail(
            lease=lease,
            error=error,
            retry=not isinstance(exc, PermanentOperatorError),
        )
        return status or "lease lost"
    finally:
        if watchdog is not None:
            watchdog.stopped.set()
    if changed:
        _rebuild_after_schema_change(job)
    after_publish(job=job, task=task, published=published, job_has_due=job_has_due)
    return "succeeded"


def _run_continuous(*, lease: Lease, task: Task, hard_stop: bool = False) -> str:
    """The ``continuous`` runner: process what is new past the cursor and publish it, poll for
    more, and end (succeeded) after ``idle_timeout`` with nothing new. Each step publishes like a
    task does, in one fenced transaction; the task stays running between steps."""
    job = task.job
    operator = get_operator(job.operator)
    idle_seconds = parse_duration(job.idle_timeout or "1m").total_seconds()
    poll_seconds = max(0.2, min(5.0, idle_seconds / 5))
    first = TaskContext(job=job, task=task, attempt=lease.attempt, storage=lake(), inputs={}, cursors={})
    heartbeat = watchdog_for(lease, first, job, hard_stop=hard_stop)
    heartbeat.start()
    last_new = time.monotonic()
    try:
        while heartbeat.ctx.heartbeat_ok:
            if selectors.open_invalidations(job=job).exists():
                # Let the planner rebuild what the invalidation covers; it starts a new run after.
                task_complete(lease=lease)
                return "succeeded"
            if has_new_input(job):
                task = Task.objects.select_related("job").get(pk=lease.task_id)
                ctx = task_context(lease=lease, job=job, task=task)
                ctx.lease_lost = first.lease_lost
                heartbeat.ctx = ctx  # the watchdog interrupts the step in progress
                operator.run(ctx)
                ctx.check_interrupted()
                if ctx.lease_lost.is_set():
                    raise LeaseLost(str(lease.task_id))
                task_publish(lease=lease, ctx=ctx, final=False)
                plan_downstream(datasets=list(job.output_datasets))
                tasks_dispatch()
                last_new = time.monotonic()
            elif time.monotonic() - last_new >= idle_seconds:
                task_complete(lease=lease)
                return "succeeded"
            heartbeat.ctx.interrupted.wait(poll_seconds)  # a stop request ends the wait at once
        if heartbeat.ctx.lease_lost.is_set():
            return "lease lost"
        return task_fail(lease=lease, error=heartbeat.ctx.stop_reason or "stopped") or "lease lost"
    except LeaseLost:
        return "lease lost"
    except Exception as exc:
        error = heartbeat.ctx.stop_reason or f"{type(exc).__name__}: {exc}"
        log.warning("continuous task %s failed: %s", lease.task_id, error, exc_info=exc)
        return task_fail(lease=lease, error=error) or "lease lost"
    finally:
        heartbeat.stopped.set()


def after_publish(*, job: Job, task: Task, published: bool = True, job_has_due: bool = True) -> None:
    """Downstream planning the moment a task publishes, then dispatch what became due.

    A run that published nothing changed no input of any downstream job, so nothing is planned; it
    dispatches only when its own job has due pending tasks (its completion freed a place under
    ``max_concurrency``). Other due work is dispatched by the planner that created it, the worker
    supervisor's dispatch loop and the scheduler tick: a burst of completions costs one dispatch
    where it used to cost one each.
    """
    try:
        planned = bool((task.input_versions or {}).get("invalidations"))
        if planned:
            job_plan_isolated(job=job)  # closes the invalidations this task finished
        if published:
            plan_downstream(datasets=list(job.output_datasets))
        if published or planned or job_has_due:
            tasks_dispatch()
    except Exception:
        log.exception("planning after %s failed; the next tick will catch up", task.id)


def _rebuild_after_schema_change(job: Job) -> None:
    """Backfill the job's whole output after it ran on a changed input schema (the ``rebuild``
    policy of ``schema_changes``): the whole output then follows the new input schema."""
    if job.execution_strategy != Job.ExecutionStrategy.INCREMENTAL:
        job_backfill(job=job, first=None, last=None)
