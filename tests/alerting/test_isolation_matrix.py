"""Two orgs, every reading surface: a member or viewer of org acme never reads org beta's data,
personal values or secrets through backtests, test-fire, events, deliveries, query results or a
scheduled query's output, whatever the visibility of beta's definitions."""

import pyarrow as pa
import pytest
from rest_framework.test import APIClient

from alerting.models import AlertDelivery, AlertEvent
from alerting.services import alert_definition_create, alert_definition_test_fire
from orchestration.services import job_create, job_plan
from queries.services import query_execute
from testkit.factories import OrgFactory, SavedQueryFactory, UserFactory
from tests.alerting.conftest import SECRET, big_transfer_condition, transfers
from tests.orchestration.conftest import drain
from versioning.services import dataset_partition_write

pytestmark = pytest.mark.django_db

PRIVATE = "beta.ledger"
EMAIL = "ceo@beta.example"


def api(user) -> APIClient:
    client = APIClient()
    client.force_authenticate(user)
    return client


@pytest.fixture
def beta_world(platform, receiver, settings):
    """Org beta: a private dataset with a personal column, three definitions (private, org,
    public) over it with a signed webhook, events with deliveries, a query result and a scheduled
    query's output."""
    settings.PII_DATASET_COLUMNS = {PRIVATE: {"email": "redact"}}
    beta = OrgFactory(slug="beta")
    owner = UserFactory(org=beta, role="admin", is_staff=True)
    table = transfers(100, 104)
    table = table.append_column("email", pa.array([EMAIL] * table.num_rows, pa.string()))
    dataset_partition_write(dataset=PRIVATE, partition_key="blocks_00000100", table=table)
    definitions = {
        visibility: alert_definition_create(
            org=beta,
            user=owner,
            name=visibility,
            condition={**big_transfer_condition(), "dataset": PRIVATE, "payload": ["email", "value"]},
            channels=[{"type": "webhook", "url": receiver.url + "/hook", "secret": SECRET}],
            visibility=visibility,
        )
        for visibility in ("private", "org", "public")
    }
    events = [alert_definition_test_fire(definition=d, user=owner) for d in definitions.values()]
    result = query_execute(user=owner, sql=f"SELECT * FROM {PRIVATE}")
    saved = SavedQueryFactory(org=beta, user=owner, query=f"SELECT count(*) AS n FROM {PRIVATE}")
    job = job_create(
        org=beta,
        name="counted",
        runtime="sql",
        operator="saved_query",
        source={"saved_query": str(saved.pk)},
        input_datasets=[PRIVATE],
        output_datasets=["beta.counted"],
        execution_strategy="full",
    )
    job_plan(job=job, force=True)
    drain()
    return {"definitions": definitions, "events": events, "result": result}


@pytest.mark.parametrize("role", ["member", "viewer"])
def test_another_org_reads_nothing_of_beta_on_any_surface(beta_world, org, role):
    reader = api(UserFactory(org=org, role=role))
    for visibility, definition in beta_world["definitions"].items():
        base = f"/api/v1/alert-definitions/{definition.pk}/"
        backtest = reader.post(base + "backtest/", {}, format="json")
        fire = reader.post(base + "test-fire/", {}, format="json")
        if visibility == "public":
            assert backtest.status_code == 200
            assert backtest.data["readable"] is False and backtest.data["sample"] == []
            assert fire.status_code in (403, 404)
            detail = reader.get(base)
            assert SECRET not in str(detail.data) and SECRET[-20:] not in str(detail.data)
        else:
            assert backtest.status_code == 404 and fire.status_code == 404
        assert EMAIL not in str(backtest.data)
    assert AlertEvent.objects.filter(org__slug="beta").count() == 3  # test-fire by outsiders made none
    for event in beta_world["events"]:
        assert reader.get(f"/api/v1/alert-events/{event.pk}/").status_code == 404
    for delivery in AlertDelivery.objects.filter(org__slug="beta"):
        assert reader.get(f"/api/v1/alert-deliveries/{delivery.pk}/").status_code == 404
    for listing in ("alert-events", "alert-deliveries", "query-results"):
        assert reader.get(f"/api/v1/{listing}/").data["results"] == []
    result = beta_world["result"]
    for suffix in ("", "rows/", "download/"):
        assert reader.get(f"/api/v1/query-results/{result.pk}/{suffix}").status_code == 404
    for dataset in (PRIVATE, "beta.counted"):
        refused = reader.post(
            "/api/v1/query-results/execute/", {"sql": f"SELECT * FROM {dataset}"}, format="json"
        )
        assert refused.status_code == 400 and refused.json()["errors"][0]["code"] == "unknown_dataset"
        assert reader.get(f"/api/v1/datasets/{dataset}/").status_code == 404


def test_within_beta_the_event_payloads_are_masked_at_the_source(beta_world):
    for event in beta_world["events"]:
        assert EMAIL not in str(event.payload)
