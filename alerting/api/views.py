from django.core.exceptions import ValidationError as DjangoValidationError
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import serializers, status
from rest_framework.decorators import action
from rest_framework.exceptions import NotFound, PermissionDenied
from rest_framework.permissions import IsAuthenticated
from rest_framework.response import Response

from platform_site.api.serializers import model_errors
from platform_site.api.viewsets import OrgScopedModelViewSet, ReadOnlyRecordViewSet

from .. import services
from ..filtersets import AlertDefinitionFilter, AlertDeliveryFilter, AlertEventFilter
from ..models import AlertDefinition, AlertDelivery, AlertEvent
from ..selectors import can_operate
from .serializers import (
    AlertDefinitionSerializer,
    AlertDeliverySerializer,
    AlertEventSerializer,
    BacktestRequestSerializer,
    BacktestResultSerializer,
    ChannelTestResultSerializer,
    SilenceRequestSerializer,
)


def _operable(view, definition: AlertDefinition) -> AlertDefinition:
    """Visible (else 404 from get_object) and operable by the caller (else 403)."""
    if not can_operate(view.request.user, definition):
        raise PermissionDenied("you may not change this alert definition")
    return definition


class AlertDefinitionViewSet(OrgScopedModelViewSet):
    """Alert conditions and their channels, with visibility private / org / public.

    Actions: ``backtest`` (what the definition would have raised over past partitions; creates
    nothing; anyone who can read it), ``test-fire`` (a sample event to every channel),
    ``channels/<index>/test`` (a sample sent to that one channel now, its outcome in the answer),
    ``silence``, ``disable`` and ``enable`` (whoever may change it)."""

    queryset = AlertDefinition.objects.select_related("org")
    serializer_class = AlertDefinitionSerializer
    filterset_class = AlertDefinitionFilter

    @extend_schema(request=BacktestRequestSerializer, responses={200: BacktestResultSerializer})
    @action(detail=True, methods=["post"], permission_classes=[IsAuthenticated])
    def backtest(self, request, pk=None):
        definition = self.get_object()
        body = BacktestRequestSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        try:
            result = services.alert_definition_backtest(
                definition=definition,
                reader=request.user,
                first=body.validated_data.get("first_partition") or None,
                last=body.validated_data.get("last_partition") or None,
                sample_size=body.validated_data["sample_size"],
            )
        except DjangoValidationError as exc:
            raise serializers.ValidationError(model_errors(exc)) from None
        data = {
            "partitions": result.partitions,
            "rows_scanned": result.rows_scanned,
            "events": result.events,
            "sample": result.sample,
            "readable": result.readable,
        }
        return Response(BacktestResultSerializer(data).data)

    @extend_schema(request=None, responses={201: AlertEventSerializer})
    @action(detail=True, methods=["post"], url_path="test-fire", permission_classes=[IsAuthenticated])
    def test_fire(self, request, pk=None):
        definition = _operable(self, self.get_object())
        event = services.alert_definition_test_fire(definition=definition, user=request.user)
        return Response(AlertEventSerializer(event).data, status=status.HTTP_201_CREATED)

    @extend_schema(
        request=None,
        responses={200: ChannelTestResultSerializer},
        parameters=[
            OpenApiParameter(
                "index", int, OpenApiParameter.PATH, description="the channel's place in channels, from 0"
            )
        ],
    )
    @action(
        detail=True,
        methods=["post"],
        url_path=r"channels/(?P<index>[^/.]+)/test",
        permission_classes=[IsAuthenticated],
    )
    def test_channel(self, request, pk=None, index=None):
        """Send a sample to channel ``index`` (0-based, in the order of ``channels``) now; the
        answer says whether it was delivered, or the error (HTTP status and the start of the
        receiver's answer, or why the target was refused). Nothing is recorded."""
        definition = _operable(self, self.get_object())
        try:
            if not str(index).isdigit():
                raise services.ChannelMissing(index)
            outcome = services.alert_channel_test(definition=definition, index=int(index), user=request.user)
        except services.ChannelMissing:
            raise NotFound("the definition has no channel with this index") from None
        return Response(ChannelTestResultSerializer(outcome.as_dict()).data)

    @extend_schema(request=SilenceRequestSerializer, responses={200: AlertDefinitionSerializer})
    @action(detail=True, methods=["post"], permission_classes=[IsAuthenticated])
    def silence(self, request, pk=None):
        definition = _operable(self, self.get_object())
        body = SilenceRequestSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        definition = services.alert_definition_silence(
            definition=definition, until=body.validated_data["until"]
        )
        return Response(AlertDefinitionSerializer(definition).data)

    @extend_schema(request=None, responses={200: AlertDefinitionSerializer})
    @action(detail=True, methods=["post"], permission_classes=[IsAuthenticated])
    def disable(self, request, pk=None):
        definition = _operable(self, self.get_object())
        definition = services.alert_definition_set_enabled(definition=definition, enabled=False)
        return Response(AlertDefinitionSerializer(definition).data)

    @extend_schema(request=None, responses={200: AlertDefinitionSerializer})
    @action(detail=True, methods=["post"], permission_classes=[IsAuthenticated])
    def enable(self, request, pk=None):
        definition = _operable(self, self.get_object())
        definition = services.alert_definition_set_enabled(definition=definition, enabled=True)
        return Response(AlertDefinitionSerializer(definition).data)


class AlertEventViewSet(ReadOnlyRecordViewSet):
    """Events raised by the org's definitions, newest first (keyset cursor)."""

    queryset = AlertEvent.objects.all()
    serializer_class = AlertEventSerializer
    filterset_class = AlertEventFilter


class AlertDeliveryViewSet(ReadOnlyRecordViewSet):
    """Each event's delivery to each channel, newest first (keyset cursor). ``redeliver`` sends a
    delivery again (same event id, a fresh attempt budget)."""

    queryset = AlertDelivery.objects.select_related("alert_event__alert_definition")
    serializer_class = AlertDeliverySerializer
    filterset_class = AlertDeliveryFilter

    @extend_schema(request=None, responses={200: AlertDeliverySerializer})
    @action(detail=True, methods=["post"], permission_classes=[IsAuthenticated])
    def redeliver(self, request, pk=None):
        delivery = self.get_object()
        _operable(self, delivery.alert_event.alert_definition)
        delivery = services.delivery_redeliver(delivery=delivery)
        return Response(AlertDeliverySerializer(delivery).data)
