"""Dispatch sends its run messages to django-q2's broker in bulk, as packages django-q2's own workers
read: one INSERT on the database broker, one RPUSH on Redis, in dispatch order. A large dispatch
bundles several tasks into a message; a bundle that runs long sends the rest back."""

import uuid

import pytest
from django_q.brokers import get_broker
from django_q.conf import Conf
from django_q.models import OrmQ
from django_q.signing import SignedPackage

from orchestration import tasks as entry_points
from orchestration.models import Task
from orchestration.services import messages, tasks_dispatch
from orchestration.services.messages import EXECUTE_FUNC, bundles, message_task_ids, send_run_messages
from tests.test_broker import REDIS_URL, redis_answers

pytestmark = pytest.mark.django_db


def assert_run_messages(payloads: list, task_ids: list) -> None:
    """One message per task (a dispatch of a few is not bundled)."""
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


def test_bundles_keep_order_spread_over_many_messages_and_stay_small():
    assert bundles([]) == []
    few = [str(i) for i in range(messages.MIN_MESSAGES)]
    assert bundles(few) == [[task_id] for task_id in few]  # a message each
    for count in (65, 200, 500, 5000):
        ids = [str(i) for i in range(count)]
        cut = bundles(ids)
        assert [task_id for bundle in cut for task_id in bundle] == ids
        assert len(cut) >= messages.MIN_MESSAGES
        assert max(len(bundle) for bundle in cut) <= messages.MAX_BUNDLE


def test_a_large_dispatch_sends_bundles_that_recovery_reads_whole(django_assert_num_queries):
    task_ids = [uuid.uuid4() for _ in range(500)]
    assert send_run_messages(task_ids) == len(bundles(task_ids))
    rows = OrmQ.objects.filter(key=get_broker().list_key).order_by("id")
    named = [task_id for row in rows for task_id in message_task_ids(SignedPackage.loads(row.payload))]
    assert named == [str(task_id) for task_id in task_ids]
    assert message_task_ids({"func": "math.floor", "args": (1.5,)}) == []


def test_a_bundle_runs_its_tasks_in_order_and_sends_back_what_is_left_after_its_time(monkeypatch, noop_tasks):
    bundle = noop_tasks(3)
    assert entry_points.task_execute(*(str(t.id) for t in bundle)) == "succeeded, succeeded, succeeded"
    finished = [Task.objects.get(pk=t.id).completed_at for t in bundle]
    assert finished == sorted(finished)

    monkeypatch.setattr(messages, "BUNDLE_SECONDS", 0.0)  # every task outlasts the bundle's time
    first, *rest = noop_tasks(3)
    outcome = entry_points.task_execute(str(first.id), *(str(t.id) for t in rest))
    assert outcome == "succeeded, 2 sent back"
    assert [Task.objects.get(pk=t.id).status for t in rest] == ["queued", "queued"]  # not run here
    # Sent back one per message, in order, for as many free workers.
    rows = OrmQ.objects.filter(key=get_broker().list_key).order_by("id")
    assert [message_task_ids(SignedPackage.loads(row.payload)) for row in rows] == [[str(t.id)] for t in rest]


@pytest.fixture
def noop_tasks(db, settings, tmp_path):
    """Queued tasks of a job whose tasks carry no partitions (nothing for the operator to read)."""
    from testkit.factories import OrgFactory
    from tests.orchestration.test_task_fast_path import idle_job, pending

    settings.STORAGE_URL = (tmp_path / "lake").as_uri()
    job = idle_job(OrgFactory(slug="acme"), "noop")

    def make(count: int) -> list[Task]:
        made = pending(job, count)
        assert len(tasks_dispatch(enqueue=False)) == count
        return made

    return make
