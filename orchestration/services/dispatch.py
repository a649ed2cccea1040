"""Dispatch: due pending tasks become ``queued`` and go to the broker as "run task X" messages."""

from __future__ import annotations

import uuid

from django.conf import settings
from django.db import connection, transaction

from orchestration.models import Job
from platform_site.logging import task_log

from .messages import send_run_messages
from .scheduler import job_plan

DISPATCH_SQL = """
    WITH jobs_due AS (
        SELECT j.id,
               coalesce((j.scaling->>'priority')::int, 0) AS priority,
               coalesce((j.scaling->>'max_concurrency')::int, 1000000) AS max_concurrency
        FROM jobs j
        WHERE j.active AND EXISTS (
            SELECT 1 FROM tasks t WHERE t.job_id = j.id AND t.status = 'pending'
              AND (t.next_retry_at IS NULL OR t.next_retry_at <= now()))
    ),
    picked AS (
        SELECT pick.id, jd.priority, pick.created_at
        FROM jobs_due jd
        CROSS JOIN LATERAL (
            SELECT greatest(jd.max_concurrency - count(*), 0) AS room FROM tasks t
            WHERE t.job_id = jd.id AND t.status IN ('queued', 'running')
        ) busy
        CROSS JOIN LATERAL (
            SELECT t.id, t.created_at FROM tasks t
            WHERE t.job_id = jd.id AND t.status = 'pending'
              AND (t.next_retry_at IS NULL OR t.next_retry_at <= now())
            ORDER BY t.created_at, t.id
            LIMIT least(busy.room, %(limit)s)
            FOR UPDATE SKIP LOCKED
        ) pick
        ORDER BY jd.priority DESC, pick.created_at
        LIMIT %(limit)s
    )
    UPDATE tasks t SET status = 'queued',
           next_retry_at = now() + make_interval(secs => %(redispatch)s)
    FROM picked WHERE t.id = picked.id
    RETURNING t.id, picked.priority, picked.created_at
"""


def tasks_dispatch(*, limit: int = 500, enqueue: bool = True) -> list[uuid.UUID]:
    """Move due pending tasks to ``queued`` and hand each to django-q2.

    Respects each job's ``max_concurrency`` (queued + running) and dispatches higher ``priority``
    first. A queued task whose message is lost goes back to pending after ``QUEUED_REDISPATCH``
    (its ``next_retry_at`` holds that deadline while queued).
    """
    redispatch = int(settings.TASK_QUEUED_REDISPATCH_SECONDS)
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute(DISPATCH_SQL, {"limit": limit, "redispatch": redispatch})
        rows = sorted(cursor.fetchall(), key=lambda r: (-r[1], r[2]))
        ids = [row[0] for row in rows]
        if ids:
            task_log.info(
                "dispatched %d task(s)", len(ids), extra={"event": "tasks_dispatched", "count": len(ids)}
            )
        if enqueue and ids:
            transaction.on_commit(lambda: send_run_messages(ids))
    return ids


def job_run_now(*, job: Job) -> int:
    """Plan the job now (a full job runs even when fresh) and dispatch."""
    result = job_plan(job=job, force=True)
    tasks_dispatch()
    return result.created
