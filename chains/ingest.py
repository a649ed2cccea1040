"""The ingestion step: read a block range from a node into per-partition Arrow tables.

`ingest_range` is pure with respect to storage: it reads the node through an `EvmRpcClient`, takes
the stored block hashes as a mapping or callable, and returns what to write — it never writes. The
`evm_rpc` operator wraps it: it passes its cursor and recent hashes from the lake, applies each
`PartitionWrite` with `merge_partition` (into a temporary file, published atomically), advances the
cursor, and on a `Reorg` records the invalidation whose `source_event` the Reorg gives.

A run covers `start`..`end` (capped at the node's head minus the confirmation depth). If the block at
`start` does not build on the stored block below it, the step walks back to the common ancestor and
re-reads from there, so the writes then begin at `reorg.from_block`. Every read is checked for
consistency (blocks link by parent hash, logs name the hashes of the blocks read, receipts are those
of the transactions read); an inconsistent view is a transient ChainMovedError (or
MalformedResponseError), never a half-updated partition.
"""

from __future__ import annotations

import gc
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

import msgspec
import pyarrow as pa
import pyarrow.compute as pc

from chains.client import EvmRpcClient
from chains.convert import (
    blocks_from_raw,
    logs_from_raw,
    read_blocks_json,
    read_logs_json,
    read_receipts_json,
    transactions_from_raw,
    with_receipts,
)
from chains.errors import ChainMovedError, MalformedResponseError
from chains.reorg import Reorg, StoredHashes, find_common_ancestor, stored_hash
from chains.schema import (
    BLOCKS_KIND,
    DEFAULT_NAMESPACE,
    DEFAULT_PARTITION_WIDTH,
    LOGS_KIND,
    SCHEMAS,
    SORT_KEYS,
    TRANSACTIONS_KIND,
    dataset_name,
    kind_of,
    partition_bounds,
    partition_keys,
)

DEFAULT_MAX_REORG_DEPTH = 64


@dataclass(frozen=True)
class PartitionWrite:
    """New content for the rows of one partition at or above `replace_from_block`: rows below it
    stay, rows at or above it are replaced by `table` (which may be empty: after a reorg, a
    partition can lose rows)."""

    dataset: str
    partition_key: str
    replace_from_block: int
    table: pa.Table


@dataclass(frozen=True)
class IngestResult:
    """What one ingestion step read and what must be written for it."""

    chain_id: int
    first_block: int | None
    last_block: int | None
    writes: list[PartitionWrite] = field(default_factory=list)
    reorg: Reorg | None = None
    block_hashes: dict[int, str] = field(default_factory=dict)
    block_count: int = 0
    transaction_count: int = 0
    log_count: int = 0

    @property
    def cursor_value(self) -> str | None:
        """The new `dataset_cursors.cursor_value` (the last block ingested), None if nothing was."""
        return None if self.last_block is None else str(self.last_block)


@contextmanager
def _cycle_collector_paused() -> Iterator[None]:
    """Python's cycle collector off for the duration. A node's answers are trees of dicts, lists and
    strings without reference cycles, hundreds of thousands of containers for a range of mainnet
    blocks, and the collector's passes over them were measured at a third or more of a read.
    Whatever cyclic garbage is made meanwhile is collected once the collector is back. Nested or
    concurrent uses leave it on at the end when it was on at the start of the first."""
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()


