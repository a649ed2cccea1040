import django_filters

from platform_site.api.filters import IsoDateTimeFilter

from .models import PiiAccessLog


class PiiAccessLogFilter(django_filters.FilterSet):
    user = django_filters.UUIDFilter(field_name="user_id")
    accessed_after = IsoDateTimeFilter(field_name="accessed_at", lookup_expr="gte")
    accessed_before = IsoDateTimeFilter(field_name="accessed_at", lookup_expr="lt")

    class Meta:
        model = PiiAccessLog
        fields = ["user", "action", "dataset", "column_name", "record_id"]
