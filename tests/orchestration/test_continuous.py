"""The continuous runner: one long task tails its input and ends after idle_timeout."""

import threading

import pytest
from django.db import connection

from orchestration.models import Task
from orchestration.services import job_plan, job_update, task_execute
from testkit.factories import OrgFactory, platform_org_for_tests, sql_job, synthetic_source_job
from testkit.workers import wait_for
from tests.orchestration.conftest import drain
from versioning.models import PartitionVersion


@pytest.mark.django_db(transaction=True)
def test_continuous_task_tails_new_input_then_stops_when_idle(settings, tmp_path):
    settings.STORAGE_URL = (tmp_path / "lake").as_uri()
    org = OrgFactory(slug="acme")
    source = synthetic_source_job(
        platform_org_for_tests(), end_block=199, partition_size=100, activation="manual"
    )
    job_plan(job=source)
    drain()
    tail = sql_job(
        org,
        "tail",
        "SELECT block_number, miner FROM evm.blocks",
        ["evm.blocks"],
        "acme.tail",
        activation="continuous",
        execution_strategy="streaming",
        update_strategy="append",
        idle_timeout="3s",
        heartbeat_timeout_seconds=5,
        config={"cursor_column": "block_number", "partition_by": "'all'"},
    )
    assert job_plan(job=tail).created == 1
    task = Task.objects.get(job=tail)
    outcome = {}

    def run():
        try:
            outcome["status"] = task_execute(task_id=task.id)
        finally:
            connection.close()

    runner = threading.Thread(target=run)
    runner.start()

    def rows() -> int:
        return sum(PartitionVersion.objects.filter(dataset="acme.tail").values_list("row_count", flat=True))

    wait_for(lambda: rows() == 200, timeout=30, what="the first 200 blocks")
    job_update(job=source, config={"end_block": 299, "partition_size": 100})
    job_plan(job=source)
    for pending in Task.objects.filter(job=source, status="pending"):
        task_execute(task_id=pending.id)
    wait_for(lambda: rows() == 300, timeout=30, what="the new blocks, by the same task")
    assert Task.objects.get(pk=task.pk).status == "running"
    runner.join(timeout=30)
    assert outcome.get("status") == "succeeded"
    task.refresh_from_db()
    assert task.status == "succeeded" and len(task.outputs) >= 2
    assert Task.objects.filter(job=tail).count() == 1  # one task did it all
    assert tail.cursors.get(dataset="evm.blocks").cursor_value == "299"
    assert rows() == 300  # rows past the cursor only: the rebuilt old partitions added nothing
