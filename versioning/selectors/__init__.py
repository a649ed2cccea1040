"""Reads that carry rules for the catalog: tenancy scopes (``scopes``) and catalog lookups
(``catalog``).
"""

from . import scopes  # noqa: F401  (registers the tenancy scopes on import)
from .catalog import (
    SUPERSEDED_KEY,
    dataset_names,
    dataset_partitions,
    invalidation_covered_partitions,
    partitions_matching,
)

__all__ = [
    "SUPERSEDED_KEY",
    "dataset_names",
    "dataset_partitions",
    "invalidation_covered_partitions",
    "partitions_matching",
]
