"""Reads with rules: what is stale (the scheduler's set-based SQL), DAG neighbours, job pages.

Staleness: an output partition is stale when it is missing, when an input partition
it was built from has a newer version, when the job's ``config_hash`` differs from the one it was
built with, or when an unprocessed invalidation covers it.

Cost follows change: a partitioned job keeps, per input dataset, the highest input version it has
planned (a ``dataset_cursors`` row with ``cursor_column = '_catalog_version'``); a plan looks only
at input partitions published since then, through the ``(dataset, version)`` index, and checks each
against the output catalog (and ``task_inputs`` when the output is newer than the input). The mark is
never later than the plan's start minus ``PLANNER_COMMIT_MARGIN_SECONDS``: a publish still in flight
when a plan runs has a version after that, so the next plan sees it once it commits. A config change
drops the marks, so the next plan looks at everything once.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from django.conf import settings
from django.db import connection
from django.db.models import OuterRef, Q, Subquery

from platform_site import tenancy
from versioning.models import DataInvalidation, DatasetCursor

from ..models import ColumnLineage, Job, Task

LIVE = ("pending", "queued", "running")
CATALOG_WATERMARK = "_catalog_version"
NEVER = datetime(1970, 1, 1, tzinfo=UTC)


def commit_margin() -> timedelta:
    return timedelta(seconds=settings.PLANNER_COMMIT_MARGIN_SECONDS)


def whole_output_key(job: Job) -> str:
    return str((job.config or {}).get("output_partition", "all"))


def is_whole(job: Job) -> bool:
    return (
        job.execution_strategy == Job.ExecutionStrategy.FULL
        or (job.config or {}).get("partition_mapping") == "all"
    )


def input_high_water(*, job: Job) -> dict[str, datetime | None]:
    """The newest version of each input dataset (one index probe each)."""
    marks: dict[str, datetime | None] = {}
    with connection.cursor() as cursor:
        for dataset in job.input_datasets:
            cursor.execute(
                "SELECT version FROM partition_versions WHERE dataset = %s ORDER BY version DESC LIMIT 1",
                [dataset],
            )
            row = cursor.fetchone()
            marks[dataset] = row[0] if row else None
    return marks


def planning_watermarks(*, job: Job) -> dict[str, datetime]:
    rows = DatasetCursor.objects.filter(job=job, cursor_column=CATALOG_WATERMARK)
    found = {}
    for row in rows:
        try:
            found[row.dataset] = datetime.fromisoformat(row.cursor_value)
        except (TypeError, ValueError):
            continue
    return found


def _windows(job: Job, until: dict[str, datetime | None]) -> tuple[list[str], list[datetime], list[datetime]]:
    marks = planning_watermarks(job=job)
    datasets, lows, highs = [], [], []
    for dataset in job.input_datasets:
        if until.get(dataset) is None:
            continue
        datasets.append(dataset)
        lows.append(marks.get(dataset, NEVER))
        highs.append(until[dataset])
    return datasets, lows, highs


CHANGED_CTES = """
    windows AS (
        SELECT * FROM unnest(%(datasets)s::text[], %(lows)s::timestamptz[], %(highs)s::timestamptz[])
            AS w(dataset, low, high)
    ),
    changed AS MATERIALIZED (
        SELECT pv.dataset, pv.partition_key, pv.version
        FROM windows w
        JOIN LATERAL (
            SELECT p.dataset, p.partition_key, p.version FROM partition_versions p
            WHERE p.dataset = w.dataset AND p.version > w.low AND p.version <= w.high
        ) pv ON true
    ),
    live AS (
        SELECT DISTINCT unnest(partitions) AS partition_key FROM tasks
        WHERE job_id = %(job)s AND status IN ('pending', 'queued', 'running')
    )
