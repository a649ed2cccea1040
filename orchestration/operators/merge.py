"""How a task's new rows land on the current partition: ``replace``, ``append`` or ``upsert``.

The merge happens when the task writes (copy-on-write: a new file, published atomically), never in
place, so the previous version stays readable until the publish commits.
"""

from __future__ import annotations

import pyarrow as pa

from versioning.models import PartitionVersion
from versioning.storage import lake


def merge_with_current(*, job, dataset: str, partition_key: str, new: pa.Table) -> pa.Table:
    if job.update_strategy == "replace":
        return new
    current = PartitionVersion.objects.filter(dataset=dataset, partition_key=partition_key).first()
    if current is None or current.config_hash != job.config_hash:
        # A partition built under another configuration is not extended: it is rebuilt.
        return new
    old = lake().read_table(current.location)
    if job.update_strategy == "append":
        return pa.concat_tables(
            [old, new.select(old.column_names).cast(old.schema)] if old.num_rows else [new]
        )
    keys = list(job.unique_key)
    # Upsert: keep old rows whose key is not among the new rows, then add every new row.
    kept = old.join(new.select(keys), keys=keys, join_type="left anti")
    kept = kept.select(new.column_names).cast(new.schema)
    deduped = last_per_key(new, keys)
    return pa.concat_tables([kept, deduped])


def last_per_key(table: pa.Table, keys: list[str]) -> pa.Table:
    """Within one batch, the last row of each key wins."""
    indexed = table.append_column("__row", pa.array(range(table.num_rows), pa.int64()))
    last = indexed.group_by(keys, use_threads=False).aggregate([("__row", "max")])
    return indexed.take(sorted(last["__row_max"].to_pylist())).drop_columns(["__row"])