@_cycle_collector_paused()
def ingest_range(
    client: EvmRpcClient,
    *,
    start: int,
    end: int | None = None,
    stored_hashes: StoredHashes,
    partition_width: int = DEFAULT_PARTITION_WIDTH,
    max_reorg_depth: int = DEFAULT_MAX_REORG_DEPTH,
    max_blocks: int | None = None,
    namespace: str = DEFAULT_NAMESPACE,
) -> IngestResult:
    """Read blocks `start`..`end` (None: up to the safe head; at most `max_blocks` of them) with
    their transactions and logs, detect and resolve a reorg below `start`, and return the
    partition writes, to the datasets of the chain's `namespace` (`<namespace>.blocks`, ...).
    `stored_hashes` must know at least the `max_reorg_depth` + 1 blocks below
    `start` that were ingested; a block it does not know counts as never ingested."""
    if start < 0:
        raise ValueError(f"start must be >= 0, got {start}")
    chain_id = client.verify_chain()
    head = client.safe_head()
    last = head if end is None else min(head, end)
    if max_blocks is not None:
        last = min(last, start + max_blocks - 1)
    tip = start - 1
    below = stored_hash(stored_hashes, tip)
    block_rows, transaction_rows = _read_blocks(client, chain_id, start, last)
    if block_rows.num_rows:
        # The first new block must build on the stored tip.
        forked = below is not None and block_rows["parent_hash"][0].as_py() != below
    else:
        # Nothing new: the node's block at the stored tip must still be the stored one, or a branch
        # exactly as long as the old one would go unnoticed until a higher block arrived.
        forked = (
            below is not None
            and tip <= head
            and client.get_blocks([tip], full_transactions=False)[0]["hash"].lower() != below
        )
    if not block_rows.num_rows and not forked:
        return IngestResult(chain_id=chain_id, first_block=None, last_block=None)

    reorg = None
    if forked:
        reorg = find_common_ancestor(client, stored_hashes=stored_hashes, tip=tip, max_depth=max_reorg_depth)
        replaced_blocks, replaced_transactions = _read_blocks(client, chain_id, reorg.from_block, tip)
        if tuple(replaced_blocks["block_hash"].to_pylist()) != reorg.new_hashes:
            raise ChainMovedError(
                f"chain {chain_id}: blocks from {reorg.from_block} changed during the reorg walk"
            )
        block_rows = pa.concat_tables([replaced_blocks, block_rows])
        transaction_rows = pa.concat_tables([replaced_transactions, transaction_rows])
        last = max(last, tip)
    first = block_rows["block_number"][0].as_py()
    _check_links(chain_id, block_rows, stored_hash(stored_hashes, first - 1))

    hashes = dict(
        zip(block_rows["block_number"].to_pylist(), block_rows["block_hash"].to_pylist(), strict=True)
    )
    timestamps = dict(
        zip(
            block_rows["block_number"].to_pylist(),
            block_rows["block_timestamp"].cast(pa.int64()).to_pylist(),
            strict=True,
        )
    )
    log_rows = _read_logs(client, chain_id, first, last, hashes, timestamps)
    tables = {
        dataset_name(namespace, BLOCKS_KIND): block_rows,
        dataset_name(namespace, TRANSACTIONS_KIND): transaction_rows,
        dataset_name(namespace, LOGS_KIND): log_rows,
    }
    return IngestResult(
        chain_id=chain_id,
        first_block=first,
        last_block=last,
        writes=split_into_partitions(
            tables, first_block=first, last_block=last, partition_width=partition_width
        ),
        reorg=reorg,
        block_hashes=hashes,
        block_count=block_rows.num_rows,
        transaction_count=transaction_rows.num_rows,
        log_count=log_rows.num_rows,
    )


def _read_blocks(client: EvmRpcClient, chain_id: int, first: int, last: int) -> tuple[pa.Table, pa.Table]:
    """blocks and transactions rows of blocks first..last (none when last < first). Each
    batch of blocks is parsed and converted in its fetch thread, which then reads the receipts of
    its transactions, while the next batches are on the wire."""

    def converted(raw_blocks: list[msgspec.Raw]) -> tuple[pa.Table, pa.Table]:
        raw = read_blocks_json(raw_blocks)
        blocks = blocks_from_raw(chain_id, raw)
        return blocks, _with_receipts(client, transactions_from_raw(chain_id, raw))

    block_parts, transaction_parts = [], []
    for blocks, transactions in client.stream_blocks(range(first, last + 1), converted):
        block_parts.append(blocks)
        transaction_parts.append(transactions)
    blocks = _concatenated(block_parts, BLOCKS_KIND)
    asked = pa.array(range(first, first + blocks.num_rows), pa.int64())
    answered = pc.equal(blocks["block_number"].combine_chunks(), asked)
    if not pc.all(answered, min_count=0).as_py():
        index = pc.index(answered, False).as_py()
        raise MalformedResponseError(
            f"node {client.node} answered block {blocks['block_number'][index]} for {asked[index]}"
        )
    return blocks, _concatenated(transaction_parts, TRANSACTIONS_KIND)


