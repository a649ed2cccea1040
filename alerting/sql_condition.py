"""The SQL form of an alert condition: ``{"dataset": "evm.transfers", "sql": "SELECT * FROM
evm.transfers WHERE ..."}`` instead of ``where``.

The statement passes the same sandbox guard as queries and job SQL (one read-only statement, no
function that reads a file, the environment or settings) and may read only the condition's own
dataset, bound at evaluation as the view named like it over one partition. Every output row is a
match, so the output must keep the columns the event is made of (dedupe, payload, block and
transaction identity); that is checked on save by running the statement over an empty table of the
dataset's catalog schema, which also reports unknown columns and type errors before any data flows.
"""

from __future__ import annotations

import duckdb
import pyarrow as pa

from versioning import duckdb_sandbox as sandbox

# Columns event_fields reads from a row, kept when the dataset has them.
EVENT_COLUMNS = ("chain_id", "block_number", "block_hash", "transaction_hash", "tx_hash")


def bind_dataset(con: duckdb.DuckDBPyConnection, dataset: str, relation: str) -> None:
    """Make ``dataset`` (``namespace.name``) a view over the registered ``relation``."""
    namespace, _, name = dataset.partition(".")
    view = _quote(name)
    if namespace and name:
        con.execute(f"CREATE SCHEMA IF NOT EXISTS {_quote(namespace)}")
        view = f"{_quote(namespace)}.{view}"
    con.execute(f"CREATE OR REPLACE VIEW {view} AS SELECT * FROM {relation}")


def _quote(identifier: str) -> str:
    return '"' + identifier.replace('"', '""') + '"'


def parse_condition_sql(sql: object, dataset: str) -> str:
    """The statement re-rendered from its parse (what was checked is what runs), or ValueError with
    the sandbox's one-line reason."""
    if not isinstance(sql, str):
        raise ValueError("one read-only SELECT over the condition's dataset")
    try:
        statement = sandbox.parse_read_only(sql)
    except sandbox.SqlRejected as exc:
        raise ValueError(exc.message) from None
    others = sorted(t for t in sandbox.referenced_tables(statement) if t.lower() != dataset.lower())
    if others:
        raise ValueError(f"reads {', '.join(others)}; an SQL condition reads only its dataset {dataset}")
    return sandbox.normalised_sql(statement)


def output_columns(sql: str, dataset: str, schema: dict[str, pa.DataType]) -> list[str]:
    """The column names ``sql`` yields over an empty table of ``schema``, or ValueError."""
    empty = pa.schema(list(schema.items())).empty_table()
    con = sandbox.sandbox_connect(sandbox.SandboxLimits(memory_limit_mb=256, threads=1, timeout_seconds=10))
    try:
        con.register("__empty", empty)
        bind_dataset(con, dataset, "__empty")
        return [column[0] for column in con.execute(f"SELECT * FROM ({sql}) AS __alert LIMIT 0").description]
    except duckdb.Error as exc:
        raise ValueError(sandbox.error_message(exc)) from None
    finally:
        con.close()


def missing_columns(columns: list[str], *, schema: dict, dedupe: list[str], payload: list[str]) -> list[str]:
    """Columns events need that the output lacks: dedupe, payload and the dataset's identity columns."""
    needed = [*dedupe, *payload, *(c for c in EVENT_COLUMNS if c in schema)]
    present = set(columns)
    return sorted({c for c in needed if c not in present})
