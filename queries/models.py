"""Saved SQL and the record of every execution."""

from __future__ import annotations

import uuid

from django.db import models
from django.db.models.functions import Now
from django.utils import timezone

from orchestration.models import Job
from orgs.models import Org, User, Visibility
from platform_site.db import choices_check, uuid7
from versioning.duckdb_sandbox import SqlRejected, parse_read_only

from .scheduled import scheduled_read_error


class SavedQuery(models.Model):
    """Named SQL with a visibility."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    org = models.ForeignKey(Org, on_delete=models.CASCADE, related_name="saved_queries")
    user = models.ForeignKey(User, on_delete=models.PROTECT, related_name="saved_queries")
    name = models.TextField()
    query = models.TextField()
    visibility = models.TextField(choices=Visibility.choices, default=Visibility.PRIVATE)
    created_at = models.DateTimeField(default=timezone.now, db_default=Now(), editable=False)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        db_table = "saved_queries"
        ordering = ["name"]
        verbose_name_plural = "saved queries"
        constraints = [choices_check("saved_queries", "visibility", Visibility)]
        indexes = [models.Index(fields=["org", "visibility"], name="saved_queries_org_vis_idx")]

    def __str__(self) -> str:
        return self.name

    def clean(self) -> None:
        """The SQL passes the sandbox's guard on save (one read-only statement, bounded size)."""
        from django.core.exceptions import ValidationError

        try:
            parse_read_only(self.query or "")
        except SqlRejected as exc:
            raise ValidationError({"query": ValidationError(exc.message, code=exc.code)}) from None
        if self.pk and self.org_id:
            scheduled = Job.objects.filter(org_id=self.org_id, operator="saved_query", active=True)
            if scheduled.filter(source__saved_query=str(self.pk)).exists():
                refused = scheduled_read_error(self.query, self.org)
                if refused:
                    raise ValidationError({"query": f"a scheduled job runs this query: {refused}"})


class QueryResultMode(models.TextChoices):
    SYNC = "sync"
    ASYNC = "async"
    SCHEDULED = "scheduled"
    EXPORT = "export"


class QueryResultStatus(models.TextChoices):
    QUEUED = "queued"
    RUNNING = "running"
    SUCCEEDED = "succeeded"
    FAILED = "failed"
    CANCELLED = "cancelled"
    EXPIRED = "expired"


class QueryResultOutputFormat(models.TextChoices):
    PARQUET = "parquet"
    CSV = "csv"
    JSON = "json"


class QueryResultErrorCode(models.TextChoices):
    SYNTAX_ERROR = "syntax_error"
    FORBIDDEN_STATEMENT = "forbidden_statement"
    UNKNOWN_DATASET = "unknown_dataset"
    PERMISSION_DENIED = "permission_denied"
    TIMEOUT = "timeout"
    MEMORY_LIMIT = "memory_limit"
    CANCELLED = "cancelled"
    ROW_LIMIT = "row_limit"
    INTERNAL = "internal"


class QueryResult(models.Model):
    """One execution of SQL (saved or ad hoc): its status, where the result lives, and why it failed."""

    Mode = QueryResultMode
    Status = QueryResultStatus
    OutputFormat = QueryResultOutputFormat
    ErrorCode = QueryResultErrorCode

    id = models.UUIDField(primary_key=True, default=uuid7, editable=False)
    org = models.ForeignKey(Org, on_delete=models.CASCADE, related_name="query_results")
    user = models.ForeignKey(User, on_delete=models.PROTECT, related_name="query_results")
    saved_query = models.ForeignKey(
        SavedQuery, on_delete=models.SET_NULL, null=True, blank=True, related_name="results"
    )
    task = models.ForeignKey(
        "orchestration.Task",
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="query_results",
    )
    mode = models.TextField(choices=Mode.choices, default=Mode.SYNC)
    status = models.TextField(choices=Status.choices, default=Status.QUEUED)
    sql_hash = models.TextField()
    output_format = models.TextField(choices=OutputFormat.choices, default=OutputFormat.PARQUET)
    output_location = models.TextField(null=True, blank=True)
    row_count = models.BigIntegerField(null=True, blank=True)
    bytes = models.BigIntegerField(null=True, blank=True)
    duration_ms = models.IntegerField(null=True, blank=True)
    error_code = models.TextField(choices=ErrorCode.choices, null=True, blank=True)
    error_message = models.TextField(null=True, blank=True)
    created_at = models.DateTimeField(default=timezone.now, db_default=Now(), editable=False)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        db_table = "query_results"
        ordering = ["-created_at", "-id"]
        constraints = [
            choices_check("query_results", "mode", QueryResultMode),
            choices_check("query_results", "status", QueryResultStatus),
            choices_check("query_results", "output_format", QueryResultOutputFormat),
            choices_check("query_results", "error_code", QueryResultErrorCode, null=True),
        ]
        indexes = [
            # Result cache: the newest succeeded result for this SQL in this org.
            models.Index(
                fields=["org", "sql_hash", "-created_at"],
                name="query_results_cache_idx",
                condition=models.Q(status="succeeded"),
            ),
            models.Index(fields=["org", "-created_at", "-id"], name="query_results_org_recent_idx"),
            # Retention purge walks results by age.
            models.Index(fields=["created_at"], name="query_results_created_idx"),
        ]

    def __str__(self) -> str:
        return f"result {self.id} ({self.status})"
