"""Arrow schemas of the chain datasets and their block-range partitioning.

Type choices, for precision first:
- uint256 values (wei amounts, token values, fee fields) are exact base-10 strings ("1000000000000000001").
  Decimal types cannot hold them: uint256 needs 78 digits while Arrow's decimal256 stops at 76, and
  DuckDB — the query engine over the lake — reads any decimal wider than 38 digits as a DOUBLE, which
  is exactly the rounding we must not do. Cast in SQL where a value is known to be small
  (`value::HUGEINT`, or `::DECIMAL(38,0)`).
- Counters bounded by the protocol to 64 bits (gas, nonces, sizes) are uint64; block numbers and
  indexes int64/int32, which is what SQL users join on.
- Addresses are lower-case 0x-hex (40 digits), hashes and byte strings lower-case 0x-hex.
- Block time is `timestamp[s, UTC]`.

Partitions are block ranges of a fixed width: the key `blocks_00012000` holds blocks 12000-12999 at
width 1000. Every chain dataset uses the same keys, so a downstream job maps partitions one to one.

Each chain writes the same dataset kinds (blocks, transactions, logs, transfers) in a namespace of
its own (`evm.logs`, `base.logs`): partitions, cursors and reorg invalidations stay per chain, and
every row carries `chain_id`, so a query reads several chains with UNION ALL. Schemas and row orders
are therefore keyed by kind; `BLOCKS`, `LOGS`, ... name the datasets of the default namespace.
"""

from __future__ import annotations

import pyarrow as pa

BLOCKS_KIND = "blocks"
TRANSACTIONS_KIND = "transactions"
LOGS_KIND = "logs"
TRANSFERS_KIND = "transfers"
SOURCE_KINDS = (BLOCKS_KIND, TRANSACTIONS_KIND, LOGS_KIND)  # what a source job writes

DEFAULT_NAMESPACE = "evm"


def dataset_name(namespace: str, kind: str) -> str:
    """The dataset of `kind` in a chain's namespace: ("base", "logs") -> "base.logs"."""
    return f"{namespace}.{kind}"


def kind_of(dataset: str) -> str:
    """The kind of a chain dataset: "base.logs" -> "logs"."""
    return dataset.rpartition(".")[2]


def namespace_of(dataset: str) -> str:
    """The chain namespace of a dataset: "base.logs" -> "base"."""
    return dataset.partition(".")[0]


BLOCKS = dataset_name(DEFAULT_NAMESPACE, BLOCKS_KIND)
TRANSACTIONS = dataset_name(DEFAULT_NAMESPACE, TRANSACTIONS_KIND)
LOGS = dataset_name(DEFAULT_NAMESPACE, LOGS_KIND)
TRANSFERS = dataset_name(DEFAULT_NAMESPACE, TRANSFERS_KIND)

DEFAULT_PARTITION_WIDTH = 1000
PARTITION_PREFIX = "blocks_"
_KEY_DIGITS = 8

_timestamp = pa.timestamp("s", tz="UTC")

BLOCKS_SCHEMA = pa.schema(
    [
        pa.field("chain_id", pa.int64(), nullable=False),
        pa.field("block_number", pa.int64(), nullable=False),
        pa.field("block_hash", pa.string(), nullable=False),
        pa.field("parent_hash", pa.string(), nullable=False),
        pa.field("block_timestamp", _timestamp, nullable=False),
        pa.field("miner", pa.string()),
        pa.field("gas_limit", pa.uint64(), nullable=False),
        pa.field("gas_used", pa.uint64(), nullable=False),
        pa.field("base_fee_per_gas", pa.string()),
        pa.field("transaction_count", pa.int32(), nullable=False),
        pa.field("size", pa.uint64()),
        pa.field("state_root", pa.string()),
        pa.field("transactions_root", pa.string()),
        pa.field("receipts_root", pa.string()),
        pa.field("extra_data", pa.string()),
    ]
)

# Where a row sits on the chain: every transaction-level dataset starts with these columns.
_IN_BLOCK = [
    pa.field("chain_id", pa.int64(), nullable=False),
    pa.field("block_number", pa.int64(), nullable=False),
    pa.field("block_hash", pa.string(), nullable=False),
    pa.field("block_timestamp", _timestamp, nullable=False),
]
_IN_TRANSACTION = [
    *_IN_BLOCK,
    pa.field("transaction_index", pa.int32(), nullable=False),
    pa.field("transaction_hash", pa.string(), nullable=False),
]

