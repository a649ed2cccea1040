from rest_framework import serializers

from orgs.selectors import writable_namespaces
from platform_site.api.serializers import CleanModelSerializer

from ..models import DataInvalidation, DatasetCursor, PartitionVersion


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
        allowed = writable_namespaces(user)
        if not user.is_superuser and ("." not in dataset or dataset.split(".", 1)[0] not in allowed):
            raise serializers.ValidationError(f"only datasets under {allowed} can be invalidated by your org")
        return dataset
