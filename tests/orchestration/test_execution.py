"""Claim, fenced lease, heartbeat, retries with backoff, reaper, cancellation, update strategies."""

import random
from datetime import timedelta

import pyarrow as pa
import pytest
from django.db import connection
from django.utils import timezone

from orchestration.models import Task
from orchestration.operators.base import TaskContext
from orchestration.services import (
    LeaseLost,
    backoff_delay,
    job_backfill,
    job_create,
    job_plan,
    task_cancel,
    task_claim,
    task_execute,
    task_fail,
    task_heartbeat,
    task_publish,
    task_retry,
    tasks_dispatch,
    tasks_reap,
)
from orchestration.services.inputs import inputs_for
from testkit.factories import OrgFactory, sql_job, synthetic_source_job
from versioning.models import PartitionVersion
from versioning.storage import lake

CALLS = {"n": 0}


def flaky(table):
    """Fails on its first two calls, then passes its input through."""
    CALLS["n"] += 1
    if CALLS["n"] <= 2:
        raise RuntimeError(f"transient failure {CALLS['n']}")
    return table


def always_fails(table):
    raise RuntimeError("broken")


@pytest.fixture
def org(db):
    return OrgFactory(slug="acme")


@pytest.fixture
def chain(db, run_tasks):
    source = synthetic_source_job(end_block=199, partition_size=100)
    job_plan(job=source)
    run_tasks()
    return source


def python_job(org, name, function, **fields):
    return job_create(
        org=org,
        name=name,
        runtime="python",
        operator="python",
        source={"callable": f"tests.orchestration.test_execution:{function}"},
        input_datasets=["evm.blocks"],
        output_datasets=[f"acme.{name}"],
        activation="manual",
        **fields,
    )


def test_claim_is_atomic_and_fenced(org, chain):
    job = sql_job(org, "a", "SELECT * FROM evm.blocks", ["evm.blocks"], "acme.a", activation="manual")
    job_backfill(job=job, partition_keys=["blocks_00000000"])
    task = job.tasks.get()
    first = task_claim(task_id=task.id, worker_id="w1")
    assert first is not None and first.attempt == 1
    assert task_claim(task_id=task.id, worker_id="w2") is None
    assert task_heartbeat(lease=first)
    # The reaper takes the task away: the old worker's heartbeat and publish are rejected.
    Task.objects.filter(pk=task.pk).update(last_heartbeat=timezone.now() - timedelta(hours=1))
    assert tasks_reap() == 1
    assert not task_heartbeat(lease=first)
    task.refresh_from_db()
    assert task.status == "pending" and "no heartbeat" in task.error_message
    second = task_claim(task_id=task.id, worker_id="w2")
    assert second.attempt == 2
    ctx = TaskContext(job=job, task=task, attempt=1, storage=lake(), inputs=inputs_for(job, task), cursors={})
    ctx.write("acme.a", "blocks_00000000", pa.table({"x": [1]}))
    with pytest.raises(LeaseLost):
        task_publish(lease=first, ctx=ctx)
    assert not PartitionVersion.objects.filter(dataset="acme.a").exists()
    assert task_execute(task_id=task.id) == "not claimed"  # running under w2


def test_failures_retry_with_backoff_then_succeed(org, chain, settings):
    settings.TASK_RETRY_BASE_SECONDS = 5
    CALLS["n"] = 0
    job = python_job(org, "flaky", "flaky", max_attempts=3)
    job_backfill(job=job, partition_keys=["blocks_00000000"])
    task = job.tasks.get()
    before = timezone.now()
    assert task_execute(task_id=task.id) == "pending"
    task.refresh_from_db()
    assert task.attempts == 1
    assert "transient failure 1" in task.error_message and "retry 2/3" in task.error_message
    assert before + timedelta(seconds=2.5) <= task.next_retry_at <= timezone.now() + timedelta(seconds=5)
    assert tasks_dispatch(enqueue=False) == []  # not due yet
    assert task_execute(task_id=task.id) == "pending"  # a retry run by hand still counts
    task.refresh_from_db()
    assert "x 2^1" in task.error_message
    assert task_execute(task_id=task.id) == "succeeded"
    task.refresh_from_db()
    assert task.attempts == 3 and task.error_message is None
    assert PartitionVersion.objects.filter(dataset="acme.flaky").count() == 1


