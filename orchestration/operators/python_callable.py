"""``python``: a callable ``package.module:function`` from Arrow table(s) to an Arrow table.

The callable receives one table per input dataset, in ``input_datasets`` order, for one output
partition at a time (or for everything when ``config.partition_mapping`` is ``"all"`` or the job is
``full``), and returns a ``pyarrow.Table`` (anything ``pyarrow.table()`` accepts also works).
Column lineage is declared in ``config.column_lineage``: a list of
``{"output_column", "input_dataset", "input_column"}``.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable

import pyarrow as pa
from django.conf import settings

from . import register
from .base import Operator, OperatorError, TaskContext
from .duckdb_sql import empty_like


def is_allowed(module_name: str, attribute: str, allowed: list[str]) -> bool:
    """Whether ``module_name:attribute`` is on the allow-list, matched at module boundaries.

    ``pkg.`` allows every module under the package ``pkg``; ``pkg.mod`` allows that module only (not
    ``pkg.module_two``); ``pkg.mod:function`` allows that one function.
    """
    for entry in allowed:
        module_entry, _, function_entry = entry.partition(":")
        if function_entry:
            if module_name == module_entry and attribute == function_entry:
                return True
        elif module_entry.endswith("."):
            if module_name.startswith(module_entry) and len(module_name) > len(module_entry):
                return True
        elif module_name == module_entry:
            return True
    return False


def load_callable(path: str) -> Callable:
    """Import ``package.module:function`` from an allowed module (``PYTHON_CALLABLE_MODULES``).

    The allow-list keeps a job from naming arbitrary library functions (``os:system``…): only
    functions defined in modules deployed for jobs are callable, not names those modules import.
    """
    module_name, _, attribute = path.partition(":")
    if not module_name or not attribute:
        raise ValueError(f"{path!r} is not of the form package.module:function")
    allowed = settings.PYTHON_CALLABLE_MODULES
    if attribute.startswith("_") or not is_allowed(module_name, attribute, allowed):
        raise ValueError(f"{path} is not among the modules jobs may call ({', '.join(allowed)})")
    try:
        module = importlib.import_module(module_name)
    except ImportError as exc:
        raise ValueError(f"cannot import {module_name}: {exc}") from None
    function = getattr(module, attribute, None)
    if not callable(function) or getattr(function, "__module__", None) != module.__name__:
        raise ValueError(f"{module_name} defines no callable {attribute!r}")
    return function


@register
class PythonOperator(Operator):
    name = "python"
    runtimes = ("python",)

    def validate(self, job) -> dict[str, str]:
        errors = {}
        path = (job.source or {}).get("callable")
        if not isinstance(path, str):
            errors["source"] = 'python needs {"callable": "package.module:function"}'
        else:
            try:
                load_callable(path)
            except ValueError as exc:
                errors["source"] = str(exc)
        if len(job.output_datasets) != 1:
            errors["output_datasets"] = "python writes exactly one output dataset"
        declared = (job.config or {}).get("column_lineage", [])
        if not isinstance(declared, list) or not all(
            isinstance(e, dict) and {"output_column", "input_dataset", "input_column"} <= set(e)
            for e in declared
        ):
            errors["config"] = (
                "config.column_lineage is a list of {output_column, input_dataset, input_column}"
            )
        return errors

    def column_lineage(self, job) -> list[tuple[str, str, str, str]]:
        output = job.output_datasets[0]
        return [
            (output, e["output_column"], e["input_dataset"], e["input_column"])
            for e in (job.config or {}).get("column_lineage", [])
        ]

    def run(self, ctx: TaskContext) -> None:
        function = load_callable(ctx.job.source["callable"])
        output = ctx.job.output_datasets[0]
        whole = (
            ctx.job.execution_strategy == "full" or (ctx.job.config or {}).get("partition_mapping") == "all"
        )
        for key in ctx.partitions:
            keys = None if whole else [key]
            tables = [ctx.read(d, keys) or empty_like(ctx, d) for d in ctx.job.input_datasets]
            result = function(*tables)
            if not isinstance(result, pa.Table):
                try:
                    result = pa.table(result)
                except Exception as exc:
                    raise OperatorError(
                        f"the callable returned {type(result).__name__}, not a table"
                    ) from exc
            ctx.write(output, key, result)
