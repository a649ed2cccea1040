from django.core.exceptions import ValidationError as DjangoValidationError
from rest_framework import serializers

from platform_site.api.serializers import CleanModelSerializer

from ..channel_secrets import merge_secrets, redact_channels
from ..models import AlertDefinition, AlertDelivery, AlertEvent
from ..services import alert_definition_save, definition_errors


class AlertDefinitionSerializer(CleanModelSerializer):
    """Saves go through ``alert_definition_save``: the condition is checked against the dataset's
    schema in the catalog and the channels against the outbound policy, one error per field.

    Channel secrets are write-only: the answer that creates a definition shows them once; every
    other answer shows them redacted, and an edit that sends them back redacted keeps them."""

    def validate_channels(self, value):
        return merge_secrets(value, self.instance.channels) if self.instance is not None else value

    def to_representation(self, instance):
        data = super().to_representation(instance)
        if not getattr(self, "_show_secrets_once", False):
            data["channels"] = redact_channels(data.get("channels"))
        return data

    def validate_instance(self, instance) -> None:
        previous = (
            AlertDefinition.objects.filter(pk=instance.pk).first() if self.instance is not None else None
        )
        errors = definition_errors(
            org=instance.org, condition=instance.condition, channels=instance.channels, previous=previous
        )
        if errors:
            raise DjangoValidationError(errors)

    def create(self, validated_data):
        self._show_secrets_once = True
        return alert_definition_save(definition=AlertDefinition(**validated_data))

    def update(self, instance, validated_data):
        for name, value in validated_data.items():
            setattr(instance, name, value)
        return alert_definition_save(definition=instance)

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


class BacktestRequestSerializer(serializers.Serializer):
    first_partition = serializers.CharField(required=False, allow_blank=True, max_length=200)
    last_partition = serializers.CharField(required=False, allow_blank=True, max_length=200)
    sample_size = serializers.IntegerField(required=False, min_value=0, max_value=100, default=10)


class BacktestResultSerializer(serializers.Serializer):
    partitions = serializers.IntegerField()
    rows_scanned = serializers.IntegerField()
    events = serializers.IntegerField()
    sample = serializers.ListField(child=serializers.DictField())
    readable = serializers.BooleanField(
        help_text="false when the caller may not read the definition's dataset: nothing was read"
    )


class SilenceRequestSerializer(serializers.Serializer):
    until = serializers.DateTimeField(allow_null=True, help_text="silence until this time; null lifts it")


class ChannelTestResultSerializer(serializers.Serializer):
    index = serializers.IntegerField()
    type = serializers.CharField()
    target = serializers.CharField(help_text="the URL or addresses; a Slack URL redacted")
    delivered = serializers.BooleanField()
    error = serializers.CharField(help_text="empty when delivered")
    message_id = serializers.CharField(help_text="the sample's id (webhook-id)")
    http_status = serializers.IntegerField(
        allow_null=True, help_text="the receiver's HTTP status; null when it did not answer over HTTP"
    )
    answer = serializers.CharField(help_text="the first bytes of the receiver's answer, as text")
