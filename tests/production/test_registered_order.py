"""/readyz, /metrics and retention list what each app registers in one fixed order, whatever order
the apps load in, so dashboards, alerts on the exposition and log readers see the same output."""

import pytest

from platform_site.retention import retention_prune
from testkit.factories import UserFactory

pytestmark = pytest.mark.django_db


def test_readyz_lists_its_checks_in_order(client):
    assert list(client.get("/readyz").json()["checks"]) == ["database", "broker", "storage", "workers"]


def test_metrics_list_each_apps_gauges_in_order(client):
    client.force_login(UserFactory(is_superuser=True, is_staff=True))
    body = client.get("/metrics").content.decode()
    families = [
        "chainlake_tasks",
        "chainlake_lake_partitions",
        "chainlake_alert_deliveries",
        "chainlake_queries_recent",
    ]
    positions = [body.index(f"# TYPE {family} ") for family in families]
    assert positions == sorted(positions)


def test_retention_reports_each_kind_in_order():
    assert list(retention_prune()) == [
        "tasks",
        "alert_deliveries",
        "alert_events",
        "query_results",
        "django_q_tasks",
    ]
