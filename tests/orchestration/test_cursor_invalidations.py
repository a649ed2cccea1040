"""Incremental and streaming jobs take part in invalidations: they rebuild the output partitions
built from covered input partitions (found through task_inputs) and propagate downstream, so a
chain source -> incremental -> partitioned ends equal to a fresh build."""

import pyarrow as pa
import pyarrow.compute as pc
import pytest

from orchestration.models import Task
from orchestration.selectors.datasets import dataset_consumers
from orchestration.services import job_backfill, job_plan, task_execute, tasks_dispatch
from testkit.factories import OrgFactory, sql_job, synthetic_source_job
from versioning.models import DataInvalidation, DatasetCursor, PartitionVersion
from versioning.services import dataset_partition_write, invalidation_create
from versioning.storage import lake

pytestmark = pytest.mark.django_db
ROUTE = "'p' || lpad(CAST(block_number // 50 AS VARCHAR), 3, '0')"


def table(name: str) -> pa.Table:
    parts = PartitionVersion.objects.filter(dataset=name).order_by("partition_key")
    return pa.concat_tables([lake().read_table(p.location) for p in parts]).sort_by("block_number")


def versions(name: str) -> dict[str, object]:
    return dict(PartitionVersion.objects.filter(dataset=name).values_list("partition_key", "version"))


def rewrite_blocks(key: str, *, first: int, last: int, extra: range = range(0)) -> None:
    """A source fix: blocks first..last of partition ``key`` get new hashes (and ``extra`` blocks
    are added), published the way a source publishes a rewrite."""
    current = PartitionVersion.objects.get(dataset="evm.blocks", partition_key=key)
    blocks = lake().read_table(current.location)
    hit = pc.and_(
        pc.greater_equal(blocks["block_number"], first), pc.less_equal(blocks["block_number"], last)
    )
    hashes = pc.if_else(
        hit, pc.binary_join_element_wise("0xfix", blocks["block_hash"], ""), blocks["block_hash"]
    )
    blocks = blocks.set_column(blocks.schema.get_field_index("block_hash"), "block_hash", hashes)
    if extra:
        added = blocks.slice(0, len(extra))
        index = added.schema.get_field_index("block_number")
        added = added.set_column(index, "block_number", pa.array(list(extra), added.schema.field(index).type))
        blocks = pa.concat_tables([blocks, added])
    dataset_partition_write(dataset="evm.blocks", partition_key=key, table=blocks)


@pytest.fixture
def chain_of_three(settings, run_tasks):
    """evm.blocks -> acme.inc (incremental, 50 blocks per output partition) -> acme.final
    (partitioned), evm.blocks arriving one partition at a time."""
    settings.PLANNER_COMMIT_MARGIN_SECONDS = 0  # each incremental run reads only what is new
    org = OrgFactory(slug="acme")
    source = synthetic_source_job(end_block=299, partition_size=100, activation="manual")
    inc = sql_job(
        org,
        "inc",
        "SELECT block_number, block_hash, miner FROM evm.blocks",
        ["evm.blocks"],
        "acme.inc",
        execution_strategy="incremental",
        update_strategy="append",
        config={"cursor_column": "block_number", "partition_by": ROUTE},
    )
    final = sql_job(
        org, "final", "SELECT block_number, upper(block_hash) AS h FROM acme.inc", ["acme.inc"], "acme.final"
    )
    for key in ("blocks_00000000", "blocks_00000100", "blocks_00000200"):
        job_backfill(job=source, partition_keys=[key])
        run_tasks()
    assert Task.objects.filter(job=inc, status="succeeded").count() == 3
    return source, inc, final


def fresh_build(inc, final, run_tasks) -> tuple[pa.Table, pa.Table]:
    """The two downstream datasets built again from nothing over the current source."""
    PartitionVersion.objects.filter(dataset__in=["acme.inc", "acme.final"]).delete()
    DatasetCursor.objects.filter(job__in=[inc, final]).delete()
    Task.objects.filter(job__in=[inc, final]).delete()
    job_plan(job=inc)
    run_tasks()
    return table("acme.inc"), table("acme.final")


def test_incremental_jobs_are_consumers(chain_of_three):
    _source, inc, _final = chain_of_three
    assert inc in dataset_consumers(dataset="evm.blocks")


