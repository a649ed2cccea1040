from django.core.exceptions import ValidationError as DjangoValidationError
from rest_framework import serializers

from platform_site.api.serializers import CleanModelSerializer, model_errors
from versioning.datasets import writable_namespaces

from ..models import DataInvalidation, DatasetCursor, PartitionVersion
from ..services import invalidation_create, invalidation_errors


class PartitionVersionSerializer(serializers.ModelSerializer):
    class Meta:
        model = PartitionVersion
        fields = [
            "dataset",
            "partition_key",
            "version",
            "config_hash",
            "schema_hash",
            "location",
            "row_count",
            "bytes",
        ]
        read_only_fields = fields


class DatasetCursorSerializer(serializers.ModelSerializer):
    job = serializers.UUIDField(source="job_id", read_only=True)

    class Meta:
        model = DatasetCursor
        fields = ["dataset", "job", "cursor_column", "cursor_value", "updated_at"]
        read_only_fields = fields


class DataInvalidationSerializer(CleanModelSerializer):
    class Meta:
        model = DataInvalidation
        fields = [
            "id",
            "dataset",
            "scope",
            "partition_key",
            "row_filter",
            "reason",
            "source_event",
            "created_at",
            "processed_by",
            "processed_at",
        ]
        read_only_fields = ["created_at", "processed_by", "processed_at"]

    def validate_dataset(self, dataset: str) -> str:
        user = self.context["request"].user
        allowed = writable_namespaces(user.org.slug)
        if not user.is_superuser and ("." not in dataset or dataset.split(".", 1)[0] not in allowed):
            raise serializers.ValidationError(f"only datasets under {allowed} can be invalidated by your org")
        return dataset

    def validate_instance(self, instance: DataInvalidation) -> None:
        # The service's rules: a known dataset, a current partition, a filter that fits the schema.
        errors = invalidation_errors(
            dataset=instance.dataset,
            scope=instance.scope,
            partition_key=instance.partition_key,
            row_filter=instance.row_filter,
        )
        if errors:
            raise DjangoValidationError(errors)

    def create(self, validated_data) -> DataInvalidation:
        try:
            return invalidation_create(
                dataset=validated_data["dataset"],
                scope=validated_data["scope"],
                partition_key=validated_data.get("partition_key"),
                row_filter=validated_data.get("row_filter"),
                reason=validated_data.get("reason", ""),
                source_event=validated_data.get("source_event") or {},
            )
        except DjangoValidationError as exc:
            raise serializers.ValidationError(model_errors(exc)) from None
