import django_filters

from platform_site.api.filters import IsoDateTimeFilter

from .models import AlertDefinition, AlertDelivery, AlertEvent


class AlertDefinitionFilter(django_filters.FilterSet):
    name = django_filters.CharFilter(lookup_expr="icontains")

    class Meta:
        model = AlertDefinition
        fields = ["enabled", "visibility", "name"]


class AlertEventFilter(django_filters.FilterSet):
    alert_definition = django_filters.UUIDFilter(field_name="alert_definition_id")
    created_after = IsoDateTimeFilter(field_name="created_at", lookup_expr="gte")
    created_before = IsoDateTimeFilter(field_name="created_at", lookup_expr="lt")

    class Meta:
        model = AlertEvent
        fields = ["alert_definition", "severity", "chain_id", "block_number", "tx_hash", "source_dataset"]


class AlertDeliveryFilter(django_filters.FilterSet):
    alert_event = django_filters.UUIDFilter(field_name="alert_event_id")

    class Meta:
        model = AlertDelivery
        fields = ["alert_event", "status", "channel"]
