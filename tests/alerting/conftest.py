import base64

import pyarrow as pa
import pytest

from chains.schema import TRANSFERS_SCHEMA
from testkit.factories import OrgFactory, UserFactory, platform_org_for_tests
from tests.alerting.receiver import Receiver
from versioning.services import dataset_partition_write

DATASET = "evm.transfers"
SECRET = "whsec_" + base64.b64encode(b"chainlake-test-secret-0123456789").decode()
OTHER_SECRET = "whsec_" + base64.b64encode(b"chainlake-rotated-secret-9876543").decode()
HUGE = str(2**256 - 1)  # 78 digits: past HUGEINT and DECIMAL(38)


@pytest.fixture(autouse=True)
def lake_in_tmp(settings, tmp_path):
    settings.STORAGE_URL = (tmp_path / "lake").as_uri()
    settings.TASK_RETRY_BASE_SECONDS = 0
    settings.OUTBOUND_ALLOW = ["127.0.0.1/32"]
    settings.EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
    settings.ALERT_DELIVERY_CONNECT_TIMEOUT = 2
    settings.ALERT_DELIVERY_READ_TIMEOUT = 2
    return tmp_path / "lake"


def block_hash(number: int, fork: str = "a") -> str:
    return "0x" + f"{fork}{number:063x}"[-64:]


def transfers(first: int, last: int, *, fork: str = "a", chain_id: int = 1) -> pa.Table:
    """Two transfers per block: one of ``block`` ether in wei, and every tenth block one of 2^256-1."""
    rows = []
    for number in range(first, last + 1):
        for log_index, value in enumerate([str(number * 10**18), HUGE if number % 10 == 0 else "7"]):
            rows.append(
                {
                    "chain_id": chain_id,
                    "block_number": number,
                    "block_hash": block_hash(number, fork),
                    "block_timestamp": 1_700_000_000 + 12 * number,
                    "transaction_hash": "0x" + f"{fork}{number:031x}{log_index:032x}"[-64:],
                    "log_index": log_index,
                    "token_address": "0x" + "ab" * 20,
                    "from_address": "0x" + f"{number % 7:040x}",
                    "to_address": "0x" + f"{number % 5:040x}",
                    "value": value,
                }
            )
    columns = {f.name: [r[f.name] for r in rows] for f in TRANSFERS_SCHEMA}
    columns["block_timestamp"] = pa.array(columns["block_timestamp"], pa.int64()).cast(
        pa.timestamp("s", tz="UTC")
    )
    return pa.table(columns, schema=TRANSFERS_SCHEMA)


def partition_key(first: int) -> str:
    return f"blocks_{first:08d}"


def publish(first: int, last: int, *, fork: str = "a", key_first: int | None = None):
    key = partition_key(first if key_first is None else key_first)
    return dataset_partition_write(
        dataset=DATASET, partition_key=key, table=transfers(first, last, fork=fork)
    )


@pytest.fixture
def platform(db):
    return platform_org_for_tests()


@pytest.fixture
def org(db):
    return OrgFactory(slug="acme")


@pytest.fixture
def member(org):
    return UserFactory(org=org, role="member", is_staff=True)


@pytest.fixture
def receiver():
    with Receiver() as running:
        yield running


def big_transfer_condition(**extra) -> dict:
    """Transfers of at least 10^20 wei (blocks >= 100 and every 2^256-1 transfer)."""
    return {
        "dataset": DATASET,
        "where": {"column": "value", "op": "gte", "value": "100000000000000000000"},
        "severity": "critical",
        "payload": ["value", "from_address", "to_address"],
        **extra,
    }
