"""Catalog state changes: publishing partition versions, invalidations, verification and GC."""

from __future__ import annotations

import re
import uuid
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta

import pyarrow as pa
from django.core.exceptions import ValidationError
from django.db import connection, transaction
from django.utils import timezone

from . import row_filter as rf
from .datasets import dataset_exists, dataset_schema, job_declarations
from .models import DataInvalidation, PartitionVersion
from .selectors import SUPERSEDED_KEY, partitions_matching
from .storage import TMP_DIR, Storage, lake, partition_location, schema_hash, task_id_of


@dataclass(frozen=True)
class PublishedPartition:
    dataset: str
    partition_key: str
    config_hash: str
    schema_hash: str
    location: str
    row_count: int
    bytes: int


def partition_versions_publish(*, partitions: Iterable[PublishedPartition]) -> datetime | None:
    """Make ``partitions`` current in one statement; returns their version (the publish time).

    Must run inside the caller's transaction: the catalog row is what makes a file visible.
    """
    rows = list(partitions)
    if not rows:
        return None
    with connection.cursor() as cursor:
        cursor.execute(
            """
            INSERT INTO partition_versions
                (dataset, partition_key, version, config_hash, schema_hash, location, row_count, bytes)
            SELECT d, k, clock_timestamp(), c, s, l, r, b
            FROM unnest(%s::text[], %s::text[], %s::text[], %s::text[], %s::text[],
                        %s::bigint[], %s::bigint[])
                 AS t(d, k, c, s, l, r, b)
            ON CONFLICT (dataset, partition_key) DO UPDATE SET
                version = EXCLUDED.version, config_hash = EXCLUDED.config_hash,
                schema_hash = EXCLUDED.schema_hash, location = EXCLUDED.location,
                row_count = EXCLUDED.row_count, bytes = EXCLUDED.bytes
            RETURNING version
            """,
            [
                [r.dataset for r in rows],
                [r.partition_key for r in rows],
                [r.config_hash for r in rows],
                [r.schema_hash for r in rows],
                [r.location for r in rows],
                [r.row_count for r in rows],
                [r.bytes for r in rows],
            ],
        )
        return max(row[0] for row in cursor.fetchall())


def partition_versions_retire(
    *, dataset: str, keys: Iterable[str], reason: str, source_event: dict | None = None
) -> list[str]:
    """Take partitions out of the catalog (they are no longer part of ``dataset``: a source changed
    its partition layout, an input partition was retired), recording one ``partition``
    invalidation per retired key so consumers rebuild, or retire in turn, what they built from it.

    Must run inside the caller's transaction. Returns the keys that were current.
    """
    wanted = sorted(set(keys))
    if not wanted:
        return []
    with connection.cursor() as cursor:
        cursor.execute(
            "DELETE FROM partition_versions WHERE dataset = %s AND partition_key = ANY(%s) "
            "RETURNING partition_key",
            [dataset, wanted],
        )
        retired = sorted(row[0] for row in cursor.fetchall())
    event = {"type": "retired", **(source_event or {})}
    for key in retired:
        invalidation_create(
            dataset=dataset,
            scope=DataInvalidation.Scope.PARTITION,
            partition_key=key,
            reason=reason,
            source_event=event,
        )
    return retired


def dataset_partition_write(
    *,
    dataset: str,
    partition_key: str,
    table: pa.Table,
    config_hash: str = "external",
    storage: Storage | None = None,
) -> PartitionVersion:
    """Write and publish one partition from outside a job (imports, repairs, tests)."""
    storage = storage or lake()
    written = storage.write_table(partition_location(dataset, partition_key, uuid.uuid4(), 0), table)
    with transaction.atomic():
        partition_versions_publish(
            partitions=[
                PublishedPartition(
                    dataset,
                    partition_key,
                    config_hash,
                    schema_hash(written.schema),
                    written.location,
                    written.row_count,
                    written.bytes,
                )
            ]
        )
    return PartitionVersion.objects.get(dataset=dataset, partition_key=partition_key)