TRANSACTIONS_SCHEMA = pa.schema(
    [
        *_IN_TRANSACTION,
        pa.field("from_address", pa.string(), nullable=False),
        pa.field("to_address", pa.string()),  # null for a contract creation
        pa.field("value", pa.string(), nullable=False),
        pa.field("gas", pa.uint64(), nullable=False),
        pa.field("gas_price", pa.string()),
        pa.field("max_fee_per_gas", pa.string()),
        pa.field("max_priority_fee_per_gas", pa.string()),
        pa.field("nonce", pa.uint64(), nullable=False),
        pa.field("input", pa.string(), nullable=False),
        pa.field("transaction_type", pa.int32()),
        # From the transaction's receipt. Nullable because partitions written before receipts were
        # read lack them, and a merge fills them with nulls rather than rewriting history.
        pa.field("status", pa.int32()),  # 1 success, 0 failure; null before Byzantium
        pa.field("gas_used", pa.uint64()),
        pa.field("cumulative_gas_used", pa.uint64()),
        pa.field("effective_gas_price", pa.string()),
        pa.field("contract_address", pa.string()),  # the contract a creation made, else null
    ]
)

# The receipt columns at the end of TRANSACTIONS_SCHEMA.
RECEIPT_COLUMNS = (
    "status",
    "gas_used",
    "cumulative_gas_used",
    "effective_gas_price",
    "contract_address",
)

LOGS_SCHEMA = pa.schema(
    [
        *_IN_TRANSACTION,
        pa.field("log_index", pa.int32(), nullable=False),
        pa.field("address", pa.string(), nullable=False),
        pa.field("topic0", pa.string()),
        pa.field("topic1", pa.string()),
        pa.field("topic2", pa.string()),
        pa.field("topic3", pa.string()),
        pa.field("data", pa.string(), nullable=False),
    ]
)

TRANSFERS_SCHEMA = pa.schema(
    [
        *_IN_BLOCK,
        pa.field("transaction_hash", pa.string(), nullable=False),
        pa.field("log_index", pa.int32(), nullable=False),
        pa.field("token_address", pa.string(), nullable=False),
        pa.field("from_address", pa.string(), nullable=False),
        pa.field("to_address", pa.string(), nullable=False),
        pa.field("value", pa.string(), nullable=False),
    ]
)

# Keyed by kind: the same in every chain's namespace (`SCHEMAS[kind_of("base.logs")]`).
SCHEMAS: dict[str, pa.Schema] = {
    BLOCKS_KIND: BLOCKS_SCHEMA,
    TRANSACTIONS_KIND: TRANSACTIONS_SCHEMA,
    LOGS_KIND: LOGS_SCHEMA,
    TRANSFERS_KIND: TRANSFERS_SCHEMA,
}

# The row order of each kind inside a partition: files of the same content are identical.
SORT_KEYS: dict[str, list[str]] = {
    BLOCKS_KIND: ["block_number"],
    TRANSACTIONS_KIND: ["block_number", "transaction_index"],
    LOGS_KIND: ["block_number", "log_index"],
    TRANSFERS_KIND: ["block_number", "log_index"],
}


def source_datasets(namespace: str = DEFAULT_NAMESPACE) -> tuple[str, ...]:
    """The datasets a source job writes in `namespace`: blocks, transactions, logs."""
    return tuple(dataset_name(namespace, kind) for kind in SOURCE_KINDS)


SOURCE_DATASETS = source_datasets()


def partition_key(block_number: int, width: int = DEFAULT_PARTITION_WIDTH) -> str:
    """The key of the partition holding `block_number`, e.g. 12345 -> "blocks_00012000"."""
    if block_number < 0 or width < 1:
        raise ValueError(f"no partition for block {block_number} at width {width}")
    return f"{PARTITION_PREFIX}{block_number - block_number % width:0{_KEY_DIGITS}d}"


def partition_bounds(key: str, width: int = DEFAULT_PARTITION_WIDTH) -> tuple[int, int]:
    """First and last block of a partition key (inclusive)."""
    if not key.startswith(PARTITION_PREFIX) or not key[len(PARTITION_PREFIX) :].isdigit():
        raise ValueError(f"not a block-range partition key: {key!r}")
    first = int(key[len(PARTITION_PREFIX) :])
    if first % width:
        raise ValueError(f"{key!r} does not start a partition of width {width}")
    return first, first + width - 1


def partition_keys(first_block: int, last_block: int, width: int = DEFAULT_PARTITION_WIDTH) -> list[str]:
    """Keys of every partition touching blocks first_block..last_block, ascending."""
    start = first_block - first_block % width
    return [partition_key(block, width) for block in range(start, last_block + 1, width)]
