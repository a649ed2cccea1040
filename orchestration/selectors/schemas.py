"""The schema a dataset has, as the catalog knows it (the newest partition's stored schema)."""

from __future__ import annotations

import pyarrow as pa

from versioning.models import PartitionVersion
from versioning.storage import StorageError, lake


def dataset_schema(*, dataset: str) -> pa.Schema | None:
    """The schema of ``dataset``'s newest partition; None while nothing is published (or the file
    cannot be read), when no rule can rely on it."""
    newest = PartitionVersion.objects.filter(dataset=dataset).order_by("-version").first()
    if newest is None:
        return None
    try:
        return lake().read_schema(newest.location)
    except (StorageError, OSError):
        return None
