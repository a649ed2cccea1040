"""The append-only log of every unmasked read of personal data."""

from __future__ import annotations

from django.db import models
from django.db.models.functions import Now
from django.utils import timezone

from orgs.models import User
from platform_site.db import choices_check, uuid7


class AppendOnlyError(PermissionError):
    """A change or deletion of an append-only row was attempted."""

    def __init__(self):
        super().__init__("pii_access_log is append-only: rows are never changed or deleted")


class AppendOnlyQuerySet(models.QuerySet):
    """Every bulk path that could change or remove rows refuses (``update``, ``bulk_update``,
    ``update_or_create`` on an existing row, ``delete``, and the private ``_update`` /
    ``_raw_delete`` that ``Model.save`` and the deletion collector use), and ``select_for_update``
    (a row is never locked to be changed; the sealed log grants no UPDATE to lock with). Below the
    ORM, the database refuses the same (see :mod:`pii.access_log_guard`)."""

    def select_for_update(self, *args, **kwargs):
        raise AppendOnlyError()

    def update(self, **kwargs):
        raise AppendOnlyError()

    def _update(self, values):
        raise AppendOnlyError()

    def bulk_update(self, objs, fields, batch_size=None):
        raise AppendOnlyError()

    def delete(self):
        raise AppendOnlyError()

    def _raw_delete(self, using):
        raise AppendOnlyError()


class PiiAccessLogAction(models.TextChoices):
    QUERY = "query"
    EXPORT = "export"
    ADMIN_VIEW = "admin_view"
    API_VIEW = "api_view"


class PiiAccessLog(models.Model):
    """Who read which personal column unmasked, when, and through what (query, export, admin, API).

    Append-only: rows can be created and read, never changed or deleted through the ORM.
    """

    Action = PiiAccessLogAction

    id = models.UUIDField(primary_key=True, default=uuid7, editable=False)
    user = models.ForeignKey(User, on_delete=models.PROTECT, related_name="pii_accesses")
    dataset = models.TextField()
    column_name = models.TextField()
    record_id = models.UUIDField(null=True, blank=True)
    action = models.TextField(choices=Action.choices)
    accessed_at = models.DateTimeField(default=timezone.now, db_default=Now(), editable=False)

    objects = AppendOnlyQuerySet.as_manager()

    class Meta:
        db_table = "pii_access_log"
        ordering = ["-accessed_at", "-id"]
        verbose_name = "PII access"
        verbose_name_plural = "PII access log"
        # Rights checked through orgs.roles (can_unmask_personal_data, can_audit_personal_data).
        permissions = [
            ("unmask_personal_data", "Can read personal data unmasked, on explicit request"),
            ("audit_personal_data", "Can audit and export the personal-data access log"),
        ]
        constraints = [choices_check("pii_access_log", "action", PiiAccessLogAction)]
        indexes = [
            models.Index(fields=["user", "-accessed_at"], name="pii_access_log_user_idx"),
            models.Index(fields=["dataset", "column_name", "-accessed_at"], name="pii_access_log_column_idx"),
            models.Index(fields=["-accessed_at"], name="pii_access_log_recent_idx"),
        ]

    def __str__(self) -> str:
        return f"{self.user_id} {self.action} {self.dataset}.{self.column_name}"

    def save(self, *args, **kwargs):
        if not self._state.adding or kwargs.get("force_update") or kwargs.get("update_fields"):
            raise AppendOnlyError()
        kwargs["force_insert"] = True  # never an UPDATE, even for a hand-made instance with an id
        super().save(*args, **kwargs)

    def delete(self, *args, **kwargs):
        raise AppendOnlyError()
