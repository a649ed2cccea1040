"""A timeout, a cancel or a lost lease stops the computation itself, not only the task's record.

Real ``qcluster`` workers run a DuckDB cross join that would compute for minutes; the test watches
the worker process's CPU time through psutil. The test process does not play the reaper: the
worker's own watchdog must notice.
"""

import time

import psutil
import pytest

from orchestration import services
from orchestration.models import Job, Task
from testkit.factories import OrgFactory, platform_org_for_tests, sql_job, synthetic_source_job
from testkit.workers import QCluster, wait_for
from tests.orchestration.conftest import drain

pytestmark = pytest.mark.django_db(transaction=True)

RUNAWAY_SQL = (
    "SELECT count(*) AS n FROM evm.blocks a, evm.blocks b, evm.blocks c, evm.blocks d, evm.blocks e "
    "WHERE a.block_number + b.block_number + c.block_number + d.block_number + e.block_number >= 0"
)


@pytest.fixture
def cluster(settings, tmp_path):
    url = (tmp_path / "shared-lake").as_uri()
    settings.STORAGE_URL = url
    synthetic_source_job(platform_org_for_tests(), end_block=99, partition_size=100, activation="manual")
    services.job_run_now(job=Job.objects.get(name="chain"))
    drain()
    started = []

    def start(**env):
        started.append(QCluster(lake_url=url, log_path=tmp_path / f"qcluster{len(started)}.log", env=env))
        return started[-1]

    yield start
    for c in started:
        c.stop()


def run_on_cluster(job) -> Task:
    services.job_backfill(job=job, partition_keys=["blocks_00000000"])
    services.tasks_dispatch()
    task = job.tasks.get()
    wait_for(
        lambda: Task.objects.filter(pk=task.pk, status="running").exists(),
        timeout=60,
        every=0.2,
        what="the task to start",
    )
    task.refresh_from_db()
    return task


def worker_process(task: Task) -> psutil.Process:
    return psutil.Process(int(task.worker_id.split(":")[1]))


def cpu_seconds(process: psutil.Process) -> float | None:
    try:
        times = process.cpu_times()
    except psutil.NoSuchProcess:
        return None
    return times.user + times.system


def computing(process: psutil.Process, window: float = 1.0) -> bool:
    """Did the process use at least a third of a core over ``window`` seconds?"""
    before = cpu_seconds(process)
    time.sleep(window)
    after = cpu_seconds(process)
    return before is not None and after is not None and after - before > window / 3


def wait_until_idle_or_gone(process: psutil.Process, *, timeout: float) -> None:
    wait_for(lambda: not computing(process), timeout=timeout, every=0, what="the worker to stop computing")


def test_timeout_interrupts_the_query_and_frees_the_core(cluster):
    c = cluster()
    job = sql_job(
        OrgFactory(slug="acme"),
        "runaway",
        RUNAWAY_SQL,
        ["evm.blocks"],
        "acme.runaway",
        activation="manual",
        timeout_seconds=4,
        max_attempts=1,
    )
    task = run_on_cluster(job)
    process = worker_process(task)
    wait_for(lambda: computing(process), timeout=30, every=0, what="the query to compute")
    wait_for(
        lambda: Task.objects.filter(pk=task.pk, status="failed").exists(),
        timeout=30,
        every=0.2,
        what=f"the timeout to fail the task\n{c.output()}",
    )
    # The interrupt stopped the query: the worker is idle again, and the same process lives on.
    wait_until_idle_or_gone(process, timeout=15)
    assert process.is_running()
    task.refresh_from_db()
    assert "timed out after 4s" in task.error_message
    assert c.alive()


def test_cancel_mid_run_stops_the_query_within_seconds(cluster):
    c = cluster()
    job = sql_job(
        OrgFactory(slug="acme"),
        "runaway",
        RUNAWAY_SQL,
        ["evm.blocks"],
        "acme.runaway",
        activation="manual",
        timeout_seconds=3600,
    )
    task = run_on_cluster(job)
    process = worker_process(task)
    wait_for(lambda: computing(process), timeout=30, every=0, what="the query to compute")
    assert services.task_cancel(task=task)
    cancelled_at = time.monotonic()
    wait_until_idle_or_gone(process, timeout=20)
    assert time.monotonic() - cancelled_at < 20
    task.refresh_from_db()
    assert task.status == "cancelled"
    assert not Task.objects.filter(job=job).exclude(pk=task.pk).exists()
    assert c.alive()


def test_an_operator_that_ignores_the_interrupt_ends_its_worker_process(cluster, settings):
    from orchestration.services import job_create

    settings.PYTHON_CALLABLE_MODULES = ["tests.orchestration."]
    c = cluster(CHAINLAKE_TASK_INTERRUPT_GRACE_SECONDS="1")
    job = job_create(
        org=OrgFactory(slug="acme"),
        name="spin",
        runtime="python",
        operator="python",
        source={"callable": "tests.orchestration.slow:spin"},
        input_datasets=["evm.blocks"],
        output_datasets=["acme.spin"],
        activation="manual",
        timeout_seconds=3,
        max_attempts=1,
    )
    task = run_on_cluster(job)
    process = worker_process(task)
    wait_for(lambda: not process.is_running(), timeout=30, every=0.2, what=f"the worker to end\n{c.output()}")
    task.refresh_from_db()
    assert task.status == "failed"
    assert "timed out after 3s; the worker process was ended" in task.error_message
    # The cluster replaced the worker and still runs work.
    assert c.alive()
    services.job_run_now(job=Job.objects.get(name="chain"))
    wait_for(
        lambda: not Task.objects.filter(status__in=Task.LIVE_STATUSES).exists(),
        timeout=60,
        every=0.3,
        what=f"the replaced worker to run work\n{c.output()}",
    )
