"""Reorganisation detection: find where the stored chain and the node's chain part ways.

Storage-agnostic: the stored block hashes come as a mapping or a callable (block number -> hash, or
None for a block never ingested), so the same code serves the lake-backed operator and the tests.

A reorg is detected when the first new block's parent hash differs from the stored hash one below it.
The walk then compares stored and canonical hashes downwards, at most `max_depth` blocks: the first
height where they agree (or below which nothing was stored) is the common ancestor, and everything
above it must be rewritten. A fork deeper than `max_depth` raises ReorgTooDeepError before anything
is written: finality assumptions are broken and a person must decide.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from chains.errors import ChainMovedError, ReorgTooDeepError

if TYPE_CHECKING:
    from chains.client import EvmRpcClient

StoredHashes = Mapping[int, str] | Callable[[int], str | None]


def stored_hash(stored_hashes: StoredHashes, block_number: int) -> str | None:
    """The stored hash of a block, or None if that block was never ingested."""
    if block_number < 0:
        return None
    if callable(stored_hashes):
        return stored_hashes(block_number)
    return stored_hashes.get(block_number)


@dataclass(frozen=True)
class Reorg:
    """A detected reorganisation: blocks from_block..from_block+depth-1 as stored are orphaned.

    `old_hashes` are the stored (orphaned) hashes and `new_hashes` the node's canonical ones for the
    same heights, ascending from `from_block`.
    """

    chain_id: int
    from_block: int
    old_hashes: tuple[str, ...]
    new_hashes: tuple[str, ...]

    @property
    def depth(self) -> int:
        return len(self.old_hashes)

    def source_event(self) -> dict[str, Any]:
        """The `data_invalidations.source_event` recorded for this reorg: the fork point and the
        block hashes it replaced."""
        return {
            "type": "reorg",
            "chain_id": self.chain_id,
            "from_block": self.from_block,
            "old_hashes": list(self.old_hashes),
            "new_hashes": list(self.new_hashes),
            "depth": self.depth,
        }

    def row_filter(self) -> dict[str, Any]:
        """The `data_invalidations.row_filter` covering every row the reorg may have changed."""
        return {"block_number": {"gte": self.from_block}}


def find_common_ancestor(
    client: EvmRpcClient,
    *,
    stored_hashes: StoredHashes,
    tip: int,
    max_depth: int,
) -> Reorg:
    """Walk down from `tip` (the highest stored block, whose hash the node's next block does not
    confirm) to the common ancestor, reading canonical hashes in batches.

    Raises ReorgTooDeepError when more than `max_depth` stored blocks differ (including a stored
    genesis that differs: another chain), and ChainMovedError when the node's chain agrees with the
    stored tip after all (it moved between our reads; reading again settles it).
    """
    chain_id = client.verify_chain()
    lowest = max(0, tip - max_depth)
    old_hashes: list[str] = []
    new_hashes: list[str] = []
    high = tip
    while high >= lowest:
        low = max(lowest, high - client.batch_size + 1)
        heights = list(range(high, low - 1, -1))
        canonical = {
            h: block["hash"].lower()
            for h, block in zip(heights, client.get_blocks(heights, full_transactions=False), strict=True)
        }
        for height in heights:
            stored = stored_hash(stored_hashes, height)
            if stored is None or stored == canonical[height]:
                if height == tip:
                    raise ChainMovedError(
                        f"chain {chain_id}: the node's block {tip} matches the stored hash again; "
                        "the chain moved while it was read"
                    )
                return Reorg(
                    chain_id=chain_id,
                    from_block=height + 1,
                    old_hashes=tuple(reversed(old_hashes)),
                    new_hashes=tuple(reversed(new_hashes)),
                )
            old_hashes.append(stored)
            new_hashes.append(canonical[height])
        high = low - 1
    raise ReorgTooDeepError(
        f"chain {chain_id}: reorg detected at block {tip + 1} reaches below block {lowest}, deeper than "
        f"max_reorg_depth={max_depth} (stored {old_hashes[-1]}, node has {new_hashes[-1]} at block "
        f"{lowest}); nothing was written",
        detected_at=tip + 1,
        max_depth=max_depth,
    )
