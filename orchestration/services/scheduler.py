"""The scheduler: decide what is stale, create tasks, hand them to django-q2.

Every way of creating tasks for a job (planning, backfill, run now, retry) holds the job's
transaction-scoped advisory lock, so concurrent planners on any number of hosts serialise per job and
the "no live task for this partition" check they run is never stale: at most one live task per
(job, partition).
"""

from __future__ import annotations

import hashlib
import json
import logging
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import datetime

from croniter import croniter
from django.db import connection, transaction
from django.db.models import Max
from django.utils import timezone

from orchestration import selectors
from orchestration.models import Job, Task
from orchestration.operators import get_operator
from orchestration.selectors.planning import (
    PLANNING_ERROR_COLUMN,
    PLANNING_ERROR_DATASET,
    inputs_feeding,
    outputs_fed_by,
)
from platform_site.db import uuid7
from versioning.models import DatasetCursor
from versioning.selectors import invalidation_covered_partitions
from versioning.services import invalidation_mark_processed, partition_versions_retire

from .jobs import scaling_of

log = logging.getLogger(__name__)


@dataclass
class PlanResult:
    job_id: str
    created: int = 0
    partitions: list[str] = field(default_factory=list)
    error: str | None = None


def lock_job(job_id) -> None:
    """Serialise task creation for one job until the end of the current transaction."""
    key = int.from_bytes(hashlib.sha256(f"plan:{job_id}".encode()).digest()[:8], "big", signed=True)
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_advisory_xact_lock(%s)", [key])


def tasks_create(*, job: Job, keys: list[str], invalidations: dict[str, set[str]] | None = None) -> int:
    """Insert pending tasks for ``keys`` in batches of ``scaling.batch_size``, in one statement.

    Caller holds :func:`lock_job` and has excluded keys with live tasks.
    """
    if not keys:
        return 0
    invalidations = invalidations or {}
    batch_size = scaling_of(job)["batch_size"]
    batches = [keys[i : i + batch_size] for i in range(0, len(keys), batch_size)]
    metas = []
    for batch in batches:
        ids = sorted(set().union(*(invalidations.get(k, set()) for k in batch)))
        metas.append(json.dumps({"invalidations": ids}) if ids else "{}")
    ids = [uuid7() for _ in batches]
    batch_numbers = [n for n, batch in enumerate(batches, start=1) for _ in batch]
    with connection.cursor() as cursor:
        cursor.execute(
            """
            INSERT INTO tasks (id, job_id, status, partitions, input_versions, attempts, outputs, created_at)
            SELECT t.id, %(job)s, 'pending', b.keys, t.meta, 0, '[]'::jsonb, now()
            FROM (
                SELECT batch, array_agg(key ORDER BY ord) AS keys
                FROM unnest(%(keys)s::text[], %(batches)s::int[]) WITH ORDINALITY AS k(key, batch, ord)
                GROUP BY batch
            ) b
            JOIN unnest(%(ids)s::uuid[], %(metas)s::jsonb[]) WITH ORDINALITY AS t(id, meta, batch)
              ON t.batch = b.batch
            """,
            {"job": job.id, "keys": list(keys), "batches": batch_numbers, "ids": ids, "metas": metas},
        )
    return len(batches)


def incremental_task_create(*, job: Job) -> int:
    """An incremental job runs one task at a time; its partitions are known once it has run."""
    if Task.objects.filter(job=job, status__in=Task.LIVE_STATUSES).exists():
        return 0
    Task.objects.create(job=job, partitions=[])
    return 1


def rebuild_task_create(*, job: Job, invalidations: dict[str, set[str]]) -> int:
    """A cursor-driven job's rebuild: one task rewriting the output partitions ``invalidations``
    names (key -> invalidation ids) from every input partition that fed them, up to the cursor.

    The inputs are fixed here (``input_versions.rebuild``) from ``task_inputs``; the cursor does not
    move, so what lies past it is still read by the next ordinary run.
    """
    keys = sorted(invalidations)
    ids = sorted(set().union(*invalidations.values()))
    feeding = inputs_feeding(job=job, outputs=keys)
    Task.objects.create(job=job, partitions=keys, input_versions={"invalidations": ids, "rebuild": feeding})
    return 1