def test_gives_up_after_max_attempts_and_retry_action_resets(org, chain):
    job = python_job(org, "broken", "always_fails", max_attempts=2)
    job_backfill(job=job, partition_keys=["blocks_00000000"])
    task = job.tasks.get()
    task_execute(task_id=task.id)
    assert task_execute(task_id=task.id) == "failed"
    task.refresh_from_db()
    assert "gave up after 2" in task.error_message
    assert task_retry(task=task).status == "pending"
    task.refresh_from_db()
    assert task.attempts == 0


def test_backoff_is_capped_and_jittered(settings):
    settings.TASK_RETRY_BASE_SECONDS = 10
    settings.TASK_RETRY_CAP_SECONDS = 60
    rng = random.Random(1)
    assert backoff_delay(1, rng=rng)[0] == 10
    assert backoff_delay(3, rng=rng)[0] == 40
    capped, jittered = backoff_delay(10, rng=rng)
    assert capped == 60 and 30 <= jittered <= 60
    assert len({backoff_delay(2, rng=rng)[1] for _ in range(5)}) == 5


def test_timeout_is_reaped(org, chain):
    job = sql_job(
        org,
        "a",
        "SELECT * FROM evm.blocks",
        ["evm.blocks"],
        "acme.a",
        activation="manual",
        timeout_seconds=30,
        max_attempts=1,
    )
    job_backfill(job=job, partition_keys=["blocks_00000000"])
    task = job.tasks.get()
    task_claim(task_id=task.id, worker_id="w")
    Task.objects.filter(pk=task.pk).update(started_at=timezone.now() - timedelta(minutes=5))
    assert tasks_reap() == 1
    task.refresh_from_db()
    assert task.status == "failed" and "timed out after 30s" in task.error_message


def test_cancel_rejects_the_running_workers_publish(org, chain):
    job = sql_job(org, "a", "SELECT * FROM evm.blocks", ["evm.blocks"], "acme.a", activation="manual")
    job_backfill(job=job, partition_keys=["blocks_00000000"])
    task = job.tasks.get()
    lease = task_claim(task_id=task.id, worker_id="w")
    assert task_cancel(task=task)
    assert task_fail(lease=lease, error="late") is None
    task.refresh_from_db()
    assert task.status == "cancelled"
    assert not task_cancel(task=task)


def test_max_concurrency_and_priority_in_dispatch(org, chain):
    low = sql_job(
        org,
        "low",
        "SELECT * FROM evm.blocks",
        ["evm.blocks"],
        "acme.low",
        activation="manual",
        scaling={"max_concurrency": 1, "priority": 1},
    )
    high = sql_job(
        org,
        "high",
        "SELECT * FROM evm.blocks",
        ["evm.blocks"],
        "acme.high",
        activation="manual",
        scaling={"priority": 9},
    )
    job_backfill(job=low, first="blocks_00000000")
    job_backfill(job=high, first="blocks_00000000")
    ids = tasks_dispatch(enqueue=False)
    jobs = list(Task.objects.filter(id__in=ids).values_list("job__name", flat=True))
    assert sorted(jobs) == ["high", "high", "low"]
    order = {i: Task.objects.get(id=i).job.name for i in ids}
    assert [order[i] for i in ids][:2] == ["high", "high"]
    assert tasks_dispatch(enqueue=False) == []  # low is at its concurrency limit


