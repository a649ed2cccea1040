"""Running tasks: dispatch, atomic claim, fenced lease with heartbeats, publish, retry, reap, cancel.

The lease is fenced by ``(worker_id, attempts)``: a claim sets a fresh ``worker_id`` and increments
``attempts``, and every later write of the worker (heartbeat, publish, failure) only applies while
the task is still ``running`` under that same pair. A worker that lost its task (reaped, cancelled,
re-claimed) has every write rejected: its files stay unreferenced and the GC removes them.
"""

from __future__ import annotations

import contextlib
import functools
import json
import logging
import os
import queue
import random
import socket
import threading
import time
import uuid
from dataclasses import dataclass
from datetime import timedelta

import psycopg
from django.conf import settings
from django.db import InterfaceError, OperationalError, connection, transaction
from django.utils import timezone

from orchestration import schema_changes, selectors
from orchestration.models import Job, Task
from orchestration.operators import get_operator
from orchestration.operators.base import (
    InputPartition,
    PermanentOperatorError,
    TaskContext,
)
from orgs.models import Org
from platform_site.database import discard_if_broken, retry_on_disconnect
from platform_site.logging import log_task_transition, task_log
from versioning.models import DatasetCursor, PartitionVersion
from versioning.services import (
    PublishedPartition,
    invalidation_create,
    partition_versions_publish,
    partition_versions_retire,
)
from versioning.storage import lake, schema_hash

from .messages import send_run_messages
from .propagation import invalidations_propagate
from .scheduler import lock_job, plan_downstream

log = logging.getLogger(__name__)


CURSOR_STRATEGIES = (Job.ExecutionStrategy.INCREMENTAL, Job.ExecutionStrategy.STREAMING)


class LeaseLost(Exception):
    """The task is no longer ours: reaped, cancelled or claimed by another worker."""


@dataclass(frozen=True)
class Lease:
    task_id: uuid.UUID
    worker_id: str
    attempt: int


# Claims, heartbeats and output-less completions commit asynchronously (``synchronous_commit`` off
# for that one transaction): if the database crashes and loses one of them, the fence makes the loss
# harmless — the worker's next write is rejected and the task is reaped and retried. A publish that
# makes outputs visible always commits synchronously.


def _execute_prepared(sql: str, params: list):
    """Run a hot-path statement as a server-side prepared statement on Django's connection.

    Claims, heartbeats and completions run thousands of times a second across workers; preparing
    them once per connection skips parsing and planning on every call (planning was most of the
    database's time per task). Same connection and transaction state as the ORM, but a cursor of
    psycopg's own: Django's cursors bind parameters client-side, and such a cursor never prepares.

    Errors go through Django's wrapper, so a dropped connection counts as one for Django's own
    checks; outside a transaction it is also closed here at once, so the next call reconnects
    instead of failing on the dead socket until ``CONN_MAX_AGE``.
    """
    connection.ensure_connection()
    if connection.connection.closed and not connection.in_atomic_block:
        connection.close()
        connection.ensure_connection()
    try:
        with connection.wrap_database_errors:
            return psycopg.Cursor(connection.connection).execute(sql, params, prepare=True)
    except (OperationalError, InterfaceError):
        if not connection.in_atomic_block:
            connection.close()
        raise


def new_worker_id() -> str:
    return f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"


def retry_base_seconds() -> float:
    return float(settings.TASK_RETRY_BASE_SECONDS)


def retry_cap_seconds() -> float:
    return float(settings.TASK_RETRY_CAP_SECONDS)


def backoff_delay(attempt: int, *, rng: random.Random | None = None) -> tuple[float, float]:
    """(capped exponential delay, that delay with "equal jitter") for a failed ``attempt`` (1-based)."""
    capped = min(retry_cap_seconds(), retry_base_seconds() * 2 ** max(attempt - 1, 0))
    jittered = capped / 2 + (rng or random).uniform(0, capped / 2)
    return capped, jittered


