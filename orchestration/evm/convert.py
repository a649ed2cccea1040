"""Raw JSON-RPC blocks and logs to Arrow tables, and ERC-20 Transfer decoding.

Conversion is also validation: a field that is missing or not the hex it should be raises
MalformedResponseError, so a node's bad answer fails the task instead of landing in the lake.
Quantities become exact ints or base-10 strings (see `schema` for why), addresses and hashes are
checked for length and lower-cased.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
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
_HEX_DIGITS = frozenset("0123456789abcdef")


def _quantity(value: Any) -> int:
    if not isinstance(value, str) or value[:2] != "0x":
        raise ValueError(f"not a hex quantity: {value!r}")
    return int(value, 16)


def _decimal(value: Any) -> str:
    return str(_quantity(value))


def _optional_decimal(value: Any) -> str | None:
    return None if value is None else _decimal(value)


def _hex_data(value: Any, length: int | None = None) -> str:
    """0x-hex bytes, lower-cased; `length` is the number of hex digits when fixed."""
    if not isinstance(value, str) or value[:2] not in ("0x", "0X"):
        raise ValueError(f"not hex data: {value!r}")
    lowered = "0x" + value[2:].lower()
    digits = lowered[2:]
    if (
        (length is not None and len(digits) != length)
        or len(digits) % 2
        or not _HEX_DIGITS.issuperset(digits)
    ):
        raise ValueError(f"not {length or 'even-length'} hex digits: {value[:80]!r}")
    return lowered


def _hash(value: Any) -> str:
    return _hex_data(value, 64)


def _address(value: Any) -> str:
    return _hex_data(value, 40)


def _optional_address(value: Any) -> str | None:
    return None if value is None else _address(value)


def _rows(
    items: Iterable[Mapping[str, Any]], what: str, row: Callable[[Mapping[str, Any]], tuple]
) -> list[tuple]:
    out = []
    for item in items:
        try:
            out.append(row(item))
        except (KeyError, TypeError, ValueError, AttributeError) as exc:
            raise MalformedResponseError(f"malformed {what} from the node: {exc}"[:300]) from exc
    return out


def _table(rows: list[tuple], schema: pa.Schema) -> pa.Table:
    columns = list(zip(*rows, strict=True)) if rows else [()] * len(schema)
    return pa.Table.from_arrays(
        [pa.array(column, type=field.type) for column, field in zip(columns, schema, strict=True)],
        schema=schema,
    )


def blocks_table(chain_id: int, blocks: Sequence[Mapping[str, Any]]) -> pa.Table:
    """evm.blocks rows from `eth_getBlockByNumber` results."""

    def row(block: Mapping[str, Any]) -> tuple:
        return (
            chain_id,
            _quantity(block["number"]),
            _hash(block["hash"]),
            _hash(block["parentHash"]),
            _quantity(block["timestamp"]),
            _optional_address(block.get("miner")),
            _quantity(block["gasLimit"]),
            _quantity(block["gasUsed"]),
            _optional_decimal(block.get("baseFeePerGas")),
            len(block["transactions"]),
            None if block.get("size") is None else _quantity(block["size"]),
            None if block.get("stateRoot") is None else _hash(block["stateRoot"]),
            None if block.get("transactionsRoot") is None else _hash(block["transactionsRoot"]),
            None if block.get("receiptsRoot") is None else _hash(block["receiptsRoot"]),
            None if block.get("extraData") is None else _hex_data(block["extraData"]),
        )

    return _table(_rows(blocks, "block", row), BLOCKS_SCHEMA)


def transactions_table(chain_id: int, blocks: Sequence[Mapping[str, Any]]) -> pa.Table:
    """evm.transactions rows from blocks fetched with full transactions."""
    rows: list[tuple] = []
    for block in blocks:
        try:
            block_number = _quantity(block["number"])
            block_hash = _hash(block["hash"])
            timestamp = _quantity(block["timestamp"])
            transactions = block["transactions"]
        except (KeyError, TypeError, ValueError) as exc:
            raise MalformedResponseError(f"malformed block from the node: {exc}"[:300]) from exc

        def row(
            tx: Mapping[str, Any], block_number=block_number, block_hash=block_hash, timestamp=timestamp
        ) -> tuple:
            if not isinstance(tx, Mapping):
                raise TypeError("block was fetched without full transactions")
            if _quantity(tx["blockNumber"]) != block_number or _hash(tx["blockHash"]) != block_hash:
                raise ValueError(f"transaction {tx.get('hash')} does not belong to block {block_number}")
            return (
                chain_id,
                block_number,
                block_hash,
                timestamp,
                _quantity(tx["transactionIndex"]),
                _hash(tx["hash"]),
                _address(tx["from"]),
                _optional_address(tx.get("to")),
                _decimal(tx["value"]),
                _quantity(tx["gas"]),
                _optional_decimal(tx.get("gasPrice")),
                _optional_decimal(tx.get("maxFeePerGas")),
                _optional_decimal(tx.get("maxPriorityFeePerGas")),
                _quantity(tx["nonce"]),
                _hex_data(tx["input"]),
                None if tx.get("type") is None else _quantity(tx["type"]),
            )

        rows.extend(_rows(transactions, "transaction", row))
    return _table(rows, TRANSACTIONS_SCHEMA)


def logs_table(
    chain_id: int, logs: Sequence[Mapping[str, Any]], block_timestamps: Mapping[int, int]
) -> pa.Table:
    """evm.logs rows from `eth_getLogs` results; `block_timestamps` (block number -> unix time)
    comes from the blocks of the same range, since logs carry no time. A log marked `removed`
    belongs to an orphaned block and is refused: the node changed its mind mid-read."""

    def row(log: Mapping[str, Any]) -> tuple:
        if log.get("removed"):
            raise ValueError("log of a removed (orphaned) block")
        topics = [_hash(topic) for topic in log["topics"]]
        if len(topics) > 4:
            raise ValueError(f"{len(topics)} topics; the EVM emits at most 4")
        topics += [None] * (4 - len(topics))
        block_number = _quantity(log["blockNumber"])
        return (
            chain_id,
            block_number,
            _hash(log["blockHash"]),
            block_timestamps[block_number],
            _quantity(log["transactionIndex"]),
            _hash(log["transactionHash"]),
            _quantity(log["logIndex"]),
            _address(log["address"]),
            *topics,
            _hex_data(log["data"]),
        )

    return _table(_rows(logs, "log", row), LOGS_SCHEMA)


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
