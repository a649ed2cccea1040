"""Jobs, the tasks that run them, what each task read, and column lineage.

Activation, runtime, execution and update strategies and task states are described in the README's
orchestration section; the rules that move rows between states live in ``orchestration.services``,
not here.
"""

from __future__ import annotations

import uuid

from django.contrib.postgres.fields import ArrayField
from django.db import models
from django.db.models.functions import Now
from django.utils import timezone

from orgs.models import Org
from platform_site.db import choices_check, uuid7


class JobActivation(models.TextChoices):
    MANUAL = "manual"
    SCHEDULE = "schedule"
    REACTIVE = "reactive"
    CONTINUOUS = "continuous"


class JobRuntime(models.TextChoices):
    SQL = "sql", "SQL"
    PYTHON = "python", "Python"
    SOURCE = "source", "Source"


class JobExecutionStrategy(models.TextChoices):
    PARTITIONED = "partitioned"
    INCREMENTAL = "incremental"
    FULL = "full"
    STREAMING = "streaming"


class JobUpdateStrategy(models.TextChoices):
    APPEND = "append"
    REPLACE = "replace"
    UPSERT = "upsert"


class Job(models.Model):
    """Turns input datasets into output datasets by running a registered operator."""

    Activation = JobActivation
    Runtime = JobRuntime
    ExecutionStrategy = JobExecutionStrategy
    UpdateStrategy = JobUpdateStrategy

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    org = models.ForeignKey(Org, on_delete=models.CASCADE, related_name="jobs")
    name = models.TextField()
    dag_name = models.TextField()
    activation = models.TextField(choices=Activation.choices, default=Activation.MANUAL)
    runtime = models.TextField(choices=Runtime.choices)
    # Operators are a registry (adding one is one class), so this column is not a closed set.
    operator = models.TextField()
    source = models.JSONField(default=dict, blank=True)
    execution_strategy = models.TextField(
        choices=ExecutionStrategy.choices, default=ExecutionStrategy.PARTITIONED
    )
    idle_timeout = models.TextField(null=True, blank=True)
    config = models.JSONField(default=dict, blank=True)
    config_hash = models.TextField(blank=True, default="", editable=False)
    input_datasets = ArrayField(models.TextField(), default=list, blank=True)
    output_datasets = ArrayField(models.TextField(), default=list, blank=True)
    update_strategy = models.TextField(choices=UpdateStrategy.choices, default=UpdateStrategy.REPLACE)
    unique_key = ArrayField(models.TextField(), default=list, blank=True)
    scaling = models.JSONField(default=dict, blank=True)
    timeout_seconds = models.IntegerField(default=3600)
    heartbeat_timeout_seconds = models.IntegerField(default=60)
    max_attempts = models.IntegerField(default=3)
    active = models.BooleanField(default=True)
    created_at = models.DateTimeField(default=timezone.now, db_default=Now(), editable=False)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        db_table = "jobs"
        ordering = ["dag_name", "name"]
        constraints = [
            models.UniqueConstraint(fields=["org", "name"], name="jobs_org_name_uniq"),
            choices_check("jobs", "activation", JobActivation),
            choices_check("jobs", "runtime", JobRuntime),
            choices_check("jobs", "execution_strategy", JobExecutionStrategy),
            choices_check("jobs", "update_strategy", JobUpdateStrategy),
            models.CheckConstraint(condition=models.Q(timeout_seconds__gt=0), name="jobs_timeout_positive"),
            models.CheckConstraint(
                condition=models.Q(heartbeat_timeout_seconds__gt=0),
                name="jobs_heartbeat_timeout_positive",
            ),
            models.CheckConstraint(
                condition=models.Q(max_attempts__gte=1), name="jobs_max_attempts_positive"
            ),
        ]
        indexes = [
            models.Index(fields=["org", "dag_name"], name="jobs_org_dag_idx"),
            # DAG edges and "who consumes this dataset" are array-overlap lookups.
            models.Index(fields=["activation"], name="jobs_activation_idx", condition=models.Q(active=True)),
        ]

    def __str__(self) -> str:
        # ``org/name`` names a job everywhere: the admin, the commands (``--job org/name``), ``dag``.
        return f"{self.org.slug}/{self.name}"


class TaskStatus(models.TextChoices):
    PENDING = "pending"
    QUEUED = "queued"
    RUNNING = "running"
    SUCCEEDED = "succeeded"
    FAILED = "failed"
    CANCELLED = "cancelled"


