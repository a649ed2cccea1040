import django_filters

from platform_site.api.filters import IsoDateTimeFilter

from .models import DataInvalidation, DatasetCursor, PartitionVersion


class PartitionVersionFilter(django_filters.FilterSet):
    partition_key_prefix = django_filters.CharFilter(field_name="partition_key", lookup_expr="startswith")
    version_after = IsoDateTimeFilter(field_name="version", lookup_expr="gt")

    class Meta:
        model = PartitionVersion
        fields = ["dataset", "partition_key"]


class DatasetCursorFilter(django_filters.FilterSet):
    job = django_filters.UUIDFilter(field_name="job_id")

    class Meta:
        model = DatasetCursor
        fields = ["dataset", "job"]


class DataInvalidationFilter(django_filters.FilterSet):
    open = django_filters.BooleanFilter(
        field_name="processed_at", lookup_expr="isnull", label="Not yet processed"
    )

    class Meta:
        model = DataInvalidation
        fields = ["dataset", "scope", "partition_key"]