def invalidation_errors(
    *,
    dataset: str,
    scope: str,
    partition_key: str | None = None,
    row_filter: object = None,
    storage: Storage | None = None,
) -> dict[str, str]:
    """Why an invalidation may not be recorded (field -> message); empty when it may.

    The dataset must be known (in the catalog, or written by a job); a row filter must name the
    dataset's columns with values of their types (checked against the schema of its newest
    partition) using the documented operators.
    """
    errors: dict[str, str] = {}
    if scope not in DataInvalidation.Scope.values:
        errors["scope"] = f"scope must be one of {', '.join(DataInvalidation.Scope.values)}"
    if not isinstance(dataset, str) or "." not in dataset or not all(dataset.split(".", 1)):
        errors["dataset"] = "dataset is namespace.name"
    elif not dataset_exists(dataset):
        errors["dataset"] = f"unknown dataset {dataset!r}: no partition of it and no job writes it"
    if errors:
        return errors
    if scope == DataInvalidation.Scope.PARTITION and not partition_key:
        errors["partition_key"] = "a partition invalidation needs partition_key"
    if scope == DataInvalidation.Scope.ROWS:
        if error := rf.validation_error(row_filter):
            errors["row_filter"] = error
        else:
            try:
                schema = dataset_schema(dataset, storage=storage)
            except OSError as exc:
                schema, errors["row_filter"] = None, f"the schema of {dataset} is unreadable: {exc}"
            if schema is None:
                errors.setdefault("row_filter", f"{dataset} has no partitions yet: no rows to filter")
            elif error := rf.schema_error(row_filter, schema):
                errors["row_filter"] = error
    return errors


def invalidation_create(
    *,
    dataset: str,
    scope: str,
    partition_key: str | None = None,
    row_filter: dict | None = None,
    reason: str = "",
    source_event: dict | None = None,
    superseded: dict[str, str] | None = None,
    storage: Storage | None = None,
) -> DataInvalidation:
    """Record that data of ``dataset`` is wrong; consumers reprocess what it covers.

    Raises ValidationError (field -> message, see :func:`invalidation_errors`). With no consumer,
    it is processed at once. ``superseded`` (partition key -> location of the version the same
    transaction replaces) lets a ``rows`` invalidation also cover what the replaced files held: the
    keys whose old file matches are kept in ``source_event["superseded_partitions"]``.
    """
    storage = storage or lake()
    errors = invalidation_errors(
        dataset=dataset, scope=scope, partition_key=partition_key, row_filter=row_filter, storage=storage
    )
    if errors:
        raise ValidationError(errors)
    event = dict(source_event or {})
    event.pop(SUPERSEDED_KEY, None)  # computed here from the replaced files, never taken as given
    if scope == DataInvalidation.Scope.ROWS and superseded:
        matching = partitions_matching(
            keys=sorted(superseded.items()), row_filter=row_filter, storage=storage
        )
        if matching:
            event[SUPERSEDED_KEY] = matching
    has_consumers = job_declarations().has_consumers(dataset)
    return DataInvalidation.objects.create(
        dataset=dataset,
        scope=scope,
        partition_key=partition_key if scope == DataInvalidation.Scope.PARTITION else None,
        row_filter=row_filter if scope == DataInvalidation.Scope.ROWS else None,
        reason=reason,
        source_event=event,
        processed_at=None if has_consumers else timezone.now(),
    )


def invalidation_superseded_extend(
    *, invalidation: DataInvalidation, superseded: dict[str, str], storage: Storage | None = None
) -> None:
    """Add to a ``rows`` invalidation the partitions whose replaced file (``superseded``: key ->
    location) held matching rows: a rebuild spread over several tasks records its event once."""
    matching = partitions_matching(
        keys=sorted(superseded.items()), row_filter=invalidation.row_filter, storage=storage or lake()
    )
    known = set((invalidation.source_event or {}).get(SUPERSEDED_KEY) or [])
    if set(matching) <= known:
        return
    invalidation.source_event = {**invalidation.source_event, SUPERSEDED_KEY: sorted(known | set(matching))}
    invalidation.save(update_fields=["source_event"])


def invalidation_mark_processed(*, invalidation_id: uuid.UUID, job_id: uuid.UUID) -> None:
    """Append ``job_id`` to ``processed_by``; set ``processed_at`` once every consumer has."""
    with connection.cursor() as cursor:
        cursor.execute(
            """
            UPDATE data_invalidations d
            SET processed_by = array_append(d.processed_by, %(job)s::uuid),
                processed_at = CASE WHEN NOT EXISTS (
                    SELECT 1 FROM jobs j
                    WHERE j.active AND d.dataset = ANY(j.input_datasets)
                      AND j.id <> %(job)s::uuid AND NOT (j.id = ANY(d.processed_by))
                ) THEN now() END
            WHERE d.id = %(id)s AND NOT (%(job)s::uuid = ANY(d.processed_by))
            """,
            {"id": invalidation_id, "job": job_id},
        )