def test_a_rows_invalidation_is_rebuilt_through_an_incremental_job_and_on_down(chain_of_three, run_tasks):
    _source, inc, final = chain_of_three
    before_inc, before_final = versions("acme.inc"), versions("acme.final")
    rewrite_blocks("blocks_00000100", first=150, last=159)
    invalidation = invalidation_create(
        dataset="evm.blocks", scope="rows", row_filter={"block_number": {"gte": 150, "lte": 159}}
    )

    plan = job_plan(job=inc)
    # Only the outputs written by the run that read blocks_00000100: blocks 100..199.
    assert plan.partitions == ["p002", "p003"]
    rebuild = Task.objects.get(job=inc, status="pending")
    assert rebuild.input_versions["rebuild"] == {"evm.blocks": ["blocks_00000100"]}
    run_tasks()
    job_plan(job=final)
    run_tasks()

    after_inc, after_final = versions("acme.inc"), versions("acme.final")
    for key in ("p000", "p001", "p004", "p005"):
        assert after_inc[key] == before_inc[key] and after_final[key] == before_final[key]
    for key in ("p002", "p003"):
        assert after_inc[key] > before_inc[key]
    assert after_final["p003"] > before_final["p003"]
    assert inc.cursors.get(dataset="evm.blocks").cursor_value == "299"  # the rebuild did not move it
    invalidation.refresh_from_db()
    assert invalidation.processed_by == [inc.id] and invalidation.processed_at is not None
    propagated = DataInvalidation.objects.get(dataset="acme.inc")
    assert propagated.source_event["invalidation"] == str(invalidation.id)
    assert propagated.processed_by == [final.id]

    rebuilt_inc, rebuilt_final = table("acme.inc"), table("acme.final")
    assert sum(h.startswith("0XFIX") for h in rebuilt_final["h"].to_pylist()) == 10
    fresh_inc, fresh_final = fresh_build(inc, final, run_tasks)
    assert rebuilt_inc.equals(fresh_inc) and rebuilt_final.equals(fresh_final)


def test_rows_past_the_cursor_in_a_rewritten_partition_are_read_once(chain_of_three, run_tasks):
    _source, inc, final = chain_of_three
    rewrite_blocks("blocks_00000200", first=290, last=299, extra=range(300, 305))
    invalidation_create(dataset="evm.blocks", scope="rows", row_filter={"block_number": {"gte": 290}})
    job_plan(job=inc)
    run_tasks()  # the rebuild (up to the cursor), then the ordinary run (past it)
    job_plan(job=inc)
    run_tasks()
    job_plan(job=final)
    run_tasks()

    rebuilt_inc, rebuilt_final = table("acme.inc"), table("acme.final")
    assert rebuilt_inc["block_number"].to_pylist() == list(range(305))
    assert inc.cursors.get(dataset="evm.blocks").cursor_value == "304"
    fresh_inc, fresh_final = fresh_build(inc, final, run_tasks)
    assert rebuilt_inc.equals(fresh_inc) and rebuilt_final.equals(fresh_final)


# Committed transactions: the continuous runner's watchdog checks the lease on its own connection.
@pytest.mark.django_db(transaction=True)
def test_a_streaming_job_rebuilds_what_an_invalidation_covers(settings, run_tasks):
    OrgFactory(slug="acme")
    source = synthetic_source_job(end_block=199, partition_size=100, activation="manual")
    job_plan(job=source)
    run_tasks()
    tail = sql_job(
        OrgFactory(slug="acme"),
        "tail",
        "SELECT block_number, block_hash FROM evm.blocks",
        ["evm.blocks"],
        "acme.tail",
        activation="continuous",
        execution_strategy="streaming",
        update_strategy="append",
        idle_timeout="1s",
        config={"cursor_column": "block_number", "partition_by": ROUTE},
    )
    job_plan(job=tail)
    tasks_dispatch(enqueue=False)
    assert task_execute(task_id=Task.objects.get(job=tail).id) == "succeeded"  # tails, then idles out
    assert table("acme.tail").num_rows == 200

    rewrite_blocks("blocks_00000000", first=10, last=19)
    invalidation = invalidation_create(
        dataset="evm.blocks", scope="rows", row_filter={"block_number": {"gte": 10, "lte": 19}}
    )
    assert job_plan(job=tail).partitions == ["p000", "p001", "p002", "p003"]
    run_tasks()

    rows = table("acme.tail")
    assert rows["block_number"].to_pylist() == list(range(200))
    assert [
        n
        for n, h in zip(rows["block_number"].to_pylist(), rows["block_hash"].to_pylist(), strict=True)
        if h.startswith("0xfix")
    ] == list(range(10, 20))
    invalidation.refresh_from_db()
    assert invalidation.processed_by == [tail.id]