# -- dispatch -----------------------------------------------------------------------------------
def tasks_dispatch(*, limit: int = 500, enqueue: bool = True) -> list[uuid.UUID]:
    """Move due pending tasks to ``queued`` and hand each to django-q2.

    Respects each job's ``max_concurrency`` (queued + running) and dispatches higher ``priority``
    first. A queued task whose message is lost goes back to pending after ``QUEUED_REDISPATCH``
    (its ``next_retry_at`` holds that deadline while queued).
    """
    redispatch = int(settings.TASK_QUEUED_REDISPATCH_SECONDS)
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute(
            """
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
            """,
            {"limit": limit, "redispatch": redispatch},
        )
        rows = sorted(cursor.fetchall(), key=lambda r: (-r[1], r[2]))
        ids = [row[0] for row in rows]
        if ids:
            task_log.info(
                "dispatched %d task(s)", len(ids), extra={"event": "tasks_dispatched", "count": len(ids)}
            )
        if enqueue and ids:
            transaction.on_commit(lambda: send_run_messages(ids))
    return ids


# -- claim, heartbeat ---------------------------------------------------------------------------
ASYNC_COMMIT = "(SELECT set_config('synchronous_commit', 'off', true)) AS cfg"

CLAIM_SQL = f"""
    UPDATE tasks t SET status = 'running', worker_id = %s, attempts = t.attempts + 1,
           started_at = now(), last_heartbeat = now(), next_retry_at = NULL
    FROM jobs j, {ASYNC_COMMIT}
    WHERE t.id = %s AND j.id = t.job_id AND j.active AND t.status IN ('queued', 'pending')
    RETURNING t.attempts
"""
CLAIM_NEXT_SQL = f"""
    UPDATE tasks t SET status = 'running', worker_id = %s, attempts = t.attempts + 1,
           started_at = now(), last_heartbeat = now(), next_retry_at = NULL
    FROM {ASYNC_COMMIT}
    WHERE t.id = (
        SELECT id FROM tasks WHERE status = 'queued' ORDER BY created_at, id
        LIMIT 1 FOR UPDATE SKIP LOCKED
    )
    RETURNING t.id, t.attempts
"""
HEARTBEAT_SQL = f"""
    UPDATE tasks t SET last_heartbeat = now() FROM {ASYNC_COMMIT}
    WHERE t.id = %s AND t.status = 'running' AND t.worker_id = %s AND t.attempts = %s
"""
COMPLETE_SQL = f"""
    UPDATE tasks t SET status = 'succeeded', completed_at = now() FROM {ASYNC_COMMIT}
    WHERE t.id = %s AND t.status = 'running' AND t.worker_id = %s AND t.attempts = %s
"""


@retry_on_disconnect()
def task_claim(*, task_id: uuid.UUID | str, worker_id: str) -> Lease | None:
    """Take a queued (or pending) task; None when another worker has it or it is no longer live."""
    task_id = uuid.UUID(str(task_id))
    row = _execute_prepared(CLAIM_SQL, [worker_id, task_id]).fetchone()
    return Lease(task_id, worker_id, row[0]) if row else None


def _columns(model, alias: str) -> list:
    return [(field, f"{alias}.{field.column}") for field in model._meta.concrete_fields]


@functools.cache
def _loading(model) -> tuple[list[str], list[tuple[int, list]]]:
    """The attribute names of ``model``'s columns, and the ORM's converters of the columns that
    have any (jsonb arrives as text): the same for every row, so looked up once per process."""
    fields = model._meta.concrete_fields
    converting = [
        (i, converters) for i, f in enumerate(fields) if (converters := f.get_db_converters(connection))
    ]
    return [field.attname for field in fields], converting


def _instance(model, values) -> object:
    """A model instance from raw column values (in ``_columns`` order), converted as the ORM would."""
    names, converting = _loading(model)
    values = list(values)
    for index, converters in converting:
        for converter in converters:
            values[index] = converter(values[index], None, connection)
    return model.from_db(connection.alias, names, values)


@functools.cache
def _claim_and_load_sql() -> tuple[str, list, list, list]:
    task_fields, job_fields, org_fields = _columns(Task, "t"), _columns(Job, "j"), _columns(Org, "o")
    selected = ", ".join(column for _, column in task_fields + job_fields + org_fields)
    sql = f"""
        UPDATE tasks t SET status = 'running', worker_id = %s, attempts = t.attempts + 1,
               started_at = now(), last_heartbeat = now(), next_retry_at = NULL
        FROM jobs j, orgs o, {ASYNC_COMMIT}
        WHERE t.id = %s AND j.id = t.job_id AND o.id = j.org_id AND j.active
          AND t.status IN ('queued', 'pending')
        RETURNING {selected},
                  (SELECT coalesce(jsonb_object_agg(c.dataset, c.cursor_value), '{{}}'::jsonb)
                   FROM dataset_cursors c WHERE c.job_id = j.id)
    """
    return sql, task_fields, job_fields, org_fields


