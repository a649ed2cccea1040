"""Planning and running in-process: staleness, config changes, one live task per partition."""

import threading

import duckdb
import pytest
from django.db import connection

from orchestration.models import Task
from orchestration.services import job_backfill, job_plan, job_update
from testkit.factories import OrgFactory, platform_org_for_tests, sql_job, synthetic_source_job
from versioning.models import PartitionVersion
from versioning.storage import lake


@pytest.fixture
def org(db):
    return OrgFactory(slug="acme")


def read_dataset(dataset: str):
    """The dataset as a reader sees it: the union of its current partitions."""
    import pyarrow as pa

    rows = PartitionVersion.objects.filter(dataset=dataset).order_by("partition_key")
    return pa.concat_tables([lake().read_table(pv.location) for pv in rows])


def versions(dataset: str) -> dict[str, object]:
    return dict(PartitionVersion.objects.filter(dataset=dataset).values_list("partition_key", "version"))


def test_source_then_reactive_job_builds_every_partition(org, run_tasks):
    source = synthetic_source_job(end_block=399, partition_size=100)
    derived = sql_job(
        org, "per_block", "SELECT block_number, tx_count FROM evm.blocks", ["evm.blocks"], "acme.per_block"
    )
    assert job_plan(job=source).created == 4
    assert job_plan(job=source).created == 0  # live tasks already cover every partition
    run_tasks()
    assert set(versions("acme.per_block")) == {f"blocks_{n:08d}" for n in (0, 100, 200, 300)}
    out = read_dataset("acme.per_block")
    assert out.num_rows == 400
    task = derived.tasks.first()
    assert task.inputs.count() == 1
    assert job_plan(job=derived).created == 0  # nothing changed, nothing stale


def test_config_change_rebuilds_exactly_the_affected_partitions(org, run_tasks):
    source = synthetic_source_job(end_block=299, partition_size=100)
    sql_job(org, "a", "SELECT block_number FROM evm.blocks", ["evm.blocks"], "acme.a")
    b = sql_job(org, "b", "SELECT block_number, gas_used FROM evm.blocks", ["evm.blocks"], "acme.b")
    job_plan(job=source)
    run_tasks()
    before_a, before_b = versions("acme.a"), versions("acme.b")
    job_update(job=b, source={"sql": "SELECT block_number, gas_used * 2 AS gas2 FROM evm.blocks"})
    assert job_plan(job=b).created == 3
    run_tasks()
    assert versions("acme.a") == before_a
    after_b = versions("acme.b")
    assert all(after_b[k] > before_b[k] for k in before_b)
    assert read_dataset("acme.b").column_names == ["block_number", "gas2"]


def test_new_input_version_makes_only_that_partition_stale(org, run_tasks):
    source = synthetic_source_job(end_block=299, partition_size=100)
    out = sql_job(org, "a", "SELECT block_number, block_hash FROM evm.blocks", ["evm.blocks"], "acme.a")
    job_plan(job=source)
    run_tasks()
    before = versions("acme.a")
    job_backfill(job=source, partition_keys=["blocks_00000100"])
    run_tasks()
    after = versions("acme.a")
    assert after["blocks_00000100"] > before["blocks_00000100"]
    assert after["blocks_00000000"] == before["blocks_00000000"]
    assert after["blocks_00000200"] == before["blocks_00000200"]
    assert job_plan(job=out).created == 0


def test_outputs_equal_the_same_transformation_in_duckdb(org, run_tasks):
    source = synthetic_source_job(end_block=299, partition_size=100)
    sql = (
        "SELECT b.block_number, b.miner, count(t.tx_hash) AS txs, coalesce(sum(t.value_gwei), 0) AS value "
        "FROM evm.blocks b LEFT JOIN evm.transactions t USING (block_number) GROUP BY ALL"
    )
    sql_job(org, "totals", sql, ["evm.blocks", "evm.transactions"], "acme.totals", scaling={"batch_size": 2})
    job_plan(job=source)
    run_tasks()
    con = duckdb.connect()
    con.register("blocks", read_dataset("evm.blocks"))
    con.register("txs", read_dataset("evm.transactions"))
    expected = con.execute(
        sql.replace("evm.blocks", "blocks").replace("evm.transactions", "txs") + " ORDER BY 1"
    ).fetchall()
    con.register("got", read_dataset("acme.totals"))
    assert con.execute("SELECT * FROM got ORDER BY 1").fetchall() == expected


def test_backfill_batches_partitions_per_scaling(org, run_tasks):
    source = synthetic_source_job(end_block=299, partition_size=100)
    job = sql_job(
        org,
        "b",
        "SELECT * FROM evm.blocks",
        ["evm.blocks"],
        "acme.b",
        activation="manual",
        scaling={"batch_size": 2},
    )
    job_plan(job=source)
    run_tasks()
    result = job_backfill(job=job, first="blocks_00000000", last="blocks_00000300")
    assert result.created == 2
    assert sorted(map(len, Task.objects.filter(job=job).values_list("partitions", flat=True))) == [1, 2]
    assert job_backfill(job=job, first="blocks_00000000").created == 0  # all three are live already
    run_tasks()
    assert len(versions("acme.b")) == 3


