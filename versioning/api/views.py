from rest_framework import mixins

from platform_site.api.viewsets import OrgScopedViewSet, RecordListViewSet

from ..filtersets import DataInvalidationFilter, DatasetCursorFilter, PartitionVersionFilter
from ..models import DataInvalidation, DatasetCursor, PartitionVersion
from .serializers import DataInvalidationSerializer, DatasetCursorSerializer, PartitionVersionSerializer


class PartitionVersionViewSet(RecordListViewSet):
    """The catalog: current partitions of the datasets the org may read (its own and the system's)."""

    queryset = PartitionVersion.objects.order_by("dataset", "partition_key")
    serializer_class = PartitionVersionSerializer
    filterset_class = PartitionVersionFilter


class DatasetCursorViewSet(RecordListViewSet):
    """High-water marks of the org's incremental jobs; read-only."""

    queryset = DatasetCursor.objects.order_by("dataset", "job_id")
    serializer_class = DatasetCursorSerializer
    filterset_class = DatasetCursorFilter


class DataInvalidationViewSet(
    OrgScopedViewSet, mixins.ListModelMixin, mixins.RetrieveModelMixin, mixins.CreateModelMixin
):
    """Requests to treat data as wrong. Org admins invalidate their own org's datasets."""

    queryset = DataInvalidation.objects.all()
    serializer_class = DataInvalidationSerializer
    filterset_class = DataInvalidationFilter
