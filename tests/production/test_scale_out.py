"""Scale-out on real processes: two ``qcluster`` processes share one broker (Redis, then the ORM)
and an S3 lake (moto's server); the demo DAG runs end to end; one cluster is ``kill -9``ed in the
middle of its work and the other finishes everything; the final lake equals a clean run.

The test process plays the periodic tick (reap, plan, dispatch) every half second, as in
``tests/orchestration/test_workers.py``. Cluster ``a`` holds every publish open for a minute (the
fault-injection setting), so the kill always lands inside work it has claimed.
"""

import hashlib
import os
import signal
import uuid

import psutil
import pyarrow as pa
import pytest
from django.core.management import call_command

from orchestration import services
from orchestration.models import Job, Task, TaskInput
from orgs.models import platform_org
from testkit.factories import UserFactory
from testkit.s3 import moto_s3_bucket
from testkit.workers import QCluster, wait_for
from tests.orchestration.conftest import drain
from versioning.models import DataInvalidation, DatasetCursor, PartitionVersion
from versioning.storage import lake

pytestmark = [pytest.mark.slow, pytest.mark.django_db(transaction=True)]

DATASETS = ("evm.blocks", "evm.transactions", "evm.logs", "evm.transfers", "evm.daily_transfer_stats")
REDIS_URL = os.environ.get("CHAINLAKE_TEST_REDIS_URL", "redis://127.0.0.1:6379/0")


@pytest.fixture(scope="module")
def s3_bucket():
    with moto_s3_bucket("scale-out") as bucket:
        yield bucket


def redis_reachable() -> bool:
    import redis

    try:
        return bool(redis.Redis.from_url(REDIS_URL, socket_connect_timeout=1).ping())
    except redis.RedisError:
        return False


@pytest.fixture(params=["redis", "orm"])
def broker(request, monkeypatch, settings):
    """The broker of the clusters and of this process's dispatches; a queue name of this run's own,
    so other users of the same Redis never take our messages."""
    from django_q.conf import Conf

    queue = f"chainlake-scale-{uuid.uuid4().hex[:8]}"
    monkeypatch.setattr(Conf, "CLUSTER_NAME", queue)
    monkeypatch.setattr(Conf, "PREFIX", queue)  # the salt of the messages' signature
    env = {"CHAINLAKE_QUEUE_NAME": queue}
    if request.param == "redis":
        if not redis_reachable():
            pytest.skip(f"no Redis answers at {REDIS_URL} (set CHAINLAKE_TEST_REDIS_URL)")
        monkeypatch.setattr(Conf, "ORM", None)
        monkeypatch.setattr(Conf, "REDIS", REDIS_URL)
        settings.REDIS_URL = REDIS_URL
        env["REDIS_URL"] = REDIS_URL
    yield env
    if request.param == "redis":
        import redis

        connection = redis.Redis.from_url(REDIS_URL)
        for key in connection.scan_iter(f"django_q:{queue}:*"):  # the queue and processing lists
            connection.delete(key)


@pytest.fixture
def demo(settings):
    settings.PYTHON_CALLABLE_MODULES = ["chains.demo"]
    settings.TASK_RETRY_BASE_SECONDS = 0.5
    settings.TASK_RETRY_CAP_SECONDS = 2
    settings.TASK_QUEUED_REDISPATCH_SECONDS = 5
    os.environ.pop("CHAINLAKE_EVM_RPC_URL", None)
    UserFactory(org=platform_org(), is_superuser=True)
    call_command("seed_demo_pipeline", quiet=True)
    # A lost worker is noticed after a few seconds instead of a minute.
    Job.objects.update(heartbeat_timeout_seconds=6)


def tick():
    services.tasks_reap()
    services.plan_active_jobs()
    services.tasks_dispatch()


def checksum(table: pa.Table) -> tuple[int, str]:
    digests = sorted(hashlib.sha256(repr(row).encode()).hexdigest() for row in table.to_pylist())
    return len(digests), hashlib.sha256("".join(digests).encode()).hexdigest()


