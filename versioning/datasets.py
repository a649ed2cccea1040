"""Datasets: their names, who may write and read them, and their schema as the catalog holds it.

A dataset is ``namespace.name``; there is no datasets table. An org writes only under its slug; the
platform org also writes the system namespaces (``settings.SYSTEM_NAMESPACES``). Members of an org
read their org's namespace and the system ones; superusers read everything; an inactive user reads
nothing. Every path that reads a dataset for a person (queries, alert scans, backtests, exports,
scheduled jobs) asks :func:`may_read_dataset`, and every job asks :func:`read_error` /
:func:`write_error` for its org.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass

import pyarrow as pa
from django.conf import settings

from .models import PartitionVersion
from .storage import Storage, lake

DATASET_NAME = re.compile(r"^[a-z0-9][a-z0-9_-]*\.[a-z_][a-z0-9_]*$")


def namespace_of(dataset: str) -> str:
    return dataset.split(".", 1)[0]


def is_valid_name(dataset: str) -> bool:
    return bool(DATASET_NAME.match(dataset))


def readable_namespaces(org_slug: str) -> list[str]:
    """The namespaces an org reads: its own, then the system ones."""
    return list(dict.fromkeys([org_slug, *settings.SYSTEM_NAMESPACES]))


def writable_namespaces(org_slug: str) -> list[str]:
    """The namespaces an org writes: its own; the platform org also owns the system ones."""
    if org_slug == settings.PLATFORM_ORG_SLUG:
        return list(dict.fromkeys([org_slug, *settings.SYSTEM_NAMESPACES]))
    return [org_slug]


def may_read_dataset(user, dataset: str) -> bool:
    """The one rule for a person reading a dataset."""
    namespace, _, name = dataset.partition(".")
    if not name or "." in name or not getattr(user, "is_active", False):
        return False
    if user.is_superuser:
        return True
    return namespace in readable_namespaces(user.org.slug)


def write_error(org_slug: str, dataset: str) -> str | None:
    """Why ``org_slug`` may not write ``dataset``, or None."""
    if not is_valid_name(dataset):
        return f"{dataset!r} is not a dataset name (namespace.name, lower-case)"
    if namespace_of(dataset) not in writable_namespaces(org_slug):
        allowed = ", ".join(sorted(writable_namespaces(org_slug)))
        return f"{dataset!r}: this org writes only the namespaces {allowed}"
    return None


def read_error(org_slug: str, dataset: str) -> str | None:
    """Why ``org_slug`` may not read ``dataset``, or None."""
    if not is_valid_name(dataset):
        return f"{dataset!r} is not a dataset name (namespace.name, lower-case)"
    if namespace_of(dataset) not in readable_namespaces(org_slug):
        return f"{dataset!r}: this org reads only its own and the system namespaces"
    return None


def dataset_schema(dataset: str, *, storage: Storage | None = None, partitions: int = 1) -> pa.Schema | None:
    """The schema of ``dataset``'s newest partition file (its Parquet footer), or None while the
    catalog has no partition of it. With ``partitions`` > 1 the newest few are merged: a column an
    older partition has is kept, the newer partition's type wins. Storage errors propagate: the
    caller decides whether an unreadable schema is an error or "unknown"."""
    locations = list(
        PartitionVersion.objects.filter(dataset=dataset)
        .order_by("-version")
        .values_list("location", flat=True)[: max(1, partitions)]
    )
    if not locations:
        return None
    storage = storage or lake()
    if len(locations) == 1:
        return storage.read_schema(locations[0])
    merged: dict[str, pa.Field] = {}
    for location in reversed(locations):
        for arrow_field in storage.read_schema(location):
            merged[arrow_field.name] = arrow_field
    return pa.schema(list(merged.values()))


# -- what the engine declares ----------------------------------------------------------------------
# Jobs live a layer above the catalog. The engine registers how to ask it which datasets jobs write
# and read and which tasks still run (from ``OrchestrationConfig.ready``), so the catalog never
# imports it. Nothing is assumed before it registers: garbage collection must not guess that no
# task is running.


@dataclass(frozen=True)
class JobDeclarations:
    declares_output: Callable[[str], bool]  # some job writes the dataset
    has_consumers: Callable[[str], bool]  # some active job reads it
    live_task_ids: Callable[[], set[str]]  # tasks whose files may not be published yet


_declarations: JobDeclarations | None = None


def register_job_declarations(declarations: JobDeclarations) -> None:
    global _declarations
    _declarations = declarations


def job_declarations() -> JobDeclarations:
    if _declarations is None:
        raise RuntimeError("the engine has not registered its job declarations (is orchestration installed?)")
    return _declarations


def dataset_exists(dataset: str) -> bool:
    """A dataset is known when the catalog has a partition of it or a job writes it."""
    return PartitionVersion.objects.filter(dataset=dataset).exists() or job_declarations().declares_output(
        dataset
    )
