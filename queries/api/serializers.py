from rest_framework import serializers
from rest_framework.reverse import reverse

from platform_site.api.serializers import CleanModelSerializer

from ..models import QueryResult, SavedQuery


class SavedQuerySerializer(CleanModelSerializer):
    class Meta:
        model = SavedQuery
        fields = ["id", "org", "user", "name", "query", "visibility", "created_at", "updated_at"]
        read_only_fields = ["org", "user", "created_at", "updated_at"]


class QueryResultSerializer(serializers.ModelSerializer):
    links = serializers.SerializerMethodField()

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
            "links",
        ]
        read_only_fields = fields

    def get_links(self, obj) -> dict[str, str]:
        request = self.context.get("request")
        kwargs = {"pk": obj.pk}
        return {
            name: reverse(f"query-result-{name}", kwargs=kwargs, request=request)
            for name in ("detail", "rows", "download", "cancel")
        }


MAX_AGE_SECONDS = 3650 * 24 * 3600


class ExecuteSerializer(serializers.Serializer):
    """What to run and how."""

    sql = serializers.CharField(
        required=False, trim_whitespace=False, help_text="Ad hoc SQL (omit when running a saved query)."
    )
    parameters = serializers.DictField(
        required=False,
        default=dict,
        help_text='Values for the SQL\'s $name parameters: a JSON value, or {"type": "date", "value": "…"}.',
    )
    mode = serializers.ChoiceField(choices=["sync", "async", "export"], default="sync")
    format = serializers.ChoiceField(
        choices=QueryResult.OutputFormat.values,
        default="parquet",
        help_text="The stored file's format for exports; other modes store Parquet (downloadable as any).",
    )
    max_age = serializers.IntegerField(
        required=False,
        min_value=0,
        # Retention is at most 3650 days: an older result is never reused, so a larger age means nothing.
        max_value=MAX_AGE_SECONDS,
        help_text="Reuse a cached result only if at most this many seconds old.",
    )
    force = serializers.BooleanField(default=False, help_text="Run fresh even if a cached result is fresh.")
    unmask = serializers.BooleanField(
        default=False,
        help_text="Show registered personal data unmasked (needs the unmask right; every such read is "
        "logged, and the result is never cached for anyone else).",
    )


class ColumnSerializer(serializers.Serializer):
    name = serializers.CharField()
    type = serializers.CharField()


class ExecutedSerializer(QueryResultSerializer):
    """A result as execute returns it: sync results carry their first rows inline."""

    columns = ColumnSerializer(many=True, required=False)
    rows = serializers.ListField(child=serializers.ListField(), required=False)

    class Meta(QueryResultSerializer.Meta):
        fields = [*QueryResultSerializer.Meta.fields, "columns", "rows"]
        read_only_fields = fields


class RowsSerializer(serializers.Serializer):
    columns = ColumnSerializer(many=True)
    rows = serializers.ListField(child=serializers.ListField())
    offset = serializers.IntegerField()
    limit = serializers.IntegerField()
    row_count = serializers.IntegerField()
    next = serializers.CharField(allow_null=True)
    previous = serializers.CharField(allow_null=True)


class LineageEdgeSerializer(serializers.Serializer):
    column = serializers.CharField()
    dataset = serializers.CharField()
    from_column = serializers.CharField(required=False)
    to_column = serializers.CharField(required=False)


class ProducerSerializer(serializers.Serializer):
    id = serializers.UUIDField(allow_null=True)
    name = serializers.CharField(help_text="org/job, as jobs are named everywhere")
    org = serializers.CharField()
    dag = serializers.CharField(help_text="the DAG the job belongs to")


class DatasetSerializer(serializers.Serializer):
    name = serializers.CharField()
    namespace = serializers.CharField()
    producer = ProducerSerializer(allow_null=True)
    columns = ColumnSerializer(many=True)
    partition_count = serializers.IntegerField()
    row_count = serializers.IntegerField()
    bytes = serializers.IntegerField()
    last_published_at = serializers.DateTimeField(allow_null=True)
    last_partition_key = serializers.CharField(
        allow_null=True, help_text="The most recently published partition."
    )
    open_invalidations = serializers.IntegerField()
    upstream = LineageEdgeSerializer(many=True)
    downstream = LineageEdgeSerializer(many=True)