@retry_on_disconnect()
def _task_claim_loaded(*, task_id: uuid.UUID | str, worker_id: str) -> tuple[Lease, Task, dict] | None:
    """The claim of ``task_claim`` that also returns the task with its job and org and the job's
    cursors, in the same statement: one round trip where a claim, a load and a cursor read took
    three. The row is the one the claim wrote, so nothing can change between claim and load."""
    sql, task_fields, job_fields, _ = _claim_and_load_sql()
    task_id = uuid.UUID(str(task_id))
    row = _execute_prepared(sql, [worker_id, task_id]).fetchone()
    if row is None:
        return None
    split_job, split_org = len(task_fields), len(task_fields) + len(job_fields)
    task = _instance(Task, row[:split_job])
    job = _instance(Job, row[split_job:split_org])
    job.org = _instance(Org, row[split_org:-1])
    task.job = job
    cursors = row[-1]
    cursors = json.loads(cursors) if isinstance(cursors, str) else cursors
    return Lease(task_id, worker_id, task.attempts), task, cursors


def task_claim_next(*, worker_id: str) -> Lease | None:
    """Take the oldest queued task of any job (pull mode: workers that poll the ledger directly)."""
    row = _execute_prepared(CLAIM_NEXT_SQL, [worker_id]).fetchone()
    return Lease(row[0], worker_id, row[1]) if row else None


def task_heartbeat(*, lease: Lease) -> bool:
    """Refresh the lease; False when it is lost."""
    cursor = _execute_prepared(HEARTBEAT_SQL, [lease.task_id, lease.worker_id, lease.attempt])
    return cursor.rowcount == 1


def _lock_leased(cursor, lease: Lease) -> bool:
    cursor.execute(
        """
        SELECT 1 FROM tasks WHERE id = %s AND status = 'running' AND worker_id = %s AND attempts = %s
        FOR UPDATE
        """,
        [lease.task_id, lease.worker_id, lease.attempt],
    )
    return cursor.fetchone() is not None


# -- complete, publish --------------------------------------------------------------------------
@retry_on_disconnect()
def task_complete(*, lease: Lease) -> None:
    """Mark a task that wrote nothing as succeeded (fenced)."""
    if _execute_prepared(COMPLETE_SQL, [lease.task_id, lease.worker_id, lease.attempt]).rowcount != 1:
        raise LeaseLost(str(lease.task_id))


