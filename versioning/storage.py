"""The lake and the result store over ``pyarrow.fs``: one small interface, any storage URL.

``file:///abs/folder`` is a local folder; ``s3://bucket/prefix`` is object storage (endpoint, region
and credentials from ``S3_ENDPOINT_URL`` / ``AWS_REGION`` / the usual ``AWS_*`` variables). No code
outside this module builds a path on its own: everything is a *location*, a path relative to the
storage root, so the same catalog works on any backend.

Files are written under a temporary name and moved to a unique final name; nothing is visible to a
reader until a catalog row (``partition_versions.location``) points at it, so a crash leaves at most
an unreferenced file, which :func:`versioning.services.storage_gc` removes.
"""

from __future__ import annotations

import contextlib
import io
import os
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from functools import lru_cache
from urllib.parse import urlparse

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.fs as pafs
import pyarrow.parquet as pq
from django.conf import settings

TMP_DIR = "_tmp"


class StorageError(Exception):
    """A storage URL that cannot be used, or a location that cannot be read."""


@dataclass(frozen=True)
class WrittenFile:
    location: str
    bytes: int
    row_count: int
    # The schema as stored (Parquet coerces some Arrow types, e.g. second timestamps to ms), so the
    # catalog's schema_hash matches what a reader of the file gets.
    schema: pa.Schema


# Dictionary encoding is judged on this many first rows of a column.
_DICTIONARY_SAMPLE = 1024


def dictionary_columns(table: pa.Table) -> list[str] | bool:
    """The columns worth dictionary-encoding in Parquet: all but the text and byte columns whose
    values are mostly distinct (hashes, calldata, log data), judged on a sample of the first rows.
    For those, Parquet built a dictionary only to drop it at its size limit: a quarter of the
    write's time for chain data, for files no smaller. A table with nested columns keeps the
    default (every column)."""
    if any(pa.types.is_nested(field.type) for field in table.schema):
        return True
    sample = table.slice(0, _DICTIONARY_SAMPLE)
    worth = []
    for field, column in zip(table.schema, sample.columns, strict=True):
        textual = pa.types.is_string(field.type) or pa.types.is_large_string(field.type)
        textual = textual or pa.types.is_binary(field.type) or pa.types.is_large_binary(field.type)
        if textual and sample.num_rows >= 64 and pc.count_distinct(column).as_py() > sample.num_rows // 2:
            continue
        worth.append(field.name)
    return worth


class Storage:
    """A folder of Parquet files under ``url``; locations are relative paths inside it."""

    def __init__(self, url: str):
        self.url = url.rstrip("/")
        self.fs, self.root = _filesystem(self.url)

    def _path(self, location: str) -> str:
        if location.startswith("/") or ".." in location.split("/"):
            raise StorageError(f"location {location!r} must be relative to the storage root")
        return f"{self.root}/{location}" if self.root else location

    def write_table(self, location: str, table: pa.Table) -> WrittenFile:
        """Write ``table`` as Parquet to ``location`` through a temporary name (never half a file).

        A refused location is refused before anything is written, and a write or move that fails
        removes its temporary file, so nothing waits in ``_tmp`` for the garbage collector.
        """
        final = self._path(location)
        tmp = self._path(f"{TMP_DIR}/{uuid.uuid4().hex}.parquet")
        buffer = io.BytesIO()
        pq.write_table(table, buffer, compression="zstd", use_dictionary=dictionary_columns(table))
        data = buffer.getvalue()
        self.fs.create_dir(self._path(TMP_DIR), recursive=True)
        try:
            with self.fs.open_output_stream(tmp) as out:
                out.write(data)
            parent = location.rsplit("/", 1)[0] if "/" in location else ""
            if parent:
                self.fs.create_dir(self._path(parent), recursive=True)
            self.fs.move(tmp, final)
        except BaseException:
            self._discard(tmp)
            raise
        stored = pq.read_schema(pa.BufferReader(data))
        return WrittenFile(location=location, bytes=len(data), row_count=table.num_rows, schema=stored)

    def _discard(self, path: str) -> None:
        # Never written, or already moved: nothing to remove.
        with contextlib.suppress(FileNotFoundError, OSError):
            self.fs.delete_file(path)

    def read_table(self, location: str, columns: list[str] | None = None) -> pa.Table:
        try:
            return pq.read_table(self._path(location), filesystem=self.fs, columns=columns)
        except (FileNotFoundError, OSError) as exc:
            raise StorageError(f"cannot read {location}: {exc}") from exc

    def read_schema(self, location: str) -> pa.Schema:
        with self.fs.open_input_file(self._path(location)) as handle:
            return pq.ParquetFile(handle).schema_arrow

    def parquet_row_count(self, location: str) -> int:
        with self.fs.open_input_file(self._path(location)) as handle:
            return pq.ParquetFile(handle).metadata.num_rows

    def column_range(self, location: str, column: str) -> tuple[object, object] | None:
        """(min, max) of ``column`` in a file, from its row-group statistics when every row group
        has them (else by reading the column); None when the file lacks the column or has no
        non-null value in it."""
        with self.fs.open_input_file(self._path(location)) as handle:
            parquet = pq.ParquetFile(handle)
            if column not in parquet.schema_arrow.names:
                return None
            index = parquet.schema_arrow.names.index(column)
            metadata = parquet.metadata
            stats = [metadata.row_group(i).column(index).statistics for i in range(metadata.num_row_groups)]
            if stats and all(s is not None and s.has_min_max for s in stats):
                return min(s.min for s in stats), max(s.max for s in stats)
            values = parquet.read(columns=[column])[column]
        bounds = pc.min_max(values).as_py()
        return None if bounds["min"] is None else (bounds["min"], bounds["max"])

    def exists(self, location: str) -> bool:
        return self.fs.get_file_info(self._path(location)).type == pafs.FileType.File

    def size(self, location: str) -> int:
        return self.fs.get_file_info(self._path(location)).size

    def delete(self, location: str) -> None:
        self.fs.delete_file(self._path(location))

    def list_files(self, prefix: str = "") -> Iterator[tuple[str, pafs.FileInfo]]:
        """Every file under ``prefix`` as (location, info); a missing prefix is empty."""
        base = self._path(prefix) if prefix else self.root
        selector = pafs.FileSelector(base, recursive=True, allow_not_found=True)
        strip = len(self.root) + 1 if self.root else 0
        for info in self.fs.get_file_info(selector):
            if info.type == pafs.FileType.File:
                yield info.path[strip:], info


