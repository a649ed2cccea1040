"""Hostile receivers, against real HTTP and SMTP servers on loopback: one that trickles its answer a
byte at a time ends its own attempt at the delivery deadline and delays no other channel; redirects
are failed attempts that reach nobody; the lease fence holds on the owner, not only the attempt."""

import os
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
from django.db import connection
from django.utils import timezone

from alerting.channels import SendResult, send_email
from alerting.models import AlertDelivery
from alerting.services import delivery_redeliver
from alerting.services.deliveries import (
    Lease,
    deliveries_lease,
    deliveries_process,
    deliveries_record,
    delivery_record,
    lease_seconds,
)
from alerting.tasks import deliveries_drain
from platform_site.config import ConfigError, delivery_deadline, env_seconds
from tests.alerting.conftest import SECRET
from tests.alerting.receiver import Answer
from tests.alerting.test_deliveries import fire, make_definition, only_delivery

ROOT = Path(__file__).resolve().parents[2]
TRICKLE = Answer(trickle_seconds=0.5, body=b"ok" * 10)


@pytest.fixture
def short_deadline(settings):
    settings.ALERT_DELIVERY_DEADLINE = 1.5
    settings.ALERT_DELIVERY_LEASE_SECONDS = 6.5
    settings.ALERT_DELIVERY_READ_TIMEOUT = 2  # per read: a trickle never trips it
    settings.ALERT_RETRY_SCALE = 100  # a failed attempt is not due again during the test


def webhook(receiver, path: str) -> dict:
    return {"type": "webhook", "url": receiver.url + path, "secret": SECRET}


@pytest.mark.django_db(transaction=True)
def test_a_trickling_receiver_ends_at_the_deadline_and_delays_no_other_channel(
    org, member, receiver, short_deadline
):
    receiver.script("/slow", TRICKLE)
    receiver.script("/gone", Answer(status=410))
    definition = make_definition(
        org,
        member,
        [
            webhook(receiver, "/slow"),
            webhook(receiver, "/a"),
            webhook(receiver, "/gone"),
            webhook(receiver, "/b"),
            {"type": "slack", "webhook_url": receiver.url + "/slack"},
        ],
    )
    event = fire(definition)
    fired = timezone.now()
    started = time.monotonic()

    def first_worker():
        try:
            deliveries_process(threads=2)
        finally:
            connection.close()

    def second_worker():  # polls like another worker host, for as long as a lease lasts
        try:
            while time.monotonic() - started < lease_seconds() + 1:
                deliveries_process(threads=2)
                time.sleep(0.1)
        finally:
            connection.close()

    workers = [threading.Thread(target=first_worker), threading.Thread(target=second_worker)]
    for worker in workers:
        worker.start()
    workers[0].join(timeout=30)
    first_done = time.monotonic() - started
    workers[1].join(timeout=30)

    deliveries = {d.id: d for d in AlertDelivery.objects.filter(alert_event=event)}
    by_path = {}
    for delivery in deliveries.values():
        by_path.setdefault(delivery.channel, []).append(delivery)
    webhooks = sorted(by_path["webhook"], key=lambda d: d.id)  # in the definition's channel order
    slow, to_a, gone, to_b = webhooks
    (slack,) = by_path["slack"]
    # Every other channel: delivered once, before the trickling one's deadline.
    for path in ("/a", "/b", "/slack", "/gone", "/slow"):
        assert len(receiver.at(path)) == 1, path
    for delivery in (to_a, to_b, slack):
        assert delivery.status == "delivered" and delivery.attempt == 1
        assert (delivery.delivered_at - fired).total_seconds() < 1.2
    # The 410 of another channel is recorded, and that channel disabled.
    assert gone.status == "dead" and "HTTP 410" in gone.error_message
    definition.refresh_from_db()
    assert definition.channels[2]["disabled"] is True
    # The trickle: one attempt, cut at the deadline (1.5 s), not at 2 s per read times its bytes.
    assert slow.status == "failed" and slow.attempt == 1
    assert "timed out: no complete answer within 1.5 s" in slow.error_message
    took = (slow.updated_at - slow.last_attempt_at).total_seconds()
    assert 1.4 <= took < 2.5, took
    assert first_done < 3, first_done


def test_a_trickling_smtp_server_ends_at_the_deadline(org, member, short_deadline, settings):
    with socket.socket() as server:
        server.bind(("127.0.0.1", 0))
        server.listen()
        settings.EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
        settings.EMAIL_HOST, settings.EMAIL_PORT = server.getsockname()
        settings.EMAIL_TIMEOUT = 2  # per operation: a trickle never trips it

        def trickle():
            peer, _ = server.accept()
            with peer:
                try:
                    for byte in b"220 smtp.example.com ESMTP a very slow greeting indeed\r\n":
                        peer.sendall(bytes([byte]))
                        time.sleep(0.5)
                except OSError:
                    pass

        threading.Thread(target=trickle, daemon=True).start()
        started = time.monotonic()
        result = send_email({"to": ["oncall@example.com"]}, message_id="m", document=sample_document())
        took = time.monotonic() - started
    assert not result.ok and result.error == "timed out: no complete answer within 1.5 s"
    assert 1.4 <= took < 2.5, took


def sample_document() -> dict:
    return {"type": "alert.sample", "event": {"id": "m", "severity": "info", "payload": {}}}


