"""The ``row_filter`` of a ``rows`` invalidation: a small JSON predicate on columns.

``{"block_number": {"gte": 18000000}, "chain_id": 1}`` means ``block_number >= 18000000 AND
chain_id = 1``. Operators: ``eq``, ``ne``, ``gt``, ``gte``, ``lt``, ``lte``, ``in`` (a list); a bare
value means ``eq``. Compiled to a pyarrow expression, so partition files are pruned by their Parquet
statistics when the scheduler looks for the covered partitions.
"""

from __future__ import annotations

import operator
from functools import reduce

import pyarrow.compute as pc

OPERATORS = {"eq", "ne", "gt", "gte", "lt", "lte", "in"}
SCALAR = (int, float, str, bool)


def validation_error(row_filter: object) -> str | None:
    if not isinstance(row_filter, dict) or not row_filter:
        return "row_filter must be a non-empty object of column -> condition"
    for column, condition in row_filter.items():
        if not isinstance(column, str) or not column:
            return "row_filter keys are column names"
        if isinstance(condition, SCALAR):
            continue
        if not isinstance(condition, dict) or not condition:
            return f"row_filter[{column!r}] must be a value or an object like {{'gte': 1}}"
        for op, value in condition.items():
            if op not in OPERATORS:
                return f"row_filter[{column!r}]: unknown operator {op!r} (use {', '.join(sorted(OPERATORS))})"
            if op == "in":
                if not isinstance(value, list) or not all(isinstance(v, SCALAR) for v in value):
                    return f"row_filter[{column!r}].in must be a list of values"
            elif not isinstance(value, SCALAR):
                return f"row_filter[{column!r}].{op} must be a number, string or boolean"
    return None


def columns(row_filter: dict) -> set[str]:
    return set(row_filter)


def to_expression(row_filter: dict) -> pc.Expression:
    parts = []
    for column, condition in row_filter.items():
        field = pc.field(column)
        if isinstance(condition, SCALAR):
            condition = {"eq": condition}
        for op, value in condition.items():
            if op == "in":
                parts.append(field.isin(value))
            else:
                compare = {
                    "eq": operator.eq,
                    "ne": operator.ne,
                    "gt": operator.gt,
                    "gte": operator.ge,
                    "lt": operator.lt,
                    "lte": operator.le,
                }[op]
                parts.append(compare(field, value))
    return reduce(operator.and_, parts)
