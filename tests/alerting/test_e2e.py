"""End to end on real processes: a qcluster runs a synthetic chain and the alert_evaluator; delivery
workers (``manage.py alert_deliveries``) send to a real HTTP receiver and a real SMTP server on
loopback; faults at the receiver and a delivery worker killed with kill -9 lose nothing."""

import json
import os
import socket
from collections import Counter

import pytest
from aiosmtpd.controller import Controller
from django.conf import settings
from django.db import connection
from standardwebhooks import Webhook

from alerting.models import AlertDelivery, AlertEvent
from alerting.services import alert_definition_create, alert_definition_test_fire
from chains.operators.synthetic_chain import generate
from orchestration import services as engine
from orchestration.models import Job
from testkit.factories import OrgFactory, UserFactory, platform_org_for_tests, synthetic_source_job
from testkit.workers import ManagedProcess, QCluster, wait_for
from tests.alerting.conftest import SECRET
from tests.alerting.receiver import Answer, Receiver

pytestmark = [pytest.mark.slow, pytest.mark.django_db(transaction=True)]

BLOCKS, WIDTH = 200, 50
THRESHOLD = 10**9 + 120  # gas_price is 1e9 + block number (wei, a uint256 decimal string)


class Inbox:
    def __init__(self):
        self.messages = []

    async def handle_DATA(self, server, session, envelope):
        self.messages.append(envelope)
        return "250 OK"


@pytest.fixture
def smtp():
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    inbox = Inbox()
    controller = Controller(inbox, hostname="127.0.0.1", port=port)
    controller.start()
    inbox.port = port
    yield inbox
    controller.stop()


@pytest.fixture
def lake_url(settings, tmp_path):
    url = (tmp_path / "shared-lake").as_uri()
    settings.STORAGE_URL = url
    return url


def worker_env(lake_url, smtp_port=None) -> dict:
    env = {
        **os.environ,
        "CHAINLAKE_DATABASE_NAME": connection.settings_dict["NAME"],
        "STORAGE_URL": lake_url,
        "CHAINLAKE_DATA_DIR": str(settings.DATA_DIR),
        "CHAINLAKE_OUTBOUND_ALLOW": "127.0.0.1/32",
        "CHAINLAKE_ALERT_CONNECT_TIMEOUT": "1",
        "CHAINLAKE_ALERT_READ_TIMEOUT": "2",
        "CHAINLAKE_ALERT_DELIVERY_DEADLINE": "3",  # one attempt, all told
        "CHAINLAKE_ALERT_LEASE_SECONDS": "8",  # the shortest a 3 s attempt allows (3 + 5)
        "CHAINLAKE_ALERT_RETRY_SCALE": "0.01",  # the schedule in hundredths: 0.05 s, 3 s, 18 s...
        "PYTHONUNBUFFERED": "1",
    }
    if smtp_port:
        env.update({"CHAINLAKE_EMAIL_HOST": "127.0.0.1", "CHAINLAKE_EMAIL_PORT": str(smtp_port)})
    return env


def delivery_worker(env: dict, log_path, *, threads: int = 4, batch: int = 20) -> ManagedProcess:
    return ManagedProcess(
        ["alert_deliveries", "--threads", str(threads), "--batch", str(batch)], env=env, log_path=log_path
    )


@pytest.fixture
def processes():
    started = []
    yield started
    for process in started:
        process.stop()


def expected_transactions() -> set[str]:
    """Transactions of the synthetic chain above the threshold, computed straight from the generator."""
    config = {"end_block": BLOCKS - 1, "partition_size": WIDTH, "layout": "evm"}
    hashes = set()
    for first in range(0, BLOCKS, WIDTH):
        for row in generate(config, f"blocks_{first:08d}")["evm.transactions"].to_pylist():
            if int(row["gas_price"]) >= THRESHOLD:
                hashes.add(row["transaction_hash"])
    return hashes


