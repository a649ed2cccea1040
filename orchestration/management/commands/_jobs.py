"""Shared helpers of the orchestration commands."""

from __future__ import annotations

import uuid

from django.core.management.base import CommandError

from orchestration.models import Job, Task
from orchestration.operators import get_operator
from versioning.models import PartitionVersion


def find_job(reference: str) -> Job:
    """A job by ``org_slug/name`` (how jobs are named everywhere) or id; CommandError with one line
    otherwise."""
    try:
        return Job.objects.select_related("org").get(pk=uuid.UUID(reference))
    except ValueError:
        pass
    except Job.DoesNotExist:
        raise CommandError(f"no job with id {reference}") from None
    slug, _, name = reference.partition("/")
    if not name:
        raise CommandError(f"--job {reference!r}: give a job id or org_slug/name")
    job = Job.objects.select_related("org").filter(org__slug=slug, name=name).first()
    if job is None:
        raise CommandError(f"no job {name!r} in org {slug!r}")
    return job


def why_nothing_planned(job: Job) -> str:
    """One line on why planning ``job`` created no task."""
    if not job.active:
        return "it is paused"
    operator = get_operator(job.operator)
    if operator is None:
        return f"its operator {job.operator!r} is unknown"
    live = job.tasks.filter(status__in=Task.LIVE_STATUSES).count()
    cursor_driven = job.execution_strategy in (
        Job.ExecutionStrategy.INCREMENTAL,
        Job.ExecutionStrategy.STREAMING,
    )
    if cursor_driven and live:
        return f"it runs one task at a time and {live} is live"
    if cursor_driven and operator.is_source:
        return "an incremental source runs on its schedule or with run_job"
    if cursor_driven:
        return "no input partition is newer than its cursor"
    if job.input_datasets and not PartitionVersion.objects.filter(dataset__in=job.input_datasets).exists():
        return f"its inputs ({', '.join(job.input_datasets)}) have no partitions yet"
    if live:
        return f"every stale partition already has a live task ({live} live)"
    if failed := failed_without_output(job):
        shown = ", ".join(failed[:5]) + (f" and {len(failed) - 5} more" if len(failed) > 5 else "")
        return (
            f"{len(failed)} partition(s) failed and have no output ({shown}): see the failed tasks' "
            "errors, then retry them (the task list's Retry action, or POST /api/v1/tasks/<id>/retry/) "
            "or rebuild with backfill"
        )
    return "every partition is up to date"


def failed_without_output(job: Job) -> list[str]:
    """Partitions of ``job`` whose newest task failed and that have no output version: "up to date"
    would hide them."""
    newest: dict[str, str] = {}
    for status, partitions in job.tasks.order_by("created_at").values_list("status", "partitions"):
        for partition in partitions:
            newest[partition] = status
    failed = sorted(key for key, status in newest.items() if status == Task.Status.FAILED)
    if not failed:
        return []
    built = set(
        PartitionVersion.objects.filter(
            dataset__in=job.output_datasets, partition_key__in=failed
        ).values_list("partition_key", flat=True)
    )
    return [key for key in failed if key not in built]
