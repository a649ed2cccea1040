"""Column lineage of SQL jobs, derived with sqlglot when the job is saved."""

from __future__ import annotations

import logging

import sqlglot
from sqlglot import exp
from sqlglot.lineage import lineage

log = logging.getLogger(__name__)

# The column name of an edge that carries every column of its input under the same name.
EVERY_COLUMN = "*"


def _is_star(projection: exp.Expression) -> bool:
    return isinstance(projection, exp.Star) or (
        isinstance(projection, exp.Column) and isinstance(projection.this, exp.Star)
    )


def sql_column_lineage(sql: str, inputs: list[str], output: str) -> list[tuple[str, str, str, str]]:
    """Direct edges (output, output column, input dataset, input column) through CTEs and joins.

    Columns that come from no input column (``count(*)``, literals) have no edge. A ``*`` in the
    result (``SELECT *``, ``SELECT p.*``, through CTEs too) passes every column of what it reads under
    its own name; the input schemas are not known at save time, so it is stored as one edge
    ``(output, "*", input, "*")`` from every input the statement reads (:data:`EVERY_COLUMN`). That
    over-approximates (``* EXCLUDE (…)``, a star over a CTE that kept one column) and never misses a
    column, which is the side personal-data registration must err on.
    """
    statement = sqlglot.parse_one(sql, read="duckdb")
    edges: set[tuple[str, str, str, str]] = set()
    if any(_is_star(projection) for projection in getattr(statement, "selects", [])):
        for table in statement.find_all(exp.Table):
            dataset = f"{table.db}.{table.name}" if table.db else table.name
            if dataset in inputs:
                edges.add((output, EVERY_COLUMN, dataset, EVERY_COLUMN))
    for name in statement.named_selects:
        if name == "*":
            continue
        try:
            root = lineage(name, sql, schema=None, dialect="duckdb")
        except Exception as exc:  # sqlglot cannot trace every construct; lineage is best effort
            log.info("no lineage for %s.%s: %s", output, name, exc)
            continue
        for node in root.walk():
            if node.downstream or not isinstance(node.source, exp.Table):
                continue
            table = node.source
            dataset = f"{table.db}.{table.name}" if table.db else table.name
            if dataset in inputs:
                edges.add((output, name, dataset, node.name.split(".")[-1]))
    return sorted(edges)
