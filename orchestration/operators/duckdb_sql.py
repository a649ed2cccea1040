"""``duckdb_sql``: SQL over the task's input partitions, each input bound as a view named like the
dataset (``evm.blocks`` is the view ``evm.blocks``).

Execution strategies:

* ``partitioned`` (identity mapping): the SQL runs once per output partition over that partition of
  every input; ``config.partition_mapping: "all"`` runs it once over every input partition.
* ``full``: once over everything; the output partition is ``config.output_partition`` (default
  ``all``).
* ``incremental`` and ``streaming`` (the continuous runner): the inputs hold only rows whose
  ``config.cursor_column`` is past the cursor; each result row goes to the output partition named
  by the SQL expression ``config.partition_by``.

The connection has external access off and its configuration locked, so job SQL cannot read files,
attach databases or change settings: inputs arrive as Arrow tables.
"""

from __future__ import annotations

import duckdb
import pyarrow as pa
import pyarrow.compute as pc
import sqlglot
from sqlglot import exp

from . import register
from .base import Operator, OperatorError, TaskContext

ALLOWED_STATEMENTS = (exp.Select, exp.Union, exp.Intersect, exp.Except)


def parse_select(sql: str) -> exp.Expression:
    """Parse one read-only statement or raise ValueError with a one-line reason."""
    try:
        statements = [s for s in sqlglot.parse(sql, read="duckdb") if s is not None]
    except sqlglot.errors.ParseError as exc:
        raise ValueError(f"SQL does not parse: {str(exc).splitlines()[0]}") from None
    if len(statements) != 1:
        raise ValueError("exactly one SQL statement is expected")
    statement = statements[0]
    if not isinstance(statement, ALLOWED_STATEMENTS):
        raise ValueError(f"only SELECT / WITH queries are allowed, not {statement.key.upper()}")
    return statement


def referenced_datasets(statement: exp.Expression) -> set[str]:
    """``namespace.name`` of every table the query reads (CTE names excluded)."""
    ctes = {cte.alias_or_name for cte in statement.find_all(exp.CTE)}
    names = set()
    for table in statement.find_all(exp.Table):
        if table.db:
            names.add(f"{table.db}.{table.name}")
        elif table.name not in ctes:
            names.add(table.name)
    return names


def connect(tables: dict[str, pa.Table]) -> duckdb.DuckDBPyConnection:
    """An in-memory DuckDB with each ``namespace.name`` bound as a view over an Arrow table."""
    con = duckdb.connect(":memory:")
    for index, (dataset, table) in enumerate(tables.items()):
        namespace, name = dataset.split(".", 1)
        con.register(f"__input_{index}", table)
        con.execute(f'CREATE SCHEMA IF NOT EXISTS "{namespace}"')
        con.execute(f'CREATE VIEW "{namespace}"."{name}" AS SELECT * FROM __input_{index}')
    con.execute("SET enable_external_access = false")
    con.execute("SET lock_configuration = true")
    return con


def empty_like(ctx: TaskContext, dataset: str) -> pa.Table:
    """An empty table with the schema of ``dataset``'s partitions (for inputs a task lacks)."""
    for parts in ctx.inputs.get(dataset, []):
        return ctx.storage.read_table(parts.location).slice(0, 0)
    return pa.table({})


