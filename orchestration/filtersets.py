import django_filters

from platform_site.api.filters import IsoDateTimeFilter

from .models import ColumnLineage, Job, Task, TaskInput


class JobFilter(django_filters.FilterSet):
    name = django_filters.CharFilter(lookup_expr="icontains")
    output_dataset = django_filters.CharFilter(
        field_name="output_datasets", lookup_expr="contains", method="filter_output_dataset"
    )
    input_dataset = django_filters.CharFilter(method="filter_input_dataset")

    class Meta:
        model = Job
        fields = ["dag_name", "activation", "runtime", "operator", "execution_strategy", "active", "name"]

    def filter_output_dataset(self, queryset, name, value):
        return queryset.filter(output_datasets__contains=[value])

    def filter_input_dataset(self, queryset, name, value):
        return queryset.filter(input_datasets__contains=[value])


class TaskFilter(django_filters.FilterSet):
    job = django_filters.UUIDFilter(field_name="job_id")
    created_after = IsoDateTimeFilter(field_name="created_at", lookup_expr="gte")
    created_before = IsoDateTimeFilter(field_name="created_at", lookup_expr="lt")
    partition = django_filters.CharFilter(method="filter_partition")

    class Meta:
        model = Task
        fields = ["job", "status"]

    def filter_partition(self, queryset, name, value):
        return queryset.filter(partitions__contains=[value])


class TaskInputFilter(django_filters.FilterSet):
    task = django_filters.UUIDFilter(field_name="task_id")

    class Meta:
        model = TaskInput
        fields = ["task", "input_dataset", "input_partition"]


class ColumnLineageFilter(django_filters.FilterSet):
    job = django_filters.UUIDFilter(field_name="job_id")

    class Meta:
        model = ColumnLineage
        fields = ["job", "output_dataset", "output_column", "input_dataset", "input_column"]
