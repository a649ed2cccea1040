from platform_site.api.viewsets import ReadOnlyRecordViewSet

from ..filtersets import PiiAccessLogFilter
from ..models import PiiAccessLog
from .serializers import PiiAccessLogSerializer


class PiiAccessLogViewSet(ReadOnlyRecordViewSet):
    """Unmasked reads of personal data by the org's users, for org admins; append-only."""

    queryset = PiiAccessLog.objects.all()
    serializer_class = PiiAccessLogSerializer
    filterset_class = PiiAccessLogFilter
    keyset_field = "accessed_at"
