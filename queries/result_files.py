"""Result files in the result store: written batch by batch, paged and downloaded without loading
them whole.

A result is written under a temporary name and moved to ``<org id>/<result id>.<format>``; only
then is its row count read back from the stored file. Parquet results are written in row groups of
:data:`ROW_GROUP_ROWS` rows, so a page reads only the row groups it spans. CSV and JSON (one object
per line) exports are paged by streaming past the rows before the page.

A writer holds at most one row group in memory (:data:`ROW_GROUP_ROWS` rows or
:data:`ROW_GROUP_BYTES`, whichever comes first) and counts the result's size as it goes: the larger
of the Arrow bytes handed to it and the bytes written to the file. Past its ``max_bytes`` it raises
:class:`ResultTooLarge` and the caller aborts it (the temporary file is deleted).
"""

from __future__ import annotations

import base64
import contextlib
import datetime as dt
import decimal
import io
import json
import math
import uuid
from collections.abc import Iterator
from typing import Any

import pyarrow as pa
import pyarrow.csv as pacsv
import pyarrow.parquet as pq

from versioning.storage import TMP_DIR, Storage

ROW_GROUP_ROWS = 10_000
# A row group is written once it holds this many bytes, even short of ROW_GROUP_ROWS rows: wide rows
# must not make the writer buffer hundreds of megabytes outside DuckDB's memory limit.
ROW_GROUP_BYTES = 16 << 20
DOWNLOAD_CHUNK = 1 << 20
# Rows converted at a time when a Parquet result downloads as CSV or JSON: each batch becomes text
# (JSON through Python objects) in the web process, so it stays small however wide the rows.
CONVERT_BATCH_ROWS = 1024
EXTENSIONS = {"parquet": "parquet", "csv": "csv", "json": "jsonl"}
CONTENT_TYPES = {
    "parquet": "application/vnd.apache.parquet",
    "csv": "text/csv",
    "json": "application/x-ndjson",
}


def result_location(org_id, result_id, output_format: str) -> str:
    return f"{org_id}/{result_id}.{EXTENSIONS[output_format]}"


def _nested(data_type: pa.DataType) -> bool:
    return pa.types.is_nested(data_type) or pa.types.is_dictionary(data_type)


def csv_schema(schema: pa.Schema) -> pa.Schema:
    """``schema`` as CSV can hold it: lists, structs and maps become text (their JSON)."""
    return pa.schema([pa.field(f.name, pa.string()) if _nested(f.type) else f for f in schema])


def csv_batch(batch: pa.RecordBatch) -> pa.RecordBatch:
    """``batch`` with each nested value written as its JSON text (CSV has no lists or structs)."""
    if not any(_nested(field.type) for field in batch.schema):
        return batch
    columns = [
        pa.array(
            [
                None if v is None else json.dumps(jsonable(v), separators=(",", ":"))
                for v in column.to_pylist()
            ],
            pa.string(),
        )
        if _nested(column.type)
        else column
        for column in batch.columns
    ]
    return pa.RecordBatch.from_arrays(columns, schema=csv_schema(batch.schema))


