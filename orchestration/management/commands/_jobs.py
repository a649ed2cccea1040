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
    return "every partition is up to date"
