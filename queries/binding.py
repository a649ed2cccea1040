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

import uuid
from dataclasses import dataclass, field
from datetime import datetime

import duckdb
import pyarrow as pa
import pyarrow.dataset as pads
import pyarrow.fs as pafs
from sqlglot import exp

from orgs.selectors import may_read_dataset, readable_namespaces
from versioning.duckdb_sandbox import SqlRejected
from versioning.models import PartitionVersion
from versioning.storage import Storage, lake

LABELS_VIEW = "address_labels"
LABEL_COLUMNS = ("address", "label", "visibility", "org")


def unknown_dataset(name: str) -> SqlRejected:
    return SqlRejected("unknown_dataset", f"unknown dataset {name}")


@dataclass
class BoundDataset:
    name: str
    locations: list[str] = field(default_factory=list)
    newest_version: datetime | None = None
    schema_hashes: set[str] = field(default_factory=set)


@dataclass
class Binding:
    """What a statement reads: datasets with their current files, and whether it reads the labels.

    Each name is bound under a unique name on the query's own connection (TEMP views, registered
    Arrow objects) and the statement is rewritten to those names, so concurrent queries on one
    pooled database never see each other's bindings.
    """

    user: object
    datasets: dict[str, BoundDataset]
    reads_labels: bool
    storage: Storage
    prefix: str = field(default_factory=lambda: f"__bound_{uuid.uuid4().hex[:12]}")

    @property
    def dataset_names(self) -> list[str]:
        return sorted(self.datasets)

    @property
    def local(self) -> bool:
        return isinstance(self.storage.fs, pafs.LocalFileSystem)

    def bound_name(self, name: str) -> str:
        if name == LABELS_VIEW:
            return f"{self.prefix}_labels"
        return f"{self.prefix}_{self.dataset_names.index(name)}"

    def allowed_directories(self) -> list[str]:
        """The lake folders of the namespaces the user may read: the only files DuckDB may open."""
        if not self.local:
            return []
        if getattr(self.user, "is_superuser", False):
            return [self.storage._path("").rstrip("/") + "/"]
        return [self.storage._path(ns) + "/" for ns in readable_namespaces(self.user)]

    def setup(self, con: duckdb.DuckDBPyConnection) -> None:
        """Bind every name on ``con`` (a connection of its own: TEMP views, registered objects)."""
        for name, dataset in self.datasets.items():
            bound = self.bound_name(name)
            paths = [self.storage._path(location) for location in dataset.locations]
            if self.local:
                files = ", ".join(_literal(path) for path in paths)
                # Partitions of one schema bind from one footer; mixed schemas union by name.
                union = ", union_by_name = true" if len(dataset.schema_hashes) > 1 else ""
                con.execute(
                    f"CREATE TEMP VIEW {_quote(bound)} AS SELECT * FROM read_parquet([{files}]{union})"
                )
            else:
                con.register(bound, pads.dataset(paths, filesystem=self.storage.fs, format="parquet"))
        if self.reads_labels:
            con.register(self.bound_name(LABELS_VIEW), labels_table(self.user))

    def rewrite(self, statement: exp.Expression) -> str:
        """``statement`` with each dataset name replaced by its bound name, as DuckDB SQL."""
        ctes = {cte.alias_or_name for cte in statement.find_all(exp.CTE)}

        def replace(node: exp.Expression) -> exp.Expression:
            if not isinstance(node, exp.Table) or isinstance(node.this, exp.Func):
                return node
            name = f"{node.db}.{node.name}" if node.db else node.name
            if not node.db and node.name in ctes:
                return node
            if name != LABELS_VIEW and name not in self.datasets:
                return node
            table = exp.to_table(self.bound_name(name), quoted=True)
            alias = node.args.get("alias")
            table.set("alias", alias.copy() if alias else exp.TableAlias(this=exp.to_identifier(node.name)))
            return table

        return statement.copy().transform(replace).sql(dialect="duckdb")


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
        .values_list("dataset", "location", "version", "schema_hash")
    )
    for dataset, location, version, schema in rows:
        bound = datasets[dataset]
        bound.locations.append(location)
        bound.schema_hashes.add(schema)
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
        visible_to(user, AddressLabel).order_by().values_list("address", "label", "visibility", "org__slug")
    )
    columns = list(zip(*rows, strict=True)) if rows else [[]] * 4
    return pa.table(
        {name: pa.array(values, pa.string()) for name, values in zip(LABEL_COLUMNS, columns, strict=True)}
    )
