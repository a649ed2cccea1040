"""Rebuild: recompute and republish a job's partitions even though they are up to date.

A rebuild is a checked backfill: it names only partitions the job really has, refuses what cannot
be rebuilt (a paused job, an incremental source that cannot read a partition again), and then
creates its tasks with :func:`job_backfill` (a cursor-driven job gets one rebuild task instead), so
planning, dispatch, publish and the downstream reruns are the ones every other task goes through.

Who may rebuild is who may run the job (:data:`REBUILD_OPERATION`): every surface asks
``orgs.policy`` with it. Problems are a ``ValidationError`` with a ``field -> message`` dict.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from django.core.exceptions import NON_FIELD_ERRORS, ValidationError
from django.db import transaction

from orchestration import selectors
from orchestration.models import Job, Task
from orchestration.operators import get_operator
from orchestration.selectors.idle import shown_keys
from orgs.policy import Operation
from platform_site import tenancy
from platform_site.admin_display import counted
from versioning.models import PartitionVersion

from .dispatch import tasks_dispatch
from .scheduler import PlanResult, job_backfill, keys_in_range, lock_job, rebuild_task_create

# A rebuild changes what the job computes exactly as "run now" does: the same right decides.
REBUILD_OPERATION = Operation.JOB_RUN
CURSOR_STRATEGIES = (Job.ExecutionStrategy.INCREMENTAL, Job.ExecutionStrategy.STREAMING)


@dataclass(frozen=True)
class RebuildPlan:
    """What a rebuild of ``job`` will do, before it does it (the confirmation pages show it)."""

    job: Job
    partitions: list[str]
    # Keys a live task already rebuilds: left alone, that task publishes them.
    busy: list[str] = field(default_factory=list)
    # The readers that rerun on the job's outputs the viewer may see, and how many others there are.
    downstream: list[Job] = field(default_factory=list)
    hidden_downstream: int = 0

    @property
    def to_build(self) -> list[str]:
        return [key for key in self.partitions if key not in set(self.busy)]

    def summary(self) -> str:
        """One sentence: how many partitions of which job, and what follows downstream."""
        text = f"{counted(len(self.to_build), 'partition')} of {self.job} will be recomputed and republished"
        readers = [str(job) for job in self.downstream]
        if self.hidden_downstream:
            readers.append(f"{counted(self.hidden_downstream, 'job')} of other orgs")
        if readers:
            text += f"; downstream jobs will rerun ({', '.join(readers)})"
        else:
            text += "; no job reruns on its output"
        if self.busy:
            verb = "has" if len(self.busy) == 1 else "have"
            text += f". {len(self.busy)} already {verb} a live task and "
            text += "will be published by it"
        return text + "."


def rebuild_plan(
    *,
    job: Job,
    partition_keys: list[str] | None = None,
    first: str | None = None,
    last: str | None = None,
    viewer=None,
) -> RebuildPlan:
    """Check a rebuild of ``job`` (every partition, ``partition_keys``, or ``first``..``last``) and
    say what it will do; ValidationError when it cannot be done. Reads only."""
    job = Job.objects.select_related("org").get(pk=job.pk)
    _refuse_job(job)
    if partition_keys is not None and (first or last):
        raise ValidationError({"partitions": "give partition keys or a range, not both"})
    if first and last and first > last:
        raise ValidationError({"last": f"the range ends ({last}) before it starts ({first})"})
    available = rebuildable_partitions(job)
    if not available:
        raise ValidationError(
            {NON_FIELD_ERRORS: f"{job} has no partitions to rebuild yet: run it, or wait for its inputs"}
        )
    if partition_keys is not None:
        keys = sorted({str(key).strip() for key in partition_keys if str(key).strip()})
        if not keys:
            raise ValidationError({"partitions": "name at least one partition key"})
        known = set(available)
        unknown = [key for key in keys if key not in known]
        if unknown:
            raise ValidationError(
                {
                    "partitions": f"{job} has no partition {shown_keys(unknown)} "
                    f"(its partitions run from {available[0]} to {available[-1]})"
                }
            )
    elif first or last:
        keys = [key for key in available if (not first or key >= first) and (not last or key <= last)]
        if not keys:
            raise ValidationError(
                {
                    "first": f"no partition of {job} lies between {first or 'the first'} and "
                    f"{last or 'the last'} (its partitions run from {available[0]} to {available[-1]})"
                }
            )
    else:
        keys = available
    if job.execution_strategy in CURSOR_STRATEGIES:
        busy = keys if job.tasks.filter(status__in=Task.LIVE_STATUSES).exists() else []
    else:
        busy = sorted(selectors.live_keys(job=job, keys=keys))
    # Only reactive and continuous readers rerun when an input is republished (plan_downstream).
    readers = (
        selectors.downstream_jobs(datasets=job.output_datasets)
        .filter(activation__in=[Job.Activation.REACTIVE, Job.Activation.CONTINUOUS])
        .exclude(pk=job.pk)
    )
    visible = list(
        (tenancy.visible_to(viewer, readers) if viewer is not None else readers)
        .select_related("org")
        .order_by("org__slug", "name")
    )
    return RebuildPlan(
        job=job,
        partitions=keys,
        busy=busy,
        downstream=visible,
        hidden_downstream=readers.count() - len(visible),
    )


@dataclass(frozen=True)
class RebuildResult:
    created: int
    partitions: list[str]
    task_ids: list[str]


def job_rebuild(
    *,
    job: Job,
    partition_keys: list[str] | None = None,
    first: str | None = None,
    last: str | None = None,
    dispatch: bool = True,
) -> RebuildResult:
    """Create tasks that recompute and republish the partitions :func:`rebuild_plan` names, and
    dispatch them. Their publish is the ordinary one: new partition versions, and the reactive jobs
    downstream rerun on them."""
    plan = rebuild_plan(job=job, partition_keys=partition_keys, first=first, last=last)
    job = plan.job
    live = Task.objects.filter(job=job, status__in=Task.LIVE_STATUSES)
    before = set(live.values_list("id", flat=True))
    if job.execution_strategy in CURSOR_STRATEGIES:
        result = _cursor_driven_rebuild(job=job, keys=plan.partitions)
    else:
        result = job_backfill(job=job, partition_keys=plan.partitions)
    # The tasks this rebuild created: live ones of its keys that were not there before.
    created = live.filter(partitions__overlap=result.partitions or [""]).exclude(id__in=before)
    task_ids = [str(task_id) for task_id in created.order_by("created_at", "id").values_list("id", flat=True)]
    if dispatch:
        tasks_dispatch()
    return RebuildResult(created=result.created, partitions=result.partitions, task_ids=task_ids)


def rebuildable_partitions(job: Job) -> list[str]:
    """Every partition a rebuild of ``job`` may name, sorted: a full job's one output, a
    cursor-driven job's published outputs, otherwise what a backfill resolves (a source's expected
    keys, or the primary input's published keys)."""
    if selectors.is_whole(job):
        return [selectors.whole_output_key(job)]
    if job.execution_strategy in CURSOR_STRATEGIES:
        return sorted(
            set(
                PartitionVersion.objects.filter(dataset__in=job.output_datasets).values_list(
                    "partition_key", flat=True
                )
            )
        )
    return sorted(set(keys_in_range(job=job, first=None, last=None)))


def _refuse_job(job: Job) -> None:
    if not job.active:
        raise ValidationError({NON_FIELD_ERRORS: f"{job} is paused: resume it before rebuilding it"})
    operator = get_operator(job.operator)
    if operator is None:
        raise ValidationError({NON_FIELD_ERRORS: f"{job}: its operator {job.operator!r} is unknown"})
    if operator.is_source and job.execution_strategy in CURSOR_STRATEGIES:
        raise ValidationError(
            {
                NON_FIELD_ERRORS: f"{job} reads its source forward from a cursor and cannot read a "
                "partition of it again"
            }
        )


def _cursor_driven_rebuild(*, job: Job, keys: list[str]) -> PlanResult:
    """One rebuild task over ``keys`` (the job runs one task at a time; a live one wins)."""
    with transaction.atomic():
        lock_job(job.id)
        if Task.objects.filter(job=job, status__in=Task.LIVE_STATUSES).exists():
            return PlanResult(job_id=str(job.id))
        created = rebuild_task_create(job=job, invalidations={key: set() for key in keys})
        return PlanResult(job_id=str(job.id), created=created, partitions=keys)