@pytest.mark.django_db(transaction=True)
def test_racing_planners_create_no_duplicate_task(settings, tmp_path):
    settings.STORAGE_URL = (tmp_path / "lake2").as_uri()
    org = OrgFactory(slug="acme")
    source = synthetic_source_job(platform_org_for_tests(), end_block=1999, partition_size=100)
    barrier = threading.Barrier(4)
    errors = []

    def plan():
        try:
            barrier.wait(timeout=10)
            job_plan(job=source)
        except Exception as exc:  # pragma: no cover - surfaced below
            errors.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=plan) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=30)
    assert not errors
    keys = [k for t in Task.objects.filter(job=source) for k in t.partitions]
    assert len(keys) == 20
    assert len(set(keys)) == 20
    assert org.pk


def test_input_republished_while_a_task_ran_is_still_stale(org, run_tasks):
    """The output is newer than its input, but task_inputs shows it read an older input version."""
    from datetime import timedelta

    source = synthetic_source_job(end_block=199, partition_size=100)
    out = sql_job(org, "a", "SELECT block_number FROM evm.blocks", ["evm.blocks"], "acme.a")
    job_plan(job=source)
    run_tasks()
    built = PartitionVersion.objects.get(dataset="acme.a", partition_key="blocks_00000100")
    PartitionVersion.objects.filter(dataset="evm.blocks", partition_key="blocks_00000100").update(
        version=built.version - timedelta(milliseconds=1)
    )
    assert job_plan(job=out).partitions == ["blocks_00000100"]


def test_periodic_tick_is_registered_once_after_migrate(db):
    from django_q.models import Schedule

    from orchestration.schedules import TICK_NAME, ensure_schedules

    ensure_schedules()
    ensure_schedules()
    tick = Schedule.objects.get(name=TICK_NAME)
    assert tick.func == "orchestration.tasks.scheduler_tick" and tick.schedule_type == Schedule.MINUTES


def test_scheduled_job_is_due_after_its_cron_fire_time(org):
    from datetime import timedelta

    from django.utils import timezone

    from orchestration.services.scheduler import schedule_is_due

    job = sql_job(
        org,
        "hourly",
        "SELECT * FROM evm.blocks",
        ["evm.blocks"],
        "acme.hourly",
        activation="schedule",
        config={"schedule": "0 * * * *"},
    )
    start = job.created_at.replace(minute=5, second=0, microsecond=0)
    Job = type(job)
    Job.objects.filter(pk=job.pk).update(created_at=start)
    job.refresh_from_db()
    assert not schedule_is_due(job=job, now=start + timedelta(minutes=30))
    assert schedule_is_due(job=job, now=start + timedelta(minutes=56))
    assert timezone.is_aware(job.created_at)


def test_dataset_column_lineage_both_ways(org):
    from orchestration.selectors import dataset_column_lineage

    sql_job(org, "a", "SELECT block_number, miner AS who FROM evm.blocks", ["evm.blocks"], "acme.a")
    sql_job(org, "b", "SELECT who FROM acme.a", ["acme.a"], "acme.b")
    lineage = dataset_column_lineage(dataset="acme.a")
    assert ("evm.blocks", "miner", "acme.a", "who") in lineage["upstream"]
    assert lineage["downstream"] == [("acme.a", "who", "acme.b", "who")]


def test_scheduler_tick_plans_reactive_jobs_and_dispatches(org, run_tasks, monkeypatch):
    from orchestration import tasks
    from orchestration.services import dispatch

    enqueued = []
    monkeypatch.setattr(dispatch, "send_run_messages", enqueued.extend)
    source = synthetic_source_job(end_block=199, partition_size=100)
    job_plan(job=source)
    run_tasks()
    sql_job(org, "late", "SELECT block_number FROM evm.blocks", ["evm.blocks"], "acme.late")
    result = tasks.scheduler_tick()
    assert result == {"reaped": 0, "created": 2, "dispatched": 2}
    assert Task.objects.filter(job__name="late", status="queued").count() == 2


def test_a_whole_job_waits_until_every_input_was_published(org, run_tasks):
    source = synthetic_source_job(end_block=199, partition_size=100)
    joined = sql_job(
        org,
        "joined",
        "SELECT b.block_number, m.miner FROM evm.blocks b JOIN acme.miners m USING (block_number)",
        ["evm.blocks", "acme.miners"],
        "acme.joined",
        config={"partition_mapping": "all"},
    )
    job_plan(job=source)
    run_tasks()

    assert job_plan(job=joined).created == 0  # acme.miners was never published: nothing to join yet
    assert not Task.objects.filter(job=joined).exists()

    miners = sql_job(
        org, "miners", "SELECT block_number, miner FROM evm.blocks", ["evm.blocks"], "acme.miners"
    )
    job_plan(job=miners)
    run_tasks()  # the first publish of acme.miners plans the joined job
    assert set(versions("acme.joined")) == {"all"}
    assert read_dataset("acme.joined").num_rows == 200
