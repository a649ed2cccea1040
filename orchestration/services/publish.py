"""Publishing a task's work: its outputs, reads, cursors and invalidations become visible at once.

A publish is one fenced transaction: the task's row is locked while this attempt still holds the
lease, so a worker that lost its task changes nothing. A run with nothing to record beyond its own
row (``has_nothing_to_publish``) takes a one-statement path instead.
"""

from __future__ import annotations

import json
import time

from django.conf import settings
from django.db import connection, transaction
from django.utils import timezone

from orchestration import schema_changes
from orchestration.models import Job
from orchestration.operators.base import TaskContext
from platform_site.database import retry_on_disconnect
from versioning.models import DatasetCursor, PartitionVersion
from versioning.services import (
    PublishedPartition,
    invalidation_create,
    partition_versions_publish,
    partition_versions_retire,
)
from versioning.storage import schema_hash

from .inputs import CURSOR_STRATEGIES, is_rebuild
from .leases import ASYNC_COMMIT, LEASE_HELD, Lease, LeaseLost, execute_prepared, lock_leased
from .propagation import invalidations_propagate

COMPLETE_SQL = f"""
    UPDATE tasks t SET status = 'succeeded', completed_at = now() FROM {ASYNC_COMMIT}
    WHERE {LEASE_HELD}
"""


@retry_on_disconnect()
def task_complete(*, lease: Lease) -> None:
    """Mark a task that wrote nothing as succeeded (fenced)."""
    if execute_prepared(COMPLETE_SQL, lease.fence).rowcount != 1:
        raise LeaseLost(str(lease.task_id))


# -- the publish transaction --------------------------------------------------------------------
@retry_on_disconnect()
def task_publish(*, lease: Lease, ctx: TaskContext, final: bool = True) -> list[dict]:
    """One transaction: task succeeded + outputs, task_inputs, partition_versions, cursors,
    invalidations. Raises LeaseLost (and changes nothing) when the lease is gone.

    ``final=False`` (a continuous task's intermediate step) publishes the same way but leaves the
    task running, appending to its ``outputs`` and ``partitions``.

    Rerun on a fresh connection when the database drops (the transaction rolled back whole); the
    operator's files are already written, so a restart of the server costs no attempt.
    """
    outputs = _partitions_of(ctx)
    with transaction.atomic(), connection.cursor() as cursor:
        if not lock_leased(cursor, lease):
            raise LeaseLost(str(lease.task_id))
        superseded = _current_locations(outputs)
        version = partition_versions_publish(partitions=outputs)
        _retire(ctx)
        _record_reads(cursor, lease, ctx)
        if ctx.job.execution_strategy in CURSOR_STRATEGIES and not is_rebuild(ctx.task):
            _advance_cursors(job=ctx.job, ctx=ctx)
        _record_invalidations(ctx, superseded)
        recorded = _recorded_outputs(outputs, version)
        input_versions = _input_versions(ctx)
        if final:
            _record_success(cursor, lease, ctx, recorded, input_versions, outputs)
        else:
            _record_step(cursor, lease, recorded, input_versions, outputs)
        _fault_pause(ctx.job)
    return recorded


def _partitions_of(ctx: TaskContext) -> list[PublishedPartition]:
    """The catalog entries of the files the operator wrote."""
    return [
        PublishedPartition(
            dataset=o.dataset,
            partition_key=o.partition_key,
            config_hash=ctx.job.config_hash,
            schema_hash=schema_hash(o.schema),
            location=o.written.location,
            row_count=o.written.row_count,
            bytes=o.written.bytes,
        )
        for o in ctx.outputs
    ]


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


def _retire(ctx: TaskContext) -> None:
    """Take the partitions the operator retired out of the catalog."""
    job = ctx.job
    for dataset, keys in ctx.retirements.items():
        partition_versions_retire(
            dataset=dataset,
            keys=keys,
            reason=f"no longer in the partition layout of {job}",
            source_event={"job": str(job.id)},
        )


def _record_reads(cursor, lease: Lease, ctx: TaskContext) -> None:
    """``task_inputs``: every input partition version the run read."""
    read = [p for parts in ctx.inputs.values() for p in parts]
    if not read:
        return
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


def _record_invalidations(ctx: TaskContext, superseded: dict[str, dict[str, str]]) -> None:
    """The invalidations the operator raised, and those its outputs carry down the DAG."""
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
    invalidations_propagate(job=ctx.job, task=ctx.task, outputs=ctx.outputs, superseded=superseded)


def _recorded_outputs(outputs: list[PublishedPartition], version) -> list[dict]:
    """The task's ``outputs``: what it published, under the catalog version of this publish."""
    return [
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


def _input_versions(ctx: TaskContext) -> dict:
    """The task's ``input_versions``: what the planner put there, what the run read, and every
    input schema the job has run on so far."""
    input_versions = dict(ctx.task.input_versions or {})
    input_versions["read"] = {
        d: {p.partition_key: p.version.isoformat() for p in parts} for d, parts in ctx.inputs.items()
    }
    input_versions["schemas"] = schema_changes.schemas_after(ctx.job, ctx.inputs)
    return input_versions


def _record_success(
    cursor,
    lease: Lease,
    ctx: TaskContext,
    recorded: list[dict],
    input_versions: dict,
    outputs: list[PublishedPartition],
) -> None:
    """The task succeeded (its row is locked under the lease by the publish transaction)."""
    partitions = (
        sorted({o.partition_key for o in outputs}) if not ctx.task.partitions else ctx.task.partitions
    )
    cursor.execute(
        """
        UPDATE tasks SET status = 'succeeded', completed_at = now(), outputs = %s::jsonb,
               input_versions = %s::jsonb, partitions = %s, error_message = NULL
        WHERE id = %s
        """,
        [json.dumps(recorded), json.dumps(input_versions), partitions, lease.task_id],
    )


def _record_step(
    cursor, lease: Lease, recorded: list[dict], input_versions: dict, outputs: list[PublishedPartition]
) -> None:
    """A continuous task's step: the task stays running, its outputs and partitions grow."""
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


def _fault_pause(job: Job) -> None:
    """Fault injection for the crash tests: hold the publish transaction open before it commits.

    ``settings.FAULT_PUBLISH_PAUSE_SECONDS`` (and optionally ``FAULT_PUBLISH_PAUSE_JOB``, a job
    name), from the worker's environment at startup; zero in production.
    """
    pause = settings.FAULT_PUBLISH_PAUSE_SECONDS
    only = settings.FAULT_PUBLISH_PAUSE_JOB
    if pause and (not only or only == job.name):
        time.sleep(pause)


# -- nothing to publish -------------------------------------------------------------------------
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
    WHERE {LEASE_HELD}
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
    schemas_read = {d: [] for d in ctx.inputs}
    row = execute_prepared(
        PUBLISH_NOTHING_SQL, [json.dumps(input_versions), json.dumps(schemas_read), *lease.fence]
    ).fetchone()
    if row is None:
        raise LeaseLost(str(lease.task_id))
    return row[0]
