"""Tenancy rules for the PII access log: auditors (org admins, holders of the audit permission) read
their own org's users' rows; nobody edits it."""

from __future__ import annotations

from orgs.roles import can_audit_personal_data, is_platform_superuser
from platform_site.tenancy import register_scope
from versioning.datasets import readable_namespaces

from .models import PiiAccessLog
from .registry import PiiColumn, model_fields, registry


def registry_visible_to(user) -> list[PiiColumn]:
    """The registry as ``user`` may see it: model fields, and the dataset columns of the datasets the
    user's org may read (its own namespace and the system ones); superusers see everything."""
    entries = registry()
    if is_platform_superuser(user):
        return entries
    tables = {model._meta.db_table for model, _, _ in model_fields()}
    namespaces = set(readable_namespaces(user.org.slug))
    return [
        entry for entry in entries if entry.dataset in tables or entry.dataset.split(".", 1)[0] in namespaces
    ]


def _log_visible(user, queryset):
    return queryset.filter(user__org_id=user.org_id) if can_audit_personal_data(user) else queryset.none()


register_scope(
    PiiAccessLog,
    visible=_log_visible,
    editable=lambda user, qs, action: qs.none(),
    org_field="user__org",
)