@dataclass
class CatalogProblem:
    dataset: str
    partition_key: str
    problem: str


# Partitions that are block ranges (``blocks_00012000``, the chain layout and everything mapped from
# it): two current ones holding the same block mean a layout changed without the old partitions being
# retired, and every block there counts twice. Other layouts (by day, by token) may share blocks.
RANGE_COLUMN = "block_number"
RANGE_KEY = re.compile(r"blocks_\d+")


def catalog_verify(
    *,
    dataset: str | None = None,
    storage: Storage | None = None,
    progress: Callable[[int], None] | None = None,
) -> list[CatalogProblem]:
    """Check every catalog row against storage: the file exists, its rows and schema match, and no
    two current partitions of a dataset hold overlapping block ranges."""
    storage = storage or lake()
    rows = PartitionVersion.objects.order_by("dataset", "partition_key")
    if dataset:
        rows = rows.filter(dataset=dataset)
    problems = []
    ranges: dict[str, list[tuple[object, object, str]]] = {}
    for pv in rows.iterator(chunk_size=2000):
        try:
            if not storage.exists(pv.location):
                problems.append(CatalogProblem(pv.dataset, pv.partition_key, f"missing file {pv.location}"))
                continue
            schema = storage.read_schema(pv.location)
            count = storage.parquet_row_count(pv.location)
            bounds = (
                storage.column_range(pv.location, RANGE_COLUMN)
                if RANGE_KEY.fullmatch(pv.partition_key)
                else None
            )
        except OSError as exc:
            problems.append(CatalogProblem(pv.dataset, pv.partition_key, f"unreadable: {exc}"))
            continue
        if count != pv.row_count:
            problems.append(
                CatalogProblem(
                    pv.dataset, pv.partition_key, f"{count} rows in file, {pv.row_count} in catalog"
                )
            )
        if schema_hash(schema) != pv.schema_hash:
            problems.append(CatalogProblem(pv.dataset, pv.partition_key, "schema differs from the catalog"))
        if bounds is not None and RANGE_KEY.fullmatch(pv.partition_key):
            ranges.setdefault(pv.dataset, []).append((*bounds, pv.partition_key))
        if progress:
            progress(1)
    for name, spans in ranges.items():
        problems.extend(_overlaps(name, spans))
    return problems


def _overlaps(dataset: str, spans: list[tuple[object, object, str]]) -> list[CatalogProblem]:
    """Partitions whose [min, max] block range overlaps the one of a partition before it."""
    problems = []
    reach: tuple[object, str] | None = None  # the highest block so far, and whose it is
    for low, high, key in sorted(spans, key=lambda span: (span[0], span[1])):
        if reach is not None and low <= reach[0]:
            problems.append(
                CatalogProblem(
                    dataset,
                    key,
                    f"{RANGE_COLUMN} {low}..{high} overlaps partition {reach[1]} (up to {reach[0]}): "
                    "the same blocks are current twice",
                )
            )
        if reach is None or high > reach[0]:
            reach = (high, key)
    return problems


def storage_gc(
    *,
    grace: timedelta = timedelta(hours=1),
    dry_run: bool = False,
    storage: Storage | None = None,
    progress: Callable[[int], None] | None = None,
) -> list[str]:
    """Remove lake files that no catalog row and no live task references, older than ``grace``.

    The grace period spares a file written a moment ago by a task that is about to publish; the
    live-task check spares files of tasks still running, however long they take. The result store
    (``_results/``) is not the lake's and is left alone.
    """
    storage = storage or lake()
    cutoff = timezone.now() - grace
    referenced = set(PartitionVersion.objects.values_list("location", flat=True).iterator(chunk_size=10000))
    live = job_declarations().live_task_ids()
    removed = []
    for location, info in storage.list_files():
        if progress:
            progress(1)
        if location.startswith("_results/") or location in referenced:
            continue
        if info.mtime is not None and info.mtime > cutoff:
            continue
        if not location.startswith(f"{TMP_DIR}/") and task_id_of(location) in live:
            continue
        if not location.endswith(".parquet"):
            continue
        if not dry_run:
            storage.delete(location)
        removed.append(location)
    return removed
