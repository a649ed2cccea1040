"""The operator base class and the context a task's operator runs in (see the package docstring)."""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Any

import pyarrow as pa

from versioning.storage import Storage, WrittenFile, partition_location

if TYPE_CHECKING:
    from orchestration.models import Job, Task


class OperatorError(Exception):
    """The operator failed in a way worth showing the user (bad SQL at run time, bad callable…)."""


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

    @property
    def rebuild(self) -> bool:
        """A cursor-driven job rewriting ``partitions`` whole (what an invalidation covered): its
        writes replace the partitions instead of merging into them, and its cursor stays put."""
        return "rebuild" in (self.task.input_versions or {})

    @property
    def heartbeat_ok(self) -> bool:
        return not self.lease_lost.is_set()

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
        if dataset not in self.job.output_datasets:
            raise OperatorError(f"{dataset} is not an output of job {self.job.name}")
        from orchestration.services.merge import last_per_key, merge_with_current

        if not self.rebuild:
            table = merge_with_current(job=self.job, dataset=dataset, partition_key=partition_key, new=table)
        elif self.job.update_strategy == "upsert":
            table = last_per_key(table, list(self.job.unique_key))
        location = partition_location(dataset, partition_key, self.task.id, self.attempt)
        written = self.storage.write_table(location, table)
        self.outputs = [o for o in self.outputs if (o.dataset, o.partition_key) != (dataset, partition_key)]
        self.outputs.append(PendingOutput(dataset, partition_key, written, written.schema))

    def invalidate(self, dataset: str, *, scope: str, **fields: Any) -> None:
        """Record an invalidation of ``dataset`` to publish with this task's outputs."""
        self.invalidations.append(PendingInvalidation(dataset=dataset, scope=scope, **fields))

    def retire(self, dataset: str, partition_key: str) -> None:
        """Take a partition of an output out of the catalog at publish (a source whose partition
        layout changed); consumers are told through a ``partition`` invalidation."""
        if dataset not in self.job.output_datasets:
            raise OperatorError(f"{dataset} is not an output of job {self.job.name}")
        self.retirements.setdefault(dataset, set()).add(partition_key)


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
