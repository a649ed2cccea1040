"""Alerting reads every dataset with the rights of the person it serves, and reads personal columns
masked at the source: backtests and test-fire as their caller, evaluation as the definition's owner."""

from __future__ import annotations

import pyarrow as pa
import pytest
from rest_framework.test import APIClient

from alerting.dsl import compile_condition
from alerting.models import AlertDelivery, AlertEvent
from alerting.selectors import dataset_columns
from alerting.services import alert_definition_backtest, alert_definition_create, alert_definition_test_fire
from alerting.services.evaluation import Compiled, Match, dedupe_key
from pii.masking import keyed_hash
from testkit.factories import OrgFactory, UserFactory
from tests.alerting.conftest import big_transfer_condition, block_hash, publish, transfers
from tests.alerting.test_evaluator import evaluate, webhook
from versioning.services import dataset_partition_write

pytestmark = pytest.mark.django_db

PEOPLE = "beta.signups"


def signups(first: int, last: int) -> pa.Table:
    """A private dataset of org beta: chain rows carrying a personal e-mail column."""
    table = transfers(first, last)
    emails = [f"person{n}@example.com" for n in range(table.num_rows)]
    return table.append_column("email", pa.array(emails, pa.string()))


@pytest.fixture
def beta(db, settings):
    settings.PII_DATASET_COLUMNS = {PEOPLE: {"email": "hash"}}
    return OrgFactory(slug="beta")


@pytest.fixture
def beta_owner(beta):
    return UserFactory(org=beta, role="member", is_staff=True)


def people_condition(**extra) -> dict:
    return {**big_transfer_condition(**extra), "dataset": PEOPLE, "payload": ["email", "value"]}


def api(user) -> APIClient:
    client = APIClient()
    client.force_authenticate(user)
    return client


def test_another_orgs_public_definition_backtests_to_nothing_for_an_outsider(
    platform, org, member, beta, beta_owner
):
    dataset_partition_write(dataset=PEOPLE, partition_key="blocks_00000100", table=signups(100, 119))
    definition = alert_definition_create(
        org=beta, user=beta_owner, name="public", condition=people_condition(), visibility="public"
    )
    viewer = UserFactory(org=org, role="viewer")
    response = api(viewer).post(f"/api/v1/alert-definitions/{definition.pk}/backtest/", {}, format="json")
    assert response.status_code == 200, response.data
    assert response.data["readable"] is False
    assert (response.data["partitions"], response.data["rows_scanned"], response.data["events"]) == (0, 0, 0)
    assert response.data["sample"] == [] and "example.com" not in str(response.data)
    # Its owner reads it, masked at the source.
    own = api(beta_owner).post(f"/api/v1/alert-definitions/{definition.pk}/backtest/", {}, format="json")
    assert own.data["readable"] is True and own.data["events"] > 0
    sample = str(own.data["sample"])
    assert "person" not in sample and keyed_hash("person0@example.com")[:20] in sample


def test_test_fire_by_an_org_admin_reads_no_row_the_owner_may_not(platform, org, member, beta, beta_owner):
    dataset_partition_write(dataset=PEOPLE, partition_key="blocks_00000100", table=signups(100, 119))
    definition = alert_definition_create(org=beta, user=beta_owner, name="d", condition=people_condition())
    event = alert_definition_test_fire(definition=definition, user=beta_owner)
    assert "person" not in str(event.payload)
    assert keyed_hash("person0@example.com")[:20] in str(event.payload) or event.block_number is not None
    beta_owner.is_active = False
    beta_owner.save(update_fields=["is_active"])
    admin = UserFactory(org=beta, role="admin", is_staff=True)
    silent = alert_definition_test_fire(definition=definition, user=admin)
    assert silent.block_number is None and "row" not in silent.payload


def test_events_and_deliveries_hold_masked_values_only(platform, beta, beta_owner, receiver):
    dataset_partition_write(dataset=PEOPLE, partition_key="blocks_00000000", table=signups(0, 4))
    definition = alert_definition_create(
        org=beta, user=beta_owner, name="d", condition=people_condition(), channels=[webhook(receiver)]
    )
    dataset_partition_write(dataset=PEOPLE, partition_key="blocks_00000100", table=signups(100, 104))
    evaluate()
    events = AlertEvent.objects.filter(alert_definition=definition)
    assert events.exists()
    assert not any("@example.com" in str(e.payload) for e in events)
    assert all(e.payload["row"]["email"].startswith("hmac:") for e in events)
    assert AlertDelivery.objects.filter(alert_event__in=events).exists()


def test_an_owner_who_may_no_longer_read_the_dataset_raises_nothing(platform, org, member):
    publish(0, 9)
    definition = alert_definition_create(org=org, user=member, name="big", condition=big_transfer_condition())
    member.is_active = False
    member.save(update_fields=["is_active"])
    publish(100, 109)
    evaluate()
    assert not AlertEvent.objects.filter(alert_definition=definition).exists()
    assert alert_definition_backtest(definition=definition, reader=member).readable is False


def test_the_same_row_on_a_re_mined_block_is_a_new_event(platform, org, member):
    publish(0, 9)
    definition = alert_definition_create(org=org, user=member, name="big", condition=big_transfer_condition())
    condition = compile_condition(definition.condition, dataset_columns(definition.condition["dataset"]))
    row = transfers(110, 110).to_pylist()[0]
    remined = {**row, "block_hash": block_hash(110, fork="b")}
    compiled = Compiled(definition, condition)
    assert dedupe_key(definition, condition, row) != dedupe_key(definition, condition, remined)
    assert dedupe_key(definition, condition, row) == dedupe_key(definition, condition, dict(row))
    assert Match(compiled, row, "blocks_00000100", None).row is row
