"""``erc20_metadata``: the symbol, name and decimals of every token of a transfers dataset, read from
a node, as ``<namespace>.tokens`` (one row per token) beside ``<namespace>.transfers``.

Reads one input, a transfers dataset (``evm.transfers``: a ``token_address`` and a ``block_number``
column), and writes ``<same namespace>.tokens``::

    chain_id, token_address, symbol, name, decimals (int32), first_seen_block, error

Token metadata never changes once a contract is deployed, so only tokens not yet in the tokens
dataset are asked for: one JSON-RPC batch holds, per token, ``eth_getCode`` and the ``eth_call`` of
``symbol()``, ``name()`` and ``decimals()``, at the newest block. The job reads the whole transfers
dataset (``config.partition_mapping: "all"``, usually ``activation: reactive``) and rewrites the
tokens dataset whole (``update_strategy: replace``): the rows it had, the new tokens' rows, and every
token's ``first_seen_block`` recomputed from the transfers (so a reorg that moved or removed a
token's first transfer is followed). A token no longer in the transfers drops out.

A token that does not answer as ERC-20 says so in ``error`` and never fails the task: an address
without code ("not a contract"), a call that reverts, an empty or undecodable answer; the fields it
did answer are kept. ``symbol()`` and ``name()`` may return ``string`` or, in older tokens,
``bytes32`` (right-trimmed, read as UTF-8). The node's own failures (unreachable, rate limits,
malformed batches) fail the task with a retry, a node serving another chain fails it for good.

``source`` (validated on save)::

    url                  http(s) JSON-RPC endpoint (required)
    chain_id             the chain the node must serve (required)
    batch_size           JSON-RPC calls per batch (default 100)
    rpc_max_attempts     attempts of one JSON-RPC request before the task fails (default 5)
    rpc_timeout_seconds  HTTP timeout (default 30)
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import pyarrow as pa

from chains.client import CallOutcome, EvmRpcClient, RetryPolicy
from chains.errors import EvmSourceError
from chains.node_source import node_source_errors
from orchestration.operators import register
from orchestration.operators.base import Operator, OperatorError, PermanentOperatorError, TaskContext
from versioning.models import PartitionVersion

TOKENS_SCHEMA = pa.schema(
    [
        pa.field("chain_id", pa.int64(), nullable=False),
        pa.field("token_address", pa.string(), nullable=False),
        pa.field("symbol", pa.string()),
        pa.field("name", pa.string()),
        pa.field("decimals", pa.int32()),
        pa.field("first_seen_block", pa.int64(), nullable=False),
        pa.field("error", pa.string()),  # why some field is null: not a contract, a revert, garbage
    ]
)

# keccak256 of "symbol()", "name()", "decimals()", first four bytes: the ERC-20 optional getters.
SYMBOL_CALL = "0x95d89b41"
NAME_CALL = "0x06fdde03"
DECIMALS_CALL = "0x313ce567"
_TEXT_LIMIT = 256  # characters kept of a symbol or name; longer answers are garbage, not names

_INT_FIELDS: dict[str, tuple[int | None, int]] = {
    "chain_id": (None, 1),
    "batch_size": (100, 1),
    "rpc_max_attempts": (5, 1),
}
_KNOWN = {"url", "rpc_timeout_seconds", *_INT_FIELDS}


@dataclass(frozen=True)
class TokenMetadata:
    """What one token answered; `error` names every getter that did not answer usably."""

    token_address: str
    symbol: str | None
    name: str | None
    decimals: int | None
    error: str | None


# -- decoding ----------------------------------------------------------------------------------------


class _Undecodable(ValueError):
    """An answer that is not the ABI encoding of what the getter should return."""


def decode_text(data: bytes) -> str:
    """A `string` answer (offset, length, bytes) or a `bytes32` one (exactly one word, right-padded
    with zeros), as text. A string answer is never a single word, so the length tells them apart."""
    if len(data) == 32:
        raw = data.rstrip(b"\0")
    else:
        if len(data) < 64:
            raise _Undecodable("empty answer" if not data else f"{len(data)} bytes, not an ABI string")
        offset = int.from_bytes(data[:32], "big")
        if offset + 32 > len(data):
            raise _Undecodable("a string offset past the answer")
        length = int.from_bytes(data[offset : offset + 32], "big")
        if offset + 32 + length > len(data):
            raise _Undecodable("a string length past the answer")
        raw = data[offset + 32 : offset + 32 + length]
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        raise _Undecodable("not UTF-8 text") from None
    if "\0" in text or len(text) > _TEXT_LIMIT:
        raise _Undecodable("not a short text")
    return text


def decode_decimals(data: bytes) -> int:
    """A `uint8` answer: one word whose value is at most 255."""
    if len(data) != 32:
        raise _Undecodable("empty answer" if not data else f"{len(data)} bytes, not one word")
    value = int.from_bytes(data, "big")
    if value > 255:
        raise _Undecodable(f"{value} is not a uint8")
    return value


def _field(outcome: CallOutcome, getter: str, decode, problems: list[str]) -> Any:
    if outcome.error is not None:
        problems.append(f"{getter}: {outcome.error}"[:200])
        return None
    try:
        return decode(outcome.result)
    except _Undecodable as exc:
        problems.append(f"{getter}: {exc}")
        return None


def read_token_metadata(client: EvmRpcClient, addresses: Sequence[str]) -> list[TokenMetadata]:
    """The metadata of each token, in the order given: the three getters by batched `eth_call` at
    the newest block, and `eth_getCode` (batched too) to tell an address without code apart."""
    getter_calls = [(address, data) for address in addresses for data in _GETTERS.values()]
    answers = client.eth_calls(getter_calls, block="latest")
    codes = client.batch_outcomes([("eth_getCode", [address, "latest"]) for address in addresses])
    found = []
    for index, (address, code) in enumerate(zip(addresses, codes, strict=True)):
        if code.error is None and code.result in ("0x", "0x0"):
            found.append(TokenMetadata(address, None, None, None, "not a contract (no code at the address)"))
            continue
        problems: list[str] = []
        symbol, name, decimals = (
            _field(answer, getter, decode, problems)
            for answer, (getter, decode) in zip(answers[index * 3 : index * 3 + 3], _DECODERS, strict=True)
        )
        found.append(TokenMetadata(address, symbol, name, decimals, "; ".join(problems) or None))
    return found


_GETTERS = {"symbol()": SYMBOL_CALL, "name()": NAME_CALL, "decimals()": DECIMALS_CALL}
_DECODERS = (("symbol()", decode_text), ("name()", decode_text), ("decimals()", decode_decimals))


# -- the dataset -------------------------------------------------------------------------------------


def first_seen_blocks(transfers: pa.Table) -> dict[str, int]:
    """token address -> the lowest block number it has a transfer in."""
    if not transfers.num_rows:
        return {}
    grouped = transfers.group_by("token_address", use_threads=False).aggregate([("block_number", "min")])
    return dict(
        zip(grouped["token_address"].to_pylist(), grouped["block_number_min"].to_pylist(), strict=True)
    )


def tokens_table(
    chain_id: int, first_seen: dict[str, int], known: pa.Table | None, fetched: list[TokenMetadata]
) -> pa.Table:
    """The tokens dataset: every token of `first_seen`, its metadata from `known` (the rows the
    dataset had) or `fetched`, sorted by address."""
    rows: dict[str, dict[str, Any]] = {}
    if known is not None:
        for row in known.to_pylist():
            rows[row["token_address"]] = row
    for token in fetched:
        rows[token.token_address] = {
            "token_address": token.token_address,
            "symbol": token.symbol,
            "name": token.name,
            "decimals": token.decimals,
            "error": token.error,
        }
    return pa.Table.from_pylist(
        [
            {**rows[address], "chain_id": chain_id, "first_seen_block": first_seen[address]}
            for address in sorted(first_seen)
            if address in rows
        ],
        schema=TOKENS_SCHEMA,
    )


# -- the job -----------------------------------------------------------------------------------------


def source_errors(source: Any) -> list[str]:
    """Every problem of an erc20_metadata ``source``, one short sentence each."""
    return node_source_errors(source, int_fields=_INT_FIELDS, known=_KNOWN)


def _client(source: dict) -> EvmRpcClient:
    return EvmRpcClient(
        source["url"],
        chain_id=source["chain_id"],
        batch_size=source.get("batch_size", 100),
        timeout_seconds=float(source.get("rpc_timeout_seconds", 30)),
        retry=RetryPolicy(max_attempts=source.get("rpc_max_attempts", 5), initial_delay_seconds=0.5),
    )


def tokens_dataset_of(transfers: str) -> str:
    """The tokens dataset beside a transfers dataset: ``evm.transfers`` -> ``evm.tokens``."""
    return transfers.split(".", 1)[0] + ".tokens"


@register
class Erc20MetadataOperator(Operator):
    name = "erc20_metadata"
    runtimes = ("python",)

    def validate(self, job) -> dict[str, str]:
        errors = {}
        problems = source_errors(job.source)
        if problems:
            errors["source"] = "erc20_metadata " + "; ".join(problems)
        if len(job.input_datasets) != 1:
            errors["input_datasets"] = "erc20_metadata reads one transfers dataset, such as evm.transfers"
        elif job.output_datasets != [tokens_dataset_of(job.input_datasets[0])]:
            errors["output_datasets"] = (
                f"erc20_metadata writes {tokens_dataset_of(job.input_datasets[0])}, beside its input"
            )
        config = job.config if isinstance(job.config, dict) else {}
        if job.execution_strategy != "full" and config.get("partition_mapping") != "all":
            errors["config"] = 'erc20_metadata reads every transfer: set config.partition_mapping to "all"'
        if job.update_strategy != "replace":
            errors["update_strategy"] = "erc20_metadata rewrites the tokens dataset whole: use replace"
        return errors

    def column_lineage(self, job) -> list[tuple[str, str, str, str]]:
        output, source = job.output_datasets[0], job.input_datasets[0]
        return [
            (output, "token_address", source, "token_address"),
            (output, "first_seen_block", source, "block_number"),
        ]

    def run(self, ctx: TaskContext) -> None:
        source_dataset, output = ctx.job.input_datasets[0], ctx.job.output_datasets[0]
        parts = [
            ctx.storage.read_table(part.location, columns=["token_address", "block_number"])
            for part in ctx.inputs.get(source_dataset, [])
        ]
        transfers = pa.concat_tables(parts) if parts else None
        first_seen = first_seen_blocks(transfers) if transfers is not None else {}
        for key in ctx.partitions:
            known = None if ctx.rebuild else self._current(ctx, output, key)
            have = set() if known is None else set(known["token_address"].to_pylist())
            missing = sorted(set(first_seen) - have)
            fetched = self._fetch(ctx, missing) if missing else []  # no new token: no node asked
            ctx.write(output, key, tokens_table(ctx.job.source["chain_id"], first_seen, known, fetched))

    @staticmethod
    def _fetch(ctx: TaskContext, addresses: list[str]) -> list[TokenMetadata]:
        """The metadata of `addresses` from the job's node (checked to serve its chain), a
        batch-size share of tokens at a time so a stop request is heard between them."""
        fetched: list[TokenMetadata] = []
        try:
            with _client(ctx.job.source) as client:
                client.verify_chain()
                for offset in range(0, len(addresses), client.batch_size):
                    ctx.check_interrupted()
                    fetched += read_token_metadata(client, addresses[offset : offset + client.batch_size])
        except EvmSourceError as exc:
            error = OperatorError if exc.transient else PermanentOperatorError
            raise error(f"{type(exc).__name__}: {exc}") from exc
        return fetched

    @staticmethod
    def _current(ctx: TaskContext, dataset: str, key: str) -> pa.Table | None:
        """The tokens this job wrote before, when written under its current configuration (another
        node or chain may answer otherwise)."""
        current = PartitionVersion.objects.filter(dataset=dataset, partition_key=key).first()
        if current is None or current.config_hash != ctx.job.config_hash:
            return None
        return ctx.storage.read_table(current.location)
