from django.core.exceptions import ValidationError as DjangoValidationError
from rest_framework import serializers
from rest_framework.exceptions import PermissionDenied

from orgs import policy
from orgs.policy import Operation
from platform_site.api.serializers import CleanModelSerializer, model_errors
from versioning.datasets import readable_namespaces, writable_namespaces

from ..models import ColumnLineage, Job, Task, TaskInput
from ..selectors.planning import planning_error
from ..services import job_save, job_validate
from ..services.jobs import EDITABLE_FIELDS


class JobSerializer(CleanModelSerializer):
    planning_error = serializers.SerializerMethodField(
        help_text="The job's last planning failure ({message, at}), null when its last plan went through."
    )

    class Meta:
        model = Job
        fields = ["id", "org", *EDITABLE_FIELDS, "config_hash", "planning_error", "created_at", "updated_at"]
        read_only_fields = ["org", "config_hash", "created_at", "updated_at"]

    def get_planning_error(self, job: Job) -> dict | None:
        # Lists annotate the two values (one query per page); a single job reads its row.
        if hasattr(job, "planning_error_message"):
            found = (job.planning_error_message, job.planning_error_at) if job.planning_error_at else None
        else:
            found = planning_error(job=job) if job.pk else None
        return None if found is None else {"message": found[0], "at": found[1]}

    def validate_active(self, active):
        # Pausing or resuming through an edit is the same operation as the pause/resume actions.
        if self.instance is not None and active != self.instance.active:
            operation = Operation.JOB_RESUME if active else Operation.JOB_PAUSE
            if not policy.may_operate_on(self.context["request"].user, operation, self.instance):
                raise PermissionDenied(f"You may not {operation} this job.")
        return active

    def validate(self, attrs):
        # Tenancy, not DAG rules: a job writes only its org's namespace and reads its own and the
        # system ones (the orchestration service adds the DAG checks on top).
        user = self.context["request"].user
        readable, writable = readable_namespaces(user.org.slug), writable_namespaces(user.org.slug)
        errors = {}
        for field, allowed in (("output_datasets", writable), ("input_datasets", readable)):
            names = attrs.get(field, getattr(self.instance, field, []) if self.instance else [])
            outside = [n for n in names if n.split(".", 1)[0] not in allowed or "." not in n]
            if outside and not user.is_superuser:
                errors[field] = [f"{n!r} is outside the namespaces {allowed}" for n in outside]
        if errors:
            raise serializers.ValidationError(errors)
        return super().validate(attrs)

    def validate_instance(self, instance: Job) -> None:
        # The same rules the admin applies: operator config, DAG cycles, a second producer, cron.
        job_validate(job=instance)

    def create(self, validated_data) -> Job:
        return self._save(Job(**validated_data))

    def update(self, instance: Job, validated_data) -> Job:
        for name, value in validated_data.items():
            setattr(instance, name, value)
        return self._save(instance)

    def _save(self, job: Job) -> Job:
        # job_save maintains config_hash and column lineage; a write that raced past validation
        # still gets a 400, never a half-saved job.
        try:
            return job_save(job=job)
        except DjangoValidationError as exc:
            raise serializers.ValidationError(model_errors(exc)) from None


class TaskSerializer(serializers.ModelSerializer):
    class Meta:
        model = Task
        fields = [
            "id",
            "job",
            "status",
            "partitions",
            "input_versions",
            "worker_id",
            "started_at",
            "completed_at",
            "last_heartbeat",
            "attempts",
            "next_retry_at",
            "error_message",
            "outputs",
            "created_at",
        ]
        read_only_fields = fields


class TaskInputSerializer(serializers.ModelSerializer):
    task = serializers.UUIDField(source="task_id", read_only=True)

    class Meta:
        model = TaskInput
        fields = ["task", "input_dataset", "input_partition", "input_version"]
        read_only_fields = fields


class ColumnLineageSerializer(serializers.ModelSerializer):
    job = serializers.UUIDField(source="job_id", read_only=True)

    class Meta:
        model = ColumnLineage
        fields = ["output_dataset", "output_column", "input_dataset", "input_column", "job"]
        read_only_fields = fields


class BackfillSerializer(serializers.Serializer):
    """A partition range, a list of keys, or ``all``: a backfill never rebuilds everything unasked."""

    first = serializers.CharField(required=False, max_length=200)
    last = serializers.CharField(required=False, max_length=200)
    partitions = serializers.ListField(
        child=serializers.CharField(max_length=200), required=False, max_length=10_000
    )
    all = serializers.BooleanField(required=False, default=False)

    def validate(self, attrs):
        ranged = "first" in attrs or "last" in attrs
        if attrs.get("partitions") and ranged:
            raise serializers.ValidationError({"partitions": ["give partitions or a range, not both"]})
        if not (ranged or attrs.get("partitions") or attrs["all"]):
            raise serializers.ValidationError(
                {"all": ["give first/last, partitions, or all: true to rebuild every partition"]}
            )
        if attrs.get("first") and attrs.get("last") and attrs["first"] > attrs["last"]:
            raise serializers.ValidationError({"last": ["the range ends before it starts"]})
        return attrs


class RebuildSerializer(serializers.Serializer):
    """Which partitions to rebuild: a list of keys, a ``first``/``last`` range, or (no body) all."""

    first = serializers.CharField(required=False, max_length=200)
    last = serializers.CharField(required=False, max_length=200)
    partitions = serializers.ListField(
        child=serializers.CharField(max_length=200), required=False, allow_empty=False, max_length=10_000
    )

    def validate(self, attrs):
        if "partitions" in attrs and ("first" in attrs or "last" in attrs):
            raise serializers.ValidationError({"partitions": ["give partitions or a range, not both"]})
        if attrs.get("first") and attrs.get("last") and attrs["first"] > attrs["last"]:
            raise serializers.ValidationError({"last": ["the range ends before it starts"]})
        return attrs


class RebuildResultSerializer(serializers.Serializer):
    """The tasks a rebuild created (dispatched at once) and the partitions they republish."""

    created = serializers.IntegerField()
    partitions = serializers.ListField(child=serializers.CharField())
    tasks = serializers.ListField(child=serializers.UUIDField())


class OperationResultSerializer(serializers.Serializer):
    """What an operation did: tasks created, partitions covered, the job's or task's new state."""

    created = serializers.IntegerField(required=False)
    partitions = serializers.ListField(child=serializers.CharField(), required=False)
    reason = serializers.CharField(required=False, help_text="Run now: why it created no task.")
    reason_code = serializers.CharField(
        required=False,
        help_text="Run now: paused, already_running, waiting_for_inputs, failed_without_output, "
        "up_to_date, cursor_caught_up, source_on_schedule or unknown_operator.",
    )
    active = serializers.BooleanField(required=False)
    status = serializers.CharField(required=False)
