"""Callables for the worker tests (imported by the qcluster subprocess)."""

import time

import pyarrow as pa


def slow_copy(blocks: pa.Table) -> pa.Table:
    """Sleeps long enough for a test to kill the worker mid-task, then projects two columns."""
    time.sleep(3)
    return blocks.select(["block_number", "block_hash"])