def job_plan(*, job: Job, force: bool = False) -> PlanResult:
    """Create tasks for every stale partition of ``job`` (``force``: a full job runs even if fresh)."""
    with transaction.atomic():
        lock_job(job.id)
        job = Job.objects.select_related("org").get(pk=job.pk)
        result = PlanResult(job_id=str(job.id))
        if not job.active:
            return result
        operator = get_operator(job.operator)
        if operator is None:
            log.warning("job %s: unknown operator %s, not planned", job, job.operator)
            return result
        invalidations: dict[str, set[str]] = defaultdict(set)
        cursor_driven = job.execution_strategy in (
            Job.ExecutionStrategy.INCREMENTAL,
            Job.ExecutionStrategy.STREAMING,
        )
        problems: list[str] = []
        if operator.is_source and not cursor_driven:
            expected = operator.expected_partitions(job)
            _retire_unexpected(job=job, expected=expected)
            keys = selectors.stale_source_partitions(job=job, expected=expected)
        elif cursor_driven:
            live = Task.objects.filter(job=job, status__in=Task.LIVE_STATUSES).exists()
            if not operator.is_source and not live:
                # What an invalidation covers is rebuilt before the cursor moves on.
                work = _invalidation_work(job=job, whole=False, problems=problems, cursor_driven=True)
                if work:
                    result.created = rebuild_task_create(job=job, invalidations=work)
                    result.partitions = sorted(work)
                    _record_planning_problems(job=job, problems=problems)
                    return result
            # An incremental source (e.g. evm_rpc) has no inputs to be due on: it runs when forced
            # (its schedule fired, or "run now") and finds its own partitions from its cursor.
            due = force or (not operator.is_source and selectors.incremental_is_due(job=job))
            result.created = incremental_task_create(job=job) if due else 0
            _record_planning_problems(job=job, problems=problems)
            return result
        else:
            started = _database_now()
            until = selectors.input_high_water(job=job)
            whole = selectors.is_whole(job)
            if whole:
                key = selectors.whole_output_key(job)
                keys = [key] if selectors.whole_is_stale(job=job, until=until) else []
                if force and not keys and not selectors.live_keys(job=job, keys=[key]):
                    keys = [key]
            else:
                keys = selectors.stale_partitions(job=job, until=until)
            for key, ids in _invalidation_work(job=job, whole=whole, problems=problems).items():
                invalidations[key] |= ids
            extra = sorted(set(invalidations) - set(keys))
            if extra:
                keys = sorted(set(keys) | (set(extra) - selectors.live_keys(job=job, keys=extra)))
            _advance_watermarks(job=job, until=until, safe=started - selectors.commit_margin())
        result.created = tasks_create(job=job, keys=keys, invalidations=invalidations)
        result.partitions = keys
        _record_planning_problems(job=job, problems=problems)
        return result


def _invalidation_work(
    *, job: Job, whole: bool, problems: list[str], cursor_driven: bool = False
) -> dict[str, set[str]]:
    """Output keys to rebuild because of open invalidations; closes those this job has finished.

    An invalidation whose coverage cannot be computed (its filter no longer fits a partition's
    schema, a file is unreadable) is left open and reported in ``problems``: it does not stop the
    job's other work, nor any other job.
    """
    work: dict[str, set[str]] = defaultdict(set)
    for invalidation in selectors.open_invalidations(job=job):
        try:
            covered = invalidation_covered_partitions(invalidation=invalidation)
        except Exception as exc:  # any failure here is this invalidation's: reported, not raised
            log.warning("job %s: invalidation %s not evaluated: %s", job, invalidation.id, exc)
            problems.append(f"invalidation {invalidation.id} of {invalidation.dataset}: {exc}")
            continue
        if cursor_driven:
            # Output partitions are keyed by the cursor's routing, not the input's: the ones to
            # rebuild are those written by a task that read a covered partition.
            covered = outputs_fed_by(job=job, dataset=invalidation.dataset, keys=covered)
        elif whole:
            covered = [selectors.whole_output_key(job)] if covered else []
        stale = selectors.outputs_built_before(job=job, keys=covered, moment=invalidation.created_at)
        if stale and not whole and not cursor_driven:
            # An identity-mapped output whose input partition was retired is retired in turn.
            gone = set(retired_inputs(job=job, keys=stale))
            if gone:
                partition_versions_retire(
                    dataset=job.output_datasets[0],
                    keys=gone,
                    reason=f"its input partition was retired ({invalidation.dataset})",
                    source_event={"job": str(job.id), "invalidation": str(invalidation.id)},
                )
                stale = [key for key in stale if key not in gone]
        if not stale and not selectors.live_task_processes(job=job, invalidation_id=invalidation.id):
            invalidation_mark_processed(invalidation_id=invalidation.id, job_id=job.id)
            continue
        for key in stale:
            work[key].add(str(invalidation.id))
    return work


