from django.contrib import admin

from platform_site.admin_base import LargeTableAdmin, html_table
from platform_site.admin_site import RecordTable

from .models import AddressLabel, ColumnLineage, Job, Task, TaskInput


@admin.register(Job)
class JobAdmin(admin.ModelAdmin):
    list_display = [
        "name",
        "dag_name",
        "org",
        "activation",
        "operator",
        "execution_strategy",
        "active",
        "updated_at",
    ]
    list_filter = ["active", "activation", "runtime", "execution_strategy", "update_strategy", "org"]
    list_select_related = ["org"]
    search_fields = ["name", "dag_name", "operator"]
    autocomplete_fields = ["org"]
    readonly_fields = ["config_hash", "created_at", "updated_at", "lineage"]

    @admin.display(description="Column lineage")
    def lineage(self, job: Job) -> str:
        edges = job.column_lineage.order_by(
            "output_dataset", "output_column", "input_dataset", "input_column"
        )
        return html_table(
            ["Output", "Column", "From dataset", "From column"],
            [(e.output_dataset, e.output_column, e.input_dataset, e.input_column) for e in edges[:500]],
        )


@admin.register(Task)
class TaskAdmin(LargeTableAdmin):
    list_display = [
        "id",
        "job",
        "status",
        "partitions",
        "attempts",
        "started_at",
        "completed_at",
        "worker_id",
    ]
    list_filter = ["status"]
    list_select_related = ["job"]
    search_fields = ["=id"]
    raw_id_fields = ["job"]
    readonly_fields = ["created_at", "read_inputs"]

    @admin.display(description="Inputs read")
    def read_inputs(self, task: Task) -> str:
        inputs = task.inputs.order_by("input_dataset", "input_partition")[:500]
        return html_table(
            ["Dataset", "Partition", "Version"],
            [(i.input_dataset, i.input_partition, i.input_version) for i in inputs],
        )


@admin.register(AddressLabel)
class AddressLabelAdmin(admin.ModelAdmin):
    list_display = ["address", "label", "visibility", "org", "user", "updated_at"]
    list_filter = ["visibility", "org"]
    list_select_related = ["org", "user"]
    search_fields = ["address", "label"]
    autocomplete_fields = ["org", "user"]
    readonly_fields = ["created_at", "updated_at"]


admin.site.register_records(
    RecordTable(
        model=TaskInput,
        columns=("task_id", "input_dataset", "input_partition", "input_version"),
        filters=("task_id", "input_dataset", "input_partition"),
        ordering=("-input_version",),
        prefix_filters=("input_partition",),
    )
)
admin.site.register_records(
    RecordTable(
        model=ColumnLineage,
        columns=("output_dataset", "output_column", "input_dataset", "input_column", "job"),
        filters=("output_dataset", "input_dataset", "job_id"),
        ordering=("output_dataset", "output_column", "input_dataset", "input_column"),
        select_related=("job",),
    )
)
