from rest_framework import serializers

from platform_site.api.serializers import CleanModelSerializer

from ..models import AlertDefinition, AlertDelivery, AlertEvent


class AlertDefinitionSerializer(CleanModelSerializer):
    class Meta:
        model = AlertDefinition
        fields = [
            "id",
            "org",
            "user",
            "name",
            "condition",
            "channels",
            "visibility",
            "enabled",
            "created_at",
            "updated_at",
        ]
        read_only_fields = ["org", "user", "created_at", "updated_at"]


class AlertEventSerializer(serializers.ModelSerializer):
    class Meta:
        model = AlertEvent
        fields = [
            "id",
            "org",
            "alert_definition",
            "producer_job",
            "producer_task",
            "severity",
            "chain_id",
            "block_hash",
            "tx_hash",
            "block_number",
            "source_dataset",
            "partition_key",
            "cursor_value",
            "payload",
            "dedupe_key",
            "created_at",
        ]
        read_only_fields = fields


class AlertDeliverySerializer(serializers.ModelSerializer):
    class Meta:
        model = AlertDelivery
        fields = [
            "id",
            "org",
            "alert_event",
            "channel",
            "status",
            "attempt",
            "next_attempt_at",
            "leased_until",
            "lease_owner",
            "last_attempt_at",
            "provider_message_id",
            "error_message",
            "delivered_at",
            "created_at",
            "updated_at",
        ]
        read_only_fields = fields
