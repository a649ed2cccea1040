import django_filters

from platform_site.api.filters import IsoDateTimeFilter

from .models import QueryResult, SavedQuery


class SavedQueryFilter(django_filters.FilterSet):
    name = django_filters.CharFilter(lookup_expr="icontains")
    mine = django_filters.BooleanFilter(method="filter_mine")

    class Meta:
        model = SavedQuery
        fields = ["visibility", "name"]

    def filter_mine(self, queryset, name, value):
        user = self.request.user
        return queryset.filter(user=user) if value else queryset.exclude(user=user)


class QueryResultFilter(django_filters.FilterSet):
    saved_query = django_filters.UUIDFilter(field_name="saved_query_id")
    created_after = IsoDateTimeFilter(field_name="created_at", lookup_expr="gte")

    class Meta:
        model = QueryResult
        fields = ["status", "mode", "error_code", "saved_query", "sql_hash"]
