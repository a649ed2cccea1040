"""The operator base class and the context a task's operator runs in (see the package docstring)."""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import pyarrow as pa

from orchestration.models import Job, Task
from versioning.storage import Storage, WrittenFile, partition_location

from .merge import last_per_key, merge_with_current

# Parquet files of one task encoded at once (a source writes a few datasets per partition).
_PARQUET_WRITERS = 4

log = logging.getLogger(__name__)


class OperatorError(Exception):
    """The operator failed in a way worth showing the user (bad SQL at run time, bad callable…)."""


class TaskInterrupted(OperatorError):
    """The worker stopped the operator: the task timed out, was cancelled or lost its lease."""


class PermanentOperatorError(OperatorError):
    """A failure retrying cannot fix (a node serving another chain, a reorg deeper than allowed):
    the task fails at once instead of using up its retries."""


@dataclass(frozen=True)
class InputPartition:
    dataset: str
    partition_key: str
    version: datetime
    location: str
    schema_hash: str = ""


@dataclass
class PendingOutput:
    dataset: str
    partition_key: str
    written: WrittenFile
    schema: pa.Schema


@dataclass
class PendingInvalidation:
    dataset: str
    scope: str
    partition_key: str | None = None
    row_filter: dict | None = None
    reason: str = ""
    source_event: dict = field(default_factory=dict)


