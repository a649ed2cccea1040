"""The one place query results pass through on their way out: PII masking by the registry.

Every result (fresh runs in every mode, before it is written to the result store) is built through
a :class:`ResultMasker` for the user it is for and the dataset columns the query read. Registered
personal columns (``pii.registry``) come out masked unless the caller asked to unmask and holds the
right; an unmasked run writes one ``pii_access_log`` row per personal column read, once per result.

Which result columns carry a personal column: one of the same name, and, when the query read a
personal column at all, every other text column too (an alias or an expression over it may carry the
value under another name). Masking is deterministic (keyed hash, fixed patterns), so every user of
an org sees the same masked result and cached results are shared; unmasked results are keyed per
user and never reused (see ``services.execution.query_prepare``).
"""

from __future__ import annotations

from collections.abc import Callable

import pyarrow as pa

from pii import masking as pii_masking
from pii.registry import dataset_columns


def personal_columns_read(columns_read: dict[str, set[str] | None]) -> set[tuple[str, str]]:
    """The registered (dataset, column) pairs among what the query read (``None``: every column)."""
    return {
        (dataset, column)
        for (dataset, column) in dataset_columns()
        if dataset in columns_read and (columns_read[dataset] is None or column in columns_read[dataset])
    }


def _sources(schema: pa.Schema, personal: set[tuple[str, str]]) -> dict[str, set[tuple[str, str]]]:
    sources: dict[str, set[tuple[str, str]]] = {}
    for field in schema:
        same_name = {pair for pair in personal if pair[1] == field.name}
        if same_name:
            sources[field.name] = same_name
        elif pa.types.is_string(field.type) or pa.types.is_large_string(field.type):
            sources[field.name] = set(personal)
    return sources


class ResultMasker:
    """Masks the batches of one result; ``schema`` is the stored file's (masked columns are text)."""

    def __init__(
        self,
        *,
        user,
        columns_read: dict[str, set[str] | None],
        schema: pa.Schema,
        unmask: bool,
        action: str,
        record_id,
    ) -> None:
        personal = personal_columns_read(columns_read)
        self.sources = _sources(schema, personal) if personal else {}
        self.user = user
        self.schema = schema
        self.mask: Callable[[pa.Table], pa.Table] | None = None
        if not self.sources:
            return
        if unmask:
            # The right was checked when the query was prepared; this records the read, once.
            pii_masking.mask_arrow_table(
                schema.empty_table(),
                user=user,
                columns=self.sources,
                action=action,
                record_id=record_id,
                unmask=True,
            )
            return
        self.mask = lambda table: pii_masking.mask_arrow_table(
            table, user=user, columns=self.sources, action=action, record_id=record_id
        )
        self.schema = self.mask(schema.empty_table()).schema

    def __call__(self, batch: pa.RecordBatch) -> pa.RecordBatch:
        if self.mask is None:
            return batch
        masked = self.mask(pa.Table.from_batches([batch], schema=batch.schema))
        batches = masked.combine_chunks().to_batches()
        return batches[0] if batches else pa.RecordBatch.from_pylist([], schema=masked.schema)