class Task(models.Model):
    """One run of a job over ``partitions`` (the output partition keys it produces).

    The tasks table is the ledger: what runs, retries or is reaped is decided here, never by the
    queue that carries the work.
    """

    Status = TaskStatus

    LIVE_STATUSES = (Status.PENDING, Status.QUEUED, Status.RUNNING)

    id = models.UUIDField(primary_key=True, default=uuid7, editable=False)
    job = models.ForeignKey(Job, on_delete=models.CASCADE, related_name="tasks")
    status = models.TextField(choices=Status.choices, default=Status.PENDING)
    partitions = ArrayField(models.TextField(), default=list, blank=True)
    input_versions = models.JSONField(default=dict, blank=True)
    worker_id = models.TextField(null=True, blank=True)
    started_at = models.DateTimeField(null=True, blank=True)
    completed_at = models.DateTimeField(null=True, blank=True)
    last_heartbeat = models.DateTimeField(null=True, blank=True)
    attempts = models.IntegerField(default=0)
    next_retry_at = models.DateTimeField(null=True, blank=True)
    error_message = models.TextField(null=True, blank=True)
    outputs = models.JSONField(default=list, blank=True)
    created_at = models.DateTimeField(default=timezone.now, db_default=Now(), editable=False)

    class Meta:
        db_table = "tasks"
        ordering = ["-created_at", "-id"]
        constraints = [
            choices_check("tasks", "status", TaskStatus),
            models.CheckConstraint(condition=models.Q(attempts__gte=0), name="tasks_attempts_nonnegative"),
        ]
        indexes = [
            # Dispatcher: pending tasks whose retry time has come.
            models.Index(
                fields=["next_retry_at"],
                name="tasks_pending_due_idx",
                condition=models.Q(status="pending"),
            ),
            # Workers pulling from the ledger: the oldest queued task, without walking finished ones.
            models.Index(
                fields=["created_at", "id"],
                name="tasks_queued_idx",
                condition=models.Q(status="queued"),
            ),
            # Reaper: running tasks by heartbeat and by start.
            models.Index(
                fields=["last_heartbeat"],
                name="tasks_running_heartbeat_idx",
                condition=models.Q(status="running"),
            ),
            # Job page and per-job concurrency: a job's tasks by status and recency.
            models.Index(fields=["job", "status", "-created_at"], name="tasks_job_status_idx"),
            # A job's last success (the input schemas it has seen, read at every publish): one probe,
            # not a sort of every success the job ever had.
            models.Index(
                fields=["job", "-completed_at", "-id"],
                name="tasks_job_last_success_idx",
                condition=models.Q(status="succeeded"),
            ),
            # Keyset pagination and the admin's default order.
            # With the job as a non-key column, the admin's org-scoped deep pages count past skipped
            # rows from the index alone.
            models.Index(fields=["-created_at", "-id"], include=["job"], name="tasks_created_job_idx"),
            models.Index(fields=["status", "-created_at"], name="tasks_status_created_idx"),
        ]

    def __str__(self) -> str:
        return f"task {self.id} ({self.status})"


class TaskInput(models.Model):
    """One input partition version a task read: lineage at partition level."""

    pk = models.CompositePrimaryKey("task_id", "input_dataset", "input_partition")
    task = models.ForeignKey(Task, on_delete=models.CASCADE, related_name="inputs")
    input_dataset = models.TextField()
    input_partition = models.TextField()
    input_version = models.DateTimeField()

    class Meta:
        db_table = "task_inputs"
        indexes = [
            models.Index(fields=["input_dataset", "input_partition"], name="task_inputs_partition_idx"),
        ]

    def __str__(self) -> str:
        return f"{self.input_dataset}/{self.input_partition} @ {self.input_version}"


class ColumnLineage(models.Model):
    """An edge from an input column to an output column, declared or derived from a job's SQL."""

    pk = models.CompositePrimaryKey("output_dataset", "output_column", "input_dataset", "input_column")
    output_dataset = models.TextField()
    output_column = models.TextField()
    input_dataset = models.TextField()
    input_column = models.TextField()
    job = models.ForeignKey(Job, on_delete=models.CASCADE, related_name="column_lineage")

    class Meta:
        db_table = "column_lineage"
        indexes = [
            models.Index(fields=["input_dataset", "input_column"], name="column_lineage_input_idx"),
            models.Index(fields=["job"], name="column_lineage_job_idx"),
        ]

    def __str__(self) -> str:
        return f"{self.input_dataset}.{self.input_column} -> {self.output_dataset}.{self.output_column}"
