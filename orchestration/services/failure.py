"""Attempts that end without success: a failure and its retry with backoff, the reaper of tasks
whose worker went silent, and a person's cancel and retry."""

from __future__ import annotations

import random
from datetime import timedelta

from django.conf import settings
from django.db import connection, transaction
from django.utils import timezone

from orchestration import selectors
from orchestration.models import Task
from platform_site.admin_display import counted
from platform_site.database import retry_on_disconnect
from platform_site.logging import log_task_transition

from .leases import Lease, lock_leased
from .scheduler import lock_job


def retry_base_seconds() -> float:
    return float(settings.TASK_RETRY_BASE_SECONDS)


def retry_cap_seconds() -> float:
    return float(settings.TASK_RETRY_CAP_SECONDS)


def backoff_delay(attempt: int, *, rng: random.Random | None = None) -> tuple[float, float]:
    """(capped exponential delay, that delay with "equal jitter") for a failed ``attempt`` (1-based)."""
    capped = min(retry_cap_seconds(), retry_base_seconds() * 2 ** max(attempt - 1, 0))
    jittered = capped / 2 + (rng or random).uniform(0, capped / 2)
    return capped, jittered


@retry_on_disconnect()
def task_fail(*, lease: Lease, error: str, retry: bool = True) -> str | None:
    """Fail the attempt (fenced): back to pending with a backoff delay while attempts remain
    (``retry=False``: the error is permanent, e.g. a wrong chain, and the task fails now)."""
    with transaction.atomic(), connection.cursor() as cursor:
        if not lock_leased(cursor, lease):
            return None
        task = Task.objects.select_related("job").get(pk=lease.task_id)
        return _fail(task=task, error=error, retry=retry)


def _fail(*, task: Task, error: str, retry: bool = True) -> str:
    attempts, maximum = task.attempts, task.job.max_attempts
    if retry and attempts < maximum:
        capped, delay = backoff_delay(attempts)
        task.status = Task.Status.PENDING
        task.next_retry_at = timezone.now() + timedelta(seconds=delay)
        task.error_message = (
            f"{error}\nretry {attempts + 1}/{maximum} in {delay:.1f}s "
            f"(backoff {retry_base_seconds():g}s x 2^{attempts - 1} capped at {retry_cap_seconds():g}s = "
            f"{capped:g}s, with jitter)"
        )
    else:
        task.status = Task.Status.FAILED
        task.next_retry_at = None
        task.completed_at = timezone.now()
        task.error_message = (
            f"{error}\ngave up after {counted(attempts, 'attempt')}"
            if retry
            else f"{error}\nnot retried: retrying cannot fix this error"
        )
    task.save(update_fields=["status", "next_retry_at", "completed_at", "error_message"])
    log_task_transition(task, to=task.status, error=error.splitlines()[0][:200] if error else None)
    return task.status


def tasks_reap() -> int:
    """Fail running tasks whose heartbeat is too old or that ran past their timeout; requeue lost
    queued messages. Retries follow the same backoff as any failure."""
    reaped = 0
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute(
            """
            SELECT t.id,
                   CASE WHEN t.started_at < now() - make_interval(secs => j.timeout_seconds)
                        THEN 'timed out after ' || j.timeout_seconds || 's'
                        ELSE 'no heartbeat for ' || j.heartbeat_timeout_seconds || 's (worker ' ||
                             coalesce(t.worker_id, '?') || ' lost)' END
            FROM tasks t JOIN jobs j ON j.id = t.job_id
            WHERE t.status = 'running'
              AND (t.last_heartbeat < now() - make_interval(secs => j.heartbeat_timeout_seconds)
                   OR t.started_at < now() - make_interval(secs => j.timeout_seconds))
            FOR UPDATE OF t SKIP LOCKED
            """
        )
        for task_id, reason in cursor.fetchall():
            task = Task.objects.select_related("job").get(pk=task_id)
            _fail(task=task, error=f"reaped: {reason}")
            reaped += 1
        cursor.execute(
            """
            UPDATE tasks SET status = 'pending', next_retry_at = NULL
            WHERE status = 'queued' AND next_retry_at < now()
            """
        )
    return reaped


def task_cancel(*, task: Task) -> bool:
    """Cancel a live task; a running worker's publish is then rejected by the fence."""
    updated = Task.objects.filter(pk=task.pk, status__in=Task.LIVE_STATUSES).update(
        status=Task.Status.CANCELLED, completed_at=timezone.now(), next_retry_at=None
    )
    if updated:
        log_task_transition(task, to=Task.Status.CANCELLED)
    return bool(updated)


def task_retry(*, task: Task) -> Task | None:
    """Run a failed or cancelled task again (fresh attempts), unless its partitions are busy."""
    with transaction.atomic():
        lock_job(task.job_id)
        task = Task.objects.select_related("job").get(pk=task.pk)
        if task.status not in (Task.Status.FAILED, Task.Status.CANCELLED):
            return None
        if task.partitions and selectors.live_keys(job=task.job, keys=task.partitions):
            return None
        if not task.partitions and Task.objects.filter(job=task.job, status__in=Task.LIVE_STATUSES).exists():
            return None
        task.status = Task.Status.PENDING
        task.attempts = 0
        task.next_retry_at = None
        task.completed_at = None
        task.save(update_fields=["status", "attempts", "next_retry_at", "completed_at"])
        return task