def test_upsert_and_append_strategies(org, chain, run_tasks):
    upsert = sql_job(
        org,
        "up",
        "SELECT block_number % 10 AS k, max(block_number) AS latest FROM evm.blocks GROUP BY 1",
        ["evm.blocks"],
        "acme.up",
        update_strategy="upsert",
        unique_key=["k"],
        config={"partition_mapping": "all"},
    )
    append = sql_job(
        org,
        "ap",
        "SELECT count(*) AS n FROM evm.blocks",
        ["evm.blocks"],
        "acme.ap",
        update_strategy="append",
        config={"partition_mapping": "all"},
    )
    job_plan(job=upsert)
    job_plan(job=append)
    run_tasks()
    job_backfill(job=upsert, partition_keys=["all"])
    job_backfill(job=append, partition_keys=["all"])
    run_tasks()
    up = lake().read_table(PartitionVersion.objects.get(dataset="acme.up").location)
    assert sorted(up["k"].to_pylist()) == list(range(10))  # replaced by key, not duplicated
    assert max(up["latest"].to_pylist()) == 199
    ap = lake().read_table(PartitionVersion.objects.get(dataset="acme.ap").location)
    assert ap["n"].to_pylist() == [200, 200]  # appended


def test_incremental_job_routes_rows_and_advances_its_cursor(org, run_tasks):
    source = synthetic_source_job(end_block=199, partition_size=100)
    job_plan(job=source)
    run_tasks()
    inc = sql_job(
        org,
        "daily",
        "SELECT block_number, timestamp FROM evm.blocks",
        ["evm.blocks"],
        "acme.daily",
        execution_strategy="incremental",
        update_strategy="append",
        config={"cursor_column": "block_number", "partition_by": "strftime(timestamp, '%Y-%m-%d')"},
    )
    assert job_plan(job=inc).created == 1
    assert job_plan(job=inc).created == 0  # one live task at a time
    run_tasks()
    cursor = inc.cursors.get(dataset="evm.blocks")
    assert (cursor.cursor_column, cursor.cursor_value) == ("block_number", "199")
    days = dict(
        PartitionVersion.objects.filter(dataset="acme.daily").values_list("partition_key", "row_count")
    )
    assert sum(days.values()) == 200 and all(k.startswith("2024-01-01") for k in days)
    assert job_plan(job=inc).created == 0  # nothing new
    from orchestration.services import job_update

    job_update(job=source, config={"end_block": 299, "partition_size": 100})
    job_plan(job=source)
    run_tasks()
    assert inc.cursors.get(dataset="evm.blocks").cursor_value == "299"
    total = sum(PartitionVersion.objects.filter(dataset="acme.daily").values_list("row_count", flat=True))
    assert total == 300  # rows past the cursor only: nothing appended twice
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT count(*) FROM task_inputs ti JOIN tasks t ON t.id = ti.task_id WHERE t.job_id = %s",
            [inc.id],
        )
        assert cursor.fetchone()[0] >= 3


def _widen_input(key: str) -> None:
    """Publish a new version of an evm.blocks partition with one more column."""
    from versioning.services import dataset_partition_write

    table = lake().read_table(PartitionVersion.objects.get(dataset="evm.blocks", partition_key=key).location)
    dataset_partition_write(
        dataset="evm.blocks",
        partition_key=key,
        table=table.append_column("extra", pa.array([1] * table.num_rows)),
    )


def test_schema_change_fails_a_job_that_asks_for_it(org, chain, run_tasks):
    job = sql_job(
        org,
        "strict",
        "SELECT block_number FROM evm.blocks",
        ["evm.blocks"],
        "acme.strict",
        config={"on_schema_change": "fail"},
        max_attempts=1,
    )
    job_plan(job=job)
    run_tasks()
    _widen_input("blocks_00000100")
    job_plan(job=job)
    run_tasks()
    failed = Task.objects.get(job=job, status="failed")
    assert "schema of evm.blocks changed" in failed.error_message


def test_schema_change_rebuilds_the_whole_output_when_asked(org, chain, run_tasks):
    job = sql_job(
        org,
        "follow",
        "SELECT * FROM evm.blocks",
        ["evm.blocks"],
        "acme.follow",
        config={"on_schema_change": "rebuild"},
    )
    job_plan(job=job)
    run_tasks()
    before = dict(
        PartitionVersion.objects.filter(dataset="acme.follow").values_list("partition_key", "version")
    )
    _widen_input("blocks_00000100")
    job_plan(job=job)
    run_tasks()
    after = dict(
        PartitionVersion.objects.filter(dataset="acme.follow").values_list("partition_key", "version")
    )
    assert all(after[k] > before[k] for k in before)  # the untouched partition was rebuilt too