@retry_on_disconnect()
def task_publish(*, lease: Lease, ctx: TaskContext, final: bool = True) -> list[dict]:
    """One transaction: task succeeded + outputs, task_inputs, partition_versions, cursors,
    invalidations. Raises LeaseLost (and changes nothing) when the lease is gone.

    ``final=False`` (a continuous task's intermediate step) publishes the same way but leaves the
    task running, appending to its ``outputs`` and ``partitions``.

    Rerun on a fresh connection when the database drops (the transaction rolled back whole); the
    operator's files are already written, so a restart of the server costs no attempt.
    """
    job = ctx.job
    outputs = [
        PublishedPartition(
            dataset=o.dataset,
            partition_key=o.partition_key,
            config_hash=job.config_hash,
            schema_hash=schema_hash(o.schema),
            location=o.written.location,
            row_count=o.written.row_count,
            bytes=o.written.bytes,
        )
        for o in ctx.outputs
    ]
    read = [p for parts in ctx.inputs.values() for p in parts]
    with transaction.atomic(), connection.cursor() as cursor:
        if not _lock_leased(cursor, lease):
            raise LeaseLost(str(lease.task_id))
        superseded = _current_locations(outputs)
        version = partition_versions_publish(partitions=outputs)
        for dataset, keys in ctx.retirements.items():
            partition_versions_retire(
                dataset=dataset,
                keys=keys,
                reason=f"no longer in the partition layout of {job}",
                source_event={"job": str(job.id)},
            )
        if read:
            cursor.execute(
                """
                INSERT INTO task_inputs (task_id, input_dataset, input_partition, input_version)
                SELECT %s, d, k, v FROM unnest(%s::text[], %s::text[], %s::timestamptz[]) AS t(d, k, v)
                ON CONFLICT DO NOTHING
                """,
                [
                    lease.task_id,
                    [p.dataset for p in read],
                    [p.partition_key for p in read],
                    [p.version for p in read],
                ],
            )
        if job.execution_strategy in CURSOR_STRATEGIES and not is_rebuild(ctx.task):
            _advance_cursors(job=job, ctx=ctx)
        for pending in ctx.invalidations:
            invalidation_create(
                dataset=pending.dataset,
                scope=pending.scope,
                partition_key=pending.partition_key,
                row_filter=pending.row_filter,
                reason=pending.reason,
                source_event=pending.source_event,
                superseded=superseded.get(pending.dataset),
            )
        invalidations_propagate(job=job, task=ctx.task, outputs=ctx.outputs, superseded=superseded)
        recorded = [
            {
                "dataset": o.dataset,
                "partition": o.partition_key,
                "location": o.location,
                "rows": o.row_count,
                "bytes": o.bytes,
                "version": version.isoformat() if version else None,
            }
            for o in outputs
        ]
        input_versions = dict(ctx.task.input_versions or {})
        input_versions["read"] = {
            d: {p.partition_key: p.version.isoformat() for p in parts} for d, parts in ctx.inputs.items()
        }
        input_versions["schemas"] = schema_changes.schemas_after(job, ctx.inputs)
        partitions = (
            sorted({o.partition_key for o in outputs}) if not ctx.task.partitions else ctx.task.partitions
        )
        if final:
            cursor.execute(
                """
                UPDATE tasks SET status = 'succeeded', completed_at = now(), outputs = %s::jsonb,
                       input_versions = %s::jsonb, partitions = %s, error_message = NULL
                WHERE id = %s
                """,
                [json.dumps(recorded), json.dumps(input_versions), partitions, lease.task_id],
            )
        else:
            cursor.execute(
                """
                UPDATE tasks SET outputs = outputs || %s::jsonb, input_versions = %s::jsonb,
                       partitions = ARRAY(
                           SELECT DISTINCT k FROM unnest(partitions || %s::text[]) k ORDER BY k),
                       last_heartbeat = now()
                WHERE id = %s
                """,
                [
                    json.dumps(recorded),
                    json.dumps(input_versions),
                    sorted({o.partition_key for o in outputs}),
                    lease.task_id,
                ],
            )
        _fault_pause(job)
    return recorded


# A publish with nothing to publish: the task's own row is all that changes, so one fenced statement
# does what the publish transaction does (outputs, the inputs read, the schemas seen so far carried
# from the job's last success, as ``schema_changes.schemas_after`` would) and says whether the job
# has due pending tasks its completion made room for. Asynchronous commit, like any output-less
# completion: a lost commit leaves the task running under a lease nobody renews, and the reaper
# retries it.
PUBLISH_NOTHING_SQL = f"""
    UPDATE tasks t SET status = 'succeeded', completed_at = now(), outputs = '[]'::jsonb,
           error_message = NULL,
           input_versions = %s::jsonb || jsonb_build_object('schemas', %s::jsonb || coalesce(
               (SELECT nullif(last.input_versions -> 'schemas', 'null'::jsonb) FROM tasks last
                WHERE last.job_id = t.job_id AND last.status = 'succeeded'
                ORDER BY last.completed_at DESC, last.id DESC LIMIT 1),
               '{{}}'::jsonb))
    FROM {ASYNC_COMMIT}
    WHERE t.id = %s AND t.status = 'running' AND t.worker_id = %s AND t.attempts = %s
    RETURNING EXISTS (
        SELECT 1 FROM tasks due WHERE due.job_id = t.job_id AND due.status = 'pending'
          AND (due.next_retry_at IS NULL OR due.next_retry_at <= now()))
"""


