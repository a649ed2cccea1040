"""Tenancy rules for saved queries (visibility) and query results (their runner and org admins; an
unmasked result, its runner only)."""

from __future__ import annotations

from django.db.models import Exists, OuterRef, Q

from orgs.roles import can_create_content, is_org_admin
from orgs.selectors import visibility_editable, visibility_visible
from pii.models import PiiAccessLog
from platform_site.tenancy import register_scope

from .models import QueryResult, SavedQuery


def _result_visible(user, queryset):
    """A user's own results; an org admin also sees the org's others, except those run unmasked.

    An unmasked run is known by its access-log rows (``record_id`` is the result): its rows are
    raw personal data read by its runner alone, under their right and their logged request, so
    nobody else reads them, not even an admin of the org (who may run the query unmasked for
    themselves, if they hold the right, and be logged for it)."""
    queryset = queryset.filter(org_id=user.org_id)
    if not is_org_admin(user):
        return queryset.filter(Q(user_id=user.pk))
    unmasked = Exists(
        PiiAccessLog.objects.filter(
            user_id=OuterRef("user_id"), record_id=OuterRef("pk"), action__in=("query", "export")
        )
    )
    return queryset.filter(Q(user_id=user.pk) | ~unmasked)


register_scope(
    SavedQuery, visible=visibility_visible, editable=visibility_editable, can_create=can_create_content
)
register_scope(
    QueryResult,
    visible=_result_visible,
    editable=lambda user, qs, action: qs.filter(org_id=user.org_id) if is_org_admin(user) else qs.none(),
)


def can_cancel_result(user, result: QueryResult) -> bool:
    """The runner of a result and its org's admins may cancel it (superusers any)."""
    if not (user and user.is_authenticated and user.is_active):
        return False
    if user.is_superuser:
        return True
    return result.org_id == user.org_id and (result.user_id == user.pk or is_org_admin(user))


def can_run_queries(user) -> bool:
    """Every active user of an org reads its datasets, so every one may run SQL over them."""
    return bool(user and user.is_authenticated and user.is_active and getattr(user, "org_id", None))
