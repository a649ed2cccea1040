"""Tenancy rules for the PII access log: org admins audit their own org's users; nobody edits it."""

from __future__ import annotations

from orgs.roles import is_org_admin
from platform_site.tenancy import register_scope

from .models import PiiAccessLog


def _log_visible(user, queryset):
    return queryset.filter(user__org_id=user.org_id) if is_org_admin(user) else queryset.none()


register_scope(
    PiiAccessLog,
    visible=_log_visible,
    editable=lambda user, qs, action: qs.none(),
    org_field="user__org",
)