def has_nothing_to_publish(ctx: TaskContext) -> bool:
    """No output, retirement, invalidation, input read or cursor to record: only the task changes."""
    return (
        not ctx.outputs
        and not ctx.retirements
        and not ctx.invalidations
        and not ctx.cursor_updates
        and not any(ctx.inputs.values())
        and ctx.job.execution_strategy not in CURSOR_STRATEGIES
        # The crash tests hold the publish transaction open; they need the transaction.
        and not settings.FAULT_PUBLISH_PAUSE_SECONDS
    )


@retry_on_disconnect()
def task_publish_nothing(*, lease: Lease, ctx: TaskContext) -> bool:
    """``task_publish`` of a run that has nothing to publish (``has_nothing_to_publish``), as one
    statement. Returns whether the job has due pending tasks; raises LeaseLost when the lease is
    gone."""
    input_versions = dict(ctx.task.input_versions or {})
    input_versions["read"] = {d: {} for d in ctx.inputs}
    row = _execute_prepared(
        PUBLISH_NOTHING_SQL,
        [
            json.dumps(input_versions),
            json.dumps({d: [] for d in ctx.inputs}),
            lease.task_id,
            lease.worker_id,
            lease.attempt,
        ],
    ).fetchone()
    if row is None:
        raise LeaseLost(str(lease.task_id))
    return row[0]


def _fault_pause(job: Job) -> None:
    """Fault injection for the crash tests: hold the publish transaction open before it commits.

    ``settings.FAULT_PUBLISH_PAUSE_SECONDS`` (and optionally ``FAULT_PUBLISH_PAUSE_JOB``, a job
    name), from the worker's environment at startup; zero in production.
    """
    pause = settings.FAULT_PUBLISH_PAUSE_SECONDS
    only = settings.FAULT_PUBLISH_PAUSE_JOB
    if pause and (not only or only == job.name):
        time.sleep(pause)


def _advance_cursors(*, job: Job, ctx: TaskContext) -> None:
    column = (job.config or {}).get("cursor_column", "")
    # A source job has no inputs: its cursor is on a dataset it writes (evm_rpc: evm.blocks).
    own = {d: [] for d in ctx.cursor_updates if d not in ctx.inputs}
    for dataset, parts in {**ctx.inputs, **own}.items():
        newest = max((p.version for p in parts), default=None)
        existing = DatasetCursor.objects.filter(dataset=dataset, job=job).first()
        cursor_column, value = ctx.cursor_updates.get(
            dataset, (column, existing.cursor_value if existing else None)
        )
        updated = max(
            filter(None, [newest, existing.updated_at if existing else None]), default=timezone.now()
        )
        DatasetCursor.objects.update_or_create(
            dataset=dataset,
            job=job,
            defaults={"cursor_column": cursor_column, "cursor_value": value, "updated_at": updated},
        )


def _current_locations(outputs: list[PublishedPartition]) -> dict[str, dict[str, str]]:
    """dataset -> partition key -> location of the versions this publish is about to replace."""
    wanted = {(o.dataset, o.partition_key) for o in outputs}
    found: dict[str, dict[str, str]] = {}
    if not wanted:
        return found
    current = PartitionVersion.objects.filter(
        dataset__in={d for d, _ in wanted}, partition_key__in={k for _, k in wanted}
    ).values_list("dataset", "partition_key", "location")
    for dataset, key, location in current:
        if (dataset, key) in wanted:
            found.setdefault(dataset, {})[key] = location
    return found


def is_rebuild(task: Task) -> bool:
    """A cursor-driven job's rebuild of what an invalidation covers (see ``rebuild_task_create``)."""
    return "rebuild" in (task.input_versions or {})


# -- failure, retry, reap, cancel --------------------------------------------------------------
@retry_on_disconnect()
def task_fail(*, lease: Lease, error: str, retry: bool = True) -> str | None:
    """Fail the attempt (fenced): back to pending with a backoff delay while attempts remain
    (``retry=False``: the error is permanent, e.g. a wrong chain, and the task fails now)."""
    with transaction.atomic(), connection.cursor() as cursor:
        if not _lock_leased(cursor, lease):
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
            f"{error}\ngave up after {attempts} attempt(s)"
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


