"""The alert_evaluator through the engine (plan -> claim -> run -> publish) in this process, over a
chain dataset published partition by partition."""

from datetime import timedelta

import pytest
from django.utils import timezone

from alerting.models import AlertDelivery, AlertEvent
from alerting.services import (
    alert_definition_backtest,
    alert_definition_create,
    alert_definition_silence,
    alert_definition_test_fire,
)
from orchestration import services as engine
from orchestration.models import Job
from tests.alerting.conftest import DATASET, HUGE, big_transfer_condition, block_hash, publish
from tests.orchestration.conftest import drain
from versioning.models import DatasetCursor

pytestmark = pytest.mark.django_db


def evaluate():
    engine.plan_active_jobs()
    drain()


def webhook(receiver, path="/hook"):
    from tests.alerting.conftest import SECRET

    return {"type": "webhook", "url": receiver.url + path, "secret": SECRET}


def test_events_only_for_new_data_one_job_per_dataset_all_fields_filled(platform, org, member, receiver):
    publish(0, 99)  # history: before the definition, so never an event (backtest covers it)
    big = alert_definition_create(
        org=org, user=member, name="big", condition=big_transfer_condition(), channels=[webhook(receiver)]
    )
    huge = alert_definition_create(
        org=org,
        user=member,
        name="max uint",
        condition={"dataset": DATASET, "where": {"column": "value", "op": "eq", "value": HUGE}},
    )
    jobs = Job.objects.filter(org=org, operator="alert_evaluator")
    assert jobs.count() == 1  # one evaluator (one scan) for both definitions on the dataset
    job = jobs.get()
    assert job.input_datasets == [DATASET] and job.activation == "reactive"

    publish(100, 119)
    evaluate()
    big_events = AlertEvent.objects.filter(alert_definition=big)
    # blocks 100..119: every 10^18*n transfer (20) plus the 2^256-1 ones on 110 (100 too): 22
    assert big_events.count() == 22
    assert AlertEvent.objects.filter(alert_definition=huge).count() == 2
    event = big_events.get(block_number=110, payload__row__value=HUGE)
    assert event.chain_id == 1
    assert event.block_hash == block_hash(110)
    assert event.tx_hash.startswith("0x")
    assert event.source_dataset == DATASET
    assert event.partition_key == "blocks_00000100"
    assert event.cursor_value == "110"
    assert event.producer_job_id == job.pk and event.producer_task_id is not None
    assert event.severity == "critical"
    assert event.payload["row"] == {
        "value": HUGE,
        "from_address": "0x" + f"{110 % 7:040x}",
        "to_address": "0x" + f"{110 % 5:040x}",
    }
    # One delivery per event and channel; the definition without channels has none.
    assert AlertDelivery.objects.filter(alert_event__alert_definition=big).count() == 22
    assert not AlertDelivery.objects.filter(alert_event__alert_definition=huge).exists()


def test_reevaluating_the_same_partitions_never_duplicates(platform, org, member):
    publish(0, 9)
    definition = alert_definition_create(org=org, user=member, name="big", condition=big_transfer_condition())
    publish(100, 109)
    evaluate()
    assert AlertEvent.objects.filter(alert_definition=definition).count() == 11
    # The same rows published again (a rewrite) and the cursor forgotten (a crash before publish):
    publish(100, 109)
    DatasetCursor.objects.filter(job__operator="alert_evaluator").delete()
    evaluate()
    assert AlertEvent.objects.filter(alert_definition=definition).count() == 11


def test_confirmations_count_from_the_dataset_head(platform, org, member):
    publish(0, 9)
    definition = alert_definition_create(
        org=org, user=member, name="deep", condition=big_transfer_condition(confirmations=5)
    )
    publish(100, 109)  # head 109: rows up to block 104 are confirmed
    evaluate()
    blocks = set(
        AlertEvent.objects.filter(alert_definition=definition).values_list("block_number", flat=True)
    )
    assert blocks == set(range(100, 105))
    publish(110, 112, key_first=110)  # head 112: up to 107, from the partition waiting for it
    evaluate()
    blocks = set(
        AlertEvent.objects.filter(alert_definition=definition).values_list("block_number", flat=True)
    )
    assert blocks == set(range(100, 108))


