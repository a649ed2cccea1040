"""``address_labels``: add, for each address column of a dataset, the labels the job's org may see.

One input dataset, one output dataset, partition for partition. ``config.address_columns`` names
the columns holding addresses (hex text in any case; the chain datasets store lower-case); the output
is the input, rows in the same order, plus ``<column>_label`` for each: the labels of that address
visible to the job's org (its ``org`` labels and every ``public`` one; private labels never land in a
dataset), distinct and sorted, joined with ", "; null when the address has none.

Per partition, each address column is dictionary-encoded (one hash pass over the rows); only the
labels of the distinct addresses are fetched (one query with an array parameter, aggregated in
PostgreSQL) and looked up (Arrow's ``index_in``), then spread back over the rows with one ``take``.
The cost follows the partition, not the size of the label table.

Labels are read when the task runs: a label added later shows up when the partition is next rebuilt
(a new input version, an invalidation, or a backfill).
"""

from __future__ import annotations

import pyarrow as pa
import pyarrow.compute as pc

from labels.selectors import address_labels_for_org
from orchestration.operators import register
from orchestration.operators.base import Operator, OperatorError, TaskContext
from orchestration.operators.duckdb_sql import empty_like

LABEL_SEPARATOR = ", "


def label_suffix_column(column: str) -> str:
    return f"{column}_label"


def _distinct_addresses(table: pa.Table, column: str) -> pa.DictionaryArray:
    """The column dictionary-encoded: each distinct address once, lower-cased, plus an index per row.

    One hash pass over the rows; lower-casing, the label fetch and the lookup then work on the
    distinct addresses only, and a final ``take`` spreads the labels back over the rows."""
    if column not in table.column_names:
        raise OperatorError(f"address_labels: the input has no column {column!r}")
    values = table[column]
    if not (pa.types.is_string(values.type) or pa.types.is_large_string(values.type)):
        raise OperatorError(f"address_labels: column {column!r} holds {values.type}, not address text")
    encoded = pc.dictionary_encode(values.combine_chunks())
    return pa.DictionaryArray.from_arrays(
        encoded.indices, pc.utf8_lower(encoded.dictionary).cast(pa.string())
    )


def labels_of_addresses(org, addresses: list[pa.Array]) -> pa.Table:
    """The labels ``org`` may see on the lower-case ``addresses``: columns address, labels."""
    distinct = pc.unique(pa.chunked_array(addresses, pa.string())).drop_null().to_pylist()
    rows = address_labels_for_org(org, distinct, LABEL_SEPARATOR)
    return pa.table(
        {
            "address": pa.array([address for address, _ in rows], pa.string()),
            "labels": pa.array([labels for _, labels in rows], pa.string()),
        }
    )


def enrich(table: pa.Table, *, address_columns: list[str], org) -> pa.Table:
    """``table`` with a ``<column>_label`` string column appended for each address column."""
    encoded = {column: _distinct_addresses(table, column) for column in address_columns}
    labels = labels_of_addresses(org, [values.dictionary for values in encoded.values()])
    for column, values in encoded.items():
        of_each_address = pc.take(
            labels["labels"], pc.index_in(values.dictionary, value_set=labels["address"])
        )
        table = table.append_column(label_suffix_column(column), pc.take(of_each_address, values.indices))
    return table


@register
class AddressLabelsOperator(Operator):
    name = "address_labels"
    runtimes = ("python",)

    def validate(self, job) -> dict[str, str]:
        errors = {}
        columns = (job.config or {}).get("address_columns")
        if not isinstance(columns, list) or not columns or not all(isinstance(c, str) and c for c in columns):
            errors["config"] = 'address_labels needs config.address_columns, e.g. ["from_address"]'
        if len(job.input_datasets) != 1:
            errors["input_datasets"] = "address_labels reads exactly one dataset"
        if len(job.output_datasets) != 1:
            errors["output_datasets"] = "address_labels writes exactly one dataset"
        return errors

    def column_lineage(self, job) -> list[tuple[str, str, str, str]]:
        return [
            (job.output_datasets[0], label_suffix_column(column), job.input_datasets[0], column)
            for column in job.config["address_columns"]
        ]

    def run(self, ctx: TaskContext) -> None:
        dataset, output = ctx.job.input_datasets[0], ctx.job.output_datasets[0]
        columns = ctx.job.config["address_columns"]
        for key in ctx.partitions:
            table = ctx.read(dataset, [key]) or empty_like(ctx, dataset)
            if not table.num_columns:
                continue  # the input has no partition at all yet: nothing to label
            ctx.write(output, key, enrich(table, address_columns=columns, org=ctx.job.org))