# -- the worker ---------------------------------------------------------------------------------
def _inputs_for(job: Job, task: Task) -> dict[str, list[InputPartition]]:
    if not job.input_datasets:
        return {}
    if not (task.partitions or is_rebuild(task) or job.execution_strategy in CURSOR_STRATEGIES) and (
        not selectors.is_whole(job)
    ):
        return {d: [] for d in job.input_datasets}  # reads nothing: no query to build
    rows = PartitionVersion.objects.filter(dataset__in=job.input_datasets)
    if is_rebuild(task):
        # The current versions of the input partitions the planner listed (what fed the outputs).
        listed = task.input_versions["rebuild"]
        found = {d: [] for d in job.input_datasets}
        for pv in rows.order_by("partition_key"):
            if pv.partition_key in listed.get(pv.dataset, ()):
                found[pv.dataset].append(
                    InputPartition(pv.dataset, pv.partition_key, pv.version, pv.location, pv.schema_hash)
                )
        return found
    if job.execution_strategy in CURSOR_STRATEGIES:
        cursors = {c.dataset: c.updated_at for c in DatasetCursor.objects.filter(job=job)}
        found: dict[str, list[InputPartition]] = {d: [] for d in job.input_datasets}
        margin = selectors.commit_margin()
        for pv in rows.order_by("partition_key"):
            since = cursors.get(pv.dataset)
            if since is None or pv.version > since - margin:
                found[pv.dataset].append(
                    InputPartition(pv.dataset, pv.partition_key, pv.version, pv.location, pv.schema_hash)
                )
        return found
    if not selectors.is_whole(job):
        rows = rows.filter(partition_key__in=task.partitions)
    found = {d: [] for d in job.input_datasets}
    for pv in rows.order_by("partition_key"):
        found[pv.dataset].append(
            InputPartition(pv.dataset, pv.partition_key, pv.version, pv.location, pv.schema_hash)
        )
    return found


FENCE_SQL = "SELECT 1 FROM tasks WHERE id = %s AND status = 'running' AND worker_id = %s AND attempts = %s"


def task_holds_lease(*, lease: Lease) -> bool:
    """Is the task still running under this lease (not cancelled, reaped or re-claimed)?"""
    row = _execute_prepared(FENCE_SQL, [lease.task_id, lease.worker_id, lease.attempt]).fetchone()
    return row is not None


def interrupt_grace_seconds() -> float:
    return float(settings.TASK_INTERRUPT_GRACE_SECONDS)


def fence_check_seconds() -> float:
    return float(settings.TASK_FENCE_CHECK_SECONDS)


class _WatchdogThreads:
    """Daemon threads kept between tasks to run watchdogs. Starting a thread waits until the new
    thread is scheduled, milliseconds on a loaded machine, paid by every task however short; an idle
    kept thread takes the next watchdog at once. A busy one (its task still running) is never
    shared: each watchdog has a thread of its own while it runs.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._idle: list[queue.SimpleQueue] = []

    def forget(self) -> None:
        """In a forked child: the parent's threads do not exist here."""
        self._lock = threading.Lock()
        self._idle = []

    def run(self, work) -> None:
        with self._lock:
            inbox = self._idle.pop() if self._idle else None
        if inbox is None:
            inbox = queue.SimpleQueue()
            threading.Thread(target=self._serve, args=(inbox,), daemon=True, name="watchdog").start()
        inbox.put(work)

    def _serve(self, inbox: queue.SimpleQueue) -> None:
        while True:
            work = inbox.get()
            try:
                work()
            except Exception:
                log.exception("a task watchdog failed")
            with self._lock:
                self._idle.append(inbox)


class _WatchdogsNotYetDue:
    """Watchdogs whose first check is still ahead, handed to a thread only when it comes.

    A watchdog does nothing before its first check (a heartbeat interval or a fence check away,
    seconds), and most tasks are over by then. Handing each one to a thread at once woke that
    thread per task, which under a stream of short tasks cost a fifth of a worker's time. One
    thread per process looks every ``TICK`` seconds instead: a watchdog whose task has finished is
    dropped unseen, one that is due starts on its own thread. A first check is late by at most a
    tick.
    """

    TICK = 0.1

    def __init__(self) -> None:
        self.forget()

    def forget(self) -> None:
        """In a forked child: the parent's thread does not exist here."""
        self._lock = threading.Lock()
        self._waiting: dict[_Watchdog, float] = {}
        self._thread: threading.Thread | None = None

    def add(self, watchdog: _Watchdog, due: float) -> None:
        with self._lock:
            self._waiting[watchdog] = due
            if self._thread is None:
                self._thread = threading.Thread(target=self._serve, daemon=True, name="watchdog-starter")
                self._thread.start()

    def _serve(self) -> None:
        while True:
            time.sleep(self.TICK)
            now = time.monotonic()
            with self._lock:
                over = [w for w, due in self._waiting.items() if w.stopped.is_set() or due <= now]
                for watchdog in over:
                    del self._waiting[watchdog]
            for watchdog in over:
                if not watchdog.stopped.is_set():
                    _watchdog_threads.run(watchdog.run)


