"""Typed query parameters, bound by DuckDB (``$name``), never spliced into the SQL text.

A parameter is given as a JSON value, typed by its JSON type (integer → BIGINT, number → DOUBLE,
string → VARCHAR, boolean → BOOLEAN), or as ``{"type": T, "value": V}`` with ``T`` one of
:data:`TYPES` to say what it is (``{"type": "date", "value": "2026-11-25"}``). The names must be
exactly those the SQL uses: a missing or unused name, a wrong type or an unusable value is a field
error on ``parameters.<name>`` before anything runs.
"""

from __future__ import annotations

import datetime as dt
import decimal
import json
from typing import Any

TYPES = ("bigint", "double", "varchar", "boolean", "date", "timestamp", "decimal")
MAX_PARAMETERS = 100
MAX_TEXT = 10_000


class ParameterError(Exception):
    """Field errors (``name -> message``) of the parameters."""

    def __init__(self, errors: dict[str, str]):
        super().__init__("; ".join(f"{k}: {v}" for k, v in errors.items()))
        self.errors = errors


def _typed(kind: str, value: Any) -> Any:
    if value is None:
        return None
    if kind == "bigint":
        if isinstance(value, bool) or not isinstance(value, int):
            raise ValueError("expected an integer")
        if not -(2**63) <= value < 2**63:
            raise ValueError("out of the BIGINT range")
        return value
    if kind == "double":
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise ValueError("expected a number")
        return float(value)
    if kind == "varchar":
        if not isinstance(value, str):
            raise ValueError("expected a string")
        if len(value) > MAX_TEXT:
            raise ValueError(f"longer than {MAX_TEXT} characters")
        return value
    if kind == "boolean":
        if not isinstance(value, bool):
            raise ValueError("expected true or false")
        return value
    if kind == "date":
        if not isinstance(value, str):
            raise ValueError("expected a date as YYYY-MM-DD")
        return dt.date.fromisoformat(value)
    if kind == "timestamp":
        if not isinstance(value, str):
            raise ValueError("expected an ISO 8601 timestamp")
        return dt.datetime.fromisoformat(value)
    if kind == "decimal":
        if isinstance(value, bool) or not isinstance(value, int | str):
            raise ValueError("expected a decimal as a string or an integer")
        try:
            number = decimal.Decimal(str(value))
        except decimal.InvalidOperation:
            raise ValueError("not a decimal number") from None
        if not number.is_finite():
            raise ValueError("not a finite decimal number")
        return number
    raise ValueError(f"unknown type {kind!r}; one of {', '.join(TYPES)}")


def _inferred(value: Any) -> str:
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int):
        return "bigint"
    if isinstance(value, float):
        return "double"
    if isinstance(value, str) or value is None:
        return "varchar"
    raise ValueError('a parameter is a string, number, boolean, null or {"type", "value"}')


def bind_parameters(names: set[str], given: Any) -> dict[str, Any]:
    """The Python values DuckDB binds for ``names``, or :class:`ParameterError`."""
    if given is None:
        given = {}
    if not isinstance(given, dict):
        raise ParameterError({"parameters": "an object of name → value"})
    if len(given) > MAX_PARAMETERS:
        raise ParameterError({"parameters": f"at most {MAX_PARAMETERS} parameters"})
    errors: dict[str, str] = {}
    values: dict[str, Any] = {}
    for name in sorted(names - set(given)):
        errors[name] = f"missing: the SQL uses ${name}"
    for name in sorted(set(given) - names):
        errors[name] = f"unused: the SQL has no ${name}"
    for name in sorted(names & set(given)):
        raw = given[name]
        try:
            if isinstance(raw, dict):
                if set(raw) != {"type", "value"} or not isinstance(raw["type"], str):
                    raise ValueError('a typed parameter is {"type": ..., "value": ...}')
                values[name] = _typed(raw["type"].lower(), raw["value"])
            else:
                values[name] = _typed(_inferred(raw), raw)
        except (ValueError, TypeError, OverflowError) as exc:
            errors[name] = str(exc)
    if errors:
        raise ParameterError(errors)
    return values


def canonical(given: Any) -> str:
    """The parameters as canonical JSON, for the result's ``sql_hash``."""
    return json.dumps(given or {}, sort_keys=True, separators=(",", ":"), default=str)
