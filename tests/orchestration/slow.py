"""Callables for the worker tests (imported by the qcluster subprocess)."""

import time

import pyarrow as pa


def slow_copy(blocks: pa.Table) -> pa.Table:
    """Sleeps long enough for a test to kill the worker mid-task, then projects two columns."""
    time.sleep(3)
    return blocks.select(["block_number", "block_hash"])


def spin(blocks: pa.Table) -> pa.Table:
    """Pure Python that never returns and ignores interrupts: only ending the process stops it."""
    while True:
        sum(range(10_000))


def fail_always(blocks: pa.Table) -> pa.Table:
    raise RuntimeError("this step always fails")
