from platform_site.api.viewsets import OrgScopedModelViewSet, ReadOnlyRecordViewSet

from ..filtersets import QueryResultFilter, SavedQueryFilter
from ..models import QueryResult, SavedQuery
from .serializers import QueryResultSerializer, SavedQuerySerializer


class SavedQueryViewSet(OrgScopedModelViewSet):
    """Named SQL with visibility private / org / public."""

    queryset = SavedQuery.objects.all()
    serializer_class = SavedQuerySerializer
    filterset_class = SavedQueryFilter


class QueryResultViewSet(ReadOnlyRecordViewSet):
    """Executions: a user's own, and every one of the org for org admins (keyset cursor)."""

    queryset = QueryResult.objects.all()
    serializer_class = QueryResultSerializer
    filterset_class = QueryResultFilter
