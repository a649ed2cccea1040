from django.core.exceptions import ValidationError as DjangoValidationError
from drf_spectacular.utils import extend_schema
from rest_framework import status
from rest_framework.decorators import action
from rest_framework.exceptions import PermissionDenied
from rest_framework.permissions import IsAuthenticated
from rest_framework.response import Response

from orgs import policy
from orgs.policy import Operation
from platform_site.api.errors import Conflict
from platform_site.api.viewsets import OrgScopedModelViewSet, ReadOnlyRecordViewSet, RecordListViewSet

from .. import services
from ..filtersets import ColumnLineageFilter, JobFilter, TaskFilter, TaskInputFilter
from ..models import ColumnLineage, Job, Task, TaskInput
from ..selectors.idle import nothing_planned_reason
from ..selectors.planning import with_planning_error
from .serializers import (
    BackfillSerializer,
    ColumnLineageSerializer,
    JobSerializer,
    OperationResultSerializer,
    RebuildResultSerializer,
    RebuildSerializer,
    TaskInputSerializer,
    TaskSerializer,
)


def operated(view, operation: Operation):
    """The object of a detail action, if ``orgs.policy`` lets the caller run ``operation`` on it:
    another org's object is a 404 (``get_object``), one the caller only reads a 403."""
    obj = view.get_object()
    if not policy.may_operate_on(view.request.user, operation, obj):
        raise PermissionDenied(f"You may not {operation} this {obj._meta.verbose_name}.")
    return obj


# The operation decides who may act (orgs.policy), not the model's edit rights.
OPERATION = {"detail": True, "methods": ["post"], "permission_classes": [IsAuthenticated]}


class JobViewSet(OrgScopedModelViewSet):
    """The org's jobs. Org admins (or holders of an object permission) write them, and operate
    them: run now, pause, resume, backfill."""

    queryset = with_planning_error(Job.objects.all())
    serializer_class = JobSerializer
    filterset_class = JobFilter

    @extend_schema(request=None, responses=OperationResultSerializer)
    @action(**OPERATION)
    def run(self, request, pk=None):
        """Run the job now: plan what is stale (a full job or a source runs even when fresh) and
        dispatch. A paused job is refused. When nothing was created, ``reason`` says why."""
        job = operated(self, Operation.JOB_RUN)
        if not job.active:
            raise Conflict("The job is paused; resume it first.")
        created = services.job_run_now(job=job)
        if created:
            return Response({"created": created})
        reason = nothing_planned_reason(job)
        return Response({"created": 0, "reason": reason.detail, "reason_code": reason.code})

    @extend_schema(request=None, responses=OperationResultSerializer)
    @action(**OPERATION)
    def pause(self, request, pk=None):
        """Pause: no planning or dispatch; running tasks finish."""
        job = services.job_set_active(job=operated(self, Operation.JOB_PAUSE), active=False)
        return Response({"active": job.active})

    @extend_schema(request=None, responses=OperationResultSerializer)
    @action(**OPERATION)
    def resume(self, request, pk=None):
        """Resume a paused job (refused, 400, when it would now break the DAG)."""
        job = services.job_set_active(job=operated(self, Operation.JOB_RESUME), active=True)
        return Response({"active": job.active})

    @extend_schema(request=BackfillSerializer, responses=OperationResultSerializer)
    @action(**OPERATION)
    def backfill(self, request, pk=None):
        """Create tasks for a partition range, a list of keys, or every partition (``all``)."""
        job = operated(self, Operation.JOB_BACKFILL)
        body = BackfillSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        try:
            result = services.job_backfill(
                job=job,
                partition_keys=body.validated_data.get("partitions"),
                first=body.validated_data.get("first"),
                last=body.validated_data.get("last"),
            )
        except ValueError as exc:
            raise DjangoValidationError({"non_field_errors": [str(exc)]}) from None
        services.tasks_dispatch()
        return Response({"created": result.created, "partitions": result.partitions})

    @extend_schema(request=RebuildSerializer, responses={202: RebuildResultSerializer})
    @action(**OPERATION)
    def rebuild(self, request, pk=None):
        """Recompute and republish the job's partitions even though they are up to date: every
        partition (no body), ``partitions``, or a ``first``/``last`` range. Whoever may run the job
        may rebuild it; a paused job, an incremental source or an unknown key is a 400."""
        job = operated(self, services.REBUILD_OPERATION)
        body = RebuildSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        result = services.job_rebuild(
            job=job,
            partition_keys=body.validated_data.get("partitions"),
            first=body.validated_data.get("first"),
            last=body.validated_data.get("last"),
        )
        return Response(
            {"created": result.created, "partitions": result.partitions, "tasks": result.task_ids},
            status=status.HTTP_202_ACCEPTED,
        )


class TaskViewSet(ReadOnlyRecordViewSet):
    """Runs of the org's jobs, newest first (keyset cursor). Tasks are created by the scheduler;
    whoever may operate their job retries or cancels them."""

    queryset = Task.objects.all()
    serializer_class = TaskSerializer
    filterset_class = TaskFilter

    @extend_schema(request=None, responses=OperationResultSerializer)
    @action(**OPERATION)
    def retry(self, request, pk=None):
        """Run a failed or cancelled task again (409 when it is not failed/cancelled or its
        partitions are busy)."""
        task = operated(self, Operation.TASK_RETRY)
        retried = services.task_retry(task=task)
        if retried is None:
            raise Conflict("Only a failed or cancelled task whose partitions are idle is retried.")
        services.tasks_dispatch()
        return Response({"status": retried.status})

    @extend_schema(request=None, responses=OperationResultSerializer)
    @action(**OPERATION)
    def cancel(self, request, pk=None):
        """Cancel a live task (409 when it already finished)."""
        task = operated(self, Operation.TASK_CANCEL)
        if not services.task_cancel(task=task):
            raise Conflict("The task is not live.")
        return Response({"status": Task.Status.CANCELLED})


class TaskInputViewSet(RecordListViewSet):
    """Which input partition versions each task read (partition-level lineage); read-only."""

    queryset = TaskInput.objects.order_by("task_id", "input_dataset", "input_partition")
    serializer_class = TaskInputSerializer
    filterset_class = TaskInputFilter


class ColumnLineageViewSet(RecordListViewSet):
    """Column-level lineage edges of the org's jobs; read-only."""

    queryset = ColumnLineage.objects.order_by(
        "output_dataset", "output_column", "input_dataset", "input_column"
    )
    serializer_class = ColumnLineageSerializer
    filterset_class = ColumnLineageFilter
