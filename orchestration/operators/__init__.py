"""The operator registry: what runs a job.

Adding an operator is one class in one module: subclass :class:`Operator`, give it a ``name``, and
decorate it with :func:`register`; list the module in ``BUILTIN_MODULES`` (or import it from your
app's ``ready()``) so the registry sees it.

The interface
-------------
``validate(job)``
    Called by ``job_create`` / ``job_update`` before anything is saved. Return a dict of
    ``field -> message`` (``source``, ``config``, ``input_datasets``…); non-empty means HTTP 400.
``column_lineage(job)``
    The column edges ``(output_dataset, output_column, input_dataset, input_column)`` this job
    creates; stored in ``column_lineage`` on save.
``expected_partitions(job)`` (source operators only, ``is_source = True``)
    The output partition keys the job should have (e.g. block ranges up to the head). The scheduler
    creates a task for every expected key that has no current version yet.
``run(ctx)``
    Does the work of one task. Everything goes through the :class:`~orchestration.operators.base.TaskContext`:

    * **inputs**: ``ctx.inputs`` maps each input dataset to the partitions (key, version, location)
      the task reads; ``ctx.read(dataset)`` returns them as one Arrow table, ``ctx.read_partition``
      one partition. Every read is recorded in ``task_inputs`` at publish.
    * **outputs**: ``ctx.write(dataset, partition_key, table)`` writes one output partition under a
      temporary name; it becomes visible only when the task publishes (one transaction for all of
      the task's outputs). ``append`` / ``upsert`` jobs write only their new rows: the merge with the
      current partition is done for them.
    * **cursor** (incremental jobs): ``ctx.cursor(dataset)`` is the high-water mark published by the
      last successful task; ``ctx.advance_cursor(dataset, column, value)`` moves it at publish.
    * **invalidations** (source operators that rewrite data, e.g. after a chain reorg):
      ``ctx.invalidate(dataset, scope=..., partition_key=..., row_filter=..., source_event=...)``
      records a ``data_invalidations`` row in the same publish transaction as the rewritten
      partitions, so consumers never see the new data without the invalidation or vice versa.
    * ``ctx.heartbeat_ok`` turns False when the task's lease was lost (cancelled or reaped) or it
      ran past its timeout: long operators may stop early; their publish would be rejected anyway.
    * **stopping**: ``ctx.on_interrupt(hook)`` registers a callable (e.g. a DuckDB connection's
      ``interrupt``) that the worker's watchdog runs on a timeout, cancel or lost lease; it returns
      the function that unregisters it. Loops may call ``ctx.check_interrupted()`` (raises
      ``TaskInterrupted``). An operator still running ``CHAINLAKE_TASK_INTERRUPT_GRACE_SECONDS``
      after the request has its worker process ended.

A source operator writes partitions exactly like any other (``ctx.write``); ``ctx.partitions`` are
the output keys the scheduler asked for.
"""

from __future__ import annotations

import importlib

from .base import Operator, OperatorError, PermanentOperatorError, TaskContext

BUILTIN_MODULES = [
    "orchestration.operators.duckdb_sql",
    "orchestration.operators.python_callable",
]

_REGISTRY: dict[str, Operator] = {}
_loaded = False


def register(cls: type[Operator]) -> type[Operator]:
    """Class decorator: make ``cls`` available under ``cls.name``."""
    if not cls.name:
        raise TypeError(f"{cls.__name__} needs a name")
    _REGISTRY[cls.name] = cls()
    return cls


def _load_builtins() -> None:
    global _loaded
    if not _loaded:
        for module in BUILTIN_MODULES:
            importlib.import_module(module)
        _loaded = True


def get_operator(name: str) -> Operator | None:
    _load_builtins()
    return _REGISTRY.get(name)


def operator_names() -> list[str]:
    _load_builtins()
    return sorted(_REGISTRY)


__all__ = [
    "Operator",
    "OperatorError",
    "PermanentOperatorError",
    "TaskContext",
    "get_operator",
    "operator_names",
    "register",
]
