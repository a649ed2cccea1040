"""Catalog reads: a dataset's current partitions, the dataset names, what an invalidation covers."""

from __future__ import annotations

import pyarrow.dataset as pads
from django.db import connection

from .. import row_filter as rf
from ..models import DataInvalidation, PartitionVersion
from ..storage import Storage, lake

# The key of ``source_event`` listing the partitions whose replaced version held rows a ``rows``
# invalidation matches (see ``invalidation_create``): after a reorg the new version of a partition
# can lack the rows the old one had, and what was built from the old rows must still be rebuilt.
SUPERSEDED_KEY = "superseded_partitions"


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
    """The partition keys of ``invalidation.dataset`` that the invalidation covers.

    A ``rows`` invalidation covers the current partitions holding a matching row and the partitions
    whose replaced version held one (recorded when it was created, ``superseded_partitions``).
    Raises ValueError when its filter no longer applies to a partition's schema.
    """
    if invalidation.scope == DataInvalidation.Scope.PARTITION:
        return [invalidation.partition_key]
    keys = list(dataset_partitions(dataset=invalidation.dataset).values_list("partition_key", "location"))
    if invalidation.scope == DataInvalidation.Scope.DATASET:
        return [key for key, _ in keys]
    covered = set(
        partitions_matching(keys=keys, row_filter=invalidation.row_filter, storage=storage or lake())
    )
    superseded = (invalidation.source_event or {}).get(SUPERSEDED_KEY) or []
    return sorted(covered | {str(key) for key in superseded})


def partitions_matching(*, keys: list[tuple[str, str]], row_filter: dict, storage: Storage) -> list[str]:
    """Partitions holding at least one row that matches ``row_filter`` (Parquet statistics prune).

    The filter is typed against each file's own schema; a file lacking a filtered column holds no
    matching row. Raises ValueError when a value does not fit a file's column type.
    """
    wanted = rf.columns(row_filter)
    covered = []
    for key, location in keys:
        fragment = pads.dataset(storage._path(location), filesystem=storage.fs, format="parquet")
        if not wanted <= set(fragment.schema.names):
            continue
        if (error := rf.schema_error(row_filter, fragment.schema)) is not None:
            raise ValueError(f"partition {key}: {error}")
        if fragment.count_rows(filter=rf.to_expression(row_filter, fragment.schema)) > 0:
            covered.append(key)
    return covered
