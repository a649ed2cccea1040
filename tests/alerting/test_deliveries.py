"""Deliveries to a real HTTP receiver and a real SMTP server on loopback: signatures, the retry
schedule, Retry-After, timeouts, 410, the lease fence and redeliver."""

import json
import random
import socket
from datetime import timedelta

import pytest
from aiosmtpd.controller import Controller
from django.utils import timezone
from standardwebhooks import Webhook

from alerting.channels import SendResult
from alerting.models import AlertDelivery
from alerting.services import alert_definition_create, alert_definition_test_fire, delivery_redeliver
from alerting.services.deliveries import (
    MAX_ATTEMPTS,
    RETRY_SCHEDULE_SECONDS,
    deliveries_lease,
    deliveries_process,
    delivery_record,
    retry_delay,
)
from tests.alerting.conftest import OTHER_SECRET, SECRET, big_transfer_condition, publish
from tests.alerting.receiver import Answer

pytestmark = pytest.mark.django_db


def make_definition(org, member, channels):
    publish(0, 9)
    return alert_definition_create(
        org=org, user=member, name="d", condition=big_transfer_condition(), channels=channels
    )


def fire(definition):
    """A sample event with one delivery per channel, due now."""
    return alert_definition_test_fire(definition=definition, user=definition.user)


def only_delivery(event) -> AlertDelivery:
    return AlertDelivery.objects.get(alert_event=event)


def test_webhook_is_signed_per_standard_webhooks_with_every_secret_of_a_rotation(org, member, receiver):
    definition = make_definition(
        org, member, [{"type": "webhook", "url": receiver.url + "/hook", "secret": [SECRET, OTHER_SECRET]}]
    )
    event = fire(definition)
    assert deliveries_process()["delivered"] == 1
    (request,) = receiver.at("/hook")
    assert request.headers["webhook-id"] == str(event.pk)
    assert len(request.headers["webhook-signature"].split(" ")) == 2
    for secret in (SECRET, OTHER_SECRET):  # the receiver may hold either secret
        body = Webhook(secret).verify(request.body, request.headers)
        assert body["type"] == "alert.sample" and body["event"]["id"] == str(event.pk)
    with pytest.raises(Exception, match="signature"):
        tampered = request.body.replace(b"sample", b"simple")
        Webhook(SECRET).verify(tampered, request.headers)
    delivery = only_delivery(event)
    assert delivery.status == "delivered" and delivery.attempt == 1 and delivery.delivered_at


def test_500_fails_and_retries_on_the_schedule(org, member, receiver):
    receiver.script("/hook", Answer(status=500, body=b"boom"))
    definition = make_definition(
        org, member, [{"type": "webhook", "url": receiver.url + "/hook", "secret": SECRET}]
    )
    event = fire(definition)
    before = timezone.now()
    assert deliveries_process()["failed"] == 1
    delivery = only_delivery(event)
    assert delivery.status == "failed" and "HTTP 500: boom" in delivery.error_message
    wait = (delivery.next_attempt_at - before).total_seconds()
    assert 5 * 0.8 - 0.5 <= wait <= 5 * 1.2 + 1
    assert deliveries_process()["leased"] == 0  # not due yet
    AlertDelivery.objects.filter(pk=delivery.pk).update(next_attempt_at=timezone.now())
    assert deliveries_process()["delivered"] == 1
    assert len(receiver.at("/hook")) == 2
    assert len({r.headers["webhook-id"] for r in receiver.at("/hook")}) == 1  # retries share the id


def test_429_retry_after_is_honoured(org, member, receiver):
    receiver.script("/hook", Answer(status=429, headers={"Retry-After": "120"}))
    definition = make_definition(
        org, member, [{"type": "webhook", "url": receiver.url + "/hook", "secret": SECRET}]
    )
    event = fire(definition)
    before = timezone.now()
    deliveries_process()
    delivery = only_delivery(event)
    wait = (delivery.next_attempt_at - before).total_seconds()
    assert 119 <= wait <= 122, wait
    assert "Retry-After" in delivery.error_message


def test_a_receiver_that_hangs_past_the_read_timeout_fails_the_attempt(org, member, receiver, settings):
    settings.ALERT_DELIVERY_READ_TIMEOUT = 0.5
    receiver.script("/hook", Answer(hang_seconds=3))
    definition = make_definition(
        org, member, [{"type": "webhook", "url": receiver.url + "/hook", "secret": SECRET}]
    )
    event = fire(definition)
    assert deliveries_process()["failed"] == 1
    assert "timed out" in only_delivery(event).error_message


def test_410_kills_the_delivery_and_disables_that_channel_only(org, member, receiver):
    receiver.script("/gone", Answer(status=410))
    definition = make_definition(
        org,
        member,
        [
            {"type": "webhook", "url": receiver.url + "/gone", "secret": SECRET},
            {"type": "webhook", "url": receiver.url + "/ok", "secret": SECRET},
        ],
    )
    event = fire(definition)
    counts = deliveries_process()
    assert (counts["dead"], counts["delivered"]) == (1, 1)
    definition.refresh_from_db()
    assert definition.channels[0]["disabled"] is True and "410" in definition.channels[0]["disabled_reason"]
    assert not definition.channels[1].get("disabled")
    # The next event goes to the second channel only; the disabled one is accounted for as dead.
    second = fire(definition)
    deliveries_process()
    assert len(receiver.at("/gone")) == 1 and len(receiver.at("/ok")) == 2
    statuses = sorted(AlertDelivery.objects.filter(alert_event=second).values_list("status", flat=True))
    assert statuses == ["dead", "delivered"]
    assert AlertDelivery.objects.filter(alert_event=event, status="dead").count() == 1