def lake_checksums() -> dict[str, tuple[int, str]]:
    sums = {}
    for dataset in (*DATASETS, "demo.labelled_transfers"):
        rows = PartitionVersion.objects.filter(dataset=dataset).order_by("partition_key")
        sums[dataset] = checksum(pa.concat_tables([lake().read_table(pv.location) for pv in rows]))
    return sums


def clean_run() -> dict[str, tuple[int, str]]:
    """The DAG built in this process on a lake of its own, then the catalog emptied again."""
    services.plan_active_jobs()
    drain()
    sums = lake_checksums()
    for model in (TaskInput, Task, PartitionVersion, DatasetCursor, DataInvalidation):
        model.objects.all().delete()
    return sums


def complete() -> bool:
    done = not Task.objects.filter(status__in=Task.LIVE_STATUSES).exists()
    built = PartitionVersion.objects.filter(dataset="evm.daily_transfer_stats").exists()
    labelled = PartitionVersion.objects.filter(dataset="demo.labelled_transfers").count() == 5
    return done and built and labelled


def cluster_pids(cluster: QCluster) -> set[int]:
    parent = psutil.Process(cluster.process.pid)
    return {parent.pid, *(child.pid for child in parent.children(recursive=True))}


def test_two_clusters_one_killed_the_other_finishes_and_the_lake_equals_a_clean_run(
    broker, demo, s3_bucket, settings, tmp_path
):
    settings.STORAGE_URL = (tmp_path / "clean-lake").as_uri()
    expected = clean_run()
    assert expected["evm.blocks"][0] == 5000 and expected["evm.transfers"][0] > 0

    lake_url = f"{s3_bucket}/{uuid.uuid4().hex}"
    settings.STORAGE_URL = lake_url
    common = {
        **broker,
        "CHAINLAKE_PYTHON_CALLABLE_MODULES": "chains.demo",
        "CHAINLAKE_QUEUED_REDISPATCH_SECONDS": "5",
    }
    victim = QCluster(
        lake_url=lake_url,
        log_path=tmp_path / "a.log",
        workers=1,
        env={**common, "CHAINLAKE_FAULT_PUBLISH_PAUSE_SECONDS": "60"},
    )
    survivor = QCluster(lake_url=lake_url, log_path=tmp_path / "b.log", workers=1, env=common)
    try:
        victim_pids = cluster_pids(victim)
        services.plan_active_jobs()
        services.tasks_dispatch()

        def victim_is_working() -> bool:
            victim_pids.update(cluster_pids(victim))
            running = Task.objects.filter(status="running").values_list("worker_id", flat=True)
            return any(int(worker.split(":")[1]) in victim_pids for worker in running)

        try:
            wait_for(victim_is_working, timeout=120, tick=tick, what="work on cluster a")
        except AssertionError:
            pytest.fail(f"cluster a never took work:\n{victim.output()}")
        taken = [
            t for t in Task.objects.filter(status="running") if int(t.worker_id.split(":")[1]) in victim_pids
        ]
        os.killpg(victim.process.pid, signal.SIGKILL)
        victim.process.wait(timeout=10)

        try:
            wait_for(complete, timeout=300, tick=tick, what="the survivor to finish")
        except AssertionError:
            pytest.fail(f"the survivor did not finish:\n{survivor.output()}")
        assert survivor.alive()
        assert lake_checksums() == expected
        assert not Task.objects.exclude(status="succeeded").exists()
        for task in taken:  # the work cluster a held was taken over, on a later attempt
            task.refresh_from_db()
            assert task.status == "succeeded" and task.attempts >= 2
            assert int(task.worker_id.split(":")[1]) not in victim_pids
        workers = {w.split(":")[1] for w in Task.objects.values_list("worker_id", flat=True)}
        assert workers and not workers & {str(pid) for pid in victim_pids}
    finally:
        victim.stop()
        survivor.stop()