"""

# A changed input partition makes its output stale when the output is missing, was built with
# another config, or did not read this input version. An input newer than the output is stale
# outright; only an output newer than its input (the commit-margin re-checks, or an input republished
# while a task ran) needs the exact answer from task_inputs.
UNREAD = """
    NOT EXISTS (
        SELECT 1 FROM task_inputs ti JOIN tasks t ON t.id = ti.task_id
        WHERE ti.input_dataset = ch.dataset AND ti.input_partition = ch.partition_key
          AND ti.input_version >= ch.version AND t.job_id = %(job)s AND t.status = 'succeeded'
    )
"""


def stale_partitions(*, job: Job, until: dict[str, datetime | None]) -> list[str]:
    """Stale output keys of a partitioned (identity-mapped) job, minus those with a live task."""
    datasets, lows, highs = _windows(job, until)
    if not datasets:
        return []
    n_inputs = len(set(job.input_datasets))
    complete = (
        ""
        if n_inputs == 1
        else """
        AND (SELECT count(*) FROM partition_versions p
             WHERE p.dataset = ANY(%(inputs)s) AND p.partition_key = s.partition_key) = %(n_inputs)s"""
    )
    sql = f"""
    WITH {CHANGED_CTES},
    stale AS (
        -- LATERAL: one primary-key probe per changed partition, whatever the size of the output
        SELECT DISTINCT ch.partition_key FROM changed ch
        LEFT JOIN LATERAL (
            SELECT o.partition_key, o.config_hash, o.version FROM partition_versions o
            WHERE o.dataset = %(output)s AND o.partition_key = ch.partition_key
            LIMIT 1  -- keeps the planner from flattening this into a hash join over the whole output
        ) o ON true
        WHERE o.partition_key IS NULL OR o.config_hash <> %(hash)s OR ch.version > o.version OR {UNREAD}
    )
    SELECT s.partition_key FROM stale s
    WHERE NOT EXISTS (SELECT 1 FROM live l WHERE l.partition_key = s.partition_key){complete}
    ORDER BY s.partition_key
    """
    params = {
        "datasets": datasets,
        "lows": lows,
        "highs": highs,
        "job": job.id,
        "inputs": list(job.input_datasets),
        "n_inputs": n_inputs,
        "output": job.output_datasets[0],
        "hash": job.config_hash,
    }
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        return [row[0] for row in cursor.fetchall()]


def whole_is_stale(*, job: Job, until: dict[str, datetime | None]) -> bool:
    """For a ``full`` job or an ``all`` mapping: is the one output partition stale? Not while an
    input has never been published: the job reads every input whole, and one that does not exist
    yet (a sibling job's output still being built) would fail the task or give a result missing it;
    its first publish plans the job."""
    datasets, lows, highs = _windows(job, until)
    if not datasets or len(datasets) < len(job.input_datasets):
        return False
    sql = f"""
    WITH {CHANGED_CTES}
    SELECT
        NOT EXISTS (SELECT 1 FROM live WHERE partition_key = %(key)s)
        AND (
            NOT EXISTS (SELECT 1 FROM partition_versions o WHERE o.dataset = %(output)s
                        AND o.partition_key = %(key)s AND o.config_hash = %(hash)s)
            OR EXISTS (
                SELECT 1 FROM changed ch
                LEFT JOIN partition_versions o ON o.dataset = %(output)s AND o.partition_key = %(key)s
                WHERE o.partition_key IS NULL OR ch.version > o.version OR {UNREAD}
            )
        )
    """
    params = {
        "datasets": datasets,
        "lows": lows,
        "highs": highs,
        "job": job.id,
        "output": job.output_datasets[0],
        "key": whole_output_key(job),
        "hash": job.config_hash,
    }
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        return bool(cursor.fetchone()[0])


def stale_source_partitions(*, job: Job, expected: list[str]) -> list[str]:
    """Expected keys of a source job that are missing or built with another config_hash."""
    sql = """
    SELECT k FROM unnest(%(keys)s::text[]) AS k
    LEFT JOIN partition_versions o ON o.dataset = %(output)s AND o.partition_key = k
    WHERE (o.partition_key IS NULL OR o.config_hash <> %(hash)s)
      AND NOT EXISTS (SELECT 1 FROM tasks t WHERE t.job_id = %(job)s
                      AND t.status IN ('pending', 'queued', 'running') AND k = ANY(t.partitions))
    ORDER BY k
    """
    with connection.cursor() as cursor:
        cursor.execute(
            sql, {"keys": expected, "output": job.output_datasets[0], "hash": job.config_hash, "job": job.id}
        )
        return [row[0] for row in cursor.fetchall()]


def incremental_is_due(*, job: Job) -> bool:
    """An incremental job is due when an input has a version newer than its cursor's."""
    if Task.objects.filter(job=job, status__in=LIVE).exists():
        return False
    cursors = {c.dataset: c.updated_at for c in DatasetCursor.objects.filter(job=job)}
    for dataset, newest in input_high_water(job=job).items():
        if newest is not None and (dataset not in cursors or newest > cursors[dataset]):
            return True
    return False


def live_keys(*, job: Job, keys: list[str]) -> set[str]:
    with connection.cursor() as cursor:
        cursor.execute(
            """
            SELECT DISTINCT k FROM tasks t, unnest(t.partitions) k
            WHERE t.job_id = %s AND t.status IN ('pending', 'queued', 'running') AND k = ANY(%s)
            """,
            [job.id, keys],
        )
        return {row[0] for row in cursor.fetchall()}


def open_invalidations(*, job: Job):
    """Unprocessed invalidations of the job's inputs that this job has not processed yet."""
    return (
        DataInvalidation.objects.filter(processed_at__isnull=True, dataset__in=job.input_datasets)
        .exclude(processed_by__contains=[job.id])
        .order_by("created_at")
    )


def outputs_built_before(*, job: Job, keys: list[str], moment: datetime) -> list[str]:
    """Of ``keys``, the output partitions of ``job`` whose current version predates ``moment``."""
    if not keys:
        return []
    with connection.cursor() as cursor:
        cursor.execute(
            """
            SELECT partition_key FROM partition_versions
            WHERE dataset = %s AND partition_key = ANY(%s) AND version < %s ORDER BY partition_key
            """,
            [job.output_datasets[0], keys, moment],
        )
        return [row[0] for row in cursor.fetchall()]


def live_task_processes(*, job: Job, invalidation_id) -> bool:
    with connection.cursor() as cursor:
        cursor.execute(
            """
            SELECT 1 FROM tasks WHERE job_id = %s AND status IN ('pending', 'queued', 'running')
              AND input_versions -> 'invalidations' ? %s LIMIT 1
            """,
            [job.id, str(invalidation_id)],
        )
        return cursor.fetchone() is not None


def outputs_fed_by(*, job: Job, dataset: str, keys: list[str]) -> list[str]:
    """Output partitions of a cursor-driven job written by a task that read one of ``keys`` of
    ``dataset`` (``task_inputs`` records what each publish read)."""
    if not keys:
        return []
    with connection.cursor() as cursor:
        cursor.execute(
            """
            SELECT DISTINCT k FROM tasks t, unnest(t.partitions) k
            WHERE t.job_id = %s AND EXISTS (
                SELECT 1 FROM task_inputs ti WHERE ti.task_id = t.id AND ti.input_dataset = %s
                  AND ti.input_partition = ANY(%s))
            ORDER BY k
            """,
            [job.id, dataset, keys],
        )
        return [row[0] for row in cursor.fetchall()]


def inputs_feeding(*, job: Job, outputs: list[str]) -> dict[str, list[str]]:
    """Input partitions (per dataset) read by the tasks of ``job`` that wrote any of ``outputs``:
    everything a rebuild of those outputs must read again."""
    with connection.cursor() as cursor:
        cursor.execute(
            """
            SELECT DISTINCT ti.input_dataset, ti.input_partition
            FROM tasks t JOIN task_inputs ti ON ti.task_id = t.id
            WHERE t.job_id = %s AND t.partitions && %s::text[]
            ORDER BY 1, 2
            """,
            [job.id, outputs],
        )
        found: dict[str, list[str]] = {}
        for dataset, key in cursor.fetchall():
            found.setdefault(dataset, []).append(key)
        return found


# A job's last planning failure lives in a ``dataset_cursors`` row of its own (this pseudo dataset,
# never a real one: real names are ``namespace.name``): durable, scoped to the job's org like its
# cursors, dropped with the job's cursors on a config change and on the next clean plan.
PLANNING_ERROR_DATASET = "_planning"
PLANNING_ERROR_COLUMN = "_planning_error"


def planning_error(*, job: Job) -> tuple[str, datetime] | None:
    """(message, when) of the job's last planning failure, None when its last plan went through."""
    row = DatasetCursor.objects.filter(job=job, dataset=PLANNING_ERROR_DATASET).first()
    return None if row is None else (row.cursor_value or "", row.updated_at)


def with_planning_error(jobs):
    """``jobs`` annotated with their last planning failure (``planning_error_message`` and
    ``planning_error_at``), for lists that show it without a query per job."""
    row = DatasetCursor.objects.filter(job=OuterRef("pk"), dataset=PLANNING_ERROR_DATASET)
    return jobs.annotate(
        planning_error_message=Subquery(row.values("cursor_value")[:1]),
        planning_error_at=Subquery(row.values("updated_at")[:1]),
    )


def downstream_jobs(*, datasets: list[str]):
    return Job.objects.filter(active=True, input_datasets__overlap=list(datasets))


def upstream_jobs(*, datasets: list[str]):
    return Job.objects.filter(active=True, output_datasets__overlap=list(datasets))


def job_neighbours(*, job: Job, viewer) -> dict[str, list[Job]]:
    """The jobs feeding this one and those it feeds, through dataset names, among the jobs
    ``viewer`` may read (another org reading this job's output is none of its business)."""

    def visible(queryset):
        queryset = tenancy.visible_to(viewer, queryset.exclude(pk=job.pk)).select_related("org")
        return list(queryset.order_by("org__slug", "name"))

    return {
        "upstream": visible(upstream_jobs(datasets=job.input_datasets)),
        "downstream": visible(downstream_jobs(datasets=job.output_datasets)),
    }


def dag_edges(*, org=None, dag_name: str | None = None) -> list[tuple[Job, str, Job]]:
    """(producer, dataset, consumer) edges between active jobs touching ``org`` / ``dag_name``: an
    edge counts when either end is in it, so an org's job reading the platform's chain data shows
    with the job that feeds it."""
    jobs = list(Job.objects.filter(active=True).select_related("org").order_by("org__slug", "name"))
    producers = {d: j for j in jobs for d in j.output_datasets}
    edges = [(producers[d], d, j) for j in jobs for d in j.input_datasets if d in producers]

    def touches(job: Job) -> bool:
        return (org is None or job.org_id == org.pk) and (not dag_name or job.dag_name == dag_name)

    return [(p, d, c) for p, d, c in edges if touches(p) or touches(c)]


def recent_failures(*, job: Job, limit: int = 20):
    return job.tasks.filter(Q(status="failed") | Q(status="pending", attempts__gt=0)).order_by("-created_at")[
        :limit
    ]


def dataset_column_lineage(*, dataset: str) -> dict[str, list[tuple[str, str, str, str]]]:
    """A dataset's direct column edges: ``upstream`` (what feeds its columns) and ``downstream``
    (what its columns feed), each ``(input_dataset, input_column, output_dataset, output_column)``."""

    def edges(queryset):
        return list(queryset.values_list("input_dataset", "input_column", "output_dataset", "output_column"))

    return {
        "upstream": edges(ColumnLineage.objects.filter(output_dataset=dataset).order_by("output_column")),
        "downstream": edges(ColumnLineage.objects.filter(input_dataset=dataset).order_by("input_column")),
    }
