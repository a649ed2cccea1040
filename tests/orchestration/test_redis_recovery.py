"""The production broker (Redis) recovers as the database one does: a message a worker, cluster or
whole host took and did not finish comes back within seconds, not after the 600 s fallback.

Against a real Redis (``CHAINLAKE_TEST_REDIS_URL``; skipped with the reason when nothing answers),
each test on a queue name of its own. The first tests drive the broker and the recovery in this
process; the ``slow`` ones run real ``manage.py run_workers`` hosts and kill their processes.
"""

import os
import signal
import time
import uuid

import psutil
import pyarrow as pa
import pytest
import redis
from django_q.conf import Conf

from orchestration import broker as reliable
from orchestration import services
from orchestration import tasks as entry_points
from orchestration.broker import ReliableRedis
from orchestration.models import Job, Task
from orchestration.services import messages
from orchestration.services.recovery import tasks_requeue_lost
from testkit.factories import OrgFactory, platform_org_for_tests, synthetic_source_job
from testkit.workers import QCluster, wait_for
from tests.orchestration.conftest import drain
from tests.orchestration.test_workers import BLOCKS, SIZE, checksum, expected_copies, read_dataset
from versioning.models import PartitionVersion

REDIS_URL = os.environ.get("CHAINLAKE_TEST_REDIS_URL", "redis://127.0.0.1:6379/15")


def redis_reachable() -> bool:
    try:
        return bool(redis.Redis.from_url(REDIS_URL, socket_connect_timeout=1).ping())
    except redis.RedisError:
        return False


pytestmark = [
    pytest.mark.skipif(not redis_reachable(), reason=f"no Redis answers at {REDIS_URL}"),
    pytest.mark.django_db(transaction=True),
]


@pytest.fixture
def queue(monkeypatch, settings):
    """This process's django-q2 on the reliable Redis broker, under a queue name of the test's own;
    returns the environment that puts worker processes on the same queue."""
    name = f"chainlake-test-{uuid.uuid4().hex[:8]}"
    monkeypatch.setattr(Conf, "CLUSTER_NAME", name)
    monkeypatch.setattr(Conf, "PREFIX", name)  # the salt of the messages' signature
    monkeypatch.setattr(Conf, "ORM", None)
    monkeypatch.setattr(Conf, "REDIS", REDIS_URL)
    monkeypatch.setattr(Conf, "BROKER_CLASS", "orchestration.broker.ReliableRedis")
    settings.REDIS_URL = REDIS_URL
    yield {"REDIS_URL": REDIS_URL, "CHAINLAKE_QUEUE_NAME": name}
    connection = redis.Redis.from_url(REDIS_URL)
    for key in connection.scan_iter(f"django_q:{name}:*"):
        connection.delete(key)


def cluster_broker(monkeypatch, cluster_id: str) -> ReliableRedis:
    """The broker as the cluster ``cluster_id`` of a supervisor sees it."""
    monkeypatch.setenv(reliable.CLUSTER_ID_ENV, cluster_id)
    return ReliableRedis()


def queued_tasks(count: int) -> list[Task]:
    from tests.orchestration.test_task_fast_path import idle_job, pending

    job = idle_job(OrgFactory(slug="acme"), "noop")
    made = pending(job, count)
    assert len(services.tasks_dispatch(enqueue=False)) == count
    return made


def named(payloads) -> list[list[str]]:
    from django_q.signing import SignedPackage

    return [messages.message_task_ids(SignedPackage.loads(p)) for p in payloads]


def test_a_taken_message_waits_in_its_clusters_list_until_acknowledged(queue, monkeypatch):
    broker = cluster_broker(monkeypatch, "host-a:1")
    reliable.host_heartbeat(broker, host_id="host-a", cluster_id="host-a:1", ttl=60)
    task_id = str(uuid.uuid4())
    messages.send_run_messages([task_id])
    [(ack_id, _)] = broker.dequeue()
    assert broker.queue_size() == 0
    assert named(broker.connection.lrange(broker.processing_key, 0, -1)) == [[task_id]]
    broker.acknowledge(ack_id)
    assert broker.lock_size() == 0


