"""Builders of evm.logs and evm.transactions tables for the decoder tests, and the values eth-abi's
decoding becomes in our columns (the independent reference the tests compare with)."""

from __future__ import annotations

import datetime as dt

import eth_abi
import pyarrow as pa

from chains.abi.types import SMALL_INT_BITS, AbiType, ArrayType, Elementary, TupleType
from chains.schema import LOGS_SCHEMA, TRANSACTIONS_SCHEMA

CONTRACT = "0x" + "c0" * 20
SENDER = "0x" + "5e" * 20
_TIME = dt.datetime(2024, 5, 1, tzinfo=dt.UTC)


def log_row(topics: list[str], data: str, log_index: int = 0, address: str = CONTRACT) -> dict:
    padded = [*topics, None, None, None, None][:4]
    return {
        "chain_id": 1,
        "block_number": 19_000_000 + log_index // 10,
        "block_hash": "0x" + f"{log_index // 10:064x}",
        "block_timestamp": _TIME,
        "transaction_index": log_index // 2,
        "transaction_hash": "0x" + f"{log_index:064x}",
        "log_index": log_index,
        "address": address,
        **{f"topic{position}": topic for position, topic in enumerate(padded)},
        "data": data,
    }


def logs_table(rows: list[dict]) -> pa.Table:
    return pa.Table.from_pylist(rows, schema=LOGS_SCHEMA)


def call_row(input_hex: str, index: int = 0, to: str | None = CONTRACT) -> dict:
    return {
        "chain_id": 1,
        "block_number": 19_000_000,
        "block_hash": "0x" + "b1" * 32,
        "block_timestamp": _TIME,
        "transaction_index": index,
        "transaction_hash": "0x" + f"{index:064x}",
        "from_address": SENDER,
        "to_address": to,
        "value": "0",
        "gas": 21000,
        "gas_price": "1",
        "max_fee_per_gas": None,
        "max_priority_fee_per_gas": None,
        "nonce": index,
        "input": input_hex,
        "transaction_type": 2,
    }


def transactions_table(rows: list[dict]) -> pa.Table:
    return pa.Table.from_pylist(rows, schema=TRANSACTIONS_SCHEMA)


def word(type_string: str, value) -> str:
    """One topic or word: the ABI encoding of a single static value as 0x-hex."""
    return "0x" + eth_abi.encode([type_string], [value]).hex()


def encoded(types: list[str], values: list) -> str:
    return "0x" + eth_abi.encode(types, values).hex()


def column_value(type_: AbiType, value):
    """What a value eth-abi decoded (or that was encoded) looks like in our columns."""
    if isinstance(type_, ArrayType):
        return [column_value(type_.element, item) for item in value]
    if isinstance(type_, TupleType):
        return {c.column: column_value(c.type, item) for c, item in zip(type_.components, value, strict=True)}
    assert isinstance(type_, Elementary)
    if type_.kind in ("uint", "int"):
        return value if type_.size <= SMALL_INT_BITS else str(value)
    if type_.kind == "address":
        return value.lower()
    if type_.kind in ("bytes", "fixed_bytes", "function"):
        return "0x" + bytes(value).hex()
    return value
