"""The condition DSL of an alert definition: validation against a dataset schema, and compilation to
parameterised DuckDB SQL.

A condition (``alert_definitions.condition``)::

    {"dataset": "evm.transfers",
     "where": {"all": [{"column": "value", "op": "gte", "value": "1000000000000000000000"},
                       {"not": {"column": "to_address", "op": "in", "value": ["0xdead..."]}}]},
     "confirmations": 12, "severity": "critical",
     "dedupe": ["transaction_hash", "log_index"], "payload": ["from_address", "to_address", "value"],
     "silenced_until": null}

``where`` is a tree of ``all`` / ``any`` (non-empty lists), ``not`` (one node) and leaves
``{"column", "op", "value"}`` with ops eq, ne, gt, gte, lt, lte, in, not_in, between (``[low, high]``,
inclusive), is_null (value true/false, default true), contains and starts_with (string columns).

Semantics the DSL fixes:

* A leaf whose column is NULL is false (``ne`` and ``not_in`` included: "to_address ne X" does
  not match a contract creation, whose ``to_address`` is NULL; use ``is_null`` for those); ``not``
  negates that, so ``not`` of a leaf over a NULL is true.
* uint256 values are stored as exact decimal strings. A string column compared with an integer
  (a JSON number or a string of digits) is compared as a number, exactly, at any width: two
  canonical decimal strings order by length, then by text. A value that is not a canonical decimal
  string does not match.
* Values are always bound parameters; column names come from the dataset schema and are quoted.

Instead of ``where``, ``sql`` may hold one read-only statement over the dataset itself
(:mod:`alerting.sql_condition`); each row it returns is a match.

``confirmations`` (default 0): only rows at least that many blocks below the dataset's head match
(needs a ``block_number`` column). ``dedupe`` (default: the row's identity columns the dataset has)
and ``payload`` (default: every column) name columns. ``severity`` is info, warning or critical.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import pyarrow as pa

from .models import Severity
from .sql_condition import missing_columns, output_columns, parse_condition_sql

OPS = ("eq", "ne", "gt", "gte", "lt", "lte", "in", "not_in", "between", "is_null", "contains", "starts_with")
ORDER_OPS = {"gt": ">", "gte": ">=", "lt": "<", "lte": "<="}
CONDITION_KEYS = {
    "dataset",
    "where",
    "sql",
    "confirmations",
    "severity",
    "dedupe",
    "payload",
    "silenced_until",
}
IDENTITY_COLUMNS = (
    "chain_id",
    "block_number",
    "transaction_hash",
    "tx_hash",
    "transaction_index",
    "log_index",
)
MAX_DEPTH = 12
MAX_LEAVES = 200
MAX_LIST = 1000
UINT_WIDTH = 80  # uint256 needs 78 digits
UINT_PREFIX = "__uint__"
CANONICAL_UINT = r"^(0|[1-9][0-9]*)$"
_DIGITS = re.compile(CANONICAL_UINT)


class ConditionError(Exception):
    """A condition that does not validate; ``errors`` maps a field path to its message."""

    def __init__(self, errors: dict[str, str]):
        super().__init__("; ".join(f"{k}: {v}" for k, v in errors.items()))
        self.errors = errors


def column_kind(data_type: pa.DataType) -> str:
    if pa.types.is_integer(data_type):
        return "integer"
    if pa.types.is_floating(data_type) or pa.types.is_decimal(data_type):
        return "number"
    if pa.types.is_string(data_type) or pa.types.is_large_string(data_type):
        return "string"
    if pa.types.is_boolean(data_type):
        return "boolean"
    if pa.types.is_timestamp(data_type) or pa.types.is_date(data_type):
        return "timestamp"
    return "other"


def quote(column: str) -> str:
    return '"' + column.replace('"', '""') + '"'


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _as_uint(value: Any) -> str | None:
    """The canonical decimal string of a non-negative integer value, or None."""
    if _is_int(value) and value >= 0:
        return str(value)
    if isinstance(value, str) and _DIGITS.match(value.strip()):
        return value.strip()
    return None


@dataclass
class Compiled:
    """A predicate as DuckDB SQL with its positional parameters."""

    sql: str
    params: list[Any] = field(default_factory=list)


class _Checker:
    def __init__(self, schema: dict[str, pa.DataType]):
        self.schema = schema
        self.errors: dict[str, str] = {}
        self.leaves = 0
        self.uint_columns: set[str] = set()

    def fail(self, path: str, message: str) -> None:
        self.errors.setdefault(path, message)

    # -- validation and compilation in one walk -------------------------------------------------
    def node(self, node: Any, path: str, depth: int) -> Compiled:
        if depth > MAX_DEPTH:
            self.fail(path, f"nested deeper than {MAX_DEPTH} levels")
            return Compiled("FALSE")
        if not isinstance(node, dict):
            self.fail(path, 'a node is an object: {"all": [...]}, {"any": [...]}, {"not": {...}} or a leaf')
            return Compiled("FALSE")
        groups = [k for k in ("all", "any", "not") if k in node]
        if groups:
            if len(node) != 1:
                self.fail(path, f"{groups[0]!r} stands alone in its object")
                return Compiled("FALSE")
            key = groups[0]
            if key == "not":
                inner = self.node(node["not"], f"{path}.not", depth + 1)
                return Compiled(f"(NOT {inner.sql})", inner.params)
            children = node[key]
            if not isinstance(children, list) or not children:
                self.fail(f"{path}.{key}", "a non-empty list of nodes")
                return Compiled("FALSE")
            parts = [self.node(c, f"{path}.{key}[{i}]", depth + 1) for i, c in enumerate(children)]
            joiner = " AND " if key == "all" else " OR "
            return Compiled(
                "(" + joiner.join(p.sql for p in parts) + ")", [v for p in parts for v in p.params]
            )
        return self.leaf(node, path)

    def leaf(self, node: dict, path: str) -> Compiled:
        self.leaves += 1
        if self.leaves > MAX_LEAVES:
            self.fail(path, f"more than {MAX_LEAVES} comparisons")
            return Compiled("FALSE")
        unknown = set(node) - {"column", "op", "value"}
        if unknown:
            self.fail(path, f"unknown keys {', '.join(sorted(unknown))} (a leaf has column, op, value)")
            return Compiled("FALSE")
        column, op = node.get("column"), node.get("op")
        if not isinstance(column, str) or column not in self.schema:
            known = ", ".join(sorted(self.schema)) or "none yet"
            self.fail(f"{path}.column", f"unknown column {column!r} (the dataset has: {known})")
            return Compiled("FALSE")
        if op not in OPS:
            self.fail(f"{path}.op", f"unknown op {op!r} (use one of {', '.join(OPS)})")
            return Compiled("FALSE")
        kind = column_kind(self.schema[column])
        col = quote(column)
        where = f"{path}.value"
        value = node.get("value")
        if op == "is_null":
            if value is None:
                value = True
            if not isinstance(value, bool):
                self.fail(where, "is_null takes true or false")
                return Compiled("FALSE")
            return Compiled(f"({col} IS {'' if value else 'NOT '}NULL)")
        if "value" not in node or value is None:
            self.fail(where, f"{op} needs a value (use is_null to test for NULL)")
            return Compiled("FALSE")
        if op in ("contains", "starts_with"):
            if kind != "string" or not isinstance(value, str):
                self.fail(
                    where if kind == "string" else f"{path}.op",
                    f"{op} compares a string column with a string",
                )
                return Compiled("FALSE")
            function = "contains" if op == "contains" else "starts_with"
            return Compiled(f"coalesce({function}({col}, ?), FALSE)", [value])
        if op in ("in", "not_in"):
            if not isinstance(value, list) or not value or len(value) > MAX_LIST:
                self.fail(where, f"{op} takes a non-empty list of at most {MAX_LIST} values")
                return Compiled("FALSE")
            parts = [self.compare(col, kind, "eq", v, f"{where}[{i}]") for i, v in enumerate(value)]
            sql = "(" + " OR ".join(p.sql for p in parts) + ")"
            params = [v for p in parts for v in p.params]
            if op == "not_in":
                sql = f"({col} IS NOT NULL AND NOT {sql})"
            return Compiled(sql, params)
        if op == "between":
            if not isinstance(value, list) or len(value) != 2:
                self.fail(where, "between takes [low, high]")
                return Compiled("FALSE")
            low = self.compare(col, kind, "gte", value[0], f"{where}[0]")
            high = self.compare(col, kind, "lte", value[1], f"{where}[1]")
            return Compiled(f"({low.sql} AND {high.sql})", low.params + high.params)
        return self.compare(col, kind, op, value, where)

    def compare(self, col: str, kind: str, op: str, value: Any, where: str) -> Compiled:
        """``col op value`` for one scalar value, typed by the column kind; NULL compares false."""
        if kind == "string":
            number = _as_uint(value)
            if number is not None and len(number) > UINT_WIDTH:
                self.fail(where, f"more than {UINT_WIDTH} digits: past any uint256")
                return Compiled("FALSE")
            if number is not None and (_is_int(value) or op in ORDER_OPS):
                return self._uint_compare(col, op, number)
            if _is_int(value) and value < 0:
                self.fail(where, "uint256 columns compare with non-negative integers")
                return Compiled("FALSE")
            if op in ORDER_OPS:
                self.fail(where, f"{op} on a string column takes a non-negative integer (uint256 as digits)")
                return Compiled("FALSE")
            if not isinstance(value, str):
                self.fail(where, "a string column compares with a string")
                return Compiled("FALSE")
            return self._plain(col, op, value, "")
        if kind == "integer":
            if isinstance(value, str) and re.match(r"^-?[0-9]+$", value.strip()):
                value = int(value)
            if not _is_int(value):
                self.fail(where, "an integer column compares with an integer")
                return Compiled("FALSE")
            return self._plain(col, op, value, "::HUGEINT")
        if kind == "number":
            if isinstance(value, bool) or not isinstance(value, int | float):
                self.fail(where, "a numeric column compares with a number")
                return Compiled("FALSE")
            return self._plain(col, op, float(value), "::DOUBLE")
        if kind == "boolean":
            if not isinstance(value, bool) or op not in ("eq", "ne"):
                self.fail(where, "a boolean column takes eq/ne with true or false")
                return Compiled("FALSE")
            return self._plain(col, op, value, "::BOOLEAN")
        if kind == "timestamp":
            try:
                datetime.fromisoformat(str(value))
            except ValueError:
                self.fail(where, "a time column compares with an ISO 8601 time")
                return Compiled("FALSE")
            return self._plain(col, op, str(value), "::TIMESTAMPTZ")
        self.fail(where, "this column's type cannot be compared")
        return Compiled("FALSE")

    @staticmethod
    def _plain(col: str, op: str, value: Any, cast: str) -> Compiled:
        symbol = {"eq": "=", "ne": "<>", **ORDER_OPS}[op]
        return Compiled(f"coalesce({col} {symbol} ?{cast}, FALSE)", [value])

    def _uint_compare(self, col: str, op: str, number: str) -> Compiled:
        """Exact numeric order of canonical decimal strings of any length: both sides zero-padded to
        one width compare as text. The padded column is derived once per row (``source_sql``), so a
        hundred definitions on ``value`` pay for one regex and one pad per row, not a hundred."""
        column = col[1:-1].replace('""', '"')
        self.uint_columns.add(column)
        padded = quote(UINT_PREFIX + column)
        symbol = {"eq": "=", "ne": "<>", **ORDER_OPS}[op]
        return Compiled(f"coalesce({padded} {symbol} ?, FALSE)", [number.zfill(UINT_WIDTH)])


def source_sql(relation: str, uint_columns) -> str:
    """``relation`` with, for each string column compared as a uint256, its zero-padded form (NULL
    when the value is not a canonical decimal string of at most UINT_WIDTH digits)."""
    derived = [
        f"CASE WHEN length({quote(c)}) <= {UINT_WIDTH} AND regexp_full_match({quote(c)}, "
        f"'{CANONICAL_UINT[1:-1]}') THEN lpad({quote(c)}, {UINT_WIDTH}, '0') END AS {quote(UINT_PREFIX + c)}"
        for c in sorted(uint_columns)
    ]
    if not derived:
        return relation
    return f"(SELECT *, {', '.join(derived)} FROM {relation})"


@dataclass
class Condition:
    """A validated condition, ready to evaluate."""

    dataset: str
    predicate: Compiled
    confirmations: int
    severity: str
    dedupe: list[str]
    payload: list[str]
    silenced_until: datetime | None
    uint_columns: frozenset = frozenset()
    sql: str | None = None  # the SQL form: a checked read-only statement over the dataset's view


def _columns(value: Any, schema: dict, path: str, errors: dict[str, str]) -> list[str]:
    if not isinstance(value, list) or not all(isinstance(c, str) for c in value):
        errors[path] = "a list of column names"
        return []
    unknown = [c for c in value if c not in schema]
    if unknown:
        errors[path] = f"unknown columns {', '.join(unknown)}"
    return list(value)


def parse_silence(value: Any) -> datetime | None:
    if value in (None, ""):
        return None
    parsed = datetime.fromisoformat(str(value))
    if parsed.tzinfo is None:
        raise ValueError("silenced_until needs a time zone")
    return parsed


def compile_condition(condition: Any, schema: dict[str, pa.DataType] | None) -> Condition:
    """Validate ``condition`` against ``schema`` (column -> Arrow type) and compile it; raises
    ConditionError with one message per faulty field (paths like ``where.all[0].column``)."""
    if not isinstance(condition, dict):
        raise ConditionError({"condition": "an object with dataset and where"})
    errors: dict[str, str] = {}
    unknown = set(condition) - CONDITION_KEYS
    if unknown:
        errors["condition"] = (
            f"unknown keys {', '.join(sorted(unknown))} (use {', '.join(sorted(CONDITION_KEYS))})"
        )
    dataset = condition.get("dataset")
    if not isinstance(dataset, str) or not dataset:
        errors["dataset"] = "the dataset to watch, e.g. evm.transfers"
    if schema is None:
        if "dataset" not in errors:
            errors["dataset"] = f"{dataset!r} has no partitions in the catalog yet (its schema is unknown)"
        raise ConditionError(errors)
    checker = _Checker(schema)
    sql = None
    predicate = Compiled("FALSE")
    if "where" in condition and "sql" in condition:
        errors["sql"] = "a condition has either where or sql, not both"
    elif "sql" in condition:
        try:
            sql = parse_condition_sql(condition["sql"], dataset if isinstance(dataset, str) else "")
        except ValueError as exc:
            errors["sql"] = str(exc)
    elif "where" not in condition:
        errors["where"] = "a predicate tree (or an sql statement) is required"
    else:
        predicate = checker.node(condition["where"], "where", 0)
    errors.update(checker.errors)
    confirmations = condition.get("confirmations", 0)
    if not _is_int(confirmations) or not 0 <= confirmations <= 100_000:
        errors["confirmations"] = "an integer from 0 to 100000"
        confirmations = 0
    elif confirmations and "block_number" not in schema:
        errors["confirmations"] = "confirmations need a block_number column"
    severity = condition.get("severity", Severity.WARNING)
    if severity not in Severity.values:
        errors["severity"] = f"one of {', '.join(Severity.values)}"
    default_dedupe = [c for c in IDENTITY_COLUMNS if c in schema] or sorted(schema)
    dedupe = _columns(condition.get("dedupe", default_dedupe), schema, "dedupe", errors)
    if "dedupe" in condition and not dedupe and "dedupe" not in errors:
        errors["dedupe"] = "at least one column (or leave it out for the row's identity)"
    payload = _columns(condition.get("payload", list(schema)), schema, "payload", errors)
    try:
        silenced_until = parse_silence(condition.get("silenced_until"))
    except ValueError as exc:
        errors["silenced_until"] = f"an ISO 8601 time with zone, or null ({exc})"
        silenced_until = None
    if sql is not None and not errors:
        try:
            missing = missing_columns(
                output_columns(sql, dataset, schema), schema=schema, dedupe=dedupe, payload=payload
            )
        except ValueError as exc:
            errors["sql"] = str(exc)
        else:
            if missing:
                errors["sql"] = (
                    f"the statement must return the columns events need; missing: {', '.join(missing)} "
                    "(SELECT * keeps them all)"
                )
    if errors:
        raise ConditionError(errors)
    return Condition(
        dataset=dataset,
        sql=sql,
        predicate=predicate,
        confirmations=confirmations,
        severity=severity,
        dedupe=dedupe,
        payload=payload,
        silenced_until=silenced_until,
        uint_columns=frozenset(checker.uint_columns),
    )
