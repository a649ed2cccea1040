"""Claiming skips running and row-locked tasks; a publish is invisible to others until it commits.

Both need a second database connection that sees only committed data, hence real transactions.
"""

import threading

import psycopg
import pyarrow as pa
import pytest
from django.db import connection
from pyarrow.fs import FileSelector

from orchestration.models import Task
from orchestration.operators.base import TaskContext
from orchestration.services import job_backfill, task_claim, task_claim_next, task_publish, tasks_dispatch
from orchestration.services.inputs import inputs_for
from testkit.factories import OrgFactory, sql_job
from testkit.workers import wait_for
from versioning.models import PartitionVersion
from versioning.storage import TMP_DIR, lake

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def job(db, run_tasks):
    from testkit.factories import synthetic_source_job

    source = synthetic_source_job(end_block=299, partition_size=100, activation="manual")
    job_backfill(job=source, first="blocks_00000000")
    run_tasks()
    return sql_job(
        OrgFactory(slug="acme"),
        "a",
        "SELECT * FROM evm.blocks",
        ["evm.blocks"],
        "acme.a",
        activation="manual",
    )


def other_connection() -> psycopg.Connection:
    params = connection.get_connection_params()
    params.pop("context", None)
    params.pop("cursor_factory", None)
    return psycopg.connect(**params)


def test_claim_next_skips_running_and_row_locked_tasks(job):
    job_backfill(job=job, first="blocks_00000000")
    tasks_dispatch(enqueue=False)
    first, second, third = Task.objects.filter(job=job).order_by("created_at", "id")
    assert task_claim(task_id=first.id, worker_id="w0") is not None  # running now
    holder = other_connection()
    try:
        holder.execute("SELECT 1 FROM tasks WHERE id = %s FOR UPDATE", [second.id])  # opens a transaction
        with connection.cursor() as cursor:
            # Without SKIP LOCKED the claim would wait for the holder: fail fast instead of hanging.
            cursor.execute("SET lock_timeout = '3s'")
        try:
            lease = task_claim_next(worker_id="w1")
        finally:
            with connection.cursor() as cursor:
                cursor.execute("RESET lock_timeout")
        assert lease.task_id == third.id
    finally:
        holder.rollback()
        holder.close()
    assert task_claim_next(worker_id="w2").task_id == second.id
    assert task_claim_next(worker_id="w3") is None  # only running tasks are left
    assert set(Task.objects.filter(job=job).values_list("worker_id", flat=True)) == {"w0", "w1", "w2"}


def _publish_open() -> bool:
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT 1 FROM pg_stat_activity WHERE state = 'idle in transaction' AND query LIKE %s LIMIT 1",
            ["%UPDATE tasks SET status = 'succeeded', completed_at = now(), outputs%"],
        )
        return cursor.fetchone() is not None


def test_publish_writes_a_unique_file_and_the_catalog_row_appears_only_at_commit(job, settings):
    job_backfill(job=job, partition_keys=["blocks_00000000"])
    task = job.tasks.get()
    lease = task_claim(task_id=task.id, worker_id="w")
    task.refresh_from_db()
    ctx = TaskContext(job=job, task=task, attempt=1, storage=lake(), inputs=inputs_for(job, task), cursors={})
    ctx.write("acme.a", "blocks_00000000", pa.table({"x": [1, 2]}))
    [output] = ctx.outputs
    location = output.written.location
    # Written through a temporary name, moved to a name unique to this task and attempt.
    assert location.startswith("acme/a/blocks_00000000/") and f"{task.id}-1-" in location
    assert lake().read_table(location).num_rows == 2
    storage = lake()
    assert storage.fs.get_file_info(FileSelector(storage._path(TMP_DIR), allow_not_found=True)) == []
    assert not PartitionVersion.objects.filter(dataset="acme.a").exists()

    settings.FAULT_PUBLISH_PAUSE_SECONDS = 3
    settings.FAULT_PUBLISH_PAUSE_JOB = "a"
    errors = []

    def publish():
        try:
            task_publish(lease=lease, ctx=ctx)
        except Exception as exc:  # reported by the assertion below
            errors.append(exc)
        finally:
            connection.close()

    publisher = threading.Thread(target=publish)
    publisher.start()
    try:
        wait_for(_publish_open, timeout=10, every=0.05, what="the publish transaction to be open")
        # Inside the publish transaction everything is written, yet nothing shows outside it.
        assert not PartitionVersion.objects.filter(dataset="acme.a").exists()
        assert Task.objects.get(pk=task.pk).status == "running"
    finally:
        publisher.join(timeout=30)
    assert errors == []
    row = PartitionVersion.objects.get(dataset="acme.a", partition_key="blocks_00000000")
    assert row.location == location and row.row_count == 2
    assert Task.objects.get(pk=task.pk).status == "succeeded"
