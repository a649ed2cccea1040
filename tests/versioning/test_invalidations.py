"""Invalidations: each scope reprocesses exactly what it covers, downstream too."""

import pyarrow as pa
import pyarrow.compute as pc
import pytest
from django.core.exceptions import ValidationError

from orchestration.services import job_plan
from testkit.factories import OrgFactory, sql_job, synthetic_source_job
from versioning.models import DataInvalidation, PartitionVersion
from versioning.services import dataset_partition_write, invalidation_create
from versioning.storage import lake


def versions(dataset):
    return dict(PartitionVersion.objects.filter(dataset=dataset).values_list("partition_key", "version"))


def read(dataset):
    rows = PartitionVersion.objects.filter(dataset=dataset).order_by("partition_key")
    return pa.concat_tables([lake().read_table(pv.location) for pv in rows]).sort_by("block_number")


@pytest.fixture
def dag(db, run_tasks):
    """evm.blocks -> acme.blocks_copy -> acme.miners (both reactive)."""
    org = OrgFactory(slug="acme")
    source = synthetic_source_job(end_block=299, partition_size=100)
    first = sql_job(
        org,
        "copy",
        "SELECT block_number, block_hash, miner FROM evm.blocks",
        ["evm.blocks"],
        "acme.blocks_copy",
    )
    second = sql_job(
        org,
        "miners",
        "SELECT block_number, upper(block_hash) AS h FROM acme.blocks_copy",
        ["acme.blocks_copy"],
        "acme.miners",
    )
    job_plan(job=source)
    run_tasks()
    return source, first, second


def test_rows_invalidation_changes_exactly_the_covered_rows_downstream(dag, run_tasks):
    _source, first, second = dag
    before_copy, before_miners = versions("acme.blocks_copy"), versions("acme.miners")
    old = read("acme.miners")
    # A source rewrites blocks 150..159 (a reorg, say) and says so, in one go.
    pv = PartitionVersion.objects.get(dataset="evm.blocks", partition_key="blocks_00000100")
    table = lake().read_table(pv.location)
    covered = pc.and_(pc.greater_equal(table["block_number"], 150), pc.less_equal(table["block_number"], 159))
    new_hash = pc.if_else(
        covered, pc.binary_join_element_wise("0xfork", table["block_hash"], ""), table["block_hash"]
    )
    table = table.set_column(table.schema.get_field_index("block_hash"), "block_hash", new_hash)
    dataset_partition_write(dataset="evm.blocks", partition_key="blocks_00000100", table=table)
    invalidation = invalidation_create(
        dataset="evm.blocks",
        scope="rows",
        row_filter={"block_number": {"gte": 150, "lte": 159}},
        reason="reorg",
        source_event={"type": "reorg", "from_block": 150},
    )
    job_plan(job=first)
    run_tasks()
    for job in (first, second):
        job_plan(job=job)

    after_copy, after_miners = versions("acme.blocks_copy"), versions("acme.miners")
    for before, after in ((before_copy, after_copy), (before_miners, after_miners)):
        assert after["blocks_00000100"] > before["blocks_00000100"]
        assert after["blocks_00000000"] == before["blocks_00000000"]
        assert after["blocks_00000200"] == before["blocks_00000200"]
    new = read("acme.miners")
    changed = [
        n
        for n, a, b in zip(
            new["block_number"].to_pylist(), old["h"].to_pylist(), new["h"].to_pylist(), strict=True
        )
        if a != b
    ]
    assert changed == list(range(150, 160))
    invalidation.refresh_from_db()
    assert set(invalidation.processed_by) == {first.id}
    assert invalidation.processed_at is not None
    propagated = DataInvalidation.objects.get(dataset="acme.blocks_copy")
    assert propagated.scope == "rows" and propagated.source_event["invalidation"] == str(invalidation.id)
    assert propagated.processed_by == [second.id] and propagated.processed_at is not None


def test_partition_invalidation_rebuilds_that_partition_only(dag, run_tasks):
    _source, first, _second = dag
    before = versions("acme.blocks_copy")
    invalidation = invalidation_create(
        dataset="evm.blocks", scope="partition", partition_key="blocks_00000200", reason="operator fix"
    )
    created = job_plan(job=first)
    assert created.partitions == ["blocks_00000200"]
    run_tasks()
    after = versions("acme.blocks_copy")
    assert after["blocks_00000200"] > before["blocks_00000200"]
    assert after["blocks_00000000"] == before["blocks_00000000"]
    job_plan(job=first)
    invalidation.refresh_from_db()
    assert invalidation.processed_by == [first.id] and invalidation.processed_at
    # Propagated as a partition invalidation of the rewritten output.
    assert DataInvalidation.objects.filter(
        dataset="acme.blocks_copy", scope="partition", partition_key="blocks_00000200"
    ).exists()


def test_dataset_invalidation_rebuilds_everything_consumed(dag, run_tasks):
    _source, first, _second = dag
    before = versions("acme.blocks_copy")
    invalidation_create(dataset="evm.blocks", scope="dataset", reason="bad import")
    assert job_plan(job=first).created == 3
    run_tasks()
    after = versions("acme.blocks_copy")
    assert all(after[k] > before[k] for k in before)


def test_invalidation_without_consumers_is_processed_at_once(db):
    dataset_partition_write(dataset="acme.nobody_reads", partition_key="k", table=pa.table({"n": [1]}))
    inv = invalidation_create(dataset="acme.nobody_reads", scope="dataset")
    assert inv.processed_at is not None


@pytest.mark.parametrize(
    ("fields", "field"),
    [
        ({"scope": "rows", "row_filter": {"block_number": {"between": 1}}}, "row_filter"),
        ({"scope": "rows", "row_filter": {}}, "row_filter"),
        ({"scope": "partition"}, "partition_key"),
        ({"scope": "everything"}, "scope"),
    ],
)
def test_bad_invalidation_is_rejected(db, fields, field):
    dataset_partition_write(dataset="evm.blocks", partition_key="k", table=pa.table({"block_number": [1]}))
    with pytest.raises(ValidationError) as excinfo:
        invalidation_create(dataset="evm.blocks", **fields)
    assert field in excinfo.value.message_dict
    assert not DataInvalidation.objects.exists()
