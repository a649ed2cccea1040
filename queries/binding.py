"""Binding a statement's datasets to DuckDB views over their current partition files.

Only what the statement names is looked up (one catalog query for those datasets), so the cost of
binding follows the query, not the size of the catalog. A name the user may not read and a name
that does not exist fail alike, as ``unknown_dataset``: another org's dataset is never revealed.

On a ``file://`` lake a view is DuckDB's own Parquet reader over the partition files, which are the
only paths the sandbox allows; on ``s3://`` (or any other ``pyarrow.fs`` backend) a view is an Arrow
dataset over the same files read through the lake's filesystem. Both push projections and filters
down into the scan. ``address_labels`` is a view of the labels the user may see.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

import duckdb
import pyarrow as pa
import pyarrow.dataset as pads
import pyarrow.fs as pafs

from orgs.selectors import readable_namespaces
from versioning.duckdb_sandbox import SqlRejected
from versioning.models import PartitionVersion
from versioning.storage import Storage, lake

LABELS_VIEW = "address_labels"


def unknown_dataset(name: str) -> SqlRejected:
    return SqlRejected("unknown_dataset", f"unknown dataset {name}")


def may_read_dataset(user, dataset: str) -> bool:
    """Org users read their org's namespace and the system namespaces; superusers read everything."""
    namespace, _, name = dataset.partition(".")
    if not name or "." in name:
        return False
    if user.is_superuser:
        return True
    return namespace in readable_namespaces(user)


@dataclass
class BoundDataset:
    name: str
    locations: list[str] = field(default_factory=list)
    newest_version: datetime | None = None


@dataclass
class Binding:
    """What a statement reads: datasets with their current files, and whether it reads the labels."""

    user: object
    datasets: dict[str, BoundDataset]
    reads_labels: bool
    storage: Storage

    @property
    def dataset_names(self) -> list[str]:
        return sorted(self.datasets)

    def allowed_paths(self) -> list[str]:
        if not isinstance(self.storage.fs, pafs.LocalFileSystem):
            return []
        return [self.storage._path(loc) for d in self.datasets.values() for loc in d.locations]

    def setup(self, con: duckdb.DuckDBPyConnection) -> None:
        """Create the views (called by the sandbox before its configuration is locked)."""
        local = isinstance(self.storage.fs, pafs.LocalFileSystem)
        for index, dataset in enumerate(self.datasets.values()):
            namespace, name = dataset.name.split(".", 1)
            con.execute(f"CREATE SCHEMA IF NOT EXISTS {_quote(namespace)}")
            target = f"{_quote(namespace)}.{_quote(name)}"
            paths = [self.storage._path(location) for location in dataset.locations]
            if local:
                files = ", ".join(_literal(path) for path in paths)
                con.execute(
                    f"CREATE VIEW {target} AS SELECT * FROM read_parquet([{files}], union_by_name = true)"
                )
            else:
                arrow = pads.dataset(paths, filesystem=self.storage.fs, format="parquet")
                con.register(f"__dataset_{index}", arrow)
                con.execute(f"CREATE VIEW {target} AS SELECT * FROM __dataset_{index}")
        if self.reads_labels:
            con.register("__labels", labels_table(self.user))
            con.execute(f"CREATE VIEW {LABELS_VIEW} AS SELECT * FROM __labels")


def _quote(identifier: str) -> str:
    return '"' + identifier.replace('"', '""') + '"'


def _literal(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


def bind(*, user, tables: set[str], storage: Storage | None = None) -> Binding:
    """Resolve ``tables`` (as the statement names them) for ``user``, or raise ``unknown_dataset``."""
    reads_labels = LABELS_VIEW in tables
    wanted = sorted(tables - {LABELS_VIEW})
    for name in wanted:
        if not may_read_dataset(user, name):
            raise unknown_dataset(name)
    datasets = {name: BoundDataset(name) for name in wanted}
    rows = (
        PartitionVersion.objects.filter(dataset__in=wanted)
        .order_by("dataset", "partition_key")
        .values_list("dataset", "location", "version")
    )
    for dataset, location, version in rows:
        bound = datasets[dataset]
        bound.locations.append(location)
        if bound.newest_version is None or version > bound.newest_version:
            bound.newest_version = version
    for name, bound in datasets.items():
        if not bound.locations:
            raise unknown_dataset(name)
    return Binding(user=user, datasets=datasets, reads_labels=reads_labels, storage=storage or lake())


def labels_table(user) -> pa.Table:
    """The address labels ``user`` may see (their org's by visibility, and every public one)."""
    from orchestration.models import AddressLabel
    from platform_site.tenancy import visible_to

    rows = list(
        visible_to(user, AddressLabel)
        .order_by("address", "label")
        .values_list("address", "label", "visibility", "org__slug", "created_at", "updated_at")
    )
    columns = list(zip(*rows, strict=True)) if rows else [[]] * 6
    return pa.table(
        {
            "address": pa.array(columns[0], pa.string()),
            "label": pa.array(columns[1], pa.string()),
            "visibility": pa.array(columns[2], pa.string()),
            "org": pa.array(columns[3], pa.string()),
            "created_at": pa.array(columns[4], pa.timestamp("us", tz="UTC")),
            "updated_at": pa.array(columns[5], pa.timestamp("us", tz="UTC")),
        }
    )
