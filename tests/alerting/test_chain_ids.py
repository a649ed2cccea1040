"""Alerts on several chains: a definition on one chain's transfers raises events for that chain only,
each carrying the chain id of the row that matched."""

import pytest

from alerting.models import AlertEvent
from alerting.services import alert_definition_create
from orchestration import services as engine
from tests.alerting.conftest import partition_key, transfers
from tests.orchestration.conftest import drain
from versioning.services import dataset_partition_write

pytestmark = pytest.mark.django_db

BASE_CHAIN_ID = 8453


def publish(dataset: str, first: int, last: int, chain_id: int):
    dataset_partition_write(
        dataset=dataset, partition_key=partition_key(first), table=transfers(first, last, chain_id=chain_id)
    )


def every_transfer(dataset: str) -> dict:
    return {
        "dataset": dataset,
        "where": {"column": "value", "op": "gte", "value": "1"},
        "payload": ["chain_id", "log_index", "value"],
    }


def test_an_alert_on_base_transfers_raises_events_of_chain_8453(platform, org, member):
    publish("base.transfers", 0, 4, BASE_CHAIN_ID)  # history: the dataset exists before the definitions
    publish("evm.transfers", 0, 4, 1)
    on_base = alert_definition_create(
        org=org, user=member, name="base", condition=every_transfer("base.transfers")
    )
    on_evm = alert_definition_create(
        org=org, user=member, name="evm", condition=every_transfer("evm.transfers")
    )

    publish("base.transfers", 100, 104, BASE_CHAIN_ID)
    publish("evm.transfers", 200, 201, 1)
    engine.plan_active_jobs()
    drain()

    base_events = list(AlertEvent.objects.filter(alert_definition=on_base))
    assert len(base_events) == 10  # two transfers a block, blocks 100..104
    assert {e.chain_id for e in base_events} == {BASE_CHAIN_ID}
    assert {e.payload["row"]["chain_id"] for e in base_events} == {BASE_CHAIN_ID}
    assert {e.source_dataset for e in base_events} == {"base.transfers"}
    assert {e.block_number for e in base_events} == set(range(100, 105))

    evm_events = list(AlertEvent.objects.filter(alert_definition=on_evm))
    assert len(evm_events) == 4
    assert {e.chain_id for e in evm_events} == {1} and {e.block_number for e in evm_events} == {200, 201}
