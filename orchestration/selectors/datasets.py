"""What jobs declare about datasets: who writes and reads one, which tasks may still publish files.
The catalog asks through :data:`JOB_DECLARATIONS`, registered from ``OrchestrationConfig.ready``."""

from __future__ import annotations

from django.db.models import QuerySet

from versioning.datasets import JobDeclarations

from ..models import Job, Task


def dataset_consumers(*, dataset: str) -> QuerySet[Job]:
    """Active jobs that read ``dataset`` and so must process its invalidations (every strategy:
    incremental and streaming jobs rebuild what they built from covered partitions)."""
    return Job.objects.filter(active=True, input_datasets__contains=[dataset])


def _declares_output(dataset: str) -> bool:
    return Job.objects.filter(output_datasets__contains=[dataset]).exists()


def _has_consumers(dataset: str) -> bool:
    return dataset_consumers(dataset=dataset).exists()


def _live_task_ids() -> set[str]:
    return {str(i) for i in Task.objects.filter(status__in=Task.LIVE_STATUSES).values_list("id", flat=True)}


JOB_DECLARATIONS = JobDeclarations(
    declares_output=_declares_output, has_consumers=_has_consumers, live_task_ids=_live_task_ids
)
