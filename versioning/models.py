"""The lake's catalog: current partition versions, incremental cursors, and invalidations."""

from __future__ import annotations

import uuid

from django.contrib.postgres.fields import ArrayField
from django.db import models
from django.db.models.functions import Now
from django.utils import timezone

from platform_site.db import choices_check


class PartitionVersion(models.Model):
    """The current version of one partition of a dataset; a dataset is the union of its rows here.

    ``version`` is the publish time; ``location`` is the file in the lake (a storage URL path).
    """

    pk = models.CompositePrimaryKey("dataset", "partition_key")
    dataset = models.TextField()
    partition_key = models.TextField()
    version = models.DateTimeField()
    config_hash = models.TextField()
    schema_hash = models.TextField()
    location = models.TextField()
    row_count = models.BigIntegerField()
    bytes = models.BigIntegerField()

    class Meta:
        db_table = "partition_versions"
        indexes = [
            # "What changed since X" drives planning and result-cache freshness.
            models.Index(fields=["dataset", "-version"], name="partition_versions_recent_idx"),
            models.Index(fields=["-version"], name="partition_versions_version_idx"),
        ]

    def __str__(self) -> str:
        return f"{self.dataset}/{self.partition_key} @ {self.version}"


class DatasetCursor(models.Model):
    """The high-water mark of an incremental job on one of its input datasets."""

    pk = models.CompositePrimaryKey("dataset", "job_id")
    dataset = models.TextField()
    job = models.ForeignKey("orchestration.Job", on_delete=models.CASCADE, related_name="cursors")
    cursor_column = models.TextField()
    cursor_value = models.TextField(null=True, blank=True)
    updated_at = models.DateTimeField(default=timezone.now, db_default=Now())

    class Meta:
        db_table = "dataset_cursors"
        indexes = [models.Index(fields=["job"], name="dataset_cursors_job_idx")]

    def __str__(self) -> str:
        return f"{self.dataset} cursor of {self.job_id} = {self.cursor_value}"


class DataInvalidationScope(models.TextChoices):
    DATASET = "dataset"
    PARTITION = "partition"
    ROWS = "rows"


class DataInvalidation(models.Model):
    """A request to treat data as wrong (a chain reorg, an operator fix).

    Every job consuming ``dataset`` reprocesses what the scope covers and appends its id to
    ``processed_by``; ``processed_at`` is set once every consumer has.
    """

    Scope = DataInvalidationScope

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    dataset = models.TextField()
    scope = models.TextField(choices=Scope.choices)
    partition_key = models.TextField(null=True, blank=True)
    row_filter = models.JSONField(null=True, blank=True)
    reason = models.TextField(blank=True, default="")
    source_event = models.JSONField(default=dict, blank=True)
    created_at = models.DateTimeField(default=timezone.now, db_default=Now(), editable=False)
    processed_by = ArrayField(models.UUIDField(), default=list, blank=True)
    processed_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        db_table = "data_invalidations"
        ordering = ["-created_at"]
        constraints = [
            choices_check("data_invalidations", "scope", DataInvalidationScope),
            models.CheckConstraint(
                condition=~models.Q(scope="partition") | models.Q(partition_key__isnull=False),
                name="data_invalidations_partition_has_key",
            ),
            models.CheckConstraint(
                condition=~models.Q(scope="rows") | models.Q(row_filter__isnull=False),
                name="data_invalidations_rows_has_filter",
            ),
        ]
        indexes = [
            # The scheduler only ever looks at open invalidations of a dataset.
            models.Index(
                fields=["dataset", "created_at"],
                name="data_invalidations_open_idx",
                condition=models.Q(processed_at__isnull=True),
            ),
        ]

    def __str__(self) -> str:
        return f"{self.scope} invalidation of {self.dataset}"
