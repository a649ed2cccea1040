from drf_spectacular.utils import extend_schema
from rest_framework.decorators import action
from rest_framework.parsers import JSONParser
from rest_framework.response import Response

from platform_site.api.viewsets import OrgScopedModelViewSet, ReadOnlyRecordViewSet, RecordListViewSet

from ..filtersets import AddressLabelFilter, ColumnLineageFilter, JobFilter, TaskFilter, TaskInputFilter
from ..models import AddressLabel, ColumnLineage, Job, Task, TaskInput
from ..selectors.planning import with_planning_error
from ..services.labels import address_labels_lookup
from .serializers import (
    AddressLabelSerializer,
    AddressLookupResponseSerializer,
    AddressLookupSerializer,
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
    """Labels on chain addresses, with visibility private / org / public. Addresses are returned
    EIP-55 checksummed; ``lookup/`` answers up to 1,000 addresses in one call."""

    queryset = AddressLabel.objects.all()
    serializer_class = AddressLabelSerializer
    filterset_class = AddressLabelFilter

    @extend_schema(request=AddressLookupSerializer, responses={200: AddressLookupResponseSerializer})
    # JSON only: a thousand addresses as form fields would trip Django's form-field limit.
    @action(detail=False, methods=["post"], url_path="lookup", parser_classes=[JSONParser])
    def lookup(self, request):
        """The labels the caller may see on each address asked (one query, however many)."""
        asked = AddressLookupSerializer(data=request.data)
        asked.is_valid(raise_exception=True)
        checksummed = asked.validated_data["addresses"]  # stored form -> checksummed form
        found = address_labels_lookup(user=request.user, addresses=list(checksummed))
        results = [{"address": checksummed[address], "labels": labels} for address, labels in found.items()]
        return Response({"results": results})
