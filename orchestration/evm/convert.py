"""Raw JSON-RPC blocks and logs to Arrow tables, and ERC-20 Transfer decoding.

Conversion is also validation: a field that is missing or not the hex it should be raises
MalformedResponseError, so a node's bad answer fails the task instead of landing in the lake.
Quantities become exact ints or base-10 strings (see `schema` for why), addresses and hashes are
checked for length and lower-cased.

It works a column at a time: each field is gathered from the decoded JSON into one list, turned into
an Arrow array (which refuses a number where a string belongs), and checked whole with one regular
expression in Arrow's compute kernels, then lower-cased there. A block of mainnet size has some
30,000 fields; a Python check per hex digit of each was most of ingestion's time. Only the hex
quantities go through Python's `int(…, 16)`, which is exact for every uint256 and cheap per value.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from operator import itemgetter
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc

from orchestration.evm.errors import MalformedResponseError
from orchestration.evm.schema import (
    BLOCKS_SCHEMA,
    LOGS_SCHEMA,
    TRANSACTIONS_SCHEMA,
    TRANSFERS_SCHEMA,
)

# keccak256("Transfer(address,address,uint256)"): the event of ERC-20 (and ERC-721, which indexes a
# fourth topic and is told apart by it).
TRANSFER_TOPIC = "0xddf252ad1be2c89b69c2b068fc378daa952ba7f163c4a11628f55a4df523b3ef"

# Whole-value patterns (RE2, anchored): a hash is 64 hex digits, an address 40, byte data any even
# number; either case of digit and prefix is accepted and stored lower-case. A quantity is "0x" and
# at least one digit, as JSON-RPC writes it.
_HASH = "^0[xX][0-9a-fA-F]{64}$"
_ADDRESS = "^0[xX][0-9a-fA-F]{40}$"
_DATA = "^0[xX](?:[0-9a-fA-F]{2})*$"
_QUANTITY = "^0x[0-9a-fA-F]+$"
_HEX_DIGITS = {_HASH: "64 hex digits", _ADDRESS: "40 hex digits", _DATA: "even-length hex data"}


@contextmanager
def _refusing(what: str) -> Iterator[None]:
    """Any failure to read a node's answer as `what` becomes one MalformedResponseError: a missing
    key, an object where a list belongs, a number where a string belongs, a value out of range."""
    try:
        yield
    except MalformedResponseError:
        raise
    except KeyError as exc:
        raise MalformedResponseError(f"malformed {what} from the node: missing field {exc}"[:300]) from exc
    except (TypeError, ValueError, AttributeError, OverflowError, pa.ArrowException) as exc:
        raise MalformedResponseError(f"malformed {what} from the node: {exc}"[:300]) from exc


def _strings(values: list, field: str, *, nullable: bool) -> pa.StringArray:
    try:
        array = pa.array(values, pa.string())
    except (pa.ArrowInvalid, pa.ArrowTypeError) as exc:
        bad = next((value for value in values if value is not None and not isinstance(value, str)), exc)
        raise ValueError(f"{field} is not a string: {str(bad)[:80]!r}") from exc
    if not nullable and array.null_count:
        raise ValueError(f"{field} is missing")
    return array


def _checked(array: pa.StringArray, field: str, pattern: str, what_it_must_be: str) -> None:
    matches = pc.match_substring_regex(array, pattern)
    # Nulls are skipped (only an optional field has them); an empty or all-null column passes.
    if not pc.all(matches, min_count=0).as_py():
        bad = array[pc.index(matches, False).as_py()].as_py()
        raise ValueError(f"{field} is not {what_it_must_be}: {bad[:80]!r}")


def _hex(values: list, field: str, pattern: str, *, nullable: bool = False) -> pa.StringArray:
    """A column of 0x-hex strings matching `pattern`, lower-cased."""
    array = _strings(values, field, nullable=nullable)
    _checked(array, field, pattern, _HEX_DIGITS[pattern])
    return pc.ascii_lower(array)


def _ints(values: list, field: str, *, nullable: bool = False) -> list[int | None]:
    """Hex quantities as exact Python ints (None kept where the field is optional)."""
    _checked(_strings(values, field, nullable=nullable), field, _QUANTITY, "a hex quantity")
    if nullable:
        return [None if value is None else int(value, 16) for value in values]
    return [int(value, 16) for value in values]


def _quantities(values: list, field: str, type_: pa.DataType, *, nullable: bool = False) -> pa.Array:
    return pa.array(_ints(values, field, nullable=nullable), type_)


def _decimals(values: list, field: str, *, nullable: bool = False) -> pa.StringArray:
    """uint256 quantities as exact base-10 strings."""
    return pa.array(
        [None if value is None else str(value) for value in _ints(values, field, nullable=nullable)],
        pa.string(),
    )


def _table(columns: list[pa.Array], schema: pa.Schema) -> pa.Table:
    return pa.Table.from_arrays(
        [
            column if column.type == field.type else column.cast(field.type)
            for column, field in zip(columns, schema, strict=True)
        ],
        schema=schema,
    )


def _field(items: Sequence[Mapping[str, Any]], key: str) -> list:
    return list(map(itemgetter(key), items))


def _optional(items: Sequence[Mapping[str, Any]], key: str) -> list:
    return [item.get(key) for item in items]


def _timestamps(seconds: list[int]) -> pa.Array:
    return pa.array(seconds, pa.timestamp("s", tz="UTC"))


def blocks_table(chain_id: int, blocks: Sequence[Mapping[str, Any]]) -> pa.Table:
    """evm.blocks rows from `eth_getBlockByNumber` results."""
    with _refusing("block"):
        columns = [
            pa.array([chain_id] * len(blocks), pa.int64()),
            _quantities(_field(blocks, "number"), "number", pa.int64()),
            _hex(_field(blocks, "hash"), "hash", _HASH),
            _hex(_field(blocks, "parentHash"), "parentHash", _HASH),
            _timestamps(_ints(_field(blocks, "timestamp"), "timestamp")),
            _hex(_optional(blocks, "miner"), "miner", _ADDRESS, nullable=True),
            _quantities(_field(blocks, "gasLimit"), "gasLimit", pa.uint64()),
            _quantities(_field(blocks, "gasUsed"), "gasUsed", pa.uint64()),
            _decimals(_optional(blocks, "baseFeePerGas"), "baseFeePerGas", nullable=True),
            pa.array([len(block["transactions"]) for block in blocks], pa.int32()),
            _quantities(_optional(blocks, "size"), "size", pa.uint64(), nullable=True),
            _hex(_optional(blocks, "stateRoot"), "stateRoot", _HASH, nullable=True),
            _hex(_optional(blocks, "transactionsRoot"), "transactionsRoot", _HASH, nullable=True),
            _hex(_optional(blocks, "receiptsRoot"), "receiptsRoot", _HASH, nullable=True),
            _hex(_optional(blocks, "extraData"), "extraData", _DATA, nullable=True),
        ]
        return _table(columns, BLOCKS_SCHEMA)


def transactions_table(chain_id: int, blocks: Sequence[Mapping[str, Any]]) -> pa.Table:
    """evm.transactions rows from blocks fetched with full transactions."""
    with _refusing("block"):
        numbers = _ints(_field(blocks, "number"), "number")
        hashes = _hex(_field(blocks, "hash"), "hash", _HASH)
        seconds = _ints(_field(blocks, "timestamp"), "timestamp")
        per_block = [block["transactions"] for block in blocks]
        owner = pa.array([i for i, txs in enumerate(per_block) for _ in txs], pa.int32())
        txs = [tx for block_txs in per_block for tx in block_txs]
    with _refusing("transaction"):
        if not all(isinstance(tx, Mapping) for tx in txs):
            raise TypeError("block was fetched without full transactions")
        block_numbers = pc.take(pa.array(numbers, pa.int64()), owner)
        block_hashes = pc.take(hashes, owner)
        _belong_to_blocks(txs, block_numbers, block_hashes)
        columns = [
            pa.array([chain_id] * len(txs), pa.int64()),
            block_numbers,
            block_hashes,
            pc.take(_timestamps(seconds), owner),
            _quantities(_field(txs, "transactionIndex"), "transactionIndex", pa.int32()),
            _hex(_field(txs, "hash"), "hash", _HASH),
            _hex(_field(txs, "from"), "from", _ADDRESS),
            _hex(_optional(txs, "to"), "to", _ADDRESS, nullable=True),
            _decimals(_field(txs, "value"), "value"),
            _quantities(_field(txs, "gas"), "gas", pa.uint64()),
            _decimals(_optional(txs, "gasPrice"), "gasPrice", nullable=True),
            _decimals(_optional(txs, "maxFeePerGas"), "maxFeePerGas", nullable=True),
            _decimals(_optional(txs, "maxPriorityFeePerGas"), "maxPriorityFeePerGas", nullable=True),
            _quantities(_field(txs, "nonce"), "nonce", pa.uint64()),
            _hex(_field(txs, "input"), "input", _DATA),
            _quantities(_optional(txs, "type"), "type", pa.int32(), nullable=True),
        ]
        return _table(columns, TRANSACTIONS_SCHEMA)


def _belong_to_blocks(
    txs: Sequence[Mapping[str, Any]], block_numbers: pa.Array, block_hashes: pa.Array
) -> None:
    """Each transaction must name the block it came in (number and hash)."""
    named_numbers = _quantities(_field(txs, "blockNumber"), "blockNumber", pa.int64())
    named_hashes = _hex(_field(txs, "blockHash"), "blockHash", _HASH)
    same = pc.and_(pc.equal(named_numbers, block_numbers), pc.equal(named_hashes, block_hashes))
    if not pc.all(same, min_count=0).as_py():
        index = pc.index(same, False).as_py()
        raise ValueError(
            f"transaction {txs[index].get('hash')} does not belong to block {block_numbers[index]}"
        )


def logs_table(
    chain_id: int, logs: Sequence[Mapping[str, Any]], block_timestamps: Mapping[int, int]
) -> pa.Table:
    """evm.logs rows from `eth_getLogs` results; `block_timestamps` (block number -> unix time)
    comes from the blocks of the same range, since logs carry no time. A log marked `removed`
    belongs to an orphaned block and is refused: the node changed its mind mid-read."""
    with _refusing("log"):
        if any(log.get("removed") for log in logs):
            raise ValueError("log of a removed (orphaned) block")
        numbers = _ints(_field(logs, "blockNumber"), "blockNumber")
        topics = _field(logs, "topics")
        counts = [len(log_topics) for log_topics in topics]
        if any(count > 4 for count in counts):
            raise ValueError(f"{max(counts)} topics; the EVM emits at most 4")
        columns = [
            pa.array([chain_id] * len(logs), pa.int64()),
            pa.array(numbers, pa.int64()),
            _hex(_field(logs, "blockHash"), "blockHash", _HASH),
            _timestamps(_times_of_blocks(numbers, block_timestamps)),
            _quantities(_field(logs, "transactionIndex"), "transactionIndex", pa.int32()),
            _hex(_field(logs, "transactionHash"), "transactionHash", _HASH),
            _quantities(_field(logs, "logIndex"), "logIndex", pa.int32()),
            _hex(_field(logs, "address"), "address", _ADDRESS),
            *(_topic_column(topics, counts, position) for position in range(4)),
            _hex(_field(logs, "data"), "data", _DATA),
        ]
        return _table(columns, LOGS_SCHEMA)


def _times_of_blocks(numbers: list[int], block_timestamps: Mapping[int, int]) -> list[int]:
    unknown = next((number for number in numbers if number not in block_timestamps), None)
    if unknown is not None:
        raise ValueError(f"a log of block {unknown}, which is not among the blocks read")
    return [block_timestamps[number] for number in numbers]


def _topic_column(topics: list[list], counts: list[int], position: int) -> pa.StringArray:
    """topic`position` of every log: a hash where the log has that many topics, else null (and a
    null inside a log's topic list is refused like any other non-hash)."""
    values = [
        log_topics[position] if count > position else None
        for log_topics, count in zip(topics, counts, strict=True)
    ]
    column = _hex(values, f"topic{position}", _HASH, nullable=True)
    if column.null_count != sum(1 for count in counts if count <= position):
        raise ValueError(f"topic{position} is null")
    return column


def decode_transfers(logs: pa.Table) -> pa.Table:
    """evm.transfers: the ERC-20 `Transfer(address indexed from, address indexed to, uint256 value)`
    logs of an evm.logs table, decoded. A log counts when topic0 is the Transfer signature, it has
    exactly three topics (ERC-721 has a fourth, the token id), both address topics are left-padded
    20-byte addresses, and its data is one 32-byte word (the value, kept as an exact decimal string)."""
    candidates = logs.filter(
        pc.and_(
            pc.and_(pc.equal(logs["topic0"], TRANSFER_TOPIC), pc.is_null(logs["topic3"])),
            pc.and_(pc.is_valid(logs["topic2"]), pc.equal(pc.utf8_length(logs["data"]), 66)),
        )
    )
    padding = "0x" + "0" * 24
    keep, from_addresses, to_addresses, values = [], [], [], []
    for topic1, topic2, data in zip(
        candidates["topic1"].to_pylist(),
        candidates["topic2"].to_pylist(),
        candidates["data"].to_pylist(),
        strict=True,
    ):
        valid = topic1[:26] == padding and topic2[:26] == padding
        keep.append(valid)
        if valid:
            from_addresses.append("0x" + topic1[26:])
            to_addresses.append("0x" + topic2[26:])
            values.append(str(int(data, 16)))
    transfers = candidates.filter(pa.array(keep, type=pa.bool_()))
    return pa.Table.from_arrays(
        [
            transfers["chain_id"],
            transfers["block_number"],
            transfers["block_hash"],
            transfers["block_timestamp"],
            transfers["transaction_hash"],
            transfers["log_index"],
            transfers["address"],
            pa.array(from_addresses, pa.string()),
            pa.array(to_addresses, pa.string()),
            pa.array(values, pa.string()),
        ],
        schema=TRANSFERS_SCHEMA,
    )
