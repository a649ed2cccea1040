import pyarrow as pa
import pytest

from testkit.factories import OrgFactory, UserFactory
from versioning.services import dataset_partition_write


@pytest.fixture(autouse=True)
def lake_in_tmp(settings, tmp_path):
    """Each test gets its own lake and result store."""
    settings.STORAGE_URL = (tmp_path / "lake").as_uri()
    settings.RESULT_STORAGE_URL = (tmp_path / "results").as_uri()
    settings.SYSTEM_NAMESPACES = ["evm"]
    return tmp_path


def blocks_table(start: int, count: int) -> pa.Table:
    numbers = list(range(start, start + count))
    return pa.table(
        {
            "block_number": pa.array(numbers, pa.int64()),
            "miner": pa.array([f"0x{n % 7:040x}" for n in numbers], pa.string()),
            "gas_used": pa.array([n * 10 for n in numbers], pa.int64()),
        }
    )


def publish(dataset: str, key: str, table: pa.Table):
    return dataset_partition_write(dataset=dataset, partition_key=key, table=table)


@pytest.fixture
def evm_blocks(db):
    """``evm.blocks``: two partitions of 100 blocks each."""
    publish("evm.blocks", "blocks_00000000", blocks_table(0, 100))
    publish("evm.blocks", "blocks_00000100", blocks_table(100, 100))
    return "evm.blocks"


@pytest.fixture
def org_a(db):
    return OrgFactory(slug="acme")


@pytest.fixture
def org_b(db):
    return OrgFactory(slug="beta")


@pytest.fixture
def analyst(org_a):
    return UserFactory(org=org_a, role="member")


@pytest.fixture
def other_analyst(org_b):
    return UserFactory(org=org_b, role="member")


@pytest.fixture
def run_tasks():
    from tests.orchestration.conftest import drain

    return drain
