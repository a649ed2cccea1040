"""API tokens (django-rest-knox) and guardian's direct foreign-key object-permission tables.

Tokens are stored as a SHA-512 digest plus the first 15 characters (the lookup key); the token itself
is shown once, at creation, and cannot be recovered from the database. Revoking a token deletes it.

Object permissions use guardian's direct foreign-key tables for the models that carry them (saved
queries, alert definitions, address labels, jobs), so "which objects may this user change" is a join
on a uuid foreign key, not a cast of guardian's generic text ``object_pk``.
"""

from __future__ import annotations

from django.db import models
from guardian.models import GroupObjectPermissionBase, UserObjectPermissionBase
from knox.models import AbstractAuthToken


class ApiToken(AbstractAuthToken):
    """A per-user API token: named, expiring, revocable (deleted), with the time it was last used."""

    name = models.TextField(blank=True, default="")
    last_used_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        db_table = "api_tokens"
        ordering = ["-created"]
        indexes = [models.Index(fields=["user", "-created"], name="api_tokens_user_idx")]

    def __str__(self) -> str:
        return f"{self.name or 'token'} {self.token_key}… of {self.user_id}"


class SavedQueryUserObjectPermission(UserObjectPermissionBase):
    content_object = models.ForeignKey("queries.SavedQuery", on_delete=models.CASCADE)

    class Meta(UserObjectPermissionBase.Meta):
        db_table = "saved_query_user_perms"


class SavedQueryGroupObjectPermission(GroupObjectPermissionBase):
    content_object = models.ForeignKey("queries.SavedQuery", on_delete=models.CASCADE)

    class Meta(GroupObjectPermissionBase.Meta):
        db_table = "saved_query_group_perms"


class AlertDefinitionUserObjectPermission(UserObjectPermissionBase):
    content_object = models.ForeignKey("alerting.AlertDefinition", on_delete=models.CASCADE)

    class Meta(UserObjectPermissionBase.Meta):
        db_table = "alert_definition_user_perms"


class AlertDefinitionGroupObjectPermission(GroupObjectPermissionBase):
    content_object = models.ForeignKey("alerting.AlertDefinition", on_delete=models.CASCADE)

    class Meta(GroupObjectPermissionBase.Meta):
        db_table = "alert_definition_group_perms"


class AddressLabelUserObjectPermission(UserObjectPermissionBase):
    content_object = models.ForeignKey("labels.AddressLabel", on_delete=models.CASCADE)

    class Meta(UserObjectPermissionBase.Meta):
        db_table = "address_label_user_perms"


class AddressLabelGroupObjectPermission(GroupObjectPermissionBase):
    content_object = models.ForeignKey("labels.AddressLabel", on_delete=models.CASCADE)

    class Meta(GroupObjectPermissionBase.Meta):
        db_table = "address_label_group_perms"


class JobUserObjectPermission(UserObjectPermissionBase):
    content_object = models.ForeignKey("orchestration.Job", on_delete=models.CASCADE)

    class Meta(UserObjectPermissionBase.Meta):
        db_table = "job_user_perms"


class JobGroupObjectPermission(GroupObjectPermissionBase):
    content_object = models.ForeignKey("orchestration.Job", on_delete=models.CASCADE)

    class Meta(GroupObjectPermissionBase.Meta):
        db_table = "job_group_perms"
