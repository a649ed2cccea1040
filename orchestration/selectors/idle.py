"""Why planning a job created no task: one answer for the admin's "Run now", the API's run action
and the ``plan`` / ``run_job`` commands, so they never disagree and never just say "0 tasks"."""

from __future__ import annotations

from dataclasses import dataclass

from django.db import connection

from orchestration.models import Job, Task
from orchestration.operators import get_operator
from platform_site.admin_display import counted
from versioning.models import PartitionVersion

# How many partition keys a reason names before it says "and N more".
SHOWN_KEYS = 5


@dataclass(frozen=True)
class NothingPlanned:
    """``code`` for programs (the API's ``reason_code``), ``detail`` for people."""

    code: str
    detail: str

    def __str__(self) -> str:
        return self.detail


class Reason:
    PAUSED = "paused"
    UNKNOWN_OPERATOR = "unknown_operator"
    BUSY = "already_running"
    WAITING_FOR_INPUTS = "waiting_for_inputs"
    FAILED = "failed_without_output"
    CURSOR_CAUGHT_UP = "cursor_caught_up"
    SOURCE_ON_SCHEDULE = "source_on_schedule"
    UP_TO_DATE = "up_to_date"


def nothing_planned_reason(job: Job) -> NothingPlanned:
    """The first of: paused, unknown operator, live tasks, inputs not yet published, partitions
    that failed with no output once their retries ran out, or every partition up to date."""
    if not job.active:
        return NothingPlanned(Reason.PAUSED, "it is paused: resume it first")
    operator = get_operator(job.operator)
    if operator is None:
        return NothingPlanned(Reason.UNKNOWN_OPERATOR, f"its operator {job.operator!r} is unknown")
    live = job.tasks.filter(status__in=Task.LIVE_STATUSES).count()
    cursor_driven = job.execution_strategy in (
        Job.ExecutionStrategy.INCREMENTAL,
        Job.ExecutionStrategy.STREAMING,
    )
    if live:
        if cursor_driven:
            return NothingPlanned(Reason.BUSY, f"it runs one task at a time and {live} is live")
        return NothingPlanned(Reason.BUSY, f"it is already running or queued ({counted(live, 'live task')})")
    if cursor_driven and operator.is_source:
        return NothingPlanned(
            Reason.SOURCE_ON_SCHEDULE, "an incremental source runs on its schedule or with run_job"
        )
    if unpublished := inputs_not_published(job):
        return NothingPlanned(
            Reason.WAITING_FOR_INPUTS,
            f"it is waiting for inputs not yet published: {', '.join(unpublished)} (no partitions yet)",
        )
    if cursor_driven:
        return NothingPlanned(Reason.CURSOR_CAUGHT_UP, "no input partition is newer than its cursor")
    if failed := failed_without_output(job):
        return NothingPlanned(
            Reason.FAILED,
            f"{counted(len(failed), 'partition')} failed with no output after their retries ran out "
            f"({shown_keys(failed)}): see the failed tasks' errors, then retry them (the task list's "
            "Retry action, or POST /api/v1/tasks/<id>/retry/)",
        )
    return NothingPlanned(
        Reason.UP_TO_DATE,
        "every partition is up to date; use Rebuild to recompute and republish them anyway",
    )


def why_nothing_planned(job: Job) -> str:
    """:func:`nothing_planned_reason` as one line."""
    return nothing_planned_reason(job).detail


def inputs_not_published(job: Job) -> list[str]:
    """The job's input datasets that have no partition at all: nothing can be built from them."""
    if not job.input_datasets:
        return []
    published = set(
        PartitionVersion.objects.filter(dataset__in=job.input_datasets)
        .values_list("dataset", flat=True)
        .distinct()
    )
    return [dataset for dataset in job.input_datasets if dataset not in published]


def failed_without_output(job: Job) -> list[str]:
    """Partitions of ``job`` whose newest task failed (its retries spent: a task with attempts left
    goes back to pending) and that have no output version: "up to date" would hide them."""
    with connection.cursor() as cursor:
        # The newest task of each partition, found by the database, not by reading every task.
        cursor.execute(
            """
            SELECT key FROM (
                SELECT DISTINCT ON (key) key, t.status
                FROM tasks t, unnest(t.partitions) AS key
                WHERE t.job_id = %s
                ORDER BY key, t.created_at DESC, t.id DESC
            ) newest
            WHERE status = %s
            ORDER BY key
            """,
            [job.pk, Task.Status.FAILED],
        )
        failed = [row[0] for row in cursor.fetchall()]
    if not failed:
        return []
    built = set(
        PartitionVersion.objects.filter(
            dataset__in=job.output_datasets, partition_key__in=failed
        ).values_list("partition_key", flat=True)
    )
    return [key for key in failed if key not in built]


def shown_keys(keys: list[str]) -> str:
    """Partition keys as a message names them: the first few, then how many more."""
    more = len(keys) - SHOWN_KEYS
    return ", ".join(keys[:SHOWN_KEYS]) + (f" and {more} more" if more > 0 else "")