def test_bad_schema_policy_is_rejected(org):
    from django.core.exceptions import ValidationError

    with pytest.raises(ValidationError) as excinfo:
        sql_job(
            org,
            "x",
            "SELECT * FROM evm.blocks",
            ["evm.blocks"],
            "acme.x",
            config={"on_schema_change": "ignore"},
        )
    assert "config" in excinfo.value.message_dict


def test_backoff_jitter_spreads_over_the_upper_half_of_the_delay(settings):
    """Equal jitter: uniform over [capped/2, capped]. Checked on the distribution of many draws, so
    no jitter, full jitter (down to 0) or a narrower spread all fail."""
    settings.TASK_RETRY_BASE_SECONDS = 10
    settings.TASK_RETRY_CAP_SECONDS = 600
    rng = random.Random(7)
    samples = [backoff_delay(3, rng=rng)[1] for _ in range(4000)]  # capped at 40 s
    assert all(20 <= s <= 40 for s in samples)
    assert min(samples) < 20.5 and max(samples) > 39.5
    assert 29.5 < sum(samples) / len(samples) < 30.5
    quarters = [sum(1 for s in samples if 20 + 5 * q <= s < 25 + 5 * q) for q in range(4)]
    assert all(900 < n < 1100 for n in quarters), quarters


def _leases_refused(old, ctx):
    """Every write with ``old`` is rejected and changes nothing."""
    assert not task_heartbeat(lease=old)
    with pytest.raises(LeaseLost):
        task_publish(lease=old, ctx=ctx)
    assert task_fail(lease=old, error="late") is None


def test_an_old_lease_differing_only_in_worker_id_is_refused(org, chain):
    job = sql_job(org, "a", "SELECT * FROM evm.blocks", ["evm.blocks"], "acme.a", activation="manual")
    job_backfill(job=job, partition_keys=["blocks_00000000"])
    task = job.tasks.get()
    old = task_claim(task_id=task.id, worker_id="w1")
    assert task_cancel(task=task)
    assert task_retry(task=task) is not None  # fresh attempts: the reclaim is attempt 1 again
    new = task_claim(task_id=task.id, worker_id="w2")
    assert (new.attempt, new.worker_id) == (old.attempt, "w2")
    task.refresh_from_db()
    ctx = TaskContext(job=job, task=task, attempt=1, storage=lake(), inputs=inputs_for(job, task), cursors={})
    ctx.write("acme.a", "blocks_00000000", pa.table({"x": [1]}))
    _leases_refused(old, ctx)
    assert not PartitionVersion.objects.filter(dataset="acme.a").exists()
    task.refresh_from_db()
    assert (task.status, task.worker_id, task.attempts) == ("running", "w2", 1)
    assert task_heartbeat(lease=new)


def test_an_old_lease_differing_only_in_attempt_is_refused(org, chain):
    job = sql_job(org, "a", "SELECT * FROM evm.blocks", ["evm.blocks"], "acme.a", activation="manual")
    job_backfill(job=job, partition_keys=["blocks_00000000"])
    task = job.tasks.get()
    old = task_claim(task_id=task.id, worker_id="w1")
    assert task_fail(lease=old, error="transient") == "pending"
    new = task_claim(task_id=task.id, worker_id="w1")
    assert (new.worker_id, new.attempt) == ("w1", old.attempt + 1)
    task.refresh_from_db()
    ctx = TaskContext(job=job, task=task, attempt=1, storage=lake(), inputs=inputs_for(job, task), cursors={})
    ctx.write("acme.a", "blocks_00000000", pa.table({"x": [1]}))
    _leases_refused(old, ctx)
    assert not PartitionVersion.objects.filter(dataset="acme.a").exists()
    task.refresh_from_db()
    assert (task.status, task.worker_id, task.attempts) == ("running", "w1", 2)
    assert task_heartbeat(lease=new)
