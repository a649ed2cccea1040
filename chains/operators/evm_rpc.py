"""``evm_rpc``: ingest blocks, transactions and logs from an Ethereum JSON-RPC node, through reorgs.

Transactions carry their receipt (status, gas used, effective gas price, created contract), read
with ``eth_getBlockReceipts`` where the node has it, else per transaction.

A cursor-driven source (``execution_strategy: incremental``, usually ``activation: schedule``) of
one chain, writing ``<ns>.blocks`` and optionally ``<ns>.transactions`` and ``<ns>.logs`` in one
namespace ``ns`` of the job's (``evm`` for mainnet, ``base`` for another chain): each chain keeps
its partitions, cursor, reorg invalidations and outages to itself.
Each task reads from the block after its cursor (``dataset_cursors`` on ``<ns>.blocks``) up to the
node's head minus ``confirmations`` (at most ``max_blocks_per_task`` blocks), and writes the
block-range partitions it touched, merged with their current content. When the first new block
does not build on the stored one below it, :func:`~chains.ingest.ingest_range` walks back
to the common ancestor (at most ``max_reorg_depth`` blocks; deeper fails the task and writes
nothing), the affected partitions are rewritten, and one ``data_invalidations`` row per output
dataset (scope ``rows``, ``block_number >= from_block``, the reorg event) is
published in the same transaction, so every downstream job reprocesses those rows.

``source`` (validated on save)::

    url                  http(s) JSON-RPC endpoint (required)
    chain_id             the chain the node must serve (required)
    confirmations        blocks a block must be buried under before it is read (default 0)
    start_block          first block of a fresh ingestion (default 0)
    end_block            last block to ingest (default: follow the head)
    batch_size           JSON-RPC calls per batch (default 100)
    log_block_range      blocks per eth_getLogs call (default 1000)
    partition_width      blocks per partition (default 1000)
    max_reorg_depth      deepest reorg handled without a person (default 64)
    max_blocks_per_task  blocks read by one task (default 10000)
    rpc_max_attempts     attempts of one JSON-RPC request before the task fails (default 5)
    rpc_timeout_seconds  HTTP timeout (default 30)

Failures: transient node errors (unreachable, dropped connections, 429/5xx, malformed answers, the
chain moving during a read) are retried by the client, then fail the task *with* a task retry;
a wrong chain id, a too-deep reorg or a request the node rejects fail the task at once. Nothing is
written before the whole range was read and checked, so a failure never leaves a partial partition.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import pyarrow as pa

from chains.client import EvmRpcClient, RetryPolicy
from chains.errors import EvmSourceError
from chains.ingest import DEFAULT_MAX_REORG_DEPTH, PartitionWrite, ingest_range, merge_partition
from chains.node_source import is_int, node_source_errors
from chains.schema import (
    BLOCKS_KIND,
    DEFAULT_NAMESPACE,
    DEFAULT_PARTITION_WIDTH,
    PARTITION_PREFIX,
    SOURCE_KINDS,
    dataset_name,
    kind_of,
    namespace_of,
    partition_keys,
)
from orchestration.operators import register
from orchestration.operators.base import Operator, OperatorError, PermanentOperatorError, TaskContext
from versioning.models import PartitionVersion

CURSOR_COLUMN = "block_number"

# name -> (default, minimum); None default means "no default" (url/chain_id are required).
_INT_FIELDS: dict[str, tuple[int | None, int]] = {
    "chain_id": (None, 1),
    "confirmations": (0, 0),
    "start_block": (0, 0),
    "batch_size": (100, 1),
    "log_block_range": (1000, 1),
    "partition_width": (DEFAULT_PARTITION_WIDTH, 1),
    "max_reorg_depth": (DEFAULT_MAX_REORG_DEPTH, 1),
    "max_blocks_per_task": (10_000, 1),
    "rpc_max_attempts": (5, 1),
}
_KNOWN = {"url", "end_block", "rpc_timeout_seconds", *_INT_FIELDS}
# What an unset key of ``source`` means.
SOURCE_DEFAULTS: dict[str, Any] = {
    **{name: default for name, (default, _) in _INT_FIELDS.items()},
    "end_block": None,
    "rpc_timeout_seconds": 30,
}


@dataclass(frozen=True)
class EvmRpcSource:
    """The validated ``source`` of an evm_rpc job."""

    url: str
    chain_id: int
    confirmations: int
    start_block: int
    end_block: int | None
    batch_size: int
    log_block_range: int
    partition_width: int
    max_reorg_depth: int
    max_blocks_per_task: int
    rpc_max_attempts: int
    rpc_timeout_seconds: float

    def client(self) -> EvmRpcClient:
        return EvmRpcClient(
            self.url,
            chain_id=self.chain_id,
            confirmations=self.confirmations,
            batch_size=self.batch_size,
            log_block_range=self.log_block_range,
            timeout_seconds=self.rpc_timeout_seconds,
            retry=RetryPolicy(max_attempts=self.rpc_max_attempts, initial_delay_seconds=0.5),
        )


def source_errors(source: Any) -> list[str]:
    """Every problem of an evm_rpc ``source``, one short sentence each."""
    problems = node_source_errors(source, int_fields=_INT_FIELDS, known=_KNOWN)
    if isinstance(source, dict):
        end = source.get("end_block")
        if end is not None and (not is_int(end) or end < source.get("start_block", 0)):
            problems.append("end_block: an integer >= start_block, or absent to follow the head")
    return problems


def parse_source(source: dict) -> EvmRpcSource:
    """The typed source of a job whose source passed :func:`source_errors`."""
    values = {name: source.get(name, default) for name, (default, _) in _INT_FIELDS.items()}
    return EvmRpcSource(
        url=source["url"],
        end_block=source.get("end_block"),
        rpc_timeout_seconds=float(source.get("rpc_timeout_seconds", 30)),
        **values,
    )


def _current_partition(ctx: TaskContext, dataset: str, key: str) -> pa.Table | None:
    current = PartitionVersion.objects.filter(dataset=dataset, partition_key=key).first()
    return None if current is None else ctx.storage.read_table(current.location)


def output_namespace_error(outputs: list[str], operator: str, kinds: tuple[str, ...]) -> str | None:
    """Why ``outputs`` are not the datasets of one chain namespace (``<ns>.blocks`` and some of
    the other ``kinds``), or None. Every chain writes a namespace of its own."""
    namespaces = sorted({namespace_of(dataset) for dataset in outputs})
    expected = ", ".join(f"<ns>.{kind}" for kind in kinds)
    if len(namespaces) > 1:
        return (
            f"{operator} writes one chain's namespace, not {', '.join(namespaces)}: "
            f"use one job per chain ({expected})"
        )
    unknown = sorted(dataset for dataset in outputs if "." not in dataset or kind_of(dataset) not in kinds)
    if unknown or not outputs:
        return f"{operator} writes some of {expected} in one namespace; not {', '.join(unknown) or 'nothing'}"
    return None


def chain_namespace(job) -> str:
    """The namespace of a source job's chain: the one namespace of its outputs."""
    outputs = job.output_datasets or [DEFAULT_NAMESPACE]
    return namespace_of(outputs[0])


