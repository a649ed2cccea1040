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

The SQL and ``config.partition_by`` pass the shared sandbox (:mod:`versioning.duckdb_sandbox`):
bounded length and nesting, one read-only statement (or one expression over columns), no function
that reads a file, the environment or settings. The connection has external access off, its
configuration locked and the org's memory, thread and temp-space limits; a watchdog interrupts it at
the job's ``timeout_seconds`` or when the task's lease is lost. Inputs arrive as Arrow tables.
"""

from __future__ import annotations

import duckdb
import pyarrow as pa
import pyarrow.compute as pc
from sqlglot import exp

from versioning import duckdb_sandbox as sandbox
from versioning.models import PartitionVersion
from versioning.storage import lake

from . import register
from .base import Operator, OperatorError, TaskContext
from .lineage import sql_column_lineage


def parse_select(sql: str) -> exp.Expression:
    """Parse one read-only statement or raise ValueError with a one-line reason."""
    try:
        return sandbox.parse_read_only(sql)
    except sandbox.SqlRejected as exc:
        raise ValueError(exc.message) from None


def referenced_datasets(statement: exp.Expression) -> set[str]:
    """``namespace.name`` of every table the query reads (CTE names excluded)."""
    return sandbox.referenced_tables(statement)


def partition_by_expression(text: str) -> str:
    """``config.partition_by`` re-rendered from its parse (never pasted as written)."""
    try:
        return sandbox.parse_expression(text).sql(dialect="duckdb")
    except sandbox.SqlRejected as exc:
        raise ValueError(f"config.partition_by: {exc.message}") from None


def partition_by_errors(job, statement: exp.Expression) -> str | None:
    """Why ``config.partition_by`` is not one expression over the columns the job's SQL yields."""
    try:
        expression = sandbox.parse_expression(job.config["partition_by"])
    except sandbox.SqlRejected as exc:
        return f"config.partition_by: {exc.message}"
    # A constant ('all') routes every row to one partition; anything else names result columns.
    columns = {c.name for c in expression.find_all(exp.Column)}
    known = {name for name in statement.named_selects if name != "*"}
    star = any(name == "*" for name in statement.named_selects) or bool(statement.find(exp.Star))
    if star:
        known |= _input_columns(job.input_datasets)
    unknown = columns - known
    if unknown and (not star or _input_columns(job.input_datasets)):
        return "config.partition_by uses columns the query does not return: " + ", ".join(sorted(unknown))
    return None


def _input_columns(datasets: list[str]) -> set[str]:
    """Columns of the inputs' current partitions, from one file footer each (empty when unknown)."""
    columns: set[str] = set()
    for dataset in datasets:
        location = (
            PartitionVersion.objects.filter(dataset=dataset)
            .order_by("-version")
            .values_list("location", flat=True)
            .first()
        )
        if location:
            try:
                columns |= set(lake().read_schema(location).names)
            except OSError:
                continue
    return columns


def connect(
    tables: dict[str, pa.Table], limits: sandbox.SandboxLimits | None = None
) -> duckdb.DuckDBPyConnection:
    """A sandboxed in-memory DuckDB with each ``namespace.name`` bound as a view over an Arrow table."""

    def bind(con: duckdb.DuckDBPyConnection) -> None:
        for index, (dataset, table) in enumerate(tables.items()):
            namespace, name = dataset.split(".", 1)
            con.register(f"__input_{index}", table)
            con.execute(f'CREATE SCHEMA IF NOT EXISTS "{namespace}"')
            con.execute(f'CREATE VIEW "{namespace}"."{name}" AS SELECT * FROM __input_{index}')

    return sandbox.sandbox_connect(limits or sandbox.SandboxLimits(), setup=bind)


def sql_binding_error(sql: str, schemas: dict[str, pa.Schema]) -> str | None:
    """Why DuckDB cannot bind ``sql`` over empty inputs of the given schemas (a column or function
    that does not exist), or None. Binding runs nothing: the query is only described."""
    con = connect({dataset: schema.empty_table() for dataset, schema in schemas.items()})
    try:
        con.execute(f"DESCRIBE {sql}")
    except (duckdb.BinderException, duckdb.CatalogException) as exc:
        return str(exc).splitlines()[0]
    except duckdb.Error:
        return None  # not a question of names; the run reports it
    finally:
        con.close()
    return None


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
            elif problem := partition_by_errors(job, statement):
                errors["config"] = problem
        return errors

    def column_lineage(self, job) -> list[tuple[str, str, str, str]]:
        return sql_column_lineage(job.source["sql"], job.input_datasets, job.output_datasets[0])

    def run(self, ctx: TaskContext) -> None:
        job = ctx.job
        sql = job.source["sql"]
        try:
            parse_select(sql)  # re-checked at run time: the job may have been saved before a rule
        except ValueError as exc:
            raise OperatorError(str(exc)) from None
        output = job.output_datasets[0]
        strategy = job.execution_strategy
        config = job.config or {}
        if strategy in ("incremental", "streaming"):
            self._run_incremental(ctx, sql, output, config)
        elif strategy == "full" or config.get("partition_mapping") == "all":
            tables = {d: ctx.read(d) or empty_like(ctx, d) for d in job.input_datasets}
            for key in ctx.partitions:
                ctx.write(output, key, _execute(ctx, tables, sql))
        else:
            for key in ctx.partitions:
                tables = {d: ctx.read(d, [key]) or empty_like(ctx, d) for d in job.input_datasets}
                ctx.write(output, key, _execute(ctx, tables, sql))

    def _run_incremental(self, ctx: TaskContext, sql: str, output: str, config: dict) -> None:
        """Rows past the cursor, routed by ``partition_by``. A rebuild (``ctx.rebuild``) instead
        recomputes its ``partitions`` whole from the rows up to the cursor (what earlier runs
        processed), writing each even when empty; rows past the cursor are left to the next run."""
        column = config["cursor_column"]
        try:
            partition_by = partition_by_expression(config["partition_by"])
        except ValueError as exc:
            raise OperatorError(str(exc)) from None
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
        result = _execute(ctx, tables, f"SELECT ({partition_by})::VARCHAR AS __partition, * FROM ({sql})")
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


def _execute(ctx: TaskContext, tables: dict[str, pa.Table], sql: str) -> pa.Table:
    """Run ``sql`` in the sandbox under the org's limits; stopped at the job's timeout, a cancel or
    a lost lease (the task's watchdog interrupts the query where it computes)."""
    limits = sandbox.SandboxLimits.for_org(ctx.job.org)
    con = connect(tables, limits)
    timeout = ctx.job.timeout_seconds or limits.timeout_seconds
    forget = ctx.on_interrupt(con.interrupt)
    try:
        ctx.check_interrupted()
        with sandbox.Watchdog(con, timeout_seconds=timeout, should_stop=ctx.lease_lost.is_set) as watchdog:
            try:
                relation = con.sql(sql)
                # duckdb 2 names it to_arrow_table; 1.x had fetch_arrow_table.
                fetch = getattr(relation, "to_arrow_table", None) or relation.fetch_arrow_table
                return fetch()
            except duckdb.Error as exc:
                ctx.check_interrupted()
                reason = watchdog.reason
                if reason == "timeout":
                    raise OperatorError(f"SQL stopped after its timeout of {timeout:g} s") from None
                if reason == "cancelled":
                    raise OperatorError("SQL stopped: the task's lease was lost") from None
                raise OperatorError(f"SQL failed: {sandbox.error_message(exc)}") from None
    finally:
        forget()
        con.close()
