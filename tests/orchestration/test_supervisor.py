"""The worker supervisor (``manage.py run_workers``) on real processes: retries start when due, a
cluster hung by a killed idle worker is replaced, and a killed cluster's messages run again.

The test process does not play the scheduler here: what recovers, the supervisor recovered.
"""

import os
import re
import signal

import psutil
import pyarrow as pa
import pytest
from django_q.models import OrmQ

from orchestration import services
from orchestration.models import Job, Task
from orchestration.services.recovery import tasks_requeue_lost
from testkit.factories import OrgFactory, platform_org_for_tests, synthetic_source_job
from testkit.workers import QCluster, wait_for
from tests.orchestration.conftest import drain
from tests.orchestration.test_workers import (
    BLOCKS,
    SIZE,
    checksum,
    clean_chain,
    expected_copies,
    read_dataset,
)
from versioning.models import PartitionVersion

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def start_supervisor(settings, tmp_path):
    url = (tmp_path / "shared-lake").as_uri()
    settings.STORAGE_URL = url
    started = []

    def start(**env):
        log_path = tmp_path / f"workers{len(started)}.log"
        supervisor = QCluster(
            lake_url=url,
            log_path=log_path,
            command="run_workers",
            env={"CHAINLAKE_WORKER_STALL_SECONDS": "5", "CHAINLAKE_LOST_MESSAGE_SECONDS": "3", **env},
        )
        started.append(supervisor)
        return supervisor

    yield start
    for supervisor in started:
        supervisor.stop()


def all_done() -> bool:
    return not Task.objects.filter(status__in=Task.LIVE_STATUSES).exists()


def python_job(name: str, function: str, **fields) -> Job:
    return services.job_create(
        org=OrgFactory(slug="acme"),
        name=name,
        runtime="python",
        operator="python",
        source={"callable": f"tests.orchestration.slow:{function}"},
        input_datasets=["evm.blocks"],
        output_datasets=[f"acme.{name}"],
        **fields,
    )


def test_a_retry_starts_within_a_second_of_being_due(start_supervisor, settings):
    settings.PYTHON_CALLABLE_MODULES = ["tests.orchestration."]
    synthetic_source_job(platform_org_for_tests(), end_block=99, partition_size=100, activation="manual")
    services.job_run_now(job=Job.objects.get(name="chain"))
    drain()
    supervisor = start_supervisor(CHAINLAKE_RETRY_BASE_SECONDS="2", CHAINLAKE_RETRY_CAP_SECONDS="2")
    job = python_job("failing", "fail_always", activation="manual", max_attempts=2)
    services.job_backfill(job=job, partition_keys=["blocks_00000000"])
    services.tasks_dispatch()
    task = job.tasks.get()
    wait_for(
        lambda: Task.objects.filter(pk=task.pk, attempts=1, status="pending").exists(),
        timeout=60,
        every=0.1,
        what=f"the first attempt to fail\n{supervisor.output()}",
    )
    task.refresh_from_db()
    due = task.next_retry_at
    wait_for(
        lambda: Task.objects.filter(pk=task.pk, attempts=2).exists(),
        timeout=30,
        every=0.1,
        what=f"the second attempt\n{supervisor.output()}",
    )
    task.refresh_from_db()
    lag = (task.started_at - due).total_seconds()
    # Due in 1-2 s (2 s base with jitter); django-q2's schedule alone would take up to a minute.
    assert 0 <= lag < 2, lag


def test_a_cluster_hung_by_killed_idle_workers_is_replaced(start_supervisor):
    supervisor = start_supervisor()
    wait_for(
        lambda: len(re.findall(r"ready for work at (\d+)", supervisor.log_path.read_text())) >= 2,
        timeout=60,
        what="the workers to start",
    )
    idle = [int(pid) for pid in re.findall(r"ready for work at (\d+)", supervisor.log_path.read_text())]
    for pid in idle:
        os.kill(pid, signal.SIGKILL)  # one of them holds the task queue's lock while it waits
    source = synthetic_source_job(platform_org_for_tests(), end_block=BLOCKS - 1, partition_size=SIZE)
    services.job_run_now(job=source)
    wait_for(
        lambda: (
            PartitionVersion.objects.filter(dataset="evm.blocks").count() == BLOCKS // SIZE and all_done()
        ),
        timeout=120,
        every=0.5,
        what=f"the work to run on a replaced cluster\n{supervisor.output()}",
    )
    assert "replacing it" in supervisor.log_path.read_text()
    assert checksum(read_dataset("evm.blocks")) == checksum(clean_chain()["evm.blocks"])


