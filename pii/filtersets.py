import django_filters

from .models import PiiAccessLog


class PiiAccessLogFilter(django_filters.FilterSet):
    user = django_filters.UUIDFilter(field_name="user_id")
    accessed_after = django_filters.IsoDateTimeFilter(field_name="accessed_at", lookup_expr="gte")
    accessed_before = django_filters.IsoDateTimeFilter(field_name="accessed_at", lookup_expr="lt")

    class Meta:
        model = PiiAccessLog
        fields = ["user", "action", "dataset", "column_name", "record_id"]