def _retire_unexpected(*, job: Job, expected: list[str]) -> None:
    """A partitioned source whose configuration changed (a new partition size, a shorter range)
    no longer produces some keys: those built under another configuration leave the catalog."""
    with connection.cursor() as cursor:
        cursor.execute(
            """
            SELECT dataset, partition_key FROM partition_versions
            WHERE dataset = ANY(%s) AND config_hash <> %s AND NOT (partition_key = ANY(%s))
            """,
            [list(job.output_datasets), job.config_hash, expected],
        )
        unexpected: dict[str, list[str]] = defaultdict(list)
        for dataset, key in cursor.fetchall():
            unexpected[dataset].append(key)
    for dataset, keys in unexpected.items():
        partition_versions_retire(
            dataset=dataset,
            keys=keys,
            reason=f"no longer in the partition layout of {job}",
            source_event={"job": str(job.id)},
        )


def retired_inputs(*, job: Job, keys: list[str]) -> list[str]:
    """Of ``keys``, those some input dataset of ``job`` no longer has."""
    with connection.cursor() as cursor:
        cursor.execute(
            """
            SELECT k FROM unnest(%s::text[]) AS k
            WHERE EXISTS (
                SELECT 1 FROM unnest(%s::text[]) AS d
                WHERE NOT EXISTS (SELECT 1 FROM partition_versions p
                                  WHERE p.dataset = d AND p.partition_key = k))
            """,
            [keys, list(job.input_datasets)],
        )
        return [row[0] for row in cursor.fetchall()]


def _record_planning_problems(*, job: Job, problems: list[str]) -> None:
    if problems:
        planning_error_record(job=job, message="; ".join(problems))
    else:
        planning_error_clear(job=job)


def planning_error_record(*, job: Job, message: str) -> None:
    """Keep the job's last planning failure where its page and the API show it."""
    DatasetCursor.objects.update_or_create(
        dataset=PLANNING_ERROR_DATASET,
        job=job,
        defaults={
            "cursor_column": PLANNING_ERROR_COLUMN,
            "cursor_value": message[:4000],
            "updated_at": timezone.now(),
        },
    )


def planning_error_clear(*, job: Job) -> None:
    DatasetCursor.objects.filter(dataset=PLANNING_ERROR_DATASET, job=job).delete()


def job_plan_isolated(*, job: Job, force: bool = False) -> PlanResult:
    """:func:`job_plan`, with a failure recorded on the job (its page and the API show it) instead
    of raised: one job's broken plan never keeps the others from being planned."""
    try:
        return job_plan(job=job, force=force)
    except Exception as exc:
        log.exception("planning %s failed", job)
        message = f"{type(exc).__name__}: {exc}"
        try:
            planning_error_record(job=job, message=message)
        except Exception:
            log.exception("recording the planning failure of %s failed", job)
        return PlanResult(job_id=str(job.id), error=message)


def _database_now() -> datetime:
    with connection.cursor() as cursor:
        cursor.execute("SELECT clock_timestamp()")
        return cursor.fetchone()[0]