def _with_receipts(client: EvmRpcClient, transactions: pa.Table) -> pa.Table:
    """The transactions with their receipt columns, read block by block (or transaction by
    transaction from a node without eth_getBlockReceipts) and checked to be their receipts."""
    if not transactions.num_rows:
        return transactions
    per_block: dict[int, list[str]] = {}
    for number, tx_hash in zip(
        transactions["block_number"].to_pylist(), transactions["transaction_hash"].to_pylist(), strict=True
    ):
        per_block.setdefault(number, []).append(tx_hash)
    parts = list(client.stream_receipts(list(per_block.items()), read_receipts_json))
    return with_receipts(transactions, pa.concat_tables(parts).combine_chunks())


def _concatenated(tables: list[pa.Table], kind: str) -> pa.Table:
    return pa.concat_tables(tables) if tables else SCHEMAS[kind].empty_table()


@dataclass(frozen=True)
class _LogBatch:
    """The log objects of one batch as the node sent them, and as Arrow (or why they are not)."""

    logs: list[Any]
    raw: pa.Table | None
    refused: MalformedResponseError | None

    @classmethod
    def parse(cls, logs: list[Any]) -> _LogBatch:
        try:
            return cls(logs, read_logs_json(logs), None)
        except MalformedResponseError as exc:
            return cls(logs, None, exc)


def _read_logs(
    client: EvmRpcClient,
    chain_id: int,
    first: int,
    last: int,
    hashes: Mapping[int, str],
    timestamps: Mapping[int, int],
) -> pa.Table:
    """The logs of blocks first..last as a logs table, converted batch by batch as they come:
    a range of mainnet blocks has hundreds of thousands of logs. Each log must name the hash of the
    block read."""
    numbers = pa.array(list(timestamps), pa.int64())
    seconds = pa.array(list(timestamps.values()), pa.int64())
    block_hashes = pa.array([hashes[number] for number in range(first, last + 1)], pa.string())
    parts = []
    for batch in client.stream_logs(first, last, _LogBatch.parse):
        try:
            if batch.refused is not None:
                raise batch.refused
            table = logs_from_raw(chain_id, batch.raw, numbers, seconds)
        except MalformedResponseError:
            # A log that names another block is the chain moving, not a broken node: say so first.
            _check_logs_one_by_one(chain_id, [msgspec.json.decode(log) for log in batch.logs], hashes)
            raise
        # Every block number in the table is one read (its time was found), so this is its hash.
        read = pc.take(block_hashes, pc.subtract(table["block_number"], first))
        same = pc.equal(table["block_hash"], read)
        if not pc.all(same, min_count=0).as_py():
            index = pc.index(same, False).as_py()
            _raise_chain_moved(
                chain_id, table["block_number"][index].as_py(), table["block_hash"][index], read[index]
            )
        parts.append(table)
    return _concatenated(parts, LOGS_KIND)


def _check_logs_one_by_one(chain_id: int, logs: Sequence[Any], hashes: Mapping[int, str]) -> None:
    for log in logs:
        if not isinstance(log, Mapping):
            continue  # malformed, and naming no block
        number = _number_of_log(log)
        if hashes.get(number) != str(log.get("blockHash")).lower():
            _raise_chain_moved(chain_id, number, log.get("blockHash"), hashes.get(number))


def _raise_chain_moved(chain_id: int, number: int, named: Any, read: Any) -> None:
    raise ChainMovedError(
        f"chain {chain_id}: a log names block {number} hash {named}, but the block read has {read}"
    )


