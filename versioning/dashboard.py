"""The lake on the admin dashboard: size and partitions per dataset (registered with
``platform_site.dashboard`` from the app's ``ready()``)."""

from __future__ import annotations

from django.urls import reverse


def lake(cursor, org_id, now) -> dict:
    """Lake size and partitions per dataset; an org's own namespace for org staff."""
    where, params = "", []
    if org_id is not None:
        where, params = "WHERE dataset LIKE %s", [f"{_org_slug(cursor, org_id)}.%"]
    cursor.execute(
        "SELECT dataset, count(*), coalesce(sum(bytes), 0), coalesce(sum(row_count), 0), max(version) "
        f"FROM partition_versions {where} GROUP BY dataset ORDER BY 3 DESC, 1",
        params,
    )
    rows = cursor.fetchall()
    datasets = [
        {"dataset": r[0], "partitions": r[1], "bytes": r[2], "rows": r[3], "newest": r[4]} for r in rows
    ]
    return {
        "datasets": datasets[:20],
        "dataset_count": len(datasets),
        "partitions": sum(d["partitions"] for d in datasets),
        "bytes": sum(d["bytes"] for d in datasets),
    }


def _org_slug(cursor, org_id) -> str:
    cursor.execute("SELECT slug FROM orgs WHERE id = %s", [org_id])
    row = cursor.fetchone()
    return row[0] if row else ""


def links() -> dict[str, str]:
    return {
        "partitions": reverse("admin:versioning_partitionversion_records"),
        "cursors": reverse("admin:versioning_datasetcursor_records"),
    }
