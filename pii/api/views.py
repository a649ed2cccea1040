from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import extend_schema
from rest_framework.decorators import action
from rest_framework.renderers import BaseRenderer, JSONRenderer

from platform_site.api.viewsets import ReadOnlyRecordViewSet

from ..exports import access_log_csv_response
from ..filtersets import PiiAccessLogFilter
from ..models import PiiAccessLog
from .serializers import PiiAccessLogSerializer


class CsvPassthroughRenderer(BaseRenderer):
    """Lets ``Accept: text/csv`` reach the export; errors on that path still render as JSON."""

    media_type = "text/csv"
    format = "csv"

    def render(self, data, accepted_media_type=None, renderer_context=None):
        return JSONRenderer().render(data)


class PiiAccessLogViewSet(ReadOnlyRecordViewSet):
    """Unmasked reads of personal data by the org's users, for auditors (org admins and holders of
    the audit permission); append-only, so read-only here. ``export/`` streams the filtered rows as
    CSV."""

    queryset = PiiAccessLog.objects.select_related("user")
    serializer_class = PiiAccessLogSerializer
    filterset_class = PiiAccessLogFilter
    keyset_field = "accessed_at"

    @extend_schema(responses={(200, "text/csv"): OpenApiTypes.STR})
    @action(
        detail=False,
        methods=["get"],
        url_path="export",
        renderer_classes=[JSONRenderer, CsvPassthroughRenderer],
    )
    def export(self, request):
        return access_log_csv_response(self.filter_queryset(self.get_queryset()))
