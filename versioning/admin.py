from django import forms
from django.contrib import admin

from platform_site.admin_site import RecordTable

from .models import DataInvalidation, DatasetCursor, PartitionVersion
from .services import invalidation_create, invalidation_errors

INVALIDATION_FIELDS = ["dataset", "scope", "partition_key", "row_filter", "reason", "source_event"]


class DataInvalidationForm(forms.ModelForm):
    """The service's rules on the admin form: a known dataset, a current partition, a row filter
    that fits the dataset's schema. Errors show on their field."""

    class Meta:
        model = DataInvalidation
        fields = INVALIDATION_FIELDS

    def clean(self):
        data = super().clean()
        if self.errors:
            return data
        errors = invalidation_errors(
            dataset=data.get("dataset") or "",
            scope=data.get("scope") or "",
            partition_key=data.get("partition_key"),
            row_filter=data.get("row_filter"),
        )
        for field, message in errors.items():
            self.add_error(field if field in self.fields else None, message)
        return data


@admin.register(DataInvalidation)
class DataInvalidationAdmin(admin.ModelAdmin):
    form = DataInvalidationForm
    list_display = ["dataset", "scope", "partition_key", "reason", "created_at", "processed_at"]
    list_filter = ["scope", ("processed_at", admin.EmptyFieldListFilter)]
    search_fields = ["dataset", "partition_key", "reason"]
    readonly_fields = ["created_at", "processed_by", "processed_at"]
    show_full_result_count = False

    def get_readonly_fields(self, request, obj=None):
        # A recorded invalidation is a fact consumers act on: it is not edited afterwards.
        readonly = list(super().get_readonly_fields(request, obj))
        return readonly + [f for f in INVALIDATION_FIELDS if f not in readonly] if obj else readonly

    def save_model(self, request, obj, form, change):
        if change:
            return
        created = invalidation_create(
            dataset=obj.dataset,
            scope=obj.scope,
            partition_key=obj.partition_key,
            row_filter=obj.row_filter,
            reason=obj.reason,
            source_event=obj.source_event,
        )
        for name in ("id", "source_event", "created_at", "processed_by", "processed_at"):
            setattr(obj, name, getattr(created, name))
        obj._state.adding = False


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
