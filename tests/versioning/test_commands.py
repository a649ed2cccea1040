"""Versioning commands: invalidate, verify_catalog, gc_storage, partitions."""

import uuid
from io import StringIO

import pyarrow as pa
import pytest
from django.core.management import CommandError, call_command

from versioning.models import DataInvalidation
from versioning.services import dataset_partition_write
from versioning.storage import lake, partition_location

TABLE = pa.table({"block_number": [1, 2]})


def run(*args) -> str:
    out = StringIO()
    call_command(*args, stdout=out, stderr=StringIO())
    return out.getvalue()


def test_invalidate_rows_and_bad_filter(db):
    dataset_partition_write(dataset="evm.blocks", partition_key="k", table=TABLE)
    assert "recorded" in run(
        "invalidate", "evm.blocks", "--scope", "rows", "--rows", '{"block_number": {"gte": 5}}'
    )
    with pytest.raises(CommandError, match="not JSON"):
        run("invalidate", "evm.blocks", "--scope", "rows", "--rows", "{oops")
    with pytest.raises(CommandError, match="partition_key"):
        run("invalidate", "evm.blocks", "--scope", "partition")
    assert DataInvalidation.objects.count() == 1


def test_verify_catalog_fails_on_a_missing_file(db):
    pv = dataset_partition_write(dataset="evm.blocks", partition_key="k", table=TABLE)
    assert "matches" in run("verify_catalog")
    lake().delete(pv.location)
    with pytest.raises(CommandError, match="1 partition problem"):
        run("verify_catalog")


def test_gc_storage_dry_run_then_remove(db):
    orphan = partition_location("evm.blocks", "k", uuid.uuid4(), 1)
    lake().write_table(orphan, TABLE)
    assert "would remove 1" in run("gc_storage", "--grace-seconds", "0", "--dry-run")
    assert lake().exists(orphan)
    assert "removed 1" in run("gc_storage", "--grace-seconds", "0")
    assert not lake().exists(orphan)


def test_partitions_lists_keys(db):
    dataset_partition_write(dataset="evm.blocks", partition_key="k1", table=TABLE)
    assert run("partitions", "evm.blocks").startswith("k1\t")
    with pytest.raises(CommandError, match="no partitions"):
        run("partitions", "evm.nothing")
