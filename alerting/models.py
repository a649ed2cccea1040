"""Alert definitions, the events they raise, and the deliveries of each event to each channel."""

from __future__ import annotations

import uuid

from django.db import models
from django.db.models.functions import Now
from django.utils import timezone

from orgs.models import Org, User, Visibility
from platform_site.db import choices_check, uuid7


class Severity(models.TextChoices):
    INFO = "info"
    WARNING = "warning"
    CRITICAL = "critical"


class AlertDefinition(models.Model):
    """A condition over one dataset (a JSON DSL or sandboxed SQL) and the channels to tell."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    org = models.ForeignKey(Org, on_delete=models.CASCADE, related_name="alert_definitions")
    user = models.ForeignKey(User, on_delete=models.PROTECT, related_name="alert_definitions")
    name = models.TextField()
    condition = models.JSONField()
    channels = models.JSONField(default=list, blank=True)
    visibility = models.TextField(choices=Visibility.choices, default=Visibility.ORG)
    enabled = models.BooleanField(default=True)
    created_at = models.DateTimeField(default=timezone.now, db_default=Now(), editable=False)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        db_table = "alert_definitions"
        ordering = ["name"]
        constraints = [choices_check("alert_definitions", "visibility", Visibility)]
        indexes = [
            models.Index(fields=["org", "enabled"], name="alert_definitions_org_idx"),
            # The evaluator finds the enabled definitions over a dataset.
            models.Index(
                models.F("condition__dataset"),
                name="alert_definitions_dataset_idx",
                condition=models.Q(enabled=True),
            ),
        ]

    def __str__(self) -> str:
        return self.name


class AlertEvent(models.Model):
    """One matching row (or a retraction of an earlier event). ``dedupe_key`` is unique per org, so
    evaluating the same data twice never raises the same event twice."""

    id = models.UUIDField(primary_key=True, default=uuid7, editable=False)
    org = models.ForeignKey(Org, on_delete=models.CASCADE, related_name="alert_events")
    alert_definition = models.ForeignKey(AlertDefinition, on_delete=models.CASCADE, related_name="events")
    producer_job = models.ForeignKey(
        "orchestration.Job", on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    producer_task = models.ForeignKey(
        "orchestration.Task", on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    severity = models.TextField(choices=Severity.choices, default=Severity.WARNING)
    chain_id = models.BigIntegerField(null=True, blank=True)
    block_hash = models.TextField(null=True, blank=True)
    tx_hash = models.TextField(null=True, blank=True)
    block_number = models.BigIntegerField(null=True, blank=True)
    source_dataset = models.TextField(null=True, blank=True)
    partition_key = models.TextField(null=True, blank=True)
    cursor_value = models.TextField(null=True, blank=True)
    payload = models.JSONField(default=dict, blank=True)
    dedupe_key = models.TextField()
    created_at = models.DateTimeField(default=timezone.now, db_default=Now(), editable=False)

    class Meta:
        db_table = "alert_events"
        ordering = ["-created_at", "-id"]
        constraints = [
            models.UniqueConstraint(fields=["org", "dedupe_key"], name="alert_events_org_dedupe_uniq"),
            choices_check("alert_events", "severity", Severity),
        ]
        indexes = [
            models.Index(fields=["org", "-created_at", "-id"], name="alert_events_org_recent_idx"),
            models.Index(fields=["alert_definition", "-created_at"], name="alert_events_definition_idx"),
            # Reorg retraction: events on blocks at or above an orphaned height.
            models.Index(fields=["chain_id", "block_number"], name="alert_events_block_idx"),
        ]

    def __str__(self) -> str:
        return f"event {self.id} ({self.severity})"


class AlertDeliveryChannel(models.TextChoices):
    WEBHOOK = "webhook"
    EMAIL = "email"
    SLACK = "slack"


class AlertDeliveryStatus(models.TextChoices):
    PENDING = "pending"
    DELIVERED = "delivered"
    FAILED = "failed"
    DEAD = "dead"
    CANCELLED = "cancelled"


class AlertDelivery(models.Model):
    """One event sent to one channel, leased by a delivery worker while it is being sent."""

    Channel = AlertDeliveryChannel
    Status = AlertDeliveryStatus

    id = models.UUIDField(primary_key=True, default=uuid7, editable=False)
    org = models.ForeignKey(Org, on_delete=models.CASCADE, related_name="alert_deliveries")
    alert_event = models.ForeignKey(AlertEvent, on_delete=models.CASCADE, related_name="deliveries")
    channel = models.TextField(choices=Channel.choices)
    status = models.TextField(choices=Status.choices, default=Status.PENDING)
    attempt = models.IntegerField(default=0)
    next_attempt_at = models.DateTimeField(null=True, blank=True)
    leased_until = models.DateTimeField(null=True, blank=True)
    lease_owner = models.TextField(null=True, blank=True)
    last_attempt_at = models.DateTimeField(null=True, blank=True)
    provider_message_id = models.TextField(null=True, blank=True)
    error_message = models.TextField(null=True, blank=True)
    delivered_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(default=timezone.now, db_default=Now(), editable=False)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        db_table = "alert_deliveries"
        ordering = ["-created_at", "-id"]
        verbose_name_plural = "alert deliveries"
        constraints = [
            choices_check("alert_deliveries", "channel", AlertDeliveryChannel),
            choices_check("alert_deliveries", "status", AlertDeliveryStatus),
            models.CheckConstraint(
                condition=models.Q(attempt__gte=0), name="alert_deliveries_attempt_nonnegative"
            ),
        ]
        indexes = [
            # Lease query: due deliveries (pending or failed-awaiting-retry) by due time.
            models.Index(
                fields=["next_attempt_at"],
                name="alert_deliveries_due_idx",
                condition=models.Q(status__in=["pending", "failed"]),
            ),
            models.Index(fields=["alert_event"], name="alert_deliveries_event_idx"),
            models.Index(fields=["org", "status", "-created_at"], name="alert_deliveries_org_idx"),
        ]

    def __str__(self) -> str:
        return f"{self.channel} delivery {self.id} ({self.status})"
