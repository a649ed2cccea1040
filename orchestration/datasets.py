"""Dataset names and who may write or read them (SPEC section 3, "Datasets and who owns them").

A dataset is ``namespace.name``. An org's jobs write only under the org's slug; the platform org
writes the system namespaces (``settings.SYSTEM_NAMESPACES``). A job reads its own org's datasets and
the system ones, nothing else.
"""

from __future__ import annotations

import re

from django.conf import settings

DATASET_NAME = re.compile(r"^[a-z0-9][a-z0-9_-]*\.[a-z_][a-z0-9_]*$")


def namespace_of(dataset: str) -> str:
    return dataset.split(".", 1)[0]


def is_valid_name(dataset: str) -> bool:
    return bool(DATASET_NAME.match(dataset))


def writable_namespaces(org_slug: str) -> set[str]:
    if org_slug == settings.PLATFORM_ORG_SLUG:
        return {org_slug, *settings.SYSTEM_NAMESPACES}
    return {org_slug}


def readable_namespaces(org_slug: str) -> set[str]:
    return {org_slug, *settings.SYSTEM_NAMESPACES}


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
