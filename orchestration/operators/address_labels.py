"""``address_labels``: add, for each address column of a dataset, the labels the job's org may see.

One input dataset, one output dataset, partition for partition. ``config.address_columns`` names
the columns holding addresses (lower-case hex, as the chain datasets store them); the output is the
input plus ``<column>_label`` for each: the labels of that address visible to the job's org (its
own, of any visibility, and every public one), distinct and sorted, joined with ", "; null when the
address has none.

Labels are read when the task runs: a label added later shows up when the partition is next rebuilt
(a new input version, an invalidation, or a backfill).
"""

from __future__ import annotations

from collections import defaultdict

import pyarrow as pa

from orchestration.selectors.scopes import address_labels_visible_to_org

from . import register
from .base import Operator, OperatorError, TaskContext
from .duckdb_sql import empty_like

LABEL_SEPARATOR = ", "


def label_suffix_column(column: str) -> str:
    return f"{column}_label"


def labels_by_address(org) -> dict[str, str]:
    """Lower-cased address -> its visible labels, distinct, sorted and joined."""
    labels: dict[str, set[str]] = defaultdict(set)
    for address, label in address_labels_visible_to_org(org).values_list("address", "label"):
        labels[address.lower()].add(label)
    return {address: LABEL_SEPARATOR.join(sorted(found)) for address, found in labels.items()}


def enrich(table: pa.Table, *, address_columns: list[str], labels: dict[str, str]) -> pa.Table:
    """``table`` with a ``<column>_label`` string column after it for each address column."""
    for column in address_columns:
        if column not in table.column_names:
            raise OperatorError(f"address_labels: the input has no column {column!r}")
        values = [
            None if address is None else labels.get(address.lower()) for address in table[column].to_pylist()
        ]
        table = table.append_column(label_suffix_column(column), pa.array(values, pa.string()))
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
        labels = labels_by_address(ctx.job.org)
        for key in ctx.partitions:
            table = ctx.read(dataset, [key]) or empty_like(ctx, dataset)
            if not table.num_columns:
                continue  # the input has no partition at all yet: nothing to label
            ctx.write(output, key, enrich(table, address_columns=columns, labels=labels))