def test_the_last_attempt_makes_the_delivery_dead(org, member, receiver):
    receiver.default = Answer(status=503)
    definition = make_definition(
        org, member, [{"type": "webhook", "url": receiver.url + "/hook", "secret": SECRET}]
    )
    event = fire(definition)
    for _ in range(MAX_ATTEMPTS):
        AlertDelivery.objects.filter(alert_event=event).update(next_attempt_at=timezone.now())
        deliveries_process()
    delivery = only_delivery(event)
    assert delivery.status == "dead" and delivery.attempt == MAX_ATTEMPTS == 8
    assert "gave up after 8 attempts" in delivery.error_message


def test_retry_schedule_with_jitter():
    rng = random.Random(1)
    for attempt, base in enumerate(RETRY_SCHEDULE_SECONDS, start=1):
        delays = [retry_delay(attempt, rng=rng) for _ in range(200)]
        assert base * 0.8 <= min(delays) and max(delays) <= base * 1.2
        assert max(delays) - min(delays) > base * 0.2  # spread, not one fixed value
    assert RETRY_SCHEDULE_SECONDS == (5, 300, 1800, 7200, 18000, 36000, 36000)
    assert retry_delay(3, retry_after=42) == 42


def test_a_worker_that_lost_its_lease_records_nothing(org, member, receiver, settings):
    definition = make_definition(
        org, member, [{"type": "webhook", "url": receiver.url + "/hook", "secret": SECRET}]
    )
    event = fire(definition)
    (first,) = deliveries_lease(owner="worker-a")
    # The lease expires (the worker hung); another worker takes the delivery.
    AlertDelivery.objects.filter(pk=first.delivery_id).update(
        leased_until=timezone.now() - timedelta(seconds=1)
    )
    (second,) = deliveries_lease(owner="worker-b")
    assert second.attempt == first.attempt + 1
    assert delivery_record(lease=first, result=SendResult(ok=True)) is None  # fenced out
    assert delivery_record(lease=second, result=SendResult(ok=False, error="x")) == "failed"
    # Same owner, stale attempt: fenced out too.
    stale = type(second)(second.delivery_id, second.owner, second.attempt - 1)
    assert delivery_record(lease=stale, result=SendResult(ok=True)) is None
    assert only_delivery(event).status == "failed"


def test_a_leased_delivery_is_skipped_by_other_workers(org, member, receiver):
    definition = make_definition(
        org, member, [{"type": "webhook", "url": receiver.url + "/hook", "secret": SECRET}]
    )
    fire(definition)
    assert len(deliveries_lease(owner="a")) == 1
    assert deliveries_lease(owner="b") == []


def test_redeliver_sends_again_with_the_same_webhook_id(org, member, receiver):
    definition = make_definition(
        org, member, [{"type": "webhook", "url": receiver.url + "/hook", "secret": SECRET}]
    )
    event = fire(definition)
    deliveries_process()
    delivery_redeliver(delivery=only_delivery(event))
    assert only_delivery(event).status == "pending"
    deliveries_process()
    ids = [r.headers["webhook-id"] for r in receiver.at("/hook")]
    assert ids == [str(event.pk), str(event.pk)]


def test_slack_incoming_webhook(org, member, receiver):
    definition = make_definition(org, member, [{"type": "slack", "webhook_url": receiver.url + "/slack"}])
    fire(definition)
    assert deliveries_process()["delivered"] == 1
    body = json.loads(receiver.at("/slack")[0].body)
    assert "[TEST]" in body["text"] and "critical" in body["text"]


class Inbox:
    def __init__(self):
        self.messages = []

    async def handle_DATA(self, server, session, envelope):
        self.messages.append(envelope)
        return "250 OK"


@pytest.fixture
def smtp_server(settings):
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    inbox = Inbox()
    controller = Controller(inbox, hostname="127.0.0.1", port=port)
    controller.start()
    settings.EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
    settings.EMAIL_HOST, settings.EMAIL_PORT = "127.0.0.1", port
    yield inbox
    controller.stop()


def test_email_through_a_real_smtp_server(org, member, smtp_server):
    definition = make_definition(org, member, [{"type": "email", "to": ["oncall@example.com"]}])
    event = fire(definition)
    assert deliveries_process()["delivered"] == 1
    (envelope,) = smtp_server.messages
    assert envelope.rcpt_tos == ["oncall@example.com"]
    text = envelope.content.decode()
    assert f"X-Chainlake-Event-Id: {event.pk}" in text and "[TEST]" in text
    assert only_delivery(event).provider_message_id.startswith("<")


def test_email_to_a_closed_port_fails_the_attempt(org, member, settings):
    settings.EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        settings.EMAIL_HOST, settings.EMAIL_PORT = "127.0.0.1", probe.getsockname()[1]
    definition = make_definition(org, member, [{"type": "email", "to": ["oncall@example.com"]}])
    event = fire(definition)
    assert deliveries_process()["failed"] == 1
    assert (
        "Connection" in only_delivery(event).error_message or "refused" in only_delivery(event).error_message
    )


def test_cancelled_delivery_is_never_sent(org, member, receiver):
    definition = make_definition(
        org, member, [{"type": "webhook", "url": receiver.url + "/hook", "secret": SECRET}]
    )
    event = fire(definition)
    AlertDelivery.objects.filter(alert_event=event).update(status="cancelled")
    assert deliveries_process()["leased"] == 0 and not receiver.at("/hook")