def stored_block_hashes(
    ctx: TaskContext, *, below: int, depth: int, width: int, blocks_dataset: str
) -> dict[int, str]:
    """block_number -> block_hash of the ``depth`` + 1 stored blocks under ``below`` (from the
    current partitions of the chain's blocks dataset), what the reorg walk compares the node's
    chain against."""
    low = max(0, below - depth - 1)
    if below <= 0:
        return {}
    hashes: dict[int, str] = {}
    for key in partition_keys(low, below - 1, width):
        table = _current_partition(ctx, blocks_dataset, key)
        if table is None:
            continue
        for number, block_hash in zip(
            table["block_number"].to_pylist(), table["block_hash"].to_pylist(), strict=True
        ):
            if low <= number < below:
                hashes[number] = block_hash
    return hashes


def retire_other_layouts(ctx: TaskContext, *, written: set[tuple[str, str]], up_to: int) -> None:
    """Retire partitions built under another configuration that start at or below ``up_to`` and
    that this task did not rewrite: after a ``partition_width`` (or ``start_block``) change the job
    ingests again from its start under the new layout, and the old partitions it has caught up with
    would otherwise stay current beside the new ones, every block in them counted twice. Old
    partitions past ``up_to`` stay until the new layout reaches them, so the dataset keeps its
    blocks meanwhile."""
    stale = PartitionVersion.objects.filter(dataset__in=ctx.job.output_datasets).exclude(
        config_hash=ctx.job.config_hash
    )
    for dataset, key in stale.values_list("dataset", "partition_key"):
        if (dataset, key) in written:
            continue
        first = _first_block(key)
        if first is None or first <= up_to:
            ctx.retire(dataset, key)


