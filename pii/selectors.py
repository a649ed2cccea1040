"""Tenancy rules for the PII access log: auditors (org admins, holders of the audit permission) read
their own org's users' rows; nobody edits it."""

from __future__ import annotations

from orgs.roles import can_audit_personal_data
from platform_site.tenancy import register_scope

from .models import PiiAccessLog


def _log_visible(user, queryset):
    return queryset.filter(user__org_id=user.org_id) if can_audit_personal_data(user) else queryset.none()


register_scope(
    PiiAccessLog,
    visible=_log_visible,
    editable=lambda user, qs, action: qs.none(),
    org_field="user__org",
)
