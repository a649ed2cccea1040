"""Tenancy rules for alert definitions (visibility), events and deliveries (the org's members)."""

from __future__ import annotations

from orgs.roles import can_create_content
from orgs.selectors import org_admin_editable, org_member_visible, visibility_editable, visibility_visible
from platform_site.tenancy import is_editable, is_visible, register_scope
from versioning.datasets import dataset_schema, may_read_dataset
from versioning.selectors import dataset_names

from .dsl import column_kind
from .models import AlertDefinition, AlertDelivery, AlertEvent

register_scope(
    AlertDefinition,
    visible=visibility_visible,
    editable=visibility_editable,
    can_create=can_create_content,
)
register_scope(AlertEvent, visible=org_member_visible, editable=org_admin_editable())
register_scope(AlertDelivery, visible=org_member_visible, editable=org_admin_editable())


# -- reads the evaluator, the admin and the API share -----------------------------------------------
def dataset_columns(dataset: str) -> dict | None:
    """Column -> Arrow type of ``dataset`` as conditions are compiled against it (the newest
    partitions' files, so a column a recent partition lacks still resolves), None when it has none."""
    schema = dataset_schema(dataset, partitions=3)
    return None if schema is None else {f.name: f.type for f in schema}


def watchable_datasets(user) -> list[str]:
    """The datasets ``user`` may read that a condition can watch: those the catalog holds a partition
    of (a condition is checked against the schema of its dataset's files)."""
    return [name for name in dataset_names() if may_read_dataset(user, name)]


def condition_columns(user, dataset: str) -> list[dict] | None:
    """Name, Arrow type and DSL kind of each column of ``dataset``, as a condition is checked
    against it; None when ``user`` may not read it or the catalog has no partition of it (the same
    answer for both, so nobody learns which datasets exist outside what they read)."""
    if not isinstance(dataset, str) or not may_read_dataset(user, dataset):
        return None
    columns = dataset_columns(dataset)
    if columns is None:
        return None
    return [{"name": name, "type": str(kind), "kind": column_kind(kind)} for name, kind in columns.items()]


def can_operate(user, definition: AlertDefinition) -> bool:
    """Test-fire, silence, disable/enable, redeliver: whoever may change the definition
    (its creator, an org admin, or a holder of the object permission; ``orgs.roles``)."""
    return is_editable(user, definition, "change")


def can_read(user, definition: AlertDefinition) -> bool:
    return is_visible(user, definition)


def delivery_health(definition: AlertDefinition) -> list[dict]:
    """Per channel type: deliveries by status over the definition's events (the admin page)."""
    from django.db.models import Count

    rows = (
        AlertDelivery.objects.filter(alert_event__alert_definition=definition)
        .values("channel", "status")
        .annotate(n=Count("id"))
        .order_by("channel", "status")
    )
    health: dict[str, dict] = {}
    for row in rows:
        health.setdefault(row["channel"], {"channel": row["channel"]})[row["status"]] = row["n"]
    return list(health.values())


def delivery_counts(org=None) -> dict[str, int]:
    """Due, failed and dead deliveries (the alerting index)."""
    from django.db.models import Count, Q
    from django.utils import timezone

    queryset = AlertDelivery.objects.all() if org is None else AlertDelivery.objects.filter(org=org)
    now = timezone.now()
    return queryset.aggregate(
        due=Count("id", filter=Q(status__in=["pending", "failed"], next_attempt_at__lte=now)),
        failed=Count("id", filter=Q(status="failed")),
        dead=Count("id", filter=Q(status="dead")),
    )