def split_into_partitions(
    tables: Mapping[str, pa.Table], *, first_block: int, last_block: int, partition_width: int
) -> list[PartitionWrite]:
    """One PartitionWrite per dataset per partition touched by first_block..last_block, rows sorted
    in each dataset's order. Partitions without rows still get a write, to drop orphaned rows."""
    writes = []
    for key in partition_keys(first_block, last_block, partition_width):
        low, high = partition_bounds(key, partition_width)
        replace_from = max(low, first_block)
        for dataset, table in tables.items():
            rows = _rows_between(table, replace_from, min(high, last_block))
            writes.append(PartitionWrite(dataset, key, replace_from, _sorted(rows, dataset)))
    return writes


def _rows_between(table: pa.Table, low: int, high: int) -> pa.Table:
    """The rows of blocks low..high; the table itself (no copy of its columns, tens of megabytes)
    when every row is among them, as when a read fits in one partition."""
    numbers = table["block_number"]
    bounds = pc.min_max(numbers).as_py()
    if table.num_rows and low <= bounds["min"] and bounds["max"] <= high:
        return table
    return table.filter(pc.and_(pc.greater_equal(numbers, low), pc.less_equal(numbers, high)))


def merge_partition(existing: pa.Table | None, write: PartitionWrite) -> pa.Table:
    """The partition's content after `write`: its rows below `replace_from_block`, then the new rows,
    in the dataset's row order."""
    schema = SCHEMAS[kind_of(write.dataset)]
    kept = (
        None
        if existing is None
        else existing.filter(pc.less(existing["block_number"], write.replace_from_block))
    )
    if not kept:  # nothing kept: the write's rows, already in order (split_into_partitions)
        return _conformed(write.table, schema)
    return _sorted(
        pa.concat_tables([_conformed(kept, schema), _conformed(write.table, schema)]), write.dataset
    )


def _conformed(table: pa.Table, schema: pa.Schema) -> pa.Table:
    """`table` in `schema`: a partition written before a column was added (the receipt columns of
    evm.transactions) gets it as nulls, so old rows merge with new ones without a rewrite of what
    was ingested before."""
    for absent in [column for column in schema if column.name not in table.schema.names]:
        table = table.append_column(absent, pa.nulls(table.num_rows, absent.type))
    return table.select(schema.names).cast(schema)


def _sorted(table: pa.Table, dataset: str) -> pa.Table:
    """`table` in the dataset's row order. A node answers in that order already, and reordering
    copies every column (tens of megabytes a partition), so the copy is made only when needed."""
    keys = SORT_KEYS[kind_of(dataset)]
    if _in_order(table, keys):
        return table
    return table.take(pc.sort_indices(table, sort_keys=[(column, "ascending") for column in keys]))


def _in_order(table: pa.Table, keys: list[str]) -> bool:
    """Whether each row comes after the one before it by `keys` (compared as a tuple), checked on
    neighbouring rows rather than by sorting."""
    if table.num_rows < 2:
        return True
    after = pa.scalar(False)
    for key in reversed(keys):
        column = table[key]
        earlier, later = column.slice(0, len(column) - 1), column.slice(1)
        after = pc.or_(pc.greater(later, earlier), pc.and_(pc.equal(later, earlier), after))
    return bool(pc.all(after, min_count=0).as_py())


def _number_of_log(log: Mapping[str, Any]) -> int:
    try:
        return int(log["blockNumber"], 16)
    except (KeyError, TypeError, ValueError):
        return -1  # reported as a hash mismatch below; convert would call it malformed


def _check_links(chain_id: int, blocks: pa.Table, below: str | None) -> None:
    """Every block must build on the one before it (and the first on the stored block below, when
    known): otherwise the node switched branches while the range was read."""
    parents = blocks["parent_hash"].combine_chunks()
    previous = blocks["block_hash"].combine_chunks()[:-1]
    if below is not None:
        previous = pa.concat_arrays([pa.array([below], pa.string()), previous])
    else:
        parents = parents[1:]
    linked = pc.equal(parents, previous)
    if not pc.all(linked, min_count=0).as_py():
        index = pc.index(linked, False).as_py() + (0 if below is not None else 1)
        raise ChainMovedError(
            f"chain {chain_id}: block {blocks['block_number'][index]} does not build on the block read "
            "before it; the chain moved during the read"
        )