def _advance_watermarks(*, job: Job, until: dict[str, datetime | None], safe: datetime) -> None:
    """Remember what this plan covered: up to the newest input version, but never past ``safe``
    (plan start minus the commit margin), so a publish that commits late is still seen next time."""
    for dataset, newest in until.items():
        if newest is None:
            continue
        version = min(newest, safe)
        DatasetCursor.objects.update_or_create(
            dataset=dataset,
            job=job,
            defaults={
                "cursor_column": selectors.CATALOG_WATERMARK,
                "cursor_value": version.isoformat(),
                "updated_at": timezone.now(),
            },
        )


def job_backfill(
    *, job: Job, partition_keys: list[str] | None = None, first: str | None = None, last: str | None = None
) -> PlanResult:
    """Tasks for a partition range whatever its staleness (keys with a live task are skipped).

    The range is resolved against the job's primary input (or, for a source, its expected keys);
    ``partition_keys`` names them outright.
    """
    with transaction.atomic():
        lock_job(job.id)
        job = Job.objects.get(pk=job.pk)
        if partition_keys is None:
            partition_keys = keys_in_range(job=job, first=first, last=last)
        keys = sorted(set(partition_keys))
        if job.execution_strategy in (Job.ExecutionStrategy.INCREMENTAL, Job.ExecutionStrategy.STREAMING):
            raise ValueError("an incremental job is not backfilled by partition; reset its cursor instead")
        if selectors.is_whole(job):
            keys = [selectors.whole_output_key(job)]
        busy = _live_keys_bulk(job=job, keys=keys)
        keys = [k for k in keys if k not in busy]
        created = tasks_create(job=job, keys=keys)
        return PlanResult(job_id=str(job.id), created=created, partitions=keys)


def _live_keys_bulk(*, job: Job, keys: list[str]) -> set[str]:
    with connection.cursor() as cursor:
        cursor.execute(
            """
            SELECT DISTINCT k FROM tasks t, unnest(t.partitions) k
            WHERE t.job_id = %s AND t.status IN ('pending', 'queued', 'running')
            """,
            [job.id],
        )
        live = {row[0] for row in cursor.fetchall()}
    return live & set(keys)


def keys_in_range(*, job: Job, first: str | None, last: str | None) -> list[str]:
    """The partition keys a backfill (or a rebuild) of ``job`` resolves ``first``..``last`` to: a
    source's expected keys, otherwise its primary input's published keys (either bound optional)."""
    operator = get_operator(job.operator)
    if operator is not None and operator.is_source:
        keys = operator.expected_partitions(job)
        return [k for k in keys if (first is None or k >= first) and (last is None or k <= last)]
    if not job.input_datasets:
        return []
    sql = "SELECT partition_key FROM partition_versions WHERE dataset = %s"
    params: list = [job.input_datasets[0]]
    if first is not None:
        sql += " AND partition_key >= %s"
        params.append(first)
    if last is not None:
        sql += " AND partition_key <= %s"
        params.append(last)
    with connection.cursor() as cursor:
        cursor.execute(sql + " ORDER BY partition_key", params)
        return [row[0] for row in cursor.fetchall()]


def schedule_is_due(*, job: Job, now: datetime | None = None) -> bool:
    """A scheduled job is due when a cron fire time passed since its last task (or its creation)."""
    now = now or timezone.now()
    last = job.tasks.aggregate(last=Max("created_at"))["last"] or job.created_at
    return croniter(job.config["schedule"], last).get_next(datetime) <= now


def plan_active_jobs(*, progress=None) -> list[PlanResult]:
    """The periodic planning pass: reactive and continuous jobs, and scheduled jobs that are due."""
    results = []
    jobs = Job.objects.filter(active=True).exclude(activation=Job.Activation.MANUAL).order_by("created_at")
    for job in jobs:
        if job.activation == Job.Activation.SCHEDULE and not schedule_is_due(job=job):
            continue
        results.append(job_plan_isolated(job=job, force=job.activation == Job.Activation.SCHEDULE))
        if progress:
            progress(1)
    return results


def plan_downstream(*, datasets: list[str]) -> list[PlanResult]:
    """Plan the reactive jobs reading ``datasets`` (called the moment a task publishes)."""
    jobs = selectors.downstream_jobs(datasets=datasets).filter(
        activation__in=[Job.Activation.REACTIVE, Job.Activation.CONTINUOUS]
    )
    return [job_plan_isolated(job=job) for job in jobs]
