"""Tenancy rules for saved queries (visibility) and query results (their runner and org admins)."""

from __future__ import annotations

from django.db.models import Q

from orgs.roles import can_create_content, is_org_admin
from orgs.selectors import visibility_editable, visibility_visible
from platform_site.tenancy import register_scope

from .models import QueryResult, SavedQuery


def _result_visible(user, queryset):
    queryset = queryset.filter(org_id=user.org_id)
    return queryset if is_org_admin(user) else queryset.filter(Q(user_id=user.pk))


register_scope(
    SavedQuery, visible=visibility_visible, editable=visibility_editable, can_create=can_create_content
)
register_scope(
    QueryResult,
    visible=_result_visible,
    editable=lambda user, qs, action: qs.filter(org_id=user.org_id) if is_org_admin(user) else qs.none(),
)
