from django.contrib import admin

from platform_site.admin_site import RecordTable

from .models import DataInvalidation, DatasetCursor, PartitionVersion


@admin.register(DataInvalidation)
class DataInvalidationAdmin(admin.ModelAdmin):
    list_display = ["dataset", "scope", "partition_key", "reason", "created_at", "processed_at"]
    list_filter = ["scope", ("processed_at", admin.EmptyFieldListFilter)]
    search_fields = ["dataset", "partition_key", "reason"]
    readonly_fields = ["created_at", "processed_by", "processed_at"]
    show_full_result_count = False


admin.site.register_records(
    RecordTable(
        model=PartitionVersion,
        columns=(
            "dataset",
            "partition_key",
            "version",
            "row_count",
            "bytes",
            "config_hash",
            "schema_hash",
            "location",
        ),
        filters=("dataset", "partition_key"),
        ordering=("-version",),
        prefix_filters=("partition_key",),
    )
)
admin.site.register_records(
    RecordTable(
        model=DatasetCursor,
        columns=("dataset", "job", "cursor_column", "cursor_value", "updated_at"),
        filters=("dataset", "job_id"),
        ordering=("-updated_at",),
        select_related=("job__org",),
    )
)
