from platform_site.api.viewsets import OrgScopedModelViewSet, ReadOnlyRecordViewSet

from ..filtersets import AlertDefinitionFilter, AlertDeliveryFilter, AlertEventFilter
from ..models import AlertDefinition, AlertDelivery, AlertEvent
from .serializers import AlertDefinitionSerializer, AlertDeliverySerializer, AlertEventSerializer


class AlertDefinitionViewSet(OrgScopedModelViewSet):
    """Alert conditions and their channels, with visibility private / org / public."""

    queryset = AlertDefinition.objects.all()
    serializer_class = AlertDefinitionSerializer
    filterset_class = AlertDefinitionFilter


class AlertEventViewSet(ReadOnlyRecordViewSet):
    """Events raised by the org's definitions, newest first (keyset cursor)."""

    queryset = AlertEvent.objects.all()
    serializer_class = AlertEventSerializer
    filterset_class = AlertEventFilter


class AlertDeliveryViewSet(ReadOnlyRecordViewSet):
    """Each event's delivery to each channel, newest first (keyset cursor)."""

    queryset = AlertDelivery.objects.all()
    serializer_class = AlertDeliverySerializer
    filterset_class = AlertDeliveryFilter