class TaskContext:
    """What one task may read and write; collected writes are published in one transaction."""

    def __init__(
        self,
        *,
        job: Job,
        task: Task,
        attempt: int,
        storage: Storage,
        inputs: dict[str, list[InputPartition]],
        cursors: dict[str, str | None],
    ):
        self.job = job
        self.task = task
        self.attempt = attempt
        self.storage = storage
        self.partitions: list[str] = list(task.partitions)
        self.inputs = inputs
        self._cursors = dict(cursors)
        self.cursor_updates: dict[str, tuple[str, str]] = {}
        self.outputs: list[PendingOutput] = []
        self.invalidations: list[PendingInvalidation] = []
        self.retirements: dict[str, set[str]] = {}
        self.lease_lost = threading.Event()
        # Why the worker wants the operator to stop (None while it may run on).
        self.stop_reason: str | None = None
        self.interrupted = threading.Event()
        self._interrupt_hooks: list[Callable[[], None]] = []
        self._hooks_lock = threading.Lock()

    @property
    def rebuild(self) -> bool:
        """A cursor-driven job rewriting ``partitions`` whole (what an invalidation covered): its
        writes replace the partitions instead of merging into them, and its cursor stays put."""
        return "rebuild" in (self.task.input_versions or {})

    @property
    def heartbeat_ok(self) -> bool:
        return not self.lease_lost.is_set() and self.stop_reason is None

    # -- interruption -------------------------------------------------------------------------
    def on_interrupt(self, hook: Callable[[], None]) -> Callable[[], None]:
        """Register ``hook`` (e.g. a DuckDB connection's ``interrupt``) to stop the computation in
        progress when the task times out, is cancelled or loses its lease. Returns a function that
        unregisters it; call that once the computation is over. A hook registered after the stop
        was requested runs at once. Hooks run on the worker's watchdog thread, possibly repeatedly.
        """
        with self._hooks_lock:
            self._interrupt_hooks.append(hook)
            stopping = self.stop_reason is not None
        if stopping:
            _run_hook(hook)

        def remove() -> None:
            with self._hooks_lock:
                if hook in self._interrupt_hooks:
                    self._interrupt_hooks.remove(hook)

        return remove

    def interrupt(self, reason: str) -> None:
        """Ask the operator to stop: record why and run every registered hook."""
        if self.stop_reason is None:
            self.stop_reason = reason
        self.interrupted.set()
        with self._hooks_lock:
            hooks = list(self._interrupt_hooks)
        for hook in hooks:
            _run_hook(hook)

    def check_interrupted(self) -> None:
        """For long operator loops: raise ``TaskInterrupted`` once the worker asked to stop."""
        if self.stop_reason is not None:
            raise TaskInterrupted(self.stop_reason)

    # -- inputs -------------------------------------------------------------------------------
    def read_partition(self, part: InputPartition) -> pa.Table:
        return self.storage.read_table(part.location)

    def read(self, dataset: str, partition_keys: list[str] | None = None) -> pa.Table | None:
        """The task's partitions of ``dataset`` as one table (None when it has none)."""
        parts = [
            p
            for p in self.inputs.get(dataset, [])
            if partition_keys is None or p.partition_key in partition_keys
        ]
        tables = [self.read_partition(p) for p in parts]
        if not tables:
            return None
        return pa.concat_tables(tables, promote_options="default")

    # -- cursors ------------------------------------------------------------------------------
    def cursor(self, dataset: str) -> str | None:
        return self._cursors.get(dataset)

    def advance_cursor(self, dataset: str, column: str, value: Any) -> None:
        self.cursor_updates[dataset] = (column, str(value))

    # -- outputs ------------------------------------------------------------------------------
    def write(self, dataset: str, partition_key: str, table: pa.Table) -> None:
        """Write one output partition (merged per the job's update strategy); published later."""
        self.write_many([(dataset, partition_key, table)])

    def write_many(self, partitions: list[tuple[str, str, pa.Table]]) -> None:
        """Write several output partitions, as `write` each (dataset, partition key, table). The
        merges run here (they may read the catalog), the Parquet encoding of the files in threads:
        compression is most of a write's time and pyarrow releases the GIL for it."""
        # The last table given for a partition wins, as with one `write` after another.
        latest = {(dataset, key): table for dataset, key, table in partitions}
        merged = [
            (dataset, key, self._merged(dataset, key, table)) for (dataset, key), table in latest.items()
        ]

        def encode(item: tuple[str, str, pa.Table]) -> WrittenFile:
            dataset, key, table = item
            return self.storage.write_table(
                partition_location(dataset, key, self.task.id, self.attempt), table
            )

        if len(merged) > 1:
            with ThreadPoolExecutor(max_workers=min(len(merged), _PARQUET_WRITERS)) as pool:
                files = list(pool.map(encode, merged))
        else:
            files = [encode(item) for item in merged]
        for (dataset, key, _), written in zip(merged, files, strict=True):
            self.outputs = [o for o in self.outputs if (o.dataset, o.partition_key) != (dataset, key)]
            self.outputs.append(PendingOutput(dataset, key, written, written.schema))

    def _merged(self, dataset: str, partition_key: str, table: pa.Table) -> pa.Table:
        if dataset not in self.job.output_datasets:
            raise OperatorError(f"{dataset} is not an output of job {self.job.name}")
        if not self.rebuild:
            return merge_with_current(job=self.job, dataset=dataset, partition_key=partition_key, new=table)
        if self.job.update_strategy == "upsert":
            return last_per_key(table, list(self.job.unique_key))
        return table

    def invalidate(self, dataset: str, *, scope: str, **fields: Any) -> None:
        """Record an invalidation of ``dataset`` to publish with this task's outputs."""
        self.invalidations.append(PendingInvalidation(dataset=dataset, scope=scope, **fields))

    def retire(self, dataset: str, partition_key: str) -> None:
        """Take a partition of an output out of the catalog at publish (a source whose partition
        layout changed); consumers are told through a ``partition`` invalidation."""
        if dataset not in self.job.output_datasets:
            raise OperatorError(f"{dataset} is not an output of job {self.job.name}")
        self.retirements.setdefault(dataset, set()).add(partition_key)


def _run_hook(hook: Callable[[], None]) -> None:
    try:
        hook()
    except Exception:  # a failing hook must not stop the others nor the watchdog
        log.exception("interrupt hook %r failed", hook)


class Operator:
    """Base class of every operator; see the package docstring for the contract."""

    name: str = ""
    runtimes: tuple[str, ...] = ()
    is_source: bool = False

    def validate(self, job: Job) -> dict[str, str]:
        return {}

    def column_lineage(self, job: Job) -> list[tuple[str, str, str, str]]:
        return []

    def expected_partitions(self, job: Job) -> list[str]:
        return []

    def run(self, ctx: TaskContext) -> None:
        raise NotImplementedError
