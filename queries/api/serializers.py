from rest_framework import serializers

from platform_site.api.serializers import CleanModelSerializer

from ..models import QueryResult, SavedQuery


class SavedQuerySerializer(CleanModelSerializer):
    class Meta:
        model = SavedQuery
        fields = ["id", "org", "user", "name", "query", "visibility", "created_at", "updated_at"]
        read_only_fields = ["org", "user", "created_at", "updated_at"]


class QueryResultSerializer(serializers.ModelSerializer):
    class Meta:
        model = QueryResult
        fields = [
            "id",
            "org",
            "user",
            "saved_query",
            "task",
            "mode",
            "status",
            "sql_hash",
            "output_format",
            "output_location",
            "row_count",
            "bytes",
            "duration_ms",
            "error_code",
            "error_message",
            "created_at",
            "updated_at",
        ]
        read_only_fields = fields
