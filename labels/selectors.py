"""Who sees which address labels: the tenancy scope of labels, and the label rules that jobs and
queries read through (see :mod:`orgs.roles` for the rights)."""

from __future__ import annotations

import pyarrow as pa
from django.db import connection
from django.db.models import Q, QuerySet

from orgs.models import Org
from orgs.roles import can_create_content
from orgs.selectors import visibility_editable, visibility_visible
from platform_site.tenancy import register_scope, visible_to

from .models import AddressLabel

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
    if not addresses:
        return []
    with connection.cursor() as cursor:
        cursor.execute(_LABELS_FOR_ORG_SQL, [separator, addresses, org.pk])
        return cursor.fetchall()


def address_labels_table_for_user(user):
    """The labels ``user`` may see, as an Arrow table (address lower-case, label, visibility, org slug),
    for the query service to expose as a DuckDB view: the same rule as the API's list."""
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
