"""An in-memory stand-in for the lake, applying ingestion results as the operator will, so the
ingestion step's writes can be checked end to end (including the derived evm.transfers)."""

from __future__ import annotations

import hashlib
import json

import pyarrow as pa

from chains.convert import decode_transfers
from chains.ingest import IngestResult, merge_partition
from chains.schema import LOGS, TRANSFERS


class InMemoryLake:
    def __init__(self) -> None:
        self.partitions: dict[tuple[str, str], pa.Table] = {}
        self.block_hashes: dict[int, str] = {}
        self.cursor: int | None = None
        self.reorgs = []

    def apply(self, result: IngestResult) -> None:
        for write in result.writes:
            key = (write.dataset, write.partition_key)
            self.partitions[key] = merge_partition(self.partitions.get(key), write)
            if write.dataset == LOGS:
                # The downstream job: transfers are rebuilt for every logs partition that changed.
                self.partitions[(TRANSFERS, write.partition_key)] = decode_transfers(self.partitions[key])
        self.block_hashes.update(result.block_hashes)
        if result.last_block is not None:
            self.cursor = result.last_block
        if result.reorg is not None:
            self.reorgs.append(result.reorg)

    def next_block(self) -> int:
        return 0 if self.cursor is None else self.cursor + 1

    def dataset(self, name: str) -> pa.Table:
        tables = [table for (dataset, _), table in sorted(self.partitions.items()) if dataset == name]
        return pa.concat_tables(tables)

    def checksums(self) -> dict[tuple[str, str], str]:
        return {key: table_checksum(table) for key, table in self.partitions.items()}


def table_checksum(table: pa.Table) -> str:
    """A checksum of a table's rows (order-sensitive: partitions are written in a fixed order)."""
    digest = hashlib.sha256(str(table.schema).encode())
    for row in table.to_pylist():
        digest.update(json.dumps(row, sort_keys=True, default=str).encode())
    return digest.hexdigest()