def test_storm_past_the_rate_limit_becomes_one_digest(platform, org, member, receiver):
    org.settings = {"alert_rate_limit_per_minute": 5}
    org.save()
    publish(0, 9)
    definition = alert_definition_create(
        org=org, user=member, name="storm", condition=big_transfer_condition(), channels=[webhook(receiver)]
    )
    publish(100, 129)
    evaluate()
    events = AlertEvent.objects.filter(alert_definition=definition)
    plain = events.filter(payload__kind="event")
    assert plain.count() == 33  # every match is recorded
    assert plain.filter(payload__digested=True).count() == 28
    digest = events.get(payload__kind="digest")
    assert digest.payload["count"] == 28
    delivered_events = set(AlertDelivery.objects.values_list("alert_event_id", flat=True))
    assert len(delivered_events) == 6  # five events and the digest
    assert digest.pk in delivered_events


def test_silenced_definition_records_but_delivers_nothing(platform, org, member, receiver):
    publish(0, 9)
    definition = alert_definition_create(
        org=org, user=member, name="quiet", condition=big_transfer_condition(), channels=[webhook(receiver)]
    )
    alert_definition_silence(definition=definition, until=timezone.now() + timedelta(hours=1))
    publish(100, 104)
    evaluate()
    assert (
        AlertEvent.objects.filter(alert_definition=definition, payload__silenced=True).count() == 6
    )  # and 2^256-1 on 100
    assert not AlertDelivery.objects.exists()


def test_disabled_definition_is_not_evaluated_and_its_job_pauses(platform, org, member):
    from alerting.services import alert_definition_set_enabled

    publish(0, 9)
    definition = alert_definition_create(org=org, user=member, name="off", condition=big_transfer_condition())
    alert_definition_set_enabled(definition=definition, enabled=False)
    assert not Job.objects.get(org=org, operator="alert_evaluator").active
    publish(100, 104)
    evaluate()
    assert not AlertEvent.objects.exists()


def test_backtest_counts_history_without_creating_events(platform, org, member):
    publish(0, 99)
    publish(100, 199, key_first=100)
    definition = alert_definition_create(org=org, user=member, name="bt", condition=big_transfer_condition())
    result = alert_definition_backtest(
        definition=definition, reader=definition.user, first="blocks_00000100", last="blocks_00000100"
    )
    assert (result.partitions, result.rows_scanned, result.events) == (1, 200, 110)
    assert len(result.sample) == 10 and result.sample[0]["block_number"] >= 100
    everything = alert_definition_backtest(definition=definition, reader=definition.user)
    assert everything.events == 120  # and the ten 2^256-1 transfers of blocks 0..90
    assert not AlertEvent.objects.exists()


def test_test_fire_sends_one_marked_sample(platform, org, member, receiver):
    publish(0, 9)
    definition = alert_definition_create(
        org=org, user=member, name="tf", condition=big_transfer_condition(), channels=[webhook(receiver)]
    )
    event = alert_definition_test_fire(definition=definition, user=member)
    assert event.payload["kind"] == "sample" and event.payload["sample"] is True
    assert event.block_number in (0, 10) or event.block_number is None
    assert AlertDelivery.objects.filter(alert_event=event).count() == 1


def test_deleting_the_last_definition_pauses_the_evaluator(
    platform, org, member, django_capture_on_commit_callbacks
):
    publish(0, 9)
    first = alert_definition_create(org=org, user=member, name="a", condition=big_transfer_condition())
    second = alert_definition_create(org=org, user=member, name="b", condition=big_transfer_condition())
    job = Job.objects.get(org=org, operator="alert_evaluator")
    with django_capture_on_commit_callbacks(execute=True):
        first.delete()
    job.refresh_from_db()
    assert job.active
    with django_capture_on_commit_callbacks(execute=True):
        second.delete()
    job.refresh_from_db()
    assert not job.active
