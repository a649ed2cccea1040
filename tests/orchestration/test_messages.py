"""Dispatch sends its "run task X" messages to django-q2's broker in bulk, as packages django-q2's
own workers read: one INSERT on the database broker, one RPUSH on Redis, in dispatch order."""

import uuid

import pytest
from django_q.brokers import get_broker
from django_q.conf import Conf
from django_q.models import OrmQ
from django_q.signing import SignedPackage

from orchestration.services.messages import EXECUTE_FUNC, send_run_messages
from tests.test_broker import REDIS_URL, redis_answers

pytestmark = pytest.mark.django_db


def assert_run_messages(payloads: list, task_ids: list) -> None:
    packages = [SignedPackage.loads(payload) for payload in payloads]
    assert [package["args"] for package in packages] == [(str(task_id),) for task_id in task_ids]
    for package in packages:
        assert package["func"] == EXECUTE_FUNC
        assert package["save"] is False  # the tasks table records the outcome
        assert package["kwargs"] == {}
        assert len(package["id"]) == 32
    assert len({package["id"] for package in packages}) == len(packages)


def test_database_broker_gets_one_row_per_task_in_order(django_assert_num_queries):
    task_ids = [uuid.uuid4() for _ in range(5)]
    with django_assert_num_queries(1):  # one INSERT for the batch
        assert send_run_messages(task_ids) == 5
    rows = list(OrmQ.objects.filter(key=get_broker().list_key).order_by("id"))
    assert_run_messages([row.payload for row in rows], task_ids)
    assert all(row.lock is not None for row in rows)  # waiting to be fetched, as ORM.enqueue leaves it


def test_nothing_to_send_sends_nothing(django_assert_num_queries):
    with django_assert_num_queries(0):
        assert send_run_messages([]) == 0


@pytest.mark.skipif(not redis_answers(), reason="no Redis on 127.0.0.1:6379")
def test_redis_broker_gets_one_push_for_the_batch(monkeypatch):
    import redis

    queue = f"chainlake-test-{uuid.uuid4().hex[:8]}"
    monkeypatch.setattr(Conf, "ORM", None)
    monkeypatch.setattr(Conf, "REDIS", REDIS_URL)
    monkeypatch.setattr(Conf, "CLUSTER_NAME", queue)
    monkeypatch.setattr(Conf, "PREFIX", queue)
    broker = get_broker()
    assert type(broker).__name__ == "Redis"
    connection = redis.Redis.from_url(REDIS_URL)
    task_ids = [uuid.uuid4() for _ in range(4)]
    try:
        assert send_run_messages(task_ids) == 4
        assert_run_messages(connection.lrange(broker.list_key, 0, -1), task_ids)
    finally:
        connection.delete(broker.list_key)