_watchdog_threads = _WatchdogThreads()
_watchdogs_not_yet_due = _WatchdogsNotYetDue()
os.register_at_fork(after_in_child=_watchdog_threads.forget)
os.register_at_fork(after_in_child=_watchdogs_not_yet_due.forget)


class _Watchdog:
    """Keeps the lease alive while the operator runs, and stops the work once the task is no
    longer ours (cancelled, reaped, re-claimed) or ran past ``timeout_seconds``.

    Every ``interval`` it refreshes the heartbeat; every ``fence_check_seconds`` it checks the fence
    (a cancel shows within seconds, not a heartbeat period) and the deadline. To stop, it runs the
    context's interrupt hooks (a DuckDB query is cancelled where it computes) and, when the operator
    still runs after ``TASK_INTERRUPT_GRACE_SECONDS`` and the worker is disposable (a django-q2
    worker process, which its cluster replaces), ends the process: a runaway computation must not
    keep a core busy after its task is gone.

    A database outage only delays heartbeats: each failure closes the dead connection and the next
    try, half a second later, reconnects.
    """

    def __init__(self, lease: Lease, ctx: TaskContext, *, interval: float, timeout: float, hard_stop: bool):
        self.lease, self.ctx, self.interval = lease, ctx, interval
        self.deadline = time.monotonic() + timeout
        self.timeout = timeout
        self.hard_stop = hard_stop
        self.stopped = threading.Event()  # set by the worker once the operator returned

    def start(self) -> None:
        self.started = time.monotonic()
        _watchdogs_not_yet_due.add(self, due=self._first_check())

    def _step(self) -> float:
        return min(self.interval, fence_check_seconds())

    def _first_check(self) -> float:
        return min(self.started + self._step(), self.deadline)

    def run(self) -> None:
        try:
            reason = self._watch()
            if reason is not None:
                self._stop(reason)
        finally:
            connection.close()

    def _watch(self) -> str | None:
        next_beat = self.started + self.interval
        # Started when its first check is due (or a tick later): that one runs at once.
        next_check = self._first_check()
        while not self.stopped.wait(max(0.0, next_check - time.monotonic())):
            now = time.monotonic()
            if now >= self.deadline:
                return f"timed out after {self.timeout:g}s"
            try:
                if now >= next_beat:
                    held = task_heartbeat(lease=self.lease)
                    next_beat = now + self.interval
                else:
                    held = task_holds_lease(lease=self.lease)
            except Exception as exc:
                log.warning("heartbeat of %s failed (retrying): %s", self.lease.task_id, exc)
                next_beat = min(next_beat, time.monotonic() + 0.5)
                next_check = min(time.monotonic() + 0.5, self.deadline)
                continue
            if not held:
                self.ctx.lease_lost.set()
                return "the task was cancelled, reaped or claimed by another worker"
            # The deadline is looked at when it comes, not at the next check after it.
            next_check = min(now + self._step(), self.deadline)
        return None

    def _stop(self, reason: str) -> None:
        log.warning("stopping task %s: %s", self.lease.task_id, reason)
        grace_end = time.monotonic() + interrupt_grace_seconds()
        while True:
            # Repeated: a hook registered just before its query started may have missed the first.
            self.ctx.interrupt(reason)
            if self.stopped.wait(0.5):
                return
            if time.monotonic() >= grace_end:
                break
        if not self.hard_stop:
            return
        log.critical(
            "task %s: the operator ignored the interrupt for %gs; ending worker process %s",
            self.lease.task_id,
            interrupt_grace_seconds(),
            os.getpid(),
        )
        if not self.ctx.lease_lost.is_set():
            # Record why, so the task is retried now rather than when the reaper notices.
            with contextlib.suppress(Exception):
                task_fail(lease=self.lease, error=f"{reason}; the worker process was ended")
        logging.shutdown()
        os._exit(70)