def jsonable(value: Any) -> Any:
    """A JSON-safe form of one cell: exact decimals and big integers as strings, times in ISO 8601."""
    if value is None or isinstance(value, bool | str):
        return value
    if isinstance(value, int):
        return value if -(2**53) <= value <= 2**53 else str(value)
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, decimal.Decimal):
        return str(value)
    if isinstance(value, dt.datetime | dt.date | dt.time):
        return value.isoformat()
    if isinstance(value, dt.timedelta):
        return value.total_seconds()
    if isinstance(value, bytes):
        return "0x" + value.hex() if len(value) <= 64 else base64.b64encode(value).decode()
    if isinstance(value, uuid.UUID):
        return str(value)
    if isinstance(value, dict):
        return {str(k): jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [jsonable(v) for v in value]
    return str(value)


class ResultTooLarge(Exception):
    """The result passed the writer's ``max_bytes``."""

    def __init__(self, max_bytes: int):
        super().__init__(f"the result is larger than {max_bytes} bytes")
        self.max_bytes = max_bytes


class ResultWriter:
    """Writes batches to a temporary file in ``storage``; :meth:`commit` moves it to ``location``.

    ``max_bytes`` (None: no cap) bounds :attr:`size`, the larger of the Arrow bytes written and the
    file's bytes so far."""

    def __init__(
        self,
        storage: Storage,
        location: str,
        output_format: str,
        schema: pa.Schema,
        *,
        max_bytes: int | None = None,
    ):
        self.storage = storage
        self.location = location
        self.output_format = output_format
        self.schema = schema
        self.max_bytes = max_bytes
        self.rows = 0
        self.arrow_bytes = 0
        self._pending: list[pa.RecordBatch] = []
        self._pending_rows = 0
        self._pending_bytes = 0
        self.tmp = f"{TMP_DIR}/{uuid.uuid4().hex}.{EXTENSIONS[output_format]}"
        storage.fs.create_dir(storage._path(TMP_DIR), recursive=True)
        self._stream = storage.fs.open_output_stream(storage._path(self.tmp))
        self._writer: Any = None
        if output_format == "parquet":
            self._writer = pq.ParquetWriter(self._stream, schema, compression="zstd")
        elif output_format == "csv":
            self._writer = pacsv.CSVWriter(self._stream, csv_schema(schema))

    @property
    def size(self) -> int:
        """The result's size so far: Arrow bytes received or file bytes written, the larger."""
        return max(self.arrow_bytes, self._stream.tell())

    def write(self, batch: pa.RecordBatch) -> None:
        """Take one batch; raises :class:`ResultTooLarge` once the result passes ``max_bytes``."""
        if not batch.num_rows:
            return
        self.rows += batch.num_rows
        nbytes = batch.get_total_buffer_size()
        self.arrow_bytes += nbytes
        self._check_size()
        if self.output_format == "parquet":
            # Batches are gathered into row groups (bounded in rows and bytes) so a page reads few.
            self._pending.append(batch)
            self._pending_rows += batch.num_rows
            self._pending_bytes += nbytes
            if self._pending_bytes >= ROW_GROUP_BYTES:
                self._flush(whole_groups_only=False)
            elif self._pending_rows >= ROW_GROUP_ROWS:
                self._flush(whole_groups_only=True)
        elif self.output_format == "json":
            lines = "".join(
                json.dumps(jsonable(row), separators=(",", ":")) + "\n" for row in batch.to_pylist()
            )
            self._stream.write(lines.encode())
        else:
            self._writer.write_batch(csv_batch(batch))
        self._check_size()

    def _flush(self, *, whole_groups_only: bool = False) -> None:
        """Write the gathered rows as row groups of at most ROW_GROUP_ROWS; ``whole_groups_only``
        keeps the rows short of a full group for the next one."""
        if not self._pending:
            return
        table = pa.Table.from_batches(self._pending, schema=self.schema)
        keep = table.num_rows % ROW_GROUP_ROWS if whole_groups_only else 0
        self._writer.write_table(table.slice(0, table.num_rows - keep), row_group_size=ROW_GROUP_ROWS)
        rest = table.slice(table.num_rows - keep)
        self._pending = rest.combine_chunks().to_batches() if keep else []
        self._pending_rows = keep
        self._pending_bytes = rest.nbytes if keep else 0

    def _check_size(self) -> None:
        if self.max_bytes is not None and self.size > self.max_bytes:
            raise ResultTooLarge(self.max_bytes)

    def commit(self) -> int:
        """Close, move to the final name, and return the byte size."""
        self._flush()
        self._check_size()
        if self._writer is not None:
            self._writer.close()
        self._stream.close()
        parent = self.location.rsplit("/", 1)[0]
        self.storage.fs.create_dir(self.storage._path(parent), recursive=True)
        self.storage.fs.move(self.storage._path(self.tmp), self.storage._path(self.location))
        return self.storage.size(self.location)

    def abort(self) -> None:
        self._pending = []
        try:
            if self._writer is not None:
                self._writer.close()
            self._stream.close()
        except Exception:  # the file is being thrown away; a failed close changes nothing
            pass
        with contextlib.suppress(OSError):
            self.storage.delete(self.tmp)


def stored_row_count(storage: Storage, location: str, output_format: str) -> int:
    """Rows of the stored file, read back from storage (Parquet footer, or a streamed count)."""
    if output_format == "parquet":
        return storage.parquet_row_count(location)
    count = 0
    with storage.fs.open_input_stream(storage._path(location)) as stream:
        while chunk := stream.read(DOWNLOAD_CHUNK):
            count += chunk.count(b"\n")
    return count - 1 if output_format == "csv" and count else count


def read_page(
    storage: Storage, location: str, output_format: str, *, offset: int, limit: int
) -> tuple[list[dict], list[list]]:
    """``limit`` rows from ``offset``: (columns as ``{"name", "type"}``, rows as lists)."""
    if output_format == "parquet":
        return _parquet_page(storage, location, offset, limit)
    if output_format == "csv":
        return _csv_page(storage, location, offset, limit)
    return _json_page(storage, location, offset, limit)


def _columns(schema: pa.Schema) -> list[dict]:
    return [{"name": f.name, "type": str(f.type)} for f in schema]


def _rows(table: pa.Table) -> list[list]:
    names = table.column_names
    return [[jsonable(row[name]) for name in names] for row in table.to_pylist()]


def _parquet_page(storage: Storage, location: str, offset: int, limit: int):
    with storage.fs.open_input_file(storage._path(location)) as handle:
        parquet = pq.ParquetFile(handle)
        schema = parquet.schema_arrow
        groups, skip, start = [], 0, 0
        for index in range(parquet.metadata.num_row_groups):
            rows = parquet.metadata.row_group(index).num_rows
            end = start + rows
            if end > offset and start < offset + limit:
                if not groups:
                    skip = offset - start
                groups.append(index)
            start = end
        if not groups:
            return _columns(schema), []
        table = parquet.read_row_groups(groups).slice(skip, limit)
    return _columns(schema), _rows(table)


def _csv_page(storage: Storage, location: str, offset: int, limit: int):
    with storage.fs.open_input_stream(storage._path(location)) as stream:
        try:
            reader = pacsv.open_csv(stream)
        except pa.ArrowInvalid:  # an empty result has not even a header row
            return [], []
        schema, seen, parts = reader.schema, 0, []
        for batch in reader:
            end = seen + batch.num_rows
            if end > offset:
                parts.append(batch.slice(max(offset - seen, 0)))
                if sum(p.num_rows for p in parts) >= limit:
                    break
            seen = end
    table = pa.Table.from_batches(parts, schema=schema).slice(0, limit) if parts else schema.empty_table()
    return _columns(schema), _rows(table)


def _json_page(storage: Storage, location: str, offset: int, limit: int):
    rows: list[dict] = []
    with storage.fs.open_input_stream(storage._path(location)) as stream:
        for index, line in enumerate(io.TextIOWrapper(io.BufferedReader(stream), encoding="utf-8")):
            if index >= offset + limit:
                break
            if index >= offset:
                rows.append(json.loads(line))
    names = list(rows[0]) if rows else []
    return [{"name": n, "type": "json"} for n in names], [[row.get(n) for n in names] for row in rows]


def download_chunks(storage: Storage, location: str) -> Iterator[bytes]:
    """The stored file as it is, chunk by chunk."""
    with storage.fs.open_input_stream(storage._path(location)) as stream:
        while chunk := stream.read(DOWNLOAD_CHUNK):
            yield chunk


def converted_chunks(storage: Storage, location: str, output_format: str) -> Iterator[bytes]:
    """A Parquet result converted to ``output_format`` one row group at a time."""
    with storage.fs.open_input_file(storage._path(location)) as handle:
        parquet = pq.ParquetFile(handle)
        if output_format == "csv":
            for index, batch in enumerate(parquet.iter_batches(batch_size=CONVERT_BATCH_ROWS)):
                buffer = io.BytesIO()
                pacsv.write_csv(
                    csv_batch(batch), buffer, write_options=pacsv.WriteOptions(include_header=index == 0)
                )
                yield buffer.getvalue()
        else:
            for batch in parquet.iter_batches(batch_size=CONVERT_BATCH_ROWS):
                yield "".join(
                    json.dumps(jsonable(row), separators=(",", ":")) + "\n" for row in batch.to_pylist()
                ).encode()
