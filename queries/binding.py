"""Binding a statement's datasets to DuckDB views over their current partition files.

Only what the statement names is looked up (one catalog query for those datasets), so the cost of
binding follows the query, not the size of the catalog. A name the user may not read and a name
that does not exist fail alike, as ``unknown_dataset``: another org's dataset is never revealed.

On a ``file://`` lake a view is DuckDB's own Parquet reader over the partition files, which are the
only paths the sandbox allows; on ``s3://`` (or any other ``pyarrow.fs`` backend) a view is an Arrow
dataset over the same files read through the lake's filesystem. Both push projections and filters
down into the scan. ``address_labels`` is a view of the labels the user may see.

Personal data is masked here, at the source: the view of a dataset with registered personal columns
replaces each of them by its masked expression (:mod:`pii.sql_masking`), so nothing the statement
does with a column can carry its raw value out. An unmasked run leaves raw exactly the personal
columns the statement reads by its parse (:func:`personal_columns_read`), which the caller logs.
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

from labels.models import AddressLabel
from pii.registry import Strategy, dataset_columns
from pii.sql_masking import masked_select
from platform_site.tenancy import visible_to
from versioning.datasets import may_read_dataset, readable_namespaces
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
    personal: dict[str, Strategy] = field(default_factory=dict)  # registered column -> strategy


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
    # dataset -> personal columns left raw (an unmasked run, logged by the caller); the rest is masked
    unmasked: dict[str, set[str]] = field(default_factory=dict)
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
        return [self.storage._path(ns) + "/" for ns in readable_namespaces(self.user.org.slug)]

    def setup(self, con: duckdb.DuckDBPyConnection) -> None:
        """Bind every name on ``con`` (a connection of its own: TEMP views, registered objects)."""
        for name, dataset in self.datasets.items():
            bound = self.bound_name(name)
            paths = [self.storage._path(location) for location in dataset.locations]
            if self.local:
                files = ", ".join(_literal(path) for path in paths)
                # Partitions of one schema bind from one footer; mixed schemas union by name.
                union = ", union_by_name = true" if len(dataset.schema_hashes) > 1 else ""
                source = f"read_parquet([{files}]{union})"
                if not dataset.personal:
                    con.execute(f"CREATE TEMP VIEW {_quote(bound)} AS SELECT * FROM {source}")
                    continue
                columns = [d[0] for d in con.execute(f"SELECT * FROM {source} LIMIT 0").description]
            else:
                arrow = pads.dataset(paths, filesystem=self.storage.fs, format="parquet")
                if not dataset.personal:
                    con.register(bound, arrow)
                    continue
                # The raw relation's name is never one a statement can name: bind refuses every bare
                # name but the labels, and the prefix is random.
                source = _quote(f"{bound}_raw")
                con.register(f"{bound}_raw", arrow)
                columns = arrow.schema.names
            view = masked_select(
                source, columns=columns, personal=dataset.personal, unmasked=self.unmasked.get(name, ())
            )
            con.execute(f"CREATE TEMP VIEW {_quote(bound)} AS {view}")
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
    for (dataset, column), entry in dataset_columns().items():
        if dataset in datasets:
            datasets[dataset].personal[column] = entry.strategy
    return Binding(user=user, datasets=datasets, reads_labels=reads_labels, storage=storage or lake())


def personal_columns_read(statement: exp.Expression, binding: Binding) -> dict[str, set[str]]:
    """The registered personal columns ``statement`` reads, per bound dataset, from its parse.

    A column is read when any identifier of the statement names it, and every personal column of
    every dataset is read when the statement reads rows whole: a star (``*``, ``t.*``, with EXCLUDE
    or REPLACE), ``COLUMNS(...)``, or a table or its alias used as a value (``SELECT p FROM people
    p``, ``to_json(p)``). In doubt it counts a column as read: this decides what an unmasked run
    leaves raw and logs."""
    tables = {t.alias_or_name.lower() for t in statement.find_all(exp.Table)} | {
        t.name.lower() for t in statement.find_all(exp.Table)
    }
    wholesale = statement.find(exp.Star, exp.Columns) is not None or any(
        not column.table and column.name.lower() in tables for column in statement.find_all(exp.Column)
    )
    names = {identifier.name.lower() for identifier in statement.find_all(exp.Identifier)}
    read: dict[str, set[str]] = {}
    for name, dataset in binding.datasets.items():
        columns = {c for c in dataset.personal if wholesale or c.lower() in names}
        if columns:
            read[name] = columns
    return read


def labels_table(user) -> pa.Table:
    """The address labels ``user`` may see (their org's by visibility, and every public one)."""
    rows = list(
        visible_to(user, AddressLabel).order_by().values_list("address", "label", "visibility", "org__slug")
    )
    columns = list(zip(*rows, strict=True)) if rows else [[]] * 4
    return pa.table(
        {name: pa.array(values, pa.string()) for name, values in zip(LABEL_COLUMNS, columns, strict=True)}
    )
