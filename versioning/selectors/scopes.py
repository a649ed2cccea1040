"""Tenancy rules for the catalog, cursors and invalidations.

These tables carry no org: a dataset's namespace (the part before the dot) names its owner. An org
reads its own namespace and the system namespaces, and writes (invalidates) only its own.
"""

from __future__ import annotations

from orgs.policy import Operation, may_operate
from orgs.selectors import namespace_q, org_member_visible
from platform_site.tenancy import register_scope

from ..datasets import readable_namespaces, writable_namespaces
from ..models import DataInvalidation, DatasetCursor, PartitionVersion


def _readable(user, queryset):
    return queryset.filter(namespace_q(readable_namespaces(user.org.slug)))


def _may_invalidate(user) -> bool:
    return may_operate(user, Operation.DATASET_INVALIDATE)


def _invalidation_editable(user, queryset, action):
    if not _may_invalidate(user):
        return queryset.none()
    return queryset.filter(namespace_q(writable_namespaces(user.org.slug)))


register_scope(
    PartitionVersion,
    visible=_readable,
    editable=lambda user, qs, action: qs.none(),
    org_field=None,
)
register_scope(
    DataInvalidation,
    visible=_readable,
    editable=_invalidation_editable,
    can_create=_may_invalidate,
    org_field=None,
)
register_scope(
    DatasetCursor,
    visible=lambda user, qs: org_member_visible(user, qs, "job__org"),
    editable=lambda user, qs, action: qs.none(),
    org_field="job__org",
)