def test_a_dead_hosts_unfinished_messages_go_back_to_the_head_of_the_queue(queue, monkeypatch):
    live = cluster_broker(monkeypatch, "host-live:1")
    dead = cluster_broker(monkeypatch, "host-dead:1")
    reliable.host_heartbeat(live, host_id="host-live", cluster_id="host-live:1", ttl=60)
    reliable.host_heartbeat(dead, host_id="host-dead", cluster_id="host-dead:1", ttl=0.3)
    first, second, third, waiting = (str(uuid.uuid4()) for _ in range(4))
    messages.send_run_messages([first, second, third, waiting])
    dead.dequeue(), dead.dequeue()
    live.dequeue()
    assert reliable.dead_hosts_reclaim(live) == 0  # both hosts alive: nothing moves
    time.sleep(0.5)  # the dead host's supervisor stopped refreshing its key
    assert reliable.dead_hosts_reclaim(live) == 2
    # Ahead of what was waiting, in the order they were taken; the live host keeps its own.
    assert named(reliable.waiting_messages(live)) == [[first], [second], [waiting]]
    assert named(live.connection.lrange(live.processing_key, 0, -1)) == [[third]]
    assert reliable.dead_hosts_reclaim(live) == 0  # forgotten once put back


def test_a_cluster_of_a_host_declared_dead_stops_taking_messages(queue, monkeypatch):
    broker = cluster_broker(monkeypatch, "host-a:1")
    reliable.host_heartbeat(broker, host_id="host-a", cluster_id="host-a:1", ttl=0.2)
    messages.send_run_messages([str(uuid.uuid4())])
    time.sleep(0.3)
    reliable.dead_hosts_reclaim(broker)
    broker._registered_checked = 0  # its next look at the registry
    assert broker.dequeue() is None  # an orphaned cluster would fill a list nobody watches
    assert broker.queue_size() == 1


def test_a_queued_task_whose_redis_message_a_dead_worker_took_is_sent_again(queue, monkeypatch):
    broker = cluster_broker(monkeypatch, "host-a:1")
    reliable.host_heartbeat(broker, host_id="host-a", cluster_id="host-a:1", ttl=60)
    bundled, waiting = queued_tasks(2)
    messages._push(broker, [messages._package([str(bundled.id)]), messages._package([str(waiting.id)])])
    broker.dequeue()  # taken by a worker of a live cluster, which then died
    assert tasks_requeue_lost(older_than=60, broker=broker) == []  # queued a moment ago
    assert tasks_requeue_lost(older_than=0, broker=broker) == [bundled.id]  # the other still waits
    assert named(reliable.waiting_messages(broker)) == [[str(waiting.id)], [str(bundled.id)]]
    assert broker.lock_size() == 0  # the stale copy is dropped
    assert tasks_requeue_lost(older_than=0, broker=broker) == []
    bundled.refresh_from_db()
    assert bundled.status == "queued"


def test_a_message_put_back_after_its_task_ran_claims_nothing(queue, monkeypatch):
    broker = cluster_broker(monkeypatch, "host-a:1")
    reliable.host_heartbeat(broker, host_id="host-a", cluster_id="host-a:1", ttl=0.2)
    [task] = queued_tasks(1)
    messages.send_run_messages([task.id])
    [(_, message)] = broker.dequeue()
    assert entry_points.task_execute(str(task.id)) == "succeeded"
    task.refresh_from_db()
    # The host dies before django-q2's monitor acknowledged the run: the message comes back.
    time.sleep(0.3)
    assert reliable.dead_hosts_reclaim(broker) == 1
    [(_, again)] = broker.dequeue()
    assert again == message
    assert entry_points.task_execute(str(task.id)) == "not claimed"
    after = Task.objects.get(pk=task.pk)
    assert (after.status, after.attempts, after.worker_id, after.completed_at) == (
        "succeeded",
        1,
        task.worker_id,
        task.completed_at,
    )


# -- real worker hosts ------------------------------------------------------------------------------
@pytest.fixture
def start_host(queue, settings, tmp_path):
    """``manage.py run_workers`` on the test's Redis queue: one worker host."""
    url = (tmp_path / "shared-lake").as_uri()
    settings.STORAGE_URL = url
    settings.PYTHON_CALLABLE_MODULES = ["tests.orchestration."]
    started = []

    def start(**env):
        host = QCluster(
            lake_url=url,
            log_path=tmp_path / f"host{len(started)}.log",
            command="run_workers",
            env={**queue, "CHAINLAKE_WORKER_STALL_SECONDS": "30", **env},
        )
        started.append(host)
        return host

    yield start
    for host in started:
        host.stop()