def _first_block(key: str) -> int | None:
    digits = key[len(PARTITION_PREFIX) :] if key.startswith(PARTITION_PREFIX) else ""
    return int(digits) if digits.isdigit() else None


@register
class EvmRpcOperator(Operator):
    name = "evm_rpc"
    runtimes = ("source",)
    is_source = True

    def validate(self, job) -> dict[str, str]:
        errors = {}
        problems = source_errors(job.source)
        if problems:
            errors["source"] = "evm_rpc " + "; ".join(problems)
        outputs = list(job.output_datasets or [])
        if problem := output_namespace_error(outputs, "evm_rpc", SOURCE_KINDS):
            errors["output_datasets"] = problem
        elif dataset_name(chain_namespace(job), BLOCKS_KIND) not in outputs:
            errors["output_datasets"] = (
                f"evm_rpc writes {dataset_name(chain_namespace(job), BLOCKS_KIND)} (it keeps the block "
                "hashes reorgs are checked against) and optionally the transactions and logs beside it"
            )
        if job.input_datasets:
            errors["input_datasets"] = "a source job has no input datasets"
        if job.execution_strategy != "incremental":
            errors["execution_strategy"] = "evm_rpc is incremental: it follows the chain from its cursor"
        if job.update_strategy != "replace":
            errors["update_strategy"] = "evm_rpc merges its block ranges itself: use replace"
        return errors

    def column_lineage(self, job) -> list[tuple[str, str, str, str]]:
        # Transactions and logs carry their block's time and hash, read from the block.
        blocks = dataset_name(chain_namespace(job), BLOCKS_KIND)
        return [
            (dataset, column, blocks, column)
            for dataset in job.output_datasets
            if dataset != blocks
            for column in ("block_hash", "block_timestamp")
        ]

    def run(self, ctx: TaskContext) -> None:
        source = parse_source(ctx.job.source)
        namespace = chain_namespace(ctx.job)
        blocks = dataset_name(namespace, BLOCKS_KIND)
        cursor = ctx.cursor(blocks)
        start = source.start_block if cursor in (None, "") else int(cursor) + 1
        hashes = stored_block_hashes(
            ctx,
            below=start,
            depth=source.max_reorg_depth,
            width=source.partition_width,
            blocks_dataset=blocks,
        )
        try:
            with source.client() as client:
                result = ingest_range(
                    client,
                    start=start,
                    end=source.end_block,
                    stored_hashes=hashes,
                    partition_width=source.partition_width,
                    max_reorg_depth=source.max_reorg_depth,
                    max_blocks=source.max_blocks_per_task,
                    namespace=namespace,
                )
        except EvmSourceError as exc:
            error = OperatorError if exc.transient else PermanentOperatorError
            raise error(f"{type(exc).__name__}: {exc}") from exc
        self._apply(ctx, [write for write in result.writes if write.dataset in ctx.job.output_datasets])
        if result.last_block is not None:
            retire_other_layouts(
                ctx, written={(w.dataset, w.partition_key) for w in result.writes}, up_to=result.last_block
            )
        if result.cursor_value is not None:
            ctx.advance_cursor(blocks, CURSOR_COLUMN, result.cursor_value)
        if result.reorg is not None:
            # The job's own datasets only: another chain's namespace never hears of this reorg.
            for dataset in ctx.job.output_datasets:
                ctx.invalidate(
                    dataset,
                    scope="rows",
                    row_filter=result.reorg.row_filter(),
                    reason=f"chain {result.chain_id} reorg of depth {result.reorg.depth} "
                    f"from block {result.reorg.from_block}",
                    source_event=result.reorg.source_event(),
                )

    @staticmethod
    def _apply(ctx: TaskContext, writes: list[PartitionWrite]) -> None:
        ctx.write_many(
            [
                (
                    write.dataset,
                    write.partition_key,
                    merge_partition(_current_partition(ctx, write.dataset, write.partition_key), write),
                )
                for write in writes
            ]
        )