def partition_location(dataset: str, partition_key: str, task_id: uuid.UUID | str, attempt: int) -> str:
    """A unique file name for one output of one attempt; the task id lets the GC spare live work."""
    namespace, name = dataset.split(".", 1)
    return f"{namespace}/{name}/{partition_key}/{task_id}-{attempt}-{uuid.uuid4().hex[:8]}.parquet"


def task_id_of(location: str) -> str | None:
    """The task id a partition file was written by (see :func:`partition_location`)."""
    filename = location.rsplit("/", 1)[-1]
    if filename.count("-") < 6:
        return None
    return "-".join(filename.split("-")[:5])


def schema_hash(schema: pa.Schema) -> str:
    """Hash of an Arrow schema's column names and types (metadata ignored)."""
    import hashlib

    text = ";".join(f"{field.name}:{field.type}" for field in schema)
    return hashlib.sha256(text.encode()).hexdigest()


def _filesystem(url: str) -> tuple[pafs.FileSystem, str]:
    parsed = urlparse(url)
    if parsed.scheme == "file":
        root = parsed.path.rstrip("/")
        os.makedirs(root, exist_ok=True)
        return pafs.LocalFileSystem(), root
    if parsed.scheme == "s3":
        options = {}
        if endpoint := os.environ.get("S3_ENDPOINT_URL"):
            endpoint_parsed = urlparse(endpoint)
            options["endpoint_override"] = endpoint_parsed.netloc or endpoint
            options["scheme"] = endpoint_parsed.scheme or "https"
        options["region"] = (
            os.environ.get("AWS_REGION") or os.environ.get("AWS_DEFAULT_REGION") or "us-east-1"
        )
        if key := os.environ.get("AWS_ACCESS_KEY_ID"):
            options["access_key"] = key
            options["secret_key"] = os.environ.get("AWS_SECRET_ACCESS_KEY", "")
        return pafs.S3FileSystem(**options), f"{parsed.netloc}{parsed.path}".rstrip("/")
    raise StorageError(f"storage URL {url!r} must start with file:// or s3://")


@lru_cache(maxsize=8)
def _storage(url: str) -> Storage:
    return Storage(url)


def lake() -> Storage:
    """The lake (``settings.STORAGE_URL``)."""
    return _storage(settings.STORAGE_URL)


def result_store() -> Storage:
    """The query result store (``settings.RESULT_STORAGE_URL``)."""
    return _storage(settings.RESULT_STORAGE_URL)
