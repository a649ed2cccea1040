"""What a task run reads: its input partitions and its job's cursors, as the operator's context."""

from __future__ import annotations

from orchestration import selectors
from orchestration.models import Job, Task
from orchestration.operators.base import InputPartition, TaskContext
from versioning.models import DatasetCursor, PartitionVersion
from versioning.storage import lake

from .leases import Lease

# Jobs that read what is new past their cursors (and advance them at publish).
CURSOR_STRATEGIES = (Job.ExecutionStrategy.INCREMENTAL, Job.ExecutionStrategy.STREAMING)


def is_rebuild(task: Task) -> bool:
    """A cursor-driven job's rebuild of what an invalidation covers (see ``rebuild_task_create``)."""
    return "rebuild" in (task.input_versions or {})


def task_context(*, lease: Lease, job: Job, task: Task, cursors: dict | None = None) -> TaskContext:
    """What an operator run sees: the task's input partitions and the job's published cursors
    (read here unless the claim already returned them)."""
    if cursors is None:
        cursors = {c.dataset: c.cursor_value for c in DatasetCursor.objects.filter(job=job)}
    return TaskContext(
        job=job,
        task=task,
        attempt=lease.attempt,
        storage=lake(),
        inputs=inputs_for(job, task),
        cursors=cursors,
    )


def has_new_input(job: Job) -> bool:
    """Is there an input partition newer than what the job's cursors last read?"""
    cursors = {c.dataset: c.updated_at for c in DatasetCursor.objects.filter(job=job)}
    for dataset, newest in selectors.input_high_water(job=job).items():
        if newest is not None and (dataset not in cursors or newest > cursors[dataset]):
            return True
    return False


def inputs_for(job: Job, task: Task) -> dict[str, list[InputPartition]]:
    """The input partitions ``task`` reads, per input dataset: those its partitions map to, what is
    new past the cursors (cursor-driven jobs), what a rebuild listed, or everything (whole jobs)."""
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
