"""The storage interface on a local folder and on S3 (moto's server on 127.0.0.1), plus GC/verify."""

import uuid
from datetime import timedelta

import pyarrow as pa
import pytest

from orchestration.models import Task
from testkit.factories import TaskFactory
from testkit.s3 import moto_s3_bucket
from versioning.models import PartitionVersion
from versioning.services import catalog_verify, dataset_partition_write, storage_gc
from versioning.storage import Storage, StorageError, partition_location, task_id_of

TABLE = pa.table({"block_number": [1, 2, 3], "hash": ["a", "b", "c"]})


@pytest.fixture(scope="module")
def s3_url():
    with moto_s3_bucket("lake-bucket") as bucket:
        yield f"{bucket}/prefix"


@pytest.fixture(params=["file", "s3"])
def storage(request, tmp_path):
    if request.param == "file":
        return Storage((tmp_path / "store").as_uri())
    return Storage(f"{request.getfixturevalue('s3_url')}/{uuid.uuid4().hex}")


def test_write_read_list_delete(storage):
    location = partition_location("evm.blocks", "blocks_00000000", uuid.uuid4(), 1)
    written = storage.write_table(location, TABLE)
    assert written.row_count == 3 and written.bytes == storage.size(location)
    assert storage.read_table(location).equals(TABLE)
    assert storage.parquet_row_count(location) == 3
    listed = [loc for loc, _ in storage.list_files()]
    assert listed == [location]  # the temporary name is gone
    storage.delete(location)
    assert not storage.exists(location)
    with pytest.raises(StorageError):
        storage.read_table(location)


def test_locations_must_stay_inside_the_root(storage):
    with pytest.raises(StorageError):
        storage.read_table("../outside.parquet")


def test_bad_url_is_refused():
    with pytest.raises(StorageError):
        Storage("ftp://example/lake")


def test_task_id_is_recoverable_from_a_location():
    task_id = uuid.uuid4()
    assert task_id_of(partition_location("a.b", "k", task_id, 3)) == str(task_id)


def test_s3_lake_publishes_and_verifies(db, settings, s3_url):
    settings.STORAGE_URL = f"{s3_url}/{uuid.uuid4().hex}"
    pv = dataset_partition_write(dataset="evm.blocks", partition_key="blocks_00000000", table=TABLE)
    assert pv.location.startswith("evm/blocks/blocks_00000000/")
    assert catalog_verify() == []


def test_gc_removes_only_unreferenced_files(db, settings, lake_in_tmp):
    from versioning.storage import lake

    kept = dataset_partition_write(dataset="evm.blocks", partition_key="k1", table=TABLE)
    orphan = partition_location("evm.blocks", "k1", uuid.uuid4(), 1)
    lake().write_table(orphan, TABLE)
    live_task = TaskFactory(status=Task.Status.RUNNING)
    in_flight = partition_location("evm.blocks", "k2", live_task.id, 1)
    lake().write_table(in_flight, TABLE)
    assert storage_gc() == []  # everything is younger than the grace period
    removed = storage_gc(grace=timedelta(seconds=-1))
    assert removed == [orphan]
    assert lake().exists(kept.location) and lake().exists(in_flight) and not lake().exists(orphan)


def test_verify_reports_missing_files_and_row_mismatch(db, lake_in_tmp):
    from versioning.storage import lake

    a = dataset_partition_write(dataset="evm.blocks", partition_key="a", table=TABLE)
    b = dataset_partition_write(dataset="evm.blocks", partition_key="b", table=TABLE)
    lake().delete(a.location)
    PartitionVersion.objects.filter(dataset="evm.blocks", partition_key="b").update(row_count=99)
    problems = {(p.partition_key, p.problem.split(" ")[0]) for p in catalog_verify()}
    assert problems == {("a", "missing"), ("b", "3")}
    assert b.location


def test_a_dag_runs_on_an_s3_lake(db, settings, s3_url, run_tasks):
    """Same code path on object storage: build, read back, invalidate rows, rebuild, verify, GC."""
    from orchestration.services import job_plan
    from testkit.factories import OrgFactory, sql_job, synthetic_source_job
    from versioning.services import invalidation_create
    from versioning.storage import lake

    settings.STORAGE_URL = f"{s3_url}/{uuid.uuid4().hex}"
    org = OrgFactory(slug="acme")
    source = synthetic_source_job(end_block=199, partition_size=100, output_datasets=["evm.blocks"])
    copy = sql_job(org, "copy", "SELECT block_number, miner FROM evm.blocks", ["evm.blocks"], "acme.copy")
    job_plan(job=source)
    run_tasks()
    rows = PartitionVersion.objects.filter(dataset="acme.copy")
    assert sum(lake().read_table(pv.location).num_rows for pv in rows) == 200
    before = dict(rows.values_list("partition_key", "version"))
    invalidation_create(dataset="evm.blocks", scope="rows", row_filter={"block_number": {"gte": 150}})
    assert job_plan(job=copy).partitions == ["blocks_00000100"]  # found by scanning S3 files
    run_tasks()
    after = dict(PartitionVersion.objects.filter(dataset="acme.copy").values_list("partition_key", "version"))
    assert after["blocks_00000000"] == before["blocks_00000000"]
    assert after["blocks_00000100"] > before["blocks_00000100"]
    assert catalog_verify() == []
    assert len(storage_gc(grace=timedelta(seconds=-1))) == 1  # the replaced file of blocks_00000100


def test_mostly_distinct_text_is_not_dictionary_encoded_and_reads_back_the_same(tmp_path):
    import pyarrow.parquet as pq

    rows = 500
    table = pa.table(
        {
            "block_number": list(range(rows)),
            "transaction_hash": [f"0x{i:064x}" for i in range(rows)],  # every value new
            "address": [f"0x{i % 7:040x}" for i in range(rows)],  # a handful of values
            "data": [bytes([i % 256, i // 256]) for i in range(rows)],
        }
    )
    storage = Storage((tmp_path / "store").as_uri())
    storage.write_table("t.parquet", table)
    assert storage.read_table("t.parquet").equals(table)
    encodings = {
        column.path_in_schema: column.encodings
        for column in (
            pq.ParquetFile(tmp_path / "store" / "t.parquet").metadata.row_group(0).column(i) for i in range(4)
        )
    }
    assert "RLE_DICTIONARY" in encodings["address"]
    assert "RLE_DICTIONARY" in encodings["block_number"]
    assert "RLE_DICTIONARY" not in encodings["transaction_hash"]
    assert "RLE_DICTIONARY" not in encodings["data"]