@register
class DuckDBSQLOperator(Operator):
    name = "duckdb_sql"
    runtimes = ("sql",)

    def validate(self, job) -> dict[str, str]:
        errors: dict[str, str] = {}
        sql = (job.source or {}).get("sql")
        if not isinstance(sql, str) or not sql.strip():
            return {"source": 'duckdb_sql needs {"sql": "SELECT …"}'}
        try:
            statement = parse_select(sql)
        except ValueError as exc:
            return {"source": str(exc)}
        unknown = referenced_datasets(statement) - set(job.input_datasets)
        if unknown:
            errors["source"] = "the SQL reads tables that are not inputs: " + ", ".join(sorted(unknown))
        if len(job.output_datasets) != 1:
            errors["output_datasets"] = "duckdb_sql writes exactly one output dataset"
        if job.execution_strategy in ("incremental", "streaming"):
            config = job.config or {}
            if not config.get("cursor_column"):
                errors["config"] = "an incremental job needs config.cursor_column"
            elif not config.get("partition_by"):
                errors["config"] = "an incremental job needs config.partition_by (an SQL expression)"
            else:
                try:
                    sqlglot.parse_one(config["partition_by"], read="duckdb")
                except sqlglot.errors.ParseError:
                    errors["config"] = "config.partition_by is not an SQL expression"
        return errors

    def column_lineage(self, job) -> list[tuple[str, str, str, str]]:
        from orchestration.services.lineage import sql_column_lineage

        return sql_column_lineage(job.source["sql"], job.input_datasets, job.output_datasets[0])

    def run(self, ctx: TaskContext) -> None:
        job = ctx.job
        sql = job.source["sql"]
        output = job.output_datasets[0]
        strategy = job.execution_strategy
        config = job.config or {}
        if strategy in ("incremental", "streaming"):
            self._run_incremental(ctx, sql, output, config)
        elif strategy == "full" or config.get("partition_mapping") == "all":
            tables = {d: ctx.read(d) or empty_like(ctx, d) for d in job.input_datasets}
            for key in ctx.partitions:
                ctx.write(output, key, _execute(tables, sql, ctx))
        else:
            for key in ctx.partitions:
                tables = {d: ctx.read(d, [key]) or empty_like(ctx, d) for d in job.input_datasets}
                ctx.write(output, key, _execute(tables, sql, ctx))

    def _run_incremental(self, ctx: TaskContext, sql: str, output: str, config: dict) -> None:
        """Rows past the cursor, routed by ``partition_by``. A rebuild (``ctx.rebuild``) instead
        recomputes its ``partitions`` whole from the rows up to the cursor (what earlier runs
        processed), writing each even when empty; rows past the cursor are left to the next run."""
        column = config["cursor_column"]
        tables: dict[str, pa.Table] = {}
        highest: dict[str, object] = {}
        for dataset in ctx.job.input_datasets:
            table = ctx.read(dataset) or empty_like(ctx, dataset)
            if column in table.column_names:
                cursor = ctx.cursor(dataset)
                if ctx.rebuild:
                    if cursor is None:
                        table = table.slice(0, 0)
                    else:
                        value = pa.scalar(cursor).cast(table.schema.field(column).type)
                        table = table.filter(pc.less_equal(table[column], value))
                elif cursor is not None:
                    value = pa.scalar(cursor).cast(table.schema.field(column).type)
                    table = table.filter(pc.greater(table[column], value))
                if table.num_rows:
                    highest[dataset] = pc.max(table[column]).as_py()
            tables[dataset] = table
        result = _execute(
            tables, f"SELECT ({config['partition_by']})::VARCHAR AS __partition, * FROM ({sql})", ctx
        )
        if ctx.rebuild:
            for key in ctx.partitions:
                rows = result.filter(pc.equal(result["__partition"], key)).drop_columns(["__partition"])
                ctx.write(output, key, rows)
            return
        keys = pc.unique(result["__partition"]).to_pylist() if result.num_rows else []
        for key in keys:
            rows = result.filter(pc.equal(result["__partition"], key)).drop_columns(["__partition"])
            ctx.write(output, str(key), rows)
        for dataset, value in highest.items():
            ctx.advance_cursor(dataset, column, value)


def _execute(tables: dict[str, pa.Table], sql: str, ctx: TaskContext | None = None) -> pa.Table:
    con = connect(tables)
    # A timeout, cancel or lost lease interrupts the query where it computes.
    forget = ctx.on_interrupt(con.interrupt) if ctx is not None else None
    try:
        if ctx is not None:
            ctx.check_interrupted()
        relation = con.sql(sql)
        # duckdb 2 names it to_arrow_table; 1.x had fetch_arrow_table.
        fetch = getattr(relation, "to_arrow_table", None) or relation.fetch_arrow_table
        return fetch()
    except duckdb.Error as exc:
        if ctx is not None:
            ctx.check_interrupted()
        raise OperatorError(f"SQL failed: {str(exc).splitlines()[0]}") from None
    finally:
        if forget is not None:
            forget()
        con.close()
