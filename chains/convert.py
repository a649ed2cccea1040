"""Raw JSON-RPC blocks and logs to Arrow tables, and ERC-20 Transfer decoding.

Conversion is also validation: a field that is missing or not the hex it should be raises
MalformedResponseError, so a node's bad answer fails the task instead of landing in the lake.
Quantities become exact ints or base-10 strings (see `schema` for why), addresses and hashes are
checked for length and lower-cased.

The node's JSON never becomes Python objects. Each block (or log) object, as the node wrote it, is
one line of newline-delimited JSON that Arrow's reader parses in C++ against an explicit schema of the
fields we keep, every one a string (so a number where a hex string belongs is refused by the reader;
other fields are skipped). From there everything is a column at a time in Arrow's compute kernels:
one anchored regular expression checks a whole column, lower-casing is one pass, transactions are
flattened out of their blocks by list offsets, and hex quantities up to 64 bits are parsed from the
fixed-width digits in numpy. Only uint256 values wider than 64 bits go through Python's exact
`int(…, 16)`, one per such value. A block of mainnet size has some 30,000 fields; per-value Python
was most of ingestion's time.

Receipts (`read_receipts_json`, `with_receipts`) fill the receipt columns of the transactions read
from blocks, after checking that they are the receipts of exactly those transactions.

`blocks_table`, `transactions_table` and `logs_table` take decoded JSON (dicts) and go through the
same path; ingestion hands over the node's bytes with `read_blocks_json` / `read_logs_json` /
`read_receipts_json` and the `*_from_raw` functions.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import msgspec
import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.json as pa_json

from chains.errors import ChainMovedError, MalformedResponseError
from chains.schema import (
    BLOCKS_SCHEMA,
    LOGS_SCHEMA,
    RECEIPT_COLUMNS,
    TRANSACTIONS_SCHEMA,
    TRANSFERS_SCHEMA,
)

# keccak256("Transfer(address,address,uint256)"): the event of ERC-20 (and ERC-721, which indexes a
# fourth topic and is told apart by it).
TRANSFER_TOPIC = "0xddf252ad1be2c89b69c2b068fc378daa952ba7f163c4a11628f55a4df523b3ef"


@dataclass(frozen=True)
class _HexShape:
    """What a hex field must look like: "0x" (or "0X" where `either_prefix`) and hex digits of
    either case, exactly `digits` of them, or an even number (`even`), or at least one."""

    description: str
    digits: int | None = None
    even: bool = False
    either_prefix: bool = True


# A hash is 64 hex digits, an address 40, byte data any even number; stored lower-case. A quantity
# is "0x" and at least one digit, as JSON-RPC writes it.
_HASH = _HexShape("64 hex digits", digits=64)
_ADDRESS = _HexShape("40 hex digits", digits=40)
_DATA = _HexShape("even-length hex data", even=True)
_QUANTITY = _HexShape("a hex quantity", either_prefix=False)

# The fields of the node's objects that we keep, as the JSON reader must find them.
_TRANSACTION_FIELDS = (
    "blockHash",
    "blockNumber",
    "transactionIndex",
    "hash",
    "from",
    "to",
    "value",
    "gas",
    "gasPrice",
    "maxFeePerGas",
    "maxPriorityFeePerGas",
    "nonce",
    "input",
    "type",
)
_BLOCK_FIELDS = (
    "number",
    "hash",
    "parentHash",
    "timestamp",
    "miner",
    "gasLimit",
    "gasUsed",
    "baseFeePerGas",
    "size",
    "stateRoot",
    "transactionsRoot",
    "receiptsRoot",
    "extraData",
)
_RECEIPT_FIELDS = (
    "blockNumber",
    "blockHash",
    "transactionHash",
    "status",
    "gasUsed",
    "cumulativeGasUsed",
    "effectiveGasPrice",
    "contractAddress",
)
_LOG_FIELDS = (
    "blockNumber",
    "blockHash",
    "transactionIndex",
    "transactionHash",
    "logIndex",
    "address",
    "data",
)


def _strings_schema(names: Sequence[str], *extra: pa.Field) -> pa.Schema:
    return pa.schema([*(pa.field(name, pa.string()) for name in names), *extra])


RAW_TRANSACTION_TYPE = pa.struct(list(_strings_schema(_TRANSACTION_FIELDS)))
RAW_BLOCK_SCHEMA = _strings_schema(_BLOCK_FIELDS, pa.field("transactions", pa.list_(RAW_TRANSACTION_TYPE)))
RAW_RECEIPT_SCHEMA = _strings_schema(_RECEIPT_FIELDS)
RAW_LOG_SCHEMA = _strings_schema(
    _LOG_FIELDS, pa.field("topics", pa.list_(pa.string())), pa.field("removed", pa.bool_())
)

_UINT64_DIGITS = 16


@contextmanager
def _refusing(what: str) -> Iterator[None]:
    """Any failure to read a node's answer as `what` becomes one MalformedResponseError: a missing
    field, an object where a list belongs, a number where a string belongs, a value out of range."""
    try:
        yield
    except MalformedResponseError:
        raise
    except (TypeError, ValueError, OverflowError, pa.ArrowException) as exc:
        raise MalformedResponseError(f"malformed {what} from the node: {exc}"[:300]) from exc


# -- JSON to raw Arrow -----------------------------------------------------------------------------


def _read_json_lines(objects: Sequence[bytes], schema: pa.Schema, what: str) -> pa.Table:
    """The node's JSON objects (bytes-like, each on one line) as a table of `schema`'s fields. The
    reader releases the GIL, so fetch threads parse while the main thread converts; its own threads
    are off, since the fetch threads are parallel already (and they cost a third more CPU)."""
    if not objects:
        return schema.empty_table()
    lines = b"\n".join(objects)
    # Every object must fit in one block of the reader.
    block_size = max(1 << 20, max(map(len, objects)) + 1)
    with _refusing(what):
        return pa_json.read_json(
            pa.BufferReader(lines),
            read_options=pa_json.ReadOptions(use_threads=False, block_size=block_size),
            parse_options=pa_json.ParseOptions(explicit_schema=schema, unexpected_field_behavior="ignore"),
        ).combine_chunks()


def read_blocks_json(blocks: Sequence[bytes]) -> pa.Table:
    """`eth_getBlockByNumber` results (with full transactions) as a table of RAW_BLOCK_SCHEMA."""
    return _read_json_lines(blocks, RAW_BLOCK_SCHEMA, "block")


def read_logs_json(logs: Sequence[bytes]) -> pa.Table:
    """Log objects of `eth_getLogs` results as a table of RAW_LOG_SCHEMA."""
    return _read_json_lines(logs, RAW_LOG_SCHEMA, "log")


def read_receipts_json(receipts: Sequence[bytes]) -> pa.Table:
    """Receipt objects (of `eth_getBlockReceipts` or `eth_getTransactionReceipt`) as a table of
    RAW_RECEIPT_SCHEMA; their logs are skipped by the reader (eth_getLogs reads those)."""
    return _read_json_lines(receipts, RAW_RECEIPT_SCHEMA, "receipt")


def _encoded(objects: Sequence[Mapping[str, Any]]) -> list[bytes]:
    with _refusing("answer"):
        return [msgspec.json.encode(obj) for obj in objects]


# -- columns -----------------------------------------------------------------------------------------


def _column(table: pa.Table | pa.StructArray, name: str) -> pa.Array:
    if isinstance(table, pa.Table):
        column = table.column(name)
        return column.chunk(0) if column.num_chunks == 1 else column.combine_chunks()
    return pc.struct_field(table, name)


def _present(array: pa.Array, field: str, *, nullable: bool) -> pa.Array:
    if not nullable and array.null_count:
        raise ValueError(f"{field} is missing")
    return array


def _checked(array: pa.StringArray, field: str, shape: _HexShape) -> bool:
    """Refuses the column unless every (non-null) value has `shape`, naming the first that has not.
    Returns whether some value has an upper-case letter."""
    values = array.filter(array.is_valid()) if array.null_count else array
    upper = _scan(values, shape)
    if upper is None:
        bad = _first_misshapen(values, shape)
        raise ValueError(f"{field} is not {shape.description}: {bad[:80]!r}")
    return upper


def _layout(array: pa.StringArray) -> tuple[np.ndarray, np.ndarray]:
    """The offsets and the character bytes of a string column, as numpy views (no copy)."""
    offsets = np.frombuffer(array.buffers()[1], dtype=np.int32, count=len(array) + 1, offset=array.offset * 4)
    return offsets, np.frombuffer(array.buffers()[2] or b"", dtype=np.uint8)


def _fine_lengths_and_prefixes(offsets: np.ndarray, text: np.ndarray, shape: _HexShape) -> np.ndarray:
    """Per value: the length `shape` asks for, and "0x" (or "0X") first."""
    lengths = np.diff(offsets)
    if shape.digits is not None:
        fine = lengths == shape.digits + 2
    elif shape.even:
        fine = (lengths >= 2) & (lengths % 2 == 0)
    else:
        fine = lengths >= 3
    starts = offsets[:-1][fine]
    if len(starts):
        marks = text[starts + 1]
        prefixed = (text[starts] == ord("0")) & (
            (marks == ord("x")) | ((marks == ord("X")) if shape.either_prefix else False)
        )
        fine[fine] = prefixed
    return fine


def _scan(array: pa.StringArray, shape: _HexShape) -> bool | None:
    """Whether every value of a column without nulls has `shape`, checked on the column's bytes in
    numpy: lengths from the offsets, prefixes at the value starts, and then the whole character
    buffer must hold nothing but hex digits besides the one "x" of each prefix. A regular
    expression per value took about twice as long. None when some value has not the shape; else
    whether some value has an upper-case letter (nodes write lower case, so the first count, of
    lower-case digits, usually settles both)."""
    if len(array) == 0:
        return False
    offsets, text = _layout(array)
    if not _fine_lengths_and_prefixes(offsets, text, shape).all():
        return None
    region = text[offsets[0] : offsets[-1]]
    digits = offsets[-1] - offsets[0] - len(array)
    if _count_lower_hex_digits(region) == digits:
        return bool(shape.either_prefix and (text[offsets[:-1] + 1] == ord("X")).any())
    return True if _count_hex_digits(region) == digits else None


def _first_misshapen(array: pa.StringArray, shape: _HexShape) -> str | None:
    """The first value of a column without nulls that does not have `shape` (the slow way, for the
    error message), or None."""
    offsets, text = _layout(array)
    fine = _fine_lengths_and_prefixes(offsets, text, shape)
    region = text[offsets[0] : offsets[-1]]
    digits = (((region | 0x20) - ord("a")) < 6) | ((region - ord("0")) < 10)
    lengths = np.diff(offsets)
    digits[offsets[:-1][lengths >= 2] + 1 - offsets[0]] = True  # the "x" of each prefix
    if not digits.all():
        first_byte = offsets[0] + int(np.argmin(digits))
        fine[np.searchsorted(offsets, first_byte, side="right") - 1] = False
    return None if fine.all() else array[int(np.argmin(fine))].as_py()


def _count_hex_digits(text: np.ndarray) -> int:
    """How many bytes of `text` are ASCII hex digits: "0"-"9", or "a"-"f" once bit 5 is set (which
    turns "A"-"F", and only those, into "a"-"f"). Two range checks in uint8 arithmetic, which wraps
    below zero; a table lookup per byte is slower."""
    return int(np.count_nonzero((((text | 0x20) - ord("a")) < 6) | ((text - ord("0")) < 10)))


def _count_lower_hex_digits(text: np.ndarray) -> int:
    """How many bytes of `text` are "0"-"9" or "a"-"f"."""
    return int(np.count_nonzero(((text - ord("a")) < 6) | ((text - ord("0")) < 10)))


def _hex(source, field: str, shape: _HexShape, *, nullable: bool = False) -> pa.StringArray:
    """A column of 0x-hex strings of `shape`, lower-cased (copied only when some value is not)."""
    array = _present(_column(source, field), field, nullable=nullable)
    return pc.ascii_lower(array) if _checked(array, field, shape) else array


def _significant_digits(array: pa.StringArray, field: str, *, nullable: bool) -> pa.StringArray:
    """The hex digits of a column of quantities, without "0x" and leading zeros ("" for zero)."""
    _present(array, field, nullable=nullable)
    _checked(array, field, _QUANTITY)
    return pc.utf8_ltrim(pc.utf8_slice_codeunits(array, 2), characters="0")


def _uint64_of_digits(digits: pa.StringArray) -> pa.UInt64Array:
    """Hex digits (at most 16 each, checked before) as uint64, nulls kept, without a Python int per
    value: padded to 16 digits, the strings are one fixed-width buffer that numpy reads as bytes."""
    count = len(digits)
    if count == 0:
        return pa.array([], pa.uint64())
    padded = pc.utf8_lpad(pc.fill_null(digits, ""), width=_UINT64_DIGITS, padding="0")
    start = int(np.frombuffer(padded.buffers()[1], dtype=np.int32)[padded.offset])
    text = np.frombuffer(padded.buffers()[2], dtype=np.uint8, count=count * _UINT64_DIGITS, offset=start)
    # "0"-"9" are 0x30-0x39, "a"-"f" 0x61-0x66 and "A"-"F" 0x41-0x46: the low four bits, plus 9 for
    # a letter (bit 6 set). Arithmetic, not a table lookup per byte, which is several times slower.
    nibbles = ((text & 0x0F) + (text >> 6) * 9).reshape(count, _UINT64_DIGITS)
    octets = np.ascontiguousarray((nibbles[:, 0::2] << 4) | nibbles[:, 1::2])
    values = octets.view(">u8").reshape(count).astype(np.uint64)
    mask = digits.is_null().to_numpy(zero_copy_only=False) if digits.null_count else None
    return pa.array(values, pa.uint64(), mask=mask)


def _quantities(source, field: str, type_: pa.DataType, *, nullable: bool = False) -> pa.Array:
    """Hex quantities of a field bounded to 64 bits, as `type_` (a value that does not fit is
    refused: Arrow's safe cast checks the range)."""
    digits = _significant_digits(_column(source, field), field, nullable=nullable)
    too_wide = pc.greater(pc.utf8_length(digits), _UINT64_DIGITS)
    if pc.any(too_wide, min_count=0).as_py():
        bad = _column(source, field)[pc.index(too_wide, True).as_py()].as_py()
        raise ValueError(f"{field} does not fit in 64 bits: {bad[:80]!r}")
    return _uint64_of_digits(digits).cast(type_)


def _decimals(source, field: str, *, nullable: bool = False) -> pa.StringArray:
    """uint256 quantities as exact base-10 strings: up to 64 bits through uint64, the wider ones
    (rare: huge wei amounts) through Python's exact int."""
    array = _column(source, field)
    digits = _significant_digits(array, field, nullable=nullable)
    wide = pc.fill_null(pc.greater(pc.utf8_length(digits), _UINT64_DIGITS), False)
    narrow_digits = pc.if_else(wide, "", digits)
    decimals = _uint64_of_digits(narrow_digits).cast(pa.string())
    if pc.any(wide, min_count=0).as_py():
        exact = [str(int(value, 16)) for value in array.filter(wide).to_pylist()]
        decimals = pc.replace_with_mask(decimals, wide, pa.array(exact, pa.string()))
    return decimals


def _timestamps(seconds: pa.Array) -> pa.Array:
    return seconds.cast(pa.int64()).cast(pa.timestamp("s", tz="UTC"))


def _constant(value: int, count: int) -> pa.Array:
    return pa.array(np.full(count, value, dtype=np.int64), pa.int64())


def _table(columns: list[pa.Array], schema: pa.Schema) -> pa.Table:
    return pa.Table.from_arrays(
        [
            column if column.type == field.type else column.cast(field.type)
            for column, field in zip(columns, schema, strict=True)
        ],
        schema=schema,
    )


# -- tables ------------------------------------------------------------------------------------------


def blocks_from_raw(chain_id: int, raw: pa.Table) -> pa.Table:
    """evm.blocks rows from a table of `read_blocks_json`."""
    with _refusing("block"):
        return _table(
            [
                _constant(chain_id, raw.num_rows),
                _quantities(raw, "number", pa.int64()),
                _hex(raw, "hash", _HASH),
                _hex(raw, "parentHash", _HASH),
                _timestamps(_quantities(raw, "timestamp", pa.uint64())),
                _hex(raw, "miner", _ADDRESS, nullable=True),
                _quantities(raw, "gasLimit", pa.uint64()),
                _quantities(raw, "gasUsed", pa.uint64()),
                _decimals(raw, "baseFeePerGas", nullable=True),
                _present(pc.list_value_length(_column(raw, "transactions")), "transactions", nullable=False),
                _quantities(raw, "size", pa.uint64(), nullable=True),
                _hex(raw, "stateRoot", _HASH, nullable=True),
                _hex(raw, "transactionsRoot", _HASH, nullable=True),
                _hex(raw, "receiptsRoot", _HASH, nullable=True),
                _hex(raw, "extraData", _DATA, nullable=True),
            ],
            BLOCKS_SCHEMA,
        )


def transactions_from_raw(chain_id: int, raw: pa.Table) -> pa.Table:
    """evm.transactions rows from a table of `read_blocks_json` (blocks with full transactions)."""
    with _refusing("block"):
        numbers = _quantities(raw, "number", pa.int64())
        hashes = _hex(raw, "hash", _HASH)
        timestamps = _timestamps(_quantities(raw, "timestamp", pa.uint64()))
        per_block = _present(_column(raw, "transactions"), "transactions", nullable=False)
        owner = pc.list_parent_indices(per_block)
        txs = pc.list_flatten(per_block)
    with _refusing("transaction"):
        if txs.null_count:
            raise ValueError("a transaction is null")
        block_numbers = pc.take(numbers, owner)
        block_hashes = pc.take(hashes, owner)
        tx_hashes = _hex(txs, "hash", _HASH)
        _belong_to_blocks(txs, tx_hashes, block_numbers, block_hashes)
        return _table(
            [
                _constant(chain_id, len(txs)),
                block_numbers,
                block_hashes,
                pc.take(timestamps, owner),
                _quantities(txs, "transactionIndex", pa.int32()),
                tx_hashes,
                _hex(txs, "from", _ADDRESS),
                _hex(txs, "to", _ADDRESS, nullable=True),
                _decimals(txs, "value"),
                _quantities(txs, "gas", pa.uint64()),
                _decimals(txs, "gasPrice", nullable=True),
                _decimals(txs, "maxFeePerGas", nullable=True),
                _decimals(txs, "maxPriorityFeePerGas", nullable=True),
                _quantities(txs, "nonce", pa.uint64()),
                _hex(txs, "input", _DATA),
                _quantities(txs, "type", pa.int32(), nullable=True),
                *(pa.nulls(len(txs), TRANSACTIONS_SCHEMA.field(name).type) for name in RECEIPT_COLUMNS),
            ],
            TRANSACTIONS_SCHEMA,
        )


def with_receipts(transactions: pa.Table, raw: pa.Table) -> pa.Table:
    """evm.transactions rows with their receipt columns filled from a table of `read_receipts_json`
    holding one receipt per transaction, in the same order (block by block, by index).

    The receipts must be those of the transactions read: a receipt naming a block hash that was not
    read means the chain moved between the two reads (ChainMovedError); another count of receipts,
    or receipts of other transactions, is a node's bad answer (MalformedResponseError). Both are
    transient: reading again gives a consistent view."""
    with _refusing("receipt"):
        block_hashes = _hex(raw, "blockHash", _HASH)
        tx_hashes = _hex(raw, "transactionHash", _HASH)
        status = _quantities(raw, "status", pa.int32(), nullable=True)  # absent before Byzantium
        if pc.any(pc.greater(status, 1), min_count=0).as_py():
            raise ValueError("status is neither 0x0 nor 0x1")
        receipt_columns = [
            status,
            _quantities(raw, "gasUsed", pa.uint64()),
            _quantities(raw, "cumulativeGasUsed", pa.uint64()),
            _decimals(raw, "effectiveGasPrice", nullable=True),
            _hex(raw, "contractAddress", _ADDRESS, nullable=True),
        ]
    read_hashes = pc.unique(_column(transactions, "block_hash"))
    known = pc.is_in(block_hashes, value_set=read_hashes)
    if not pc.all(known, min_count=0).as_py():
        index = pc.index(known, False).as_py()
        raise ChainMovedError(
            f"the receipt of transaction {tx_hashes[index]} names block {block_hashes[index]}, "
            "which is not among the blocks read; the chain moved during the read"
        )
    if raw.num_rows != transactions.num_rows:
        raise MalformedResponseError(
            f"the node sent {raw.num_rows} receipts for {transactions.num_rows} transactions"
        )
    same = pc.and_(
        pc.equal(tx_hashes, _column(transactions, "transaction_hash")),
        pc.equal(block_hashes, _column(transactions, "block_hash")),
    )
    if not pc.all(same, min_count=0).as_py():
        index = pc.index(same, False).as_py()
        raise MalformedResponseError(
            f"the node sent the receipt of transaction {tx_hashes[index]} in the place of "
            f"{transactions['transaction_hash'][index]}"
        )
    for name, column in zip(RECEIPT_COLUMNS, receipt_columns, strict=True):
        field = TRANSACTIONS_SCHEMA.field(name)
        transactions = transactions.set_column(
            transactions.schema.get_field_index(name), field, column.cast(field.type)
        )
    return transactions


def _belong_to_blocks(
    txs: pa.StructArray, tx_hashes: pa.Array, block_numbers: pa.Array, block_hashes: pa.Array
) -> None:
    """Each transaction must name the block it came in (number and hash)."""
    named_numbers = _quantities(txs, "blockNumber", pa.int64())
    named_hashes = _hex(txs, "blockHash", _HASH)
    same = pc.and_(pc.equal(named_numbers, block_numbers), pc.equal(named_hashes, block_hashes))
    if not pc.all(same, min_count=0).as_py():
        index = pc.index(same, False).as_py()
        raise ValueError(f"transaction {tx_hashes[index]} does not belong to block {block_numbers[index]}")


def logs_from_raw(
    chain_id: int, raw: pa.Table, block_numbers: pa.Array, block_timestamps: pa.Array
) -> pa.Table:
    """evm.logs rows from a table of `read_logs_json`; the time of each log's block is looked up in
    `block_numbers` / `block_timestamps` (the blocks of the same range: logs carry no time). A log
    marked `removed` belongs to an orphaned block and is refused: the node changed its mind
    mid-read."""
    with _refusing("log"):
        if pc.any(_column(raw, "removed"), min_count=0).as_py():
            raise ValueError("log of a removed (orphaned) block")
        numbers = _quantities(raw, "blockNumber", pa.int64())
        topics = _present(_column(raw, "topics"), "topics", nullable=False)
        counts = pc.list_value_length(topics)
        most = pc.max(counts).as_py() or 0
        if most > 4:
            raise ValueError(f"{most} topics; the EVM emits at most 4")
        flat_topics = pc.list_flatten(topics)
        starts = pc.subtract(pc.cumulative_sum(counts), counts)
        return _table(
            [
                _constant(chain_id, raw.num_rows),
                numbers,
                _hex(raw, "blockHash", _HASH),
                _times_of_blocks(numbers, block_numbers, block_timestamps),
                _quantities(raw, "transactionIndex", pa.int32()),
                _hex(raw, "transactionHash", _HASH),
                _quantities(raw, "logIndex", pa.int32()),
                _hex(raw, "address", _ADDRESS),
                *(_topic_column(flat_topics, starts, counts, position) for position in range(4)),
                _hex(raw, "data", _DATA),
            ],
            LOGS_SCHEMA,
        )


def _times_of_blocks(numbers: pa.Array, block_numbers: pa.Array, block_timestamps: pa.Array) -> pa.Array:
    where = pc.index_in(numbers, value_set=block_numbers.cast(pa.int64()))
    if where.null_count:
        unknown = numbers.filter(where.is_null())[0]
        raise ValueError(f"a log of block {unknown}, which is not among the blocks read")
    return _timestamps(pc.take(block_timestamps, where))


def _topic_column(flat_topics: pa.Array, starts: pa.Array, counts: pa.Array, position: int) -> pa.StringArray:
    """topic`position` of every log: a hash where the log has that many topics, else null (and a
    null inside a log's topic list is refused like any other non-hash)."""
    has_topic = pc.greater(counts, position)
    indices = pc.if_else(has_topic, pc.add(starts, position), pa.scalar(None, starts.type))
    values = pc.take(flat_topics, indices)
    field = f"topic{position}"
    if values.null_count != has_topic.false_count:
        raise ValueError(f"{field} is null")
    return pc.ascii_lower(values) if _checked(values, field, _HASH) else values


# -- decoded JSON (dicts) ----------------------------------------------------------------------------


def blocks_table(chain_id: int, blocks: Sequence[Mapping[str, Any]]) -> pa.Table:
    """evm.blocks rows from decoded `eth_getBlockByNumber` results."""
    return blocks_from_raw(chain_id, read_blocks_json(_encoded(blocks)))


def transactions_table(
    chain_id: int,
    blocks: Sequence[Mapping[str, Any]],
    receipts: Sequence[Mapping[str, Any]] | None = None,
) -> pa.Table:
    """evm.transactions rows from decoded blocks fetched with full transactions, and with their
    receipt columns when `receipts` (one per transaction, in order) are given, else nulls there."""
    transactions = transactions_from_raw(chain_id, read_blocks_json(_encoded(blocks)))
    if receipts is None:
        return transactions
    return with_receipts(transactions, read_receipts_json(_encoded(receipts)))


def logs_table(
    chain_id: int, logs: Sequence[Mapping[str, Any]], block_timestamps: Mapping[int, int]
) -> pa.Table:
    """evm.logs rows from decoded `eth_getLogs` results; `block_timestamps` (block number -> unix
    time) comes from the blocks of the same range."""
    return logs_from_raw(
        chain_id,
        read_logs_json(_encoded(logs)),
        pa.array(list(block_timestamps), pa.int64()),
        pa.array(list(block_timestamps.values()), pa.int64()),
    )


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