@pytest.mark.parametrize("status", [301, 302, 303, 307, 308])
def test_a_redirect_is_a_failed_attempt_and_the_target_receives_nothing(org, member, receiver, status):
    receiver.script("/hook", Answer(status=status, headers={"Location": receiver.url + "/elsewhere?k=v"}))
    definition = make_definition(org, member, [webhook(receiver, "/hook")])
    event = fire(definition)
    assert deliveries_process()["failed"] == 1
    delivery = only_delivery(event)
    assert delivery.status == "failed" and delivery.delivered_at is None
    assert delivery.error_message.startswith(
        f"HTTP {status}: redirected to 127.0.0.1 (not followed); retry 2/8"
    )
    assert receiver.at("/elsewhere") == []  # neither the signed body (307) nor a bodyless GET (302)
    assert len(receiver.at("/hook")) == 1


def test_a_worker_whose_lease_was_taken_over_records_nothing_even_with_the_same_attempt(
    org, member, receiver
):
    """Worker A leases attempt 1 and hangs; an operator redelivers (attempts start again at 0) and
    worker B leases the delivery, again as attempt 1. Only the lease owner tells A from B."""
    definition = make_definition(org, member, [webhook(receiver, "/hook")])
    event = fire(definition)
    (lease_a,) = deliveries_lease(owner="worker-a")
    delivery_redeliver(delivery=only_delivery(event))
    (lease_b,) = deliveries_lease(owner="worker-b")
    assert lease_a.attempt == lease_b.attempt == 1
    # A's outcome, whichever it is, is fenced out: the batch path (delivered) and the single one.
    assert deliveries_record(outcomes=[(lease_a, SendResult(ok=True))]) == {lease_a.delivery_id: None}
    assert delivery_record(lease=lease_a, result=SendResult(ok=False, error="A failed")) is None
    assert delivery_record(lease=lease_a, result=SendResult(ok=False, error="gone", gone=True)) is None
    delivery = only_delivery(event)
    assert delivery.status == "pending" and delivery.lease_owner == "worker-b" and not delivery.error_message
    assert deliveries_record(outcomes=[(lease_b, SendResult(ok=True))]) == {lease_b.delivery_id: "delivered"}


def test_an_attempt_is_cut_to_its_lease(settings):
    settings.ALERT_DELIVERY_DEADLINE = 15
    lease = Lease(delivery_id=None, owner="w", attempt=1, expires_at=time.monotonic() + 8)
    assert 2.5 < lease.attempt_deadline() <= 3  # 8 s of lease minus 5 s to record the outcome
    ending = Lease(delivery_id=None, owner="w", attempt=1, expires_at=time.monotonic() + 4)
    assert ending.attempt_deadline() <= 0  # not started at all
    # A lease always outlives the attempt it covers, even if the settings are changed at run time.
    settings.ALERT_DELIVERY_LEASE_SECONDS = 10
    assert lease_seconds() == 20


def test_the_delivery_deadline_must_be_below_the_lease(monkeypatch):
    assert delivery_deadline(15, 60) == 15
    with pytest.raises(ConfigError, match="CHAINLAKE_ALERT_DELIVERY_DEADLINE=60 must be at least 5 s below"):
        delivery_deadline(60, 60)
    monkeypatch.setenv("CHAINLAKE_ALERT_DELIVERY_DEADLINE", "soon")
    with pytest.raises(ConfigError, match="'soon' is not a positive number of seconds"):
        env_seconds("CHAINLAKE_ALERT_DELIVERY_DEADLINE", 15)
    monkeypatch.setenv("CHAINLAKE_ALERT_DELIVERY_DEADLINE", "-1")
    with pytest.raises(ConfigError):
        env_seconds("CHAINLAKE_ALERT_DELIVERY_DEADLINE", 15)


def test_a_deadline_not_below_the_lease_stops_the_platform_with_one_line(tmp_path):
    env = {
        **os.environ,
        "CHAINLAKE_DATA_DIR": str(tmp_path),
        "CHAINLAKE_ALERT_DELIVERY_DEADLINE": "30",
        "CHAINLAKE_ALERT_LEASE_SECONDS": "30",
    }
    done = subprocess.run(
        [sys.executable, "manage.py", "check"], cwd=ROOT, env=env, capture_output=True, text=True, timeout=60
    )
    assert done.returncode != 0
    assert done.stderr.strip() == (
        "chainlake: configuration error: CHAINLAKE_ALERT_DELIVERY_DEADLINE=30 must be at least 5 s below "
        "CHAINLAKE_ALERT_LEASE_SECONDS=30 (a lease must outlive its attempt)"
    )


@pytest.mark.django_db(transaction=True)
def test_the_drain_task_leases_nothing_after_its_time_and_ends_within_one_deadline(
    org, member, receiver, short_deadline
):
    receiver.script("/slow", TRICKLE)
    definition = make_definition(org, member, [webhook(receiver, "/slow"), webhook(receiver, "/a")])
    event = fire(definition)
    started = time.monotonic()
    counts = deliveries_drain(max_seconds=0.5)
    assert time.monotonic() - started < 0.5 + 1.5 + 0.5
    assert (counts["leased"], counts["delivered"], counts["failed"]) == (2, 1, 1)
    fire(definition)  # due now, but the drain's time is over before it starts
    assert deliveries_drain(max_seconds=0) == {"leased": 0, "delivered": 0, "failed": 0, "dead": 0, "lost": 0}
    assert AlertDelivery.objects.filter(alert_event=event, status="delivered").count() == 1