def task_execute(*, task_id: uuid.UUID | str, worker_id: str | None = None, hard_stop: bool = False) -> str:
    """Claim, run, publish (or fail) one task; then plan downstream and dispatch. Idempotent.

    ``hard_stop``: this process may be ended to stop a runaway operator (set by the django-q2
    entry point; never in a process that does other work, such as a test or a command).
    """
    claimed = _task_claim_loaded(task_id=task_id, worker_id=worker_id or new_worker_id())
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
        ctx = _task_context(lease=lease, job=job, task=task, cursors=cursors)
        watchdog = _watchdog(lease, ctx, job, hard_stop=hard_stop)
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
        log.warning("task %s failed: %s", task_id, error)
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
        schema_changes.rebuild_after(job=job, changed=changed)
    after_publish(job=job, task=task, published=published, job_has_due=job_has_due)
    return "succeeded"


def _watchdog(lease: Lease, ctx: TaskContext, job: Job, *, hard_stop: bool) -> _Watchdog:
    return _Watchdog(
        lease,
        ctx,
        interval=max(0.5, job.heartbeat_timeout_seconds / 3),
        timeout=job.timeout_seconds,
        hard_stop=hard_stop,
    )


def _task_context(*, lease: Lease, job: Job, task: Task, cursors: dict | None = None) -> TaskContext:
    """What an operator run sees: the task's input partitions and the job's published cursors
    (read here unless the claim already returned them)."""
    if cursors is None:
        cursors = {c.dataset: c.cursor_value for c in DatasetCursor.objects.filter(job=job)}
    return TaskContext(
        job=job,
        task=task,
        attempt=lease.attempt,
        storage=lake(),
        inputs=_inputs_for(job, task),
        cursors=cursors,
    )


def _has_new_input(job: Job) -> bool:
    """Is there an input partition newer than what the job's cursors last read?"""
    cursors = {c.dataset: c.updated_at for c in DatasetCursor.objects.filter(job=job)}
    for dataset, newest in selectors.input_high_water(job=job).items():
        if newest is not None and (dataset not in cursors or newest > cursors[dataset]):
            return True
    return False


def _run_continuous(*, lease: Lease, task: Task, hard_stop: bool = False) -> str:
    """The ``continuous`` runner: process what is new past the cursor and publish it, poll for
    more, and end (succeeded) after ``idle_timeout`` with nothing new. Each step publishes like a
    task does, in one fenced transaction; the task stays running between steps."""
    from .jobs import parse_duration

    job = task.job
    operator = get_operator(job.operator)
    idle_seconds = parse_duration(job.idle_timeout or "1m").total_seconds()
    poll_seconds = max(0.2, min(5.0, idle_seconds / 5))
    first = TaskContext(job=job, task=task, attempt=lease.attempt, storage=lake(), inputs={}, cursors={})
    heartbeat = _watchdog(lease, first, job, hard_stop=hard_stop)
    heartbeat.start()
    last_new = time.monotonic()
    try:
        while heartbeat.ctx.heartbeat_ok:
            if selectors.open_invalidations(job=job).exists():
                # Let the planner rebuild what the invalidation covers; it starts a new run after.
                task_complete(lease=lease)
                return "succeeded"
            if _has_new_input(job):
                task = Task.objects.select_related("job").get(pk=lease.task_id)
                ctx = _task_context(lease=lease, job=job, task=task)
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
        log.warning("continuous task %s failed: %s", lease.task_id, error)
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
            from .scheduler import job_plan_isolated

            job_plan_isolated(job=job)  # closes the invalidations this task finished
        if published:
            plan_downstream(datasets=list(job.output_datasets))
        if published or planned or job_has_due:
            tasks_dispatch()
    except Exception:
        log.exception("planning after %s failed; the next tick will catch up", task.id)


def job_run_now(*, job: Job) -> int:
    """Plan the job now (a full job runs even when fresh) and dispatch."""
    from .scheduler import job_plan

    result = job_plan(job=job, force=True)
    tasks_dispatch()
    return result.created