def slow_copy_job():
    synthetic_source_job(
        platform_org_for_tests(), end_block=BLOCKS - 1, partition_size=SIZE, activation="manual"
    )
    services.job_run_now(job=Job.objects.get(name="chain"))
    drain()  # the chain built here, so the hosts only run the slow copies
    return services.job_create(
        org=OrgFactory(slug="acme"),
        name="slow_copy",
        runtime="python",
        operator="python",
        source={"callable": "tests.orchestration.slow:slow_copy"},
        input_datasets=["evm.blocks"],
        output_datasets=["acme.slow_copy"],
        activation="manual",
        heartbeat_timeout_seconds=2,
        max_attempts=3,
    )


def copies_done(job) -> bool:
    return (
        not Task.objects.filter(status__in=Task.LIVE_STATUSES).exists()
        and PartitionVersion.objects.filter(dataset="acme.slow_copy").count() == BLOCKS // SIZE
    )


def assert_lake_and_fences(job) -> None:
    expected = expected_copies()
    assert checksum(read_dataset("acme.slow_copy")) == checksum(pa.concat_tables(expected.values()))
    for task in Task.objects.filter(job=job):
        # Run at most once per delivery that could claim it: once, or once more after a reap.
        assert task.status == "succeeded" and task.attempts <= 2, (task.id, task.status, task.attempts)


@pytest.mark.slow
def test_a_worker_killed_holding_a_redis_message_its_tasks_finish_within_seconds(start_host):
    job = slow_copy_job()
    services.job_backfill(job=job, partition_keys=["blocks_00000000", "blocks_00000100"])
    first, second = Task.objects.filter(job=job).order_by("partitions")
    services.tasks_dispatch(enqueue=False)  # queued before the host's supervisor dispatches them
    host = start_host(CHAINLAKE_LOST_MESSAGE_SECONDS="3")
    # One message names both (a bundle): its worker runs the first, then would run the second.
    from django_q.brokers import get_broker

    messages._push(get_broker(), [messages._package([str(first.id), str(second.id)])])
    wait_for(
        lambda: Task.objects.filter(pk=first.pk, status="running").exists(),
        timeout=60,
        every=0.1,
        what=f"the bundle's first task to run\n{host.output()}",
    )
    first.refresh_from_db()
    os.kill(int(first.worker_id.split(":")[1]), signal.SIGKILL)
    killed = time.monotonic()
    wait_for(
        lambda: Task.objects.filter(pk=second.pk, status="succeeded").exists(),
        timeout=30,  # the 600 s fallback would be the only way without the processing list
        every=0.2,
        what=f"the second task of the killed worker's message\n{host.output()}",
    )
    assert time.monotonic() - killed < 20
    services.job_backfill(job=job, partition_keys=["blocks_00000200"])
    services.tasks_dispatch()
    wait_for(lambda: copies_done(job), timeout=60, what=f"every copy\n{host.output()}")
    assert_lake_and_fences(job)


@pytest.mark.slow
def test_a_killed_hosts_work_is_taken_by_another_host(start_host, queue):
    from django_q.brokers import get_broker

    job = slow_copy_job()
    # Only reclaiming the dead host's lists can bring its messages back in time: no lost-message
    # resend, and the queued fallback far away.
    env = {"CHAINLAKE_LOST_MESSAGE_SECONDS": "600", "CHAINLAKE_WORKER_HOST_TTL_SECONDS": "2"}
    doomed = start_host(**env)
    services.job_backfill(job=job, partition_keys=[f"blocks_{n:08d}" for n in range(0, BLOCKS, SIZE)])
    services.tasks_dispatch()
    broker = get_broker()

    def holding_everything() -> bool:
        held = len(reliable.fetched_messages(broker))
        return broker.queue_size() == 0 and held == BLOCKS // SIZE

    wait_for(
        lambda: holding_everything() and Task.objects.filter(job=job, status="running").count() == 2,
        timeout=60,
        every=0.1,
        what=f"the doomed host to take every message\n{doomed.output()}",
    )
    [cluster] = [
        p for p in psutil.Process(doomed.process.pid).children() if "qcluster" in " ".join(p.cmdline())
    ]
    os.killpg(doomed.process.pid, signal.SIGKILL)  # the host: its supervisor and its cluster
    os.killpg(cluster.pid, signal.SIGKILL)
    survivor = start_host(**env)
    wait_for(
        lambda: copies_done(job),
        timeout=60,
        what=f"the other host to finish the dead host's work\n{survivor.output()}",
    )
    assert "vanished worker hosts back on the queue" in survivor.output()
    assert_lake_and_fences(job)
    wait_for(lambda: reliable.fetched_messages(broker) == [], timeout=10, what="the last acknowledgements")
