"""Reorg retraction through the engine: the ingestion test chain -> evm_rpc -> evm.transfers ->
alert_evaluator -> events and deliveries; a reorg retracts exactly the orphaned events, once each."""

import json

import pyarrow as pa
import pytest

from alerting.models import AlertDelivery, AlertEvent
from alerting.services import alert_definition_create
from alerting.services.deliveries import deliveries_process
from orchestration.models import Job
from orchestration.services import plan_active_jobs
from testkit.testchain import LocalTestChain
from tests.alerting.conftest import SECRET
from tests.orchestration.conftest import drain
from tests.orchestration.test_evm_rpc import downstream_jobs, ingest, source_job
from versioning.models import DataInvalidation, DatasetCursor, PartitionVersion
from versioning.storage import lake

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def demo_callables(settings):
    settings.PYTHON_CALLABLE_MODULES = [*settings.PYTHON_CALLABLE_MODULES, "chains.demo"]


@pytest.fixture
def chain():
    with LocalTestChain(seed=23) as local_chain:
        local_chain.deploy_token()
        yield local_chain


def transfers_now(since) -> set[tuple]:
    """Transfers in the lake, in partitions published since ``since`` (a definition watches data
    published from its creation on)."""
    parts = PartitionVersion.objects.filter(dataset="evm.transfers", version__gte=since)
    tables = [lake().read_table(p.location) for p in parts]
    rows = pa.concat_tables(tables).to_pylist() if tables else []
    return {(r["transaction_hash"], r["log_index"], r["block_hash"]) for r in rows}


def live_events(definition) -> set[tuple]:
    events = AlertEvent.objects.filter(alert_definition=definition, payload__kind="event").exclude(
        payload__has_key="retracted_by"
    )
    return {(e.tx_hash, e.payload["row"]["log_index"], e.block_hash) for e in events}


def test_a_reorg_retracts_exactly_the_orphaned_events_once_each(chain, platform, org, member, receiver):
    job = source_job(chain)
    downstream_jobs(chain)
    ingest(job, drain)  # the token's deployment: the dataset exists, so a definition can be checked
    definition = alert_definition_create(
        org=org,
        user=member,
        name="every transfer",
        condition={
            "dataset": "evm.transfers",
            "where": {"column": "value", "op": "gte", "value": "1"},
            "payload": ["log_index", "from_address", "to_address", "value"],
        },
        channels=[{"type": "webhook", "url": receiver.url + "/hook", "secret": SECRET}],
    )
    chain.mine_random_blocks(12)
    ingest(job, drain)
    before = live_events(definition)
    assert before == transfers_now(definition.created_at) and len(before) >= 10
    assert deliveries_process(limit=1000)["delivered"] == len(before)

    chain.reorg(4, new_branch_length=5)
    ingest(job, drain)
    (reorg,) = DataInvalidation.objects.filter(dataset="evm.blocks", source_event__type="reorg")
    orphaned_hashes = set(reorg.source_event["old_hashes"])
    orphaned = {e for e in before if e[2] in orphaned_hashes}
    assert orphaned, "the reorg should orphan blocks holding transfers"

    retractions = AlertEvent.objects.filter(alert_definition=definition, payload__kind="retraction")
    retracted_ids = {r.payload["retracts"] for r in retractions}
    assert len(retracted_ids) == retractions.count()  # one retraction per event
    retracted = {
        (e.tx_hash, e.payload["row"]["log_index"], e.block_hash)
        for e in AlertEvent.objects.filter(pk__in=retracted_ids)
    }
    assert retracted == orphaned  # exactly the orphaned ones
    # The new branch's transfers raise new events: the live events equal the lake again.
    assert live_events(definition) == transfers_now(definition.created_at)

    # One retraction delivered for each, to the same channel, pointing at the original event.
    deliveries_process(limit=1000)
    bodies = [json.loads(r.body) for r in receiver.at("/hook")]
    delivered_retractions = [
        b["event"]["payload"]["retracts"] for b in bodies if b["type"] == "alert.retraction"
    ]
    assert sorted(delivered_retractions) == sorted(retracted_ids)
    assert not AlertDelivery.objects.exclude(status="delivered").exclude(status="cancelled").exists()

    # Re-evaluating every partition from scratch raises nothing new.
    count = AlertEvent.objects.count()
    evaluator = Job.objects.get(org=org, operator="alert_evaluator")
    DatasetCursor.objects.filter(job=evaluator).delete()
    plan_active_jobs()
    drain()
    assert AlertEvent.objects.count() == count


def test_undelivered_deliveries_of_a_retracted_event_are_cancelled(platform, org, member, receiver):
    from alerting.services import event_retract
    from tests.alerting.conftest import big_transfer_condition, publish

    publish(0, 9)
    definition = alert_definition_create(
        org=org,
        user=member,
        name="d",
        condition=big_transfer_condition(),
        channels=[{"type": "webhook", "url": receiver.url + "/hook", "secret": SECRET}],
    )
    publish(100, 100, key_first=100)
    plan_active_jobs()
    drain()
    event = AlertEvent.objects.get(
        alert_definition=definition, block_number=100, payload__row__value="100000000000000000000"
    )
    retraction = event_retract(event=event)
    assert event_retract(event=event) is None  # once
    assert AlertDelivery.objects.get(alert_event=event).status == "cancelled"
    assert retraction.payload["retracts"] == str(event.pk) and retraction.severity == event.severity
    assert AlertDelivery.objects.get(alert_event=retraction).status == "pending"
