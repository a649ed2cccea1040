"""Chain ingestion on the admin dashboard: how far each source job's lake output trails the chain.

Registered with ``platform_site.dashboard`` from ``ChainsConfig.ready``: the engine's figures are
about running tasks, these about reading chains."""

from __future__ import annotations

from .schema import DEFAULT_PARTITION_WIDTH, partition_bounds

TOP = 10


def ingestion(cursor, org_id, now) -> list[dict]:
    """Source jobs (chain ingestion): the newest partition each published, its cursor (the last
    block read, for incremental sources) and how long ago it last advanced.

    The chain's own head is only known to the node; the time since the lake last moved is how far
    it trails the chain, as seen from here."""
    org_filter = "AND j.org_id = %s" if org_id is not None else ""
    cursor.execute(
        "SELECT j.id, j.name, pv.dataset, max(pv.version), max(pv.partition_key), "
        "(SELECT c.cursor_value FROM dataset_cursors c WHERE c.job_id = j.id AND c.dataset = pv.dataset), "
        "coalesce(j.source->>'end_block', j.config->>'end_block'), "
        "coalesce(j.source->>'partition_width', j.config->>'partition_size') "
        "FROM jobs j JOIN partition_versions pv ON pv.dataset = ANY(j.output_datasets) "
        f"WHERE j.runtime = 'source' {org_filter} GROUP BY j.id, j.name, pv.dataset "
        "ORDER BY 4 DESC LIMIT %s",
        [*([org_id] if org_id is not None else []), TOP],
    )
    return [
        {
            "job_id": r[0],
            "job": r[1],
            "dataset": r[2],
            "updated_at": r[3],
            "partition": r[4],
            "cursor": r[5],
            "lag": now - r[3],
            "end_block": _int(r[6]),
            "done": _reached_end(cursor_value=r[5], partition=r[4], end_block=_int(r[6]), width=_int(r[7])),
        }
        for r in cursor.fetchall()
    ]


def _int(value) -> int | None:
    try:
        return int(value)
    except (TypeError, ValueError):
        return None


def _reached_end(*, cursor_value, partition: str, end_block: int | None, width: int | None) -> bool:
    """A source with an ``end_block`` that it has read: it no longer trails anything, so the time
    since it last published is not a lag."""
    if end_block is None:
        return False
    if (last := _int(cursor_value)) is not None:
        return last >= end_block
    try:
        first, last = partition_bounds(partition, width or DEFAULT_PARTITION_WIDTH)
    except ValueError:
        return False
    return first <= end_block <= last