def test_chain_to_evaluator_to_webhook_and_email_on_real_processes(lake_url, tmp_path, smtp, processes):
    platform = platform_org_for_tests()
    source = synthetic_source_job(
        platform, end_block=WIDTH - 1, partition_size=WIDTH, config={"layout": "evm"}, activation="manual"
    )
    cluster = QCluster(
        lake_url=lake_url, log_path=tmp_path / "qcluster.log", env=worker_env(lake_url, smtp.port)
    )
    processes.append(cluster)

    def tick():
        engine.tasks_reap()
        engine.plan_active_jobs()
        engine.tasks_dispatch()

    engine.job_run_now(job=source)
    wait_for(lambda: engine_idle(), timeout=180, tick=tick, what=f"the first partition\n{cluster.output()}")

    org = OrgFactory(slug="acme")
    member = UserFactory(org=org, role="member")
    with Receiver() as receiver:
        definition = alert_definition_create(
            org=org,
            user=member,
            name="expensive gas",
            condition={
                "dataset": "evm.transactions",
                "where": {"column": "gas_price", "op": "gte", "value": str(THRESHOLD)},
                "severity": "warning",
                "payload": ["gas_price", "from_address"],
            },
            channels=[
                {"type": "webhook", "url": receiver.url + "/hook", "secret": SECRET},
                {"type": "email", "to": ["oncall@example.com"]},
            ],
        )
        processes.append(delivery_worker(worker_env(lake_url, smtp.port), tmp_path / "deliveries.log"))
        # The chain grows: every partition is (re)published after the definition exists.
        engine.job_update(job=source, config={**source.config, "end_block": BLOCKS - 1})
        engine.job_run_now(job=source)
        expected = expected_transactions()
        assert expected

        def all_delivered() -> bool:
            events = AlertEvent.objects.filter(alert_definition=definition)
            return (
                set(events.values_list("tx_hash", flat=True)) == expected
                and not AlertDelivery.objects.exclude(status="delivered").exists()
            )

        wait_for(all_delivered, timeout=300, tick=tick, what=f"every event delivered\n{cluster.output()}")

        events = {str(e.pk): e for e in AlertEvent.objects.filter(alert_definition=definition)}
        assert len(events) == len(expected)  # one event per matching transaction, no duplicate
        evaluator = Job.objects.get(org=org, operator="alert_evaluator")
        assert {e.producer_job_id for e in events.values()} == {evaluator.pk}
        webhooks = receiver.at("/hook")
        ids = set()
        for request in webhooks:
            body = Webhook(SECRET).verify(request.body, request.headers)
            assert body["event"]["id"] == request.headers["webhook-id"]
            ids.add(request.headers["webhook-id"])
        assert ids == set(events)
        mailed = Counter(
            line.split(": ", 1)[1]
            for envelope in smtp.messages
            for line in envelope.content.decode().splitlines()
            if line.startswith("X-Chainlake-Event-Id: ")
        )
        assert set(mailed) == set(events)


def engine_idle() -> bool:
    from orchestration.models import Task

    return Task.objects.exists() and not Task.objects.filter(status__in=Task.LIVE_STATUSES).exists()


def test_faults_and_a_worker_killed_mid_send_lose_nothing(lake_url, tmp_path, processes):
    from tests.alerting.conftest import publish

    platform_org_for_tests()
    org = OrgFactory(slug="acme")
    member = UserFactory(org=org, role="member")
    publish(0, 9)
    with Receiver() as receiver:
        # Whatever the first worker sends first hangs; it is killed while waiting for the answer.
        receiver.script("/flaky", Answer(hang_seconds=25))
        receiver.script("/gone", Answer(hang_seconds=25))
        definition = alert_definition_create(
            org=org,
            user=member,
            name="faults",
            condition={"dataset": "evm.transfers", "where": {"column": "value", "op": "gte", "value": 1}},
            channels=[
                {"type": "webhook", "url": receiver.url + "/flaky", "secret": SECRET},
                {"type": "webhook", "url": receiver.url + "/gone", "secret": SECRET},
            ],
        )
        events = [alert_definition_test_fire(definition=definition, user=definition.user) for _ in range(6)]
        first = delivery_worker(worker_env(lake_url), tmp_path / "worker-a.log", threads=1, batch=1)
        processes.append(first)
        wait_for(lambda: receiver.started >= 1, timeout=60, what="a send in flight")
        first.kill9()  # mid-send: its delivery stays leased until the lease expires
        (killed,) = AlertDelivery.objects.filter(lease_owner__isnull=False, status="pending")
        # The next answers: a 500, a 429 with Retry-After, a hang past the read timeout; 410s.
        receiver.script(
            "/flaky",
            Answer(status=500),
            Answer(status=429, headers={"Retry-After": "1"}),
            Answer(hang_seconds=4),
        )
        receiver.script("/gone", *[Answer(status=410)] * 12)
        processes.append(delivery_worker(worker_env(lake_url), tmp_path / "worker-b.log"))

        def settled() -> bool:
            deliveries = AlertDelivery.objects.filter(alert_event__in=events)
            return deliveries.filter(status="delivered").count() == len(events) and deliveries.filter(
                status="dead"
            ).count() == len(events)

        try:
            wait_for(settled, timeout=180, what="every delivery to the working channel")
        except AssertionError:
            state = list(
                AlertDelivery.objects.values_list(
                    "status", "attempt", "error_message", "next_attempt_at", "leased_until"
                )
            )
            raise AssertionError(f"{state}\n{(tmp_path / 'worker-b.log').read_text()[-3000:]}") from None

        # Every event reached the receiver at least once; duplicates carry the same webhook-id.
        seen = Counter(r.headers["webhook-id"] for r in receiver.at("/flaky"))
        assert set(seen) >= {str(e.pk) for e in events}
        for request in receiver.at("/flaky"):
            Webhook(SECRET).verify(request.body, request.headers)
        killed.refresh_from_db()
        assert killed.attempt >= 2 and killed.lease_owner != "" and killed.status in ("delivered", "dead")
        # The 500, the 429 and the timeout were each retried to success on the working channel.
        assert (
            AlertDelivery.objects.filter(alert_event__in=events, status="delivered", attempt__gte=2).count()
            >= 3
        )
        # 410: the channel is disabled, its deliveries dead, and it is called no more.
        definition.refresh_from_db()
        assert definition.channels[1]["disabled"] is True
        assert all(
            "410" in d.error_message or "disabled" in d.error_message
            for d in AlertDelivery.objects.filter(alert_event__in=events, status="dead")
        )
        assert json.loads(receiver.at("/flaky")[0].body)["type"] == "alert.sample"
