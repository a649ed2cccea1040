"""The ingestion step: read a block range from a node into per-partition Arrow tables.

`ingest_range` is pure with respect to storage: it reads the node through an `EvmRpcClient`, takes
the stored block hashes as a mapping or callable, and returns what to write — it never writes. The
`evm_rpc` operator wraps it: it passes its cursor and recent hashes from the lake, applies each
`PartitionWrite` with `merge_partition` (into a temporary file, published atomically), advances the
cursor, and on a `Reorg` records the invalidation whose `source_event` the Reorg gives.

A run covers `start`..`end` (capped at the node's head minus the confirmation depth). If the block at
`start` does not build on the stored block below it, the step walks back to the common ancestor and
re-reads from there, so the writes then begin at `reorg.from_block`. Every read is checked for
consistency (blocks link by parent hash, logs name the hashes of the blocks read); an inconsistent
view is a transient ChainMovedError, never a half-updated partition.
"""

from __future__ import annotations

import gc
from collections.abc import Iterator, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc

from orchestration.evm.client import EvmRpcClient
from orchestration.evm.convert import blocks_table, logs_table, transactions_table
from orchestration.evm.errors import ChainMovedError, MalformedResponseError
from orchestration.evm.reorg import Reorg, StoredHashes, find_common_ancestor, stored_hash
from orchestration.evm.schema import (
    BLOCKS,
    DEFAULT_PARTITION_WIDTH,
    LOGS,
    SCHEMAS,
    SORT_KEYS,
    TRANSACTIONS,
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
) -> IngestResult:
    """Read blocks `start`..`end` (None: up to the safe head; at most `max_blocks` of them) with
    their transactions and logs, detect and resolve a reorg below `start`, and return the
    partition writes. `stored_hashes` must know at least the `max_reorg_depth` + 1 blocks below
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
    blocks = client.get_blocks(range(start, last + 1)) if last >= start else []
    if blocks:
        # The first new block must build on the stored tip.
        forked = below is not None and blocks[0]["parentHash"].lower() != below
    else:
        # Nothing new: the node's block at the stored tip must still be the stored one, or a branch
        # exactly as long as the old one would go unnoticed until a higher block arrived.
        forked = (
            below is not None
            and tip <= head
            and client.get_blocks([tip], full_transactions=False)[0]["hash"].lower() != below
        )
    if not blocks and not forked:
        return IngestResult(chain_id=chain_id, first_block=None, last_block=None)

    reorg = None
    if forked:
        reorg = find_common_ancestor(client, stored_hashes=stored_hashes, tip=tip, max_depth=max_reorg_depth)
        replaced = client.get_blocks(range(reorg.from_block, start))
        if tuple(block["hash"].lower() for block in replaced) != reorg.new_hashes:
            raise ChainMovedError(
                f"chain {chain_id}: blocks from {reorg.from_block} changed during the reorg walk"
            )
        blocks = replaced + blocks
        last = max(last, tip)
    _check_links(chain_id, blocks, stored_hash(stored_hashes, _number(blocks[0]) - 1))

    first = _number(blocks[0])
    hashes = {_number(block): block["hash"].lower() for block in blocks}
    block_rows = blocks_table(chain_id, blocks)
    timestamps = dict(
        zip(
            block_rows["block_number"].to_pylist(),
            block_rows["block_timestamp"].cast(pa.int64()).to_pylist(),
            strict=True,
        )
    )
    # The logs are read (and converted) while the transactions are: the node serves them meanwhile.
    with ThreadPoolExecutor(max_workers=1) as pool:
        pending_logs = pool.submit(_read_logs, client, chain_id, first, last, hashes, timestamps)
        try:
            transaction_rows, refused = transactions_table(chain_id, blocks), None
        except MalformedResponseError as exc:
            refused = exc
        del blocks  # tens of thousands of decoded objects the garbage collector need not walk again
        # A failed read of the logs is reported first, as when reading came before converting.
        log_rows = pending_logs.result()
    if refused is not None:
        raise refused
    tables = {BLOCKS: block_rows, TRANSACTIONS: transaction_rows, LOGS: log_rows}
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
        transaction_count=tables[TRANSACTIONS].num_rows,
        log_count=tables[LOGS].num_rows,
    )


def _read_logs(
    client: EvmRpcClient,
    chain_id: int,
    first: int,
    last: int,
    hashes: Mapping[int, str],
    timestamps: Mapping[int, int],
) -> pa.Table:
    """The logs of blocks first..last as an evm.logs table, read a few sub-ranges at a time (as many
    as the client has in flight) and converted as they come: a range of mainnet blocks has
    hundreds of thousands of logs, and holding all of them decoded at once costs memory and
    garbage-collector passes over every one. Each log must name the hash of the block read."""
    step = client.log_block_range * client.concurrency
    block_hashes = pa.array([hashes[number] for number in range(first, last + 1)], pa.string())
    parts = []
    for start in range(first, last + 1, step):
        logs = client.get_logs(start, min(start + step - 1, last))
        try:
            table = logs_table(chain_id, logs, timestamps)
        except MalformedResponseError:
            # A log that names another block is the chain moving, not a broken node: say so first.
            _check_logs_one_by_one(chain_id, logs, hashes)
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
    return pa.concat_tables(parts) if parts else logs_table(chain_id, [], timestamps)


def _check_logs_one_by_one(
    chain_id: int, logs: Sequence[Mapping[str, Any]], hashes: Mapping[int, str]
) -> None:
    for log in logs:
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
            mask = pc.and_(
                pc.greater_equal(table["block_number"], replace_from),
                pc.less_equal(table["block_number"], min(high, last_block)),
            )
            writes.append(PartitionWrite(dataset, key, replace_from, _sorted(table.filter(mask), dataset)))
    return writes


def merge_partition(existing: pa.Table | None, write: PartitionWrite) -> pa.Table:
    """The partition's content after `write`: its rows below `replace_from_block`, then the new rows,
    in the dataset's row order."""
    schema = SCHEMAS[write.dataset]
    kept = (
        []
        if existing is None
        else [existing.filter(pc.less(existing["block_number"], write.replace_from_block))]
    )
    merged = pa.concat_tables([*(t.cast(schema) for t in kept), write.table.cast(schema)])
    return _sorted(merged, write.dataset)


def _sorted(table: pa.Table, dataset: str) -> pa.Table:
    """`table` in the dataset's row order. A node answers in that order already, and reordering
    copies every column (tens of megabytes a partition), so the copy is made only when needed."""
    order = pc.sort_indices(table, sort_keys=[(column, "ascending") for column in SORT_KEYS[dataset]])
    if pc.all(pc.equal(order, pa.array(range(len(order)), order.type)), min_count=0).as_py():
        return table
    return table.take(order)


def _number(block: Mapping[str, Any]) -> int:
    return int(block["number"], 16)


def _number_of_log(log: Mapping[str, Any]) -> int:
    try:
        return int(log["blockNumber"], 16)
    except (KeyError, TypeError, ValueError):
        return -1  # reported as a hash mismatch below; convert would call it malformed


def _check_links(chain_id: int, blocks: Sequence[Mapping[str, Any]], below: str | None) -> None:
    """Every block must build on the one before it (and the first on the stored block below, when
    known): otherwise the node switched branches while the range was read."""
    previous = below
    for block in blocks:
        if previous is not None and block["parentHash"].lower() != previous:
            raise ChainMovedError(
                f"chain {chain_id}: block {_number(block)} does not build on the block read before it; "
                "the chain moved during the read"
            )
        previous = block["hash"].lower()
