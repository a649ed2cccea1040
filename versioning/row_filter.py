"""The ``row_filter`` of a ``rows`` invalidation: a small JSON predicate on columns.

``{"block_number": {"gte": 18000000}, "chain_id": 1}`` means ``block_number >= 18000000 AND
chain_id = 1``. Operators: ``eq``, ``ne``, ``gt``, ``gte``, ``lt``, ``lte``, ``in`` (a list); a bare
value means ``eq``. Compiled to a pyarrow expression, so partition files are pruned by their Parquet
statistics when the scheduler looks for the covered partitions.

A filter is checked twice: its shape (:func:`validation_error`) and, against the dataset's schema,
that every column exists and every value has the column's type (:func:`schema_error`). A filter that
passed both always compiles (:func:`to_expression`) against that schema, so a bad filter is refused
when it is recorded instead of failing every planning pass that reads it.
"""

from __future__ import annotations

import decimal
import math
import operator
from datetime import UTC, date, datetime
from functools import reduce

import pyarrow as pa
import pyarrow.compute as pc

OPERATORS = {"eq", "ne", "gt", "gte", "lt", "lte", "in"}
SCALAR = (int, float, str, bool)
_COMPARE = {
    "eq": operator.eq,
    "ne": operator.ne,
    "gt": operator.gt,
    "gte": operator.ge,
    "lt": operator.lt,
    "lte": operator.le,
}


def _finite(value: object) -> bool:
    return not isinstance(value, float) or math.isfinite(value)


def validation_error(row_filter: object) -> str | None:
    if not isinstance(row_filter, dict) or not row_filter:
        return "row_filter must be a non-empty object of column -> condition"
    for column, condition in row_filter.items():
        if not isinstance(column, str) or not column:
            return "row_filter keys are column names"
        if isinstance(condition, SCALAR):
            if not _finite(condition):
                return f"row_filter[{column!r}] must be a finite number"
            continue
        if not isinstance(condition, dict) or not condition:
            return f"row_filter[{column!r}] must be a value or an object like {{'gte': 1}}"
        for op, value in condition.items():
            if op not in OPERATORS:
                return f"row_filter[{column!r}]: unknown operator {op!r} (use {', '.join(sorted(OPERATORS))})"
            if op == "in":
                if not isinstance(value, list) or not value or not all(isinstance(v, SCALAR) for v in value):
                    return f"row_filter[{column!r}].in must be a non-empty list of values"
                if not all(_finite(v) for v in value):
                    return f"row_filter[{column!r}].in must hold finite numbers"
            elif not isinstance(value, SCALAR) or not _finite(value):
                return f"row_filter[{column!r}].{op} must be a (finite) number, string or boolean"
    return None


def conditions(row_filter: dict):
    """(column, operator, value) triples, a bare value read as ``eq``."""
    for column, condition in row_filter.items():
        if isinstance(condition, SCALAR):
            condition = {"eq": condition}
        for op, value in condition.items():
            yield column, op, value


def typed_value(value: object, data_type: pa.DataType) -> pa.Scalar:
    """``value`` as a scalar of ``data_type``; ValueError (one line) when it is not of that type.

    Strict on purpose: ``"abc"`` is no integer, and neither is ``"5"`` or ``true``; dates and times
    are ISO 8601 strings (a time without zone on a zoned column is read as UTC).
    """
    kind = _kind(data_type)
    if kind == "integer" and isinstance(value, int) and not isinstance(value, bool):
        try:
            return pa.scalar(value, data_type)
        except (pa.ArrowInvalid, OverflowError):
            raise ValueError(f"{value} is out of range for {data_type}") from None
    if kind == "floating" and isinstance(value, int | float) and not isinstance(value, bool):
        return pa.scalar(float(value), data_type)
    if kind == "decimal" and isinstance(value, int | float | str) and not isinstance(value, bool):
        try:
            return pa.scalar(decimal.Decimal(str(value)), data_type)
        except (decimal.InvalidOperation, pa.ArrowInvalid):
            raise ValueError(f"{value!r} is not a {data_type} number") from None
    if kind == "string" and isinstance(value, str):
        return pa.scalar(value, data_type)
    if kind == "boolean" and isinstance(value, bool):
        return pa.scalar(value, data_type)
    if kind in ("timestamp", "date") and isinstance(value, str):
        try:
            moment = datetime.fromisoformat(value)
        except ValueError:
            raise ValueError(f"{value!r} is not an ISO 8601 date or time") from None
        if kind == "date":
            return pa.scalar(date(moment.year, moment.month, moment.day), data_type)
        if data_type.tz is not None and moment.tzinfo is None:
            moment = moment.replace(tzinfo=UTC)
        elif data_type.tz is None and moment.tzinfo is not None:
            moment = moment.astimezone(UTC).replace(tzinfo=None)
        return pa.scalar(moment, data_type)
    if kind is None:
        raise ValueError(f"columns of type {data_type} cannot be filtered")
    expected = {
        "integer": "an integer",
        "floating": "a number",
        "decimal": "a number",
        "string": "a string",
        "boolean": "true or false",
        "timestamp": "an ISO 8601 date-time string",
        "date": "an ISO 8601 date string",
    }[kind]
    raise ValueError(f"{value!r} is not {expected} (the column is {data_type})")


def _kind(data_type: pa.DataType) -> str | None:
    if pa.types.is_integer(data_type):
        return "integer"
    if pa.types.is_floating(data_type):
        return "floating"
    if pa.types.is_decimal(data_type):
        return "decimal"
    if pa.types.is_string(data_type) or pa.types.is_large_string(data_type):
        return "string"
    if pa.types.is_boolean(data_type):
        return "boolean"
    if pa.types.is_timestamp(data_type):
        return "timestamp"
    if pa.types.is_date(data_type):
        return "date"
    return None


def schema_error(row_filter: dict, schema: pa.Schema) -> str | None:
    """Why ``row_filter`` (shape already valid) cannot apply to ``schema``, or None."""
    names = set(schema.names)
    unknown = sorted(set(row_filter) - names)
    if unknown:
        return f"unknown column(s) {', '.join(unknown)} (the dataset has {', '.join(schema.names)})"
    for column, op, value in conditions(row_filter):
        data_type = schema.field(column).type
        for item in value if op == "in" else [value]:
            try:
                typed_value(item, data_type)
            except ValueError as exc:
                return f"row_filter[{column!r}].{op}: {exc}"
    return None


def columns(row_filter: dict) -> set[str]:
    return set(row_filter)


def to_expression(row_filter: dict, schema: pa.Schema | None = None) -> pc.Expression:
    """The filter as a pyarrow expression; with ``schema``, values are typed like their columns
    (so a date-time string compares with a timestamp column)."""
    parts = []
    for column, op, value in conditions(row_filter):
        field = pc.field(column)
        data_type = schema.field(column).type if schema is not None else None

        def typed(v, data_type=data_type):
            return v if data_type is None else typed_value(v, data_type)

        if op == "in":
            values = [typed(v) for v in value]
            parts.append(field.isin(pa.array([v.as_py() if data_type else v for v in values], data_type)))
        else:
            parts.append(_COMPARE[op](field, typed(value)))
    return reduce(operator.and_, parts)
