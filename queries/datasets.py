"""Datasets as a resource: every dataset a user may read, described from the catalog.

There is no datasets table: a dataset is what an active job declares as an output and what the
catalog (``partition_versions``) holds partitions of. A user reads their org's namespace and the
system namespaces (superusers: every one). For each dataset: its producer job, its columns and
types (the Arrow schema of its newest partition file, cached by schema hash), partition count,
rows, bytes, last publish, open invalidations, and column lineage up and down stream, both limited
to datasets the user may read. Each figure is one set-based query for all the datasets listed.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from datetime import datetime

from django.core.cache import cache
from django.db import connection
from django.db.models import Count, Q

from orchestration.models import ColumnLineage, Job
from versioning.datasets import readable_namespaces
from versioning.models import DataInvalidation
from versioning.storage import lake


@dataclass
class DatasetInfo:
    name: str
    namespace: str
    producer: dict | None = None
    columns: list[dict] = field(default_factory=list)
    partition_count: int = 0
    row_count: int = 0
    bytes: int = 0
    last_published_at: datetime | None = None
    last_partition_key: str | None = None
    open_invalidations: int = 0
    upstream: list[dict] = field(default_factory=list)
    downstream: list[dict] = field(default_factory=list)


def _namespaces(user) -> list[str] | None:
    """None: every namespace (superusers)."""
    return None if user.is_superuser else readable_namespaces(user.org.slug)


def _readable(name: str, namespaces: list[str] | None) -> bool:
    return namespaces is None or name.split(".", 1)[0] in namespaces


def _catalog_figures(namespaces: list[str] | None, only: str | None) -> dict[str, tuple]:
    where, params = [], []
    if only is not None:
        where.append("dataset = %s")
        params.append(only)
    if namespaces is not None:
        where.append("(" + " OR ".join(["dataset LIKE %s"] * len(namespaces)) + ")")
        params += [
            ns.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + ".%" for ns in namespaces
        ]
    sql = (
        "SELECT dataset, count(*), coalesce(sum(row_count), 0), coalesce(sum(bytes), 0), max(version),"
        " (array_agg(location ORDER BY version DESC))[1], (array_agg(schema_hash ORDER BY version DESC))[1],"
        " (array_agg(partition_key ORDER BY version DESC))[1]"
        " FROM partition_versions"
        + (" WHERE " + " AND ".join(where) if where else "")
        + " GROUP BY dataset ORDER BY dataset"
    )
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        return {row[0]: row[1:] for row in cursor.fetchall()}


def _columns(location: str, schema_hash: str) -> list[dict]:
    key = f"dataset-schema:{schema_hash or location}"
    columns = cache.get(key)
    if columns is None:
        try:
            schema = lake().read_schema(location)
        except OSError:
            return []
        columns = [{"name": f.name, "type": str(f.type)} for f in schema]
        cache.set(key, columns, 3600)
    return columns


def datasets_readable_by(user, *, only: str | None = None) -> list[DatasetInfo]:
    """Every dataset ``user`` may read (or just ``only``), with its figures."""
    if not (user and user.is_authenticated and user.is_active):
        return []
    namespaces = _namespaces(user)
    if only is not None and not _readable(only, namespaces):
        return []
    figures = _catalog_figures(namespaces, only)
    jobs = (
        Job.objects.filter(active=True)
        .select_related("org")
        .only("id", "name", "dag_name", "org__slug", "org_id", "output_datasets")
    )
    jobs = jobs.filter(output_datasets__contains=[only]) if only else jobs
    producers: dict[str, Job] = {}
    for job in jobs:
        for output in job.output_datasets:
            if _readable(output, namespaces) and (only is None or output == only):
                producers[output] = job
    names = sorted(set(figures) | set(producers))
    infos = {name: DatasetInfo(name=name, namespace=name.split(".", 1)[0]) for name in names}
    for name, (count, rows, size, last, location, schema_hash, last_key) in figures.items():
        info = infos[name]
        info.last_partition_key = last_key
        info.partition_count, info.row_count, info.bytes, info.last_published_at = count, rows, size, last
        info.columns = _columns(location, schema_hash)
    for name, job in producers.items():
        visible = user.is_superuser or job.org_id == user.org_id
        infos[name].producer = {
            "id": str(job.id) if visible else None,
            "name": f"{job.org.slug}/{job.name}",  # how a job is named on every surface
            "dag": job.dag_name,
            "org": job.org.slug,
        }
    open_counts = (
        DataInvalidation.objects.filter(dataset__in=names, processed_at__isnull=True)
        .values("dataset")
        .annotate(n=Count("id"))
    )
    for row in open_counts:
        infos[row["dataset"]].open_invalidations = row["n"]
    edges = ColumnLineage.objects.filter(
        Q(output_dataset__in=names) | Q(input_dataset__in=names)
    ).values_list("output_dataset", "output_column", "input_dataset", "input_column")
    up, down = defaultdict(list), defaultdict(list)
    for output, out_col, input_, in_col in edges:
        if not (_readable(output, namespaces) and _readable(input_, namespaces)):
            continue
        edge = {"column": out_col, "dataset": input_, "from_column": in_col}
        if output in infos:
            up[output].append(edge)
        if input_ in infos:
            down[input_].append({"column": in_col, "dataset": output, "to_column": out_col})
    for name, info in infos.items():
        info.upstream = sorted(up[name], key=lambda e: (e["column"], e["dataset"], e["from_column"]))
        info.downstream = sorted(down[name], key=lambda e: (e["column"], e["dataset"], e["to_column"]))
    return [infos[name] for name in names]


def dataset_readable_by(user, name: str) -> DatasetInfo | None:
    found = datasets_readable_by(user, only=name)
    return found[0] if found else None
