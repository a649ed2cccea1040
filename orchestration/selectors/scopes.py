"""Tenancy rules for jobs, tasks, lineage and address labels (see :mod:`orgs.roles` for the rights).

Background code acting for an org uses :func:`jobs_of_org` / :func:`tasks_of_org`; code acting for a
user uses ``platform_site.tenancy.visible_to`` / ``editable_by``.
"""

from __future__ import annotations

from django.db.models import Q, QuerySet

from orgs.models import Org
from orgs.roles import can_create_content, is_org_admin
from orgs.selectors import (
    granted_q,
    org_admin_editable,
    org_member_visible,
    visibility_editable,
    visibility_visible,
)
from platform_site.tenancy import register_scope

from ..models import AddressLabel, ColumnLineage, Job, Task, TaskInput


def jobs_of_org(org: Org) -> QuerySet[Job]:
    return Job.objects.filter(org=org)


def tasks_of_org(org: Org) -> QuerySet[Task]:
    return Task.objects.filter(job__org=org)


def _job_editable(user, queryset, action):
    queryset = queryset.filter(org_id=user.org_id)
    if is_org_admin(user):
        return queryset
    return queryset.filter(granted_q(user, Job, [action]))


def _job_visible(user, queryset):
    return queryset.filter(org_id=user.org_id)


register_scope(Job, visible=_job_visible, editable=_job_editable, can_create=is_org_admin)
register_scope(
    Task,
    visible=lambda user, qs: org_member_visible(user, qs, "job__org"),
    editable=org_admin_editable("job__org"),
    org_field="job__org",
)
register_scope(
    TaskInput,
    visible=lambda user, qs: org_member_visible(user, qs, "task__job__org"),
    editable=lambda user, qs, action: qs.none(),
    org_field="task__job__org",
)
register_scope(
    ColumnLineage,
    visible=lambda user, qs: org_member_visible(user, qs, "job__org"),
    editable=lambda user, qs, action: qs.none(),
    org_field="job__org",
)
register_scope(
    AddressLabel,
    visible=visibility_visible,
    editable=visibility_editable,
    can_create=can_create_content,
)


def address_labels_visible_to_org(org: Org) -> QuerySet[AddressLabel]:
    """Labels a job of ``org`` may use: the org's ``org`` labels and every ``public`` one. A
    ``private`` label is for its creator and the org's admins only, so it never lands in a dataset
    every member of the org reads."""
    return AddressLabel.objects.filter(Q(visibility="public") | Q(org=org, visibility="org"))


# The same rule as ``address_labels_visible_to_org``, for many addresses at once: one array
# parameter instead of an IN list (which tops out at 65,535 parameters), labels already aggregated.
_LABELS_FOR_ORG_SQL = """
SELECT address, string_agg(DISTINCT label, %s ORDER BY label)
FROM address_labels
WHERE address = ANY(%s::text[]) AND (visibility = 'public' OR (org_id = %s AND visibility = 'org'))
GROUP BY address
"""


def address_labels_for_org(org: Org, addresses: list[str], separator: str) -> list[tuple[str, str]]:
    """(address, its labels visible to ``org`` joined by ``separator``) for the labelled ones among
    ``addresses`` (stored, lower-case form)."""
    from django.db import connection

    if not addresses:
        return []
    with connection.cursor() as cursor:
        cursor.execute(_LABELS_FOR_ORG_SQL, [separator, addresses, org.pk])
        return cursor.fetchall()


def address_labels_table_for_user(user):
    """The labels ``user`` may see, as an Arrow table (address lower-case, label, visibility, org slug),
    for the query service to expose as a DuckDB view: the same rule as the API's list."""
    import pyarrow as pa

    from platform_site.tenancy import visible_to

    rows = visible_to(user, AddressLabel.objects.all()).values_list(
        "address", "label", "visibility", "org__slug"
    )
    address, label, visibility, org = zip(*rows, strict=True) if rows else ((), (), (), ())
    return pa.table(
        {
            "address": pa.array(address, pa.string()),
            "label": pa.array(label, pa.string()),
            "visibility": pa.array(visibility, pa.string()),
            "org": pa.array(org, pa.string()),
        }
    )
