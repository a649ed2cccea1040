from platform_site.api.viewsets import OrgScopedModelViewSet, ReadOnlyRecordViewSet, RecordListViewSet

from ..filtersets import AddressLabelFilter, ColumnLineageFilter, JobFilter, TaskFilter, TaskInputFilter
from ..models import AddressLabel, ColumnLineage, Job, Task, TaskInput
from ..selectors.planning import with_planning_error
from .serializers import (
    AddressLabelSerializer,
    ColumnLineageSerializer,
    JobSerializer,
    TaskInputSerializer,
    TaskSerializer,
)


class JobViewSet(OrgScopedModelViewSet):
    """The org's jobs. Org admins (or holders of an object permission) write them."""

    queryset = with_planning_error(Job.objects.all())
    serializer_class = JobSerializer
    filterset_class = JobFilter


class TaskViewSet(ReadOnlyRecordViewSet):
    """Runs of the org's jobs, newest first (keyset cursor). Tasks are created by the scheduler."""

    queryset = Task.objects.all()
    serializer_class = TaskSerializer
    filterset_class = TaskFilter


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


class AddressLabelViewSet(OrgScopedModelViewSet):
    """Labels on chain addresses, with visibility private / org / public."""

    queryset = AddressLabel.objects.all()
    serializer_class = AddressLabelSerializer
    filterset_class = AddressLabelFilter
