"""Personal columns masked where DuckDB reads them, not where results leave.

Every view a statement reads a dataset through (queries, alert scans, backtests, scheduled queries,
exports) replaces each registered personal column by its masked expression::

    SELECT * REPLACE (<masked "email"> AS "email") FROM <the partition files>

so whatever the statement does with the column (a cast, a struct, ``list()``, ``COLUMNS()``, an
error message, ``hash()``, ``LIKE``, ``ORDER BY``) it only ever sees the masked value: no shape of
SQL can carry the raw one out. Columns left raw are exactly the ones the caller may unmask and asked
to (the caller logs them, see :mod:`pii.services`).

The expressions match :func:`pii.masking.mask_value` (null and empty stay as they are): ``redact``
and ``partial`` are plain SQL; ``hash`` is a keyed HMAC computed by the UDF :data:`HASH_FUNCTION`,
installed on every sandboxed DuckDB database (the key never appears in SQL, and the parse guard
refuses the function's name in user SQL, so nobody can hash chosen values to build a dictionary).
"""

from __future__ import annotations

from collections.abc import Collection, Iterable, Mapping

import duckdb
import pyarrow as pa
import pyarrow.compute as pc

from .masking import REDACTED, hash_key, keyed_hash
from .registry import Strategy, dataset_columns

HASH_FUNCTION = "__chainlake_pii_hash"


# Keyed hashes already computed in this process (value -> hash), bounded: a column of addresses or
# e-mails repeats a few thousand values over millions of rows, so most vectors hash nothing new.
_HASHED: dict[str, str] = {}
_HASHED_MAX = 200_000
_HASHED_WITH = {"key": b""}  # the key those hashes were made with


def _hash_batch(values: pa.Array) -> pa.Array:
    """The UDF's body: one vector of text in, keyed hashes out. The vector is dictionary-encoded, so
    each distinct value is looked up (or hashed) once, and the rest is Arrow's ``take``."""
    key = hash_key()
    if key != _HASHED_WITH["key"]:  # a new key (settings changed): forget the old hashes
        _HASHED.clear()
        _HASHED_WITH["key"] = key
    if isinstance(values, pa.ChunkedArray):
        values = values.combine_chunks()
    encoded = pc.dictionary_encode(values)
    masked = []
    for value in encoded.dictionary.to_pylist():
        digest = _HASHED.get(value)
        if digest is None:
            digest = keyed_hash(value, key)
            if len(_HASHED) >= _HASHED_MAX:
                _HASHED.clear()
            _HASHED[value] = digest
        masked.append(digest)
    return pc.take(pa.array(masked, pa.string()), encoded.indices)


def install_mask_functions(con: duckdb.DuckDBPyConnection) -> None:
    """Register the masking UDF on a fresh DuckDB database (its cursors share it)."""
    con.create_function(
        HASH_FUNCTION,
        _hash_batch,
        [duckdb.sqltypes.VARCHAR],
        duckdb.sqltypes.VARCHAR,
        type="arrow",
        side_effects=False,
    )


def _quote(identifier: str) -> str:
    return '"' + identifier.replace('"', '""') + '"'


def _literal(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


def masked_expression(column: str, strategy: Strategy | str) -> str:
    """DuckDB SQL for ``column`` masked by ``strategy`` (text, like :func:`pii.masking.mask_value`)."""
    value = f"CAST({_quote(column)} AS VARCHAR)"
    strategy = Strategy(strategy)
    if strategy == Strategy.REDACT:
        masked = _literal(REDACTED)
    elif strategy == Strategy.HASH:
        masked = f"{HASH_FUNCTION}({value})"
    else:  # partial: the first character, then *** and the domain of an e-mail address
        at = f"strpos({value}, '@')"
        masked = (
            f"CASE WHEN {at} > 1 THEN left({value}, 1) || '***@' || substr({value}, {at} + 1) "
            f"ELSE left({value}, 1) || '***' END"
        )
    return f"CASE WHEN {value} IS NULL OR {value} = '' THEN {value} ELSE {masked} END"


def personal_columns(dataset: str) -> dict[str, Strategy]:
    """The registered personal columns of ``dataset`` -> their strategy."""
    return {column: entry.strategy for (name, column), entry in dataset_columns().items() if name == dataset}


def masked_select(
    source: str,
    *,
    columns: Iterable[str],
    personal: Mapping[str, Strategy],
    unmasked: Collection[str] = (),
) -> str:
    """``SELECT`` over ``source`` (SQL of a relation) with every personal column among ``columns``
    (the relation's own) masked, except those in ``unmasked``. Names match case-insensitively, as
    DuckDB binds them."""
    by_lower = {name.lower(): strategy for name, strategy in personal.items()}
    keep_raw = {name.lower() for name in unmasked}
    replaced = [
        f"{masked_expression(column, by_lower[column.lower()])} AS {_quote(column)}"
        for column in columns
        if column.lower() in by_lower and column.lower() not in keep_raw
    ]
    projection = f"* REPLACE ({', '.join(replaced)})" if replaced else "*"
    return f"SELECT {projection} FROM {source}"


def masked_columns(columns: Iterable[str], personal: Mapping[str, Strategy], unmasked: Collection[str] = ()):
    """The names among ``columns`` that :func:`masked_select` masks."""
    keep_raw = {name.lower() for name in unmasked}
    lowered = {name.lower() for name in personal}
    return [c for c in columns if c.lower() in lowered and c.lower() not in keep_raw]
