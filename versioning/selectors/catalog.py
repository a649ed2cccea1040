"""Catalog reads: a dataset's current partitions, what an invalidation covers, who consumes what."""

from __future__ import annotations

import pyarrow.dataset as pads
from django.db import connection

from .. import row_filter as rf
from ..models import DataInvalidation, PartitionVersion
from ..storage import Storage, lake


def dataset_partitions(*, dataset: str):
    return PartitionVersion.objects.filter(dataset=dataset).order_by("partition_key")


def dataset_names() -> list[str]:
    with connection.cursor() as cursor:
        # A loose index scan: one probe per dataset, not one row per partition.
        cursor.execute(
            """
            WITH RECURSIVE names AS (
                (SELECT dataset FROM partition_versions ORDER BY dataset LIMIT 1)
                UNION ALL
                SELECT (SELECT p.dataset FROM partition_versions p WHERE p.dataset > n.dataset
                        ORDER BY p.dataset LIMIT 1)
                FROM names n WHERE n.dataset IS NOT NULL
            )
            SELECT dataset FROM names WHERE dataset IS NOT NULL
            """
        )
        return [row[0] for row in cursor.fetchall()]


def invalidation_covered_partitions(
    *, invalidation: DataInvalidation, storage: Storage | None = None
) -> list[str]:
    """The partition keys of ``invalidation.dataset`` that the invalidation covers."""
    if invalidation.scope == DataInvalidation.Scope.PARTITION:
        return [invalidation.partition_key]
    keys = list(dataset_partitions(dataset=invalidation.dataset).values_list("partition_key", "location"))
    if invalidation.scope == DataInvalidation.Scope.DATASET:
        return [key for key, _ in keys]
    return partitions_matching(keys=keys, row_filter=invalidation.row_filter, storage=storage or lake())


def partitions_matching(*, keys: list[tuple[str, str]], row_filter: dict, storage: Storage) -> list[str]:
    """Partitions holding at least one row that matches ``row_filter`` (Parquet statistics prune)."""
    expression = rf.to_expression(row_filter)
    wanted = rf.columns(row_filter)
    covered = []
    for key, location in keys:
        fragment = pads.dataset(storage._path(location), filesystem=storage.fs, format="parquet")
        if not wanted <= set(fragment.schema.names):
            continue
        if fragment.count_rows(filter=expression) > 0:
            covered.append(key)
    return covered


def dataset_consumers(*, dataset: str):
    """Active jobs that read ``dataset`` and so must process its invalidations."""
    from orchestration.models import Job

    return Job.objects.filter(active=True, input_datasets__contains=[dataset]).exclude(
        execution_strategy__in=[Job.ExecutionStrategy.INCREMENTAL, Job.ExecutionStrategy.STREAMING]
    )