def test_killing_a_whole_cluster_loses_no_work(start_supervisor, settings):
    settings.PYTHON_CALLABLE_MODULES = ["tests.orchestration."]
    source = synthetic_source_job(platform_org_for_tests(), end_block=BLOCKS - 1, partition_size=SIZE)
    job = python_job(
        "slow_copy", "slow_copy", activation="reactive", heartbeat_timeout_seconds=2, max_attempts=3
    )
    supervisor = start_supervisor()
    services.job_run_now(job=source)
    wait_for(
        lambda: Task.objects.filter(job=job, status="running").exists(),
        timeout=60,
        every=0.2,
        what=f"a running slow task\n{supervisor.output()}",
    )
    clusters = [
        p for p in psutil.Process(supervisor.process.pid).children() if "qcluster" in " ".join(p.cmdline())
    ]
    assert len(clusters) == 1
    os.killpg(clusters[0].pid, signal.SIGKILL)
    wait_for(
        lambda: all_done() and PartitionVersion.objects.filter(dataset="acme.slow_copy").count() == 3,
        timeout=90,
        every=0.5,
        what=f"recovery after the cluster was killed\n{supervisor.output()}",
    )
    expected = expected_copies()
    assert checksum(read_dataset("acme.slow_copy")) == checksum(pa.concat_tables(expected.values()))
    assert not Task.objects.filter(job=job).exclude(status="succeeded").exists()


def test_a_queued_task_whose_message_is_gone_is_sent_again(settings):
    source = synthetic_source_job(platform_org_for_tests(), end_block=99, partition_size=100)
    services.job_run_now(job=source)
    task = Task.objects.get(job=source, status="queued")
    assert OrmQ.objects.count() == 1
    assert tasks_requeue_lost(older_than=0) == []  # its message waits in the broker
    OrmQ.objects.all().delete()  # acknowledged after a failed claim, or fetched by a dead cluster
    assert tasks_requeue_lost(older_than=60) == []  # not yet: it was queued a moment ago
    assert tasks_requeue_lost(older_than=0) == [task.id]
    [message] = OrmQ.objects.all()
    assert list(message.task["args"]) == [str(task.id)]
    task.refresh_from_db()
    assert task.status == "queued"


def test_the_task_of_a_killed_worker_is_retried_at_once_not_after_its_heartbeat(start_supervisor, settings):
    settings.PYTHON_CALLABLE_MODULES = ["tests.orchestration."]
    synthetic_source_job(platform_org_for_tests(), end_block=99, partition_size=100, activation="manual")
    services.job_run_now(job=Job.objects.get(name="chain"))
    drain()
    # A heartbeat timeout far beyond the test: only the supervisor seeing the process end helps.
    job = python_job("slow_copy", "slow_copy", activation="manual", heartbeat_timeout_seconds=600)
    supervisor = start_supervisor()
    services.job_backfill(job=job, partition_keys=["blocks_00000000"])
    wait_for(
        lambda: Task.objects.filter(job=job, status="running").exists(),
        timeout=60,
        every=0.1,
        what=f"the task to run\n{supervisor.output()}",
    )
    task = Task.objects.get(job=job)
    pid = int(task.worker_id.split(":")[1])
    os.kill(pid, signal.SIGKILL)
    wait_for(
        lambda: Task.objects.filter(pk=task.pk, status="succeeded").exists(),
        timeout=30,
        every=0.2,
        what=f"the retry of the killed worker's task\n{supervisor.output()}",
    )
    task.refresh_from_db()
    assert task.attempts == 2


def test_a_cluster_hung_right_after_a_process_died_is_replaced_within_seconds(start_supervisor):
    # The usual stall wait is far beyond the test: a death just before is what shortens it.
    supervisor = start_supervisor(CHAINLAKE_WORKER_STALL_SECONDS="120")
    wait_for(
        lambda: len(re.findall(r"ready for work at (\d+)", supervisor.log_path.read_text())) >= 2,
        timeout=60,
        what="the workers to start",
    )
    for pid in [int(pid) for pid in re.findall(r"ready for work at (\d+)", supervisor.log_path.read_text())]:
        os.kill(pid, signal.SIGKILL)  # one of them holds the task queue's lock while it waits
    source = synthetic_source_job(platform_org_for_tests(), end_block=BLOCKS - 1, partition_size=SIZE)
    services.job_run_now(job=source)
    wait_for(
        lambda: (
            PartitionVersion.objects.filter(dataset="evm.blocks").count() == BLOCKS // SIZE and all_done()
        ),
        timeout=60,
        every=0.5,
        what=f"the work to run on a replaced cluster\n{supervisor.output()}",
    )
    assert "replacing it" in supervisor.log_path.read_text()
