"""The admin index as a dashboard of how the platform is doing, scoped to the viewer's org
(superusers: every org).

Every figure is one bounded statement on an index (a time window, a status, a LIMIT), so the page
costs the same at a million tasks as at ten; the figures are cached for ``CACHE_SECONDS`` per org,
which is as fresh as a dashboard needs to be. Alert figures read zero until alerting has rows.
"""

from __future__ import annotations

import datetime as dt
import json
from urllib.parse import urlencode

from django.core.cache import cache
from django.db import connection
from django.urls import reverse
from django.utils import timezone

CACHE_SECONDS = 30
TASK_WINDOW = dt.timedelta(hours=24)
ALERT_DAYS = 14
TOP = 10
STATUS_COLOURS = {
    "succeeded": "#16a34a",
    "failed": "#dc2626",
    "running": "#2563eb",
    "queued": "#60a5fa",
    "pending": "#eab308",
    "cancelled": "#9ca3af",
}


def dashboard_callback(request, context):
    """unfold's DASHBOARD_CALLBACK: adds the figures to the index page's context."""
    user = request.user
    org_id = None if user.is_superuser else user.org_id
    figures = figures_for(org_id=org_id)
    context.update(
        {
            "figures": figures,
            "task_chart": figures["task_chart"],
            "alert_chart": figures["alert_chart"],
            "links": _links(),
        }
    )
    return context


def figures_for(*, org_id, use_cache: bool = True) -> dict:
    key = f"chainlake:dashboard:{org_id or 'all'}"
    if use_cache and (cached := cache.get(key)) is not None:
        return cached
    figures = compute_figures(org_id=org_id, now=timezone.now())
    # The charts' data is cached with the figures: 1,440 minute labels are not free to build.
    figures["task_chart"] = _task_chart(figures["tasks_per_minute"], figures["computed_at"])
    figures["alert_chart"] = _alert_chart(figures["alert_events_per_day"])
    cache.set(key, figures, CACHE_SECONDS)
    return figures


def compute_figures(*, org_id, now: dt.datetime) -> dict:
    with connection.cursor() as cursor:
        return {
            "computed_at": now,
            "tasks_per_minute": _tasks_per_minute(cursor, org_id, now),
            "live_tasks": _live_tasks(cursor, org_id),
            "failures_by_job": _failures_by_job(cursor, org_id, now),
            "oldest_due": _oldest_due(cursor, org_id, now),
            "ingestion": _ingestion(cursor, org_id, now),
            "lake": _lake(cursor, org_id),
            "alert_events_per_day": _alert_events_per_day(cursor, org_id, now),
            "deliveries": _deliveries(cursor, org_id, now),
        }


def _job_join(org_id) -> tuple[str, list]:
    if org_id is None:
        return "", []
    return "JOIN jobs j ON j.id = t.job_id AND j.org_id = %s", [org_id]


def _tasks_per_minute(cursor, org_id, now) -> list[tuple[dt.datetime, str, int]]:
    join, params = _job_join(org_id)
    cursor.execute(
        f"SELECT date_trunc('minute', t.created_at), t.status, count(*) FROM tasks t {join} "
        "WHERE t.created_at >= %s GROUP BY 1, 2 ORDER BY 1",
        [*params, now - TASK_WINDOW],
    )
    return cursor.fetchall()


def _live_tasks(cursor, org_id) -> dict[str, int]:
    join, params = _job_join(org_id)
    counts = {}
    # One count per status, each on its own partial index.
    for status in ("pending", "queued", "running"):
        cursor.execute(f"SELECT count(*) FROM tasks t {join} WHERE t.status = %s", [*params, status])
        counts[status] = cursor.fetchone()[0]
    return counts


def _failures_by_job(cursor, org_id, now) -> list[dict]:
    org_filter = "AND j.org_id = %s" if org_id is not None else ""
    cursor.execute(
        "SELECT j.id, j.name, count(*) FROM tasks t JOIN jobs j ON j.id = t.job_id "
        f"WHERE t.status = 'failed' AND t.created_at >= %s {org_filter} "
        "GROUP BY j.id, j.name ORDER BY 3 DESC, 2 LIMIT %s",
        [now - TASK_WINDOW, *([org_id] if org_id is not None else []), TOP],
    )
    return [{"job_id": row[0], "job": row[1], "failed": row[2]} for row in cursor.fetchall()]


def _oldest_due(cursor, org_id, now) -> dict | None:
    """The oldest task waiting to run: pending and due (no retry time, or one that has come)."""
    org_filter = "AND j.org_id = %s" if org_id is not None else ""
    cursor.execute(
        "SELECT t.id, t.created_at, j.id, j.name FROM tasks t JOIN jobs j ON j.id = t.job_id "
        "WHERE t.status = 'pending' AND (t.next_retry_at IS NULL OR t.next_retry_at <= %s) "
        f"{org_filter} ORDER BY t.created_at LIMIT 1",
        [now, *([org_id] if org_id is not None else [])],
    )
    row = cursor.fetchone()
    if row is None:
        return None
    return {"task_id": row[0], "created_at": row[1], "age": now - row[1], "job_id": row[2], "job": row[3]}


def _ingestion(cursor, org_id, now) -> list[dict]:
    """Source jobs (chain ingestion): the newest partition each published, its cursor (the last
    block read, for incremental sources) and how long ago it last advanced.

    The chain's own head is only known to the node; the time since the lake last moved is how far
    it trails the chain, as seen from here."""
    org_filter = "AND j.org_id = %s" if org_id is not None else ""
    cursor.execute(
        "SELECT j.id, j.name, pv.dataset, max(pv.version), max(pv.partition_key), "
        "(SELECT c.cursor_value FROM dataset_cursors c WHERE c.job_id = j.id AND c.dataset = pv.dataset) "
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
        }
        for r in cursor.fetchall()
    ]


def _lake(cursor, org_id) -> dict:
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


def _alert_events_per_day(cursor, org_id, now) -> list[tuple[dt.date, int]]:
    org_filter = "AND org_id = %s" if org_id is not None else ""
    zone = timezone.get_current_timezone_name()
    cursor.execute(
        "SELECT (created_at AT TIME ZONE %s)::date, count(*) FROM alert_events "
        f"WHERE created_at >= %s {org_filter} GROUP BY 1 ORDER BY 1",
        [zone, now - dt.timedelta(days=ALERT_DAYS), *([org_id] if org_id is not None else [])],
    )
    return cursor.fetchall()


def _deliveries(cursor, org_id, now) -> dict[str, int]:
    org_filter = "AND org_id = %s" if org_id is not None else ""
    org_params = [org_id] if org_id is not None else []
    cursor.execute(
        "SELECT count(*) FROM alert_deliveries WHERE status IN ('pending', 'failed') "
        f"AND next_attempt_at <= %s {org_filter}",
        [now, *org_params],
    )
    due = cursor.fetchone()[0]
    cursor.execute(f"SELECT count(*) FROM alert_deliveries WHERE status = 'dead' {org_filter}", org_params)
    return {"due": due, "dead": cursor.fetchone()[0]}


# -- presentation -----------------------------------------------------------------------------


def _task_chart(rows, now: dt.datetime) -> str:
    """Chart.js data for a stacked bar chart of tasks per minute over the whole 24 h window, one
    series per status (minutes without tasks are zero, so the time axis reads true)."""
    if not rows:
        return ""
    last = now.replace(second=0, microsecond=0)
    first = last - TASK_WINDOW + dt.timedelta(minutes=1)
    slots = int((last - first).total_seconds() // 60) + 1
    labels = [timezone.localtime(first + dt.timedelta(minutes=i)).strftime("%H:%M") for i in range(slots)]
    series: dict[str, list[int]] = {}
    for minute, status, count in rows:
        index = int((minute - first).total_seconds() // 60)
        if 0 <= index < slots:
            series.setdefault(status, [0] * slots)[index] += count
    datasets = [
        {"label": status, "data": series[status], "backgroundColor": STATUS_COLOURS.get(status, "#6b7280")}
        for status in STATUS_COLOURS
        if status in series
    ]
    return json.dumps({"labels": labels, "datasets": datasets})


def _alert_chart(rows) -> str:
    if not rows:
        return ""
    return json.dumps(
        {
            "labels": [day.isoformat() for day, _ in rows],
            "datasets": [
                {"label": "alert events", "data": [n for _, n in rows], "backgroundColor": "#9333ea"}
            ],
        }
    )


STACKED_OPTIONS = json.dumps(
    {
        "animation": False,
        "responsive": True,
        "maintainAspectRatio": False,
        "datasets": {"bar": {"barPercentage": 1, "categoryPercentage": 1}},
        "plugins": {"legend": {"display": True, "position": "top", "align": "end"}},
        "scales": {
            "x": {
                "stacked": True,
                "ticks": {"maxTicksLimit": 13, "autoSkip": True, "autoSkipPadding": 16, "maxRotation": 0},
                "grid": {},
            },
            "y": {"stacked": True, "beginAtZero": True, "grid": {}},
        },
    }
)


# The alert chart's day labels stay level and are thinned by Chart.js until they no longer touch.
ALERT_CHART_OPTIONS = json.dumps(
    {
        "animation": False,
        "responsive": True,
        "maintainAspectRatio": False,
        "scales": {
            "x": {"ticks": {"autoSkip": True, "autoSkipPadding": 16, "maxRotation": 0}},
            "y": {"beginAtZero": True, "ticks": {"precision": 0}},
        },
    }
)


def _links() -> dict[str, str]:
    tasks = reverse("admin:orchestration_task_changelist")
    return {
        "tasks": tasks,
        "failed_tasks": f"{tasks}?{urlencode({'status__exact': 'failed'})}",
        "pending_tasks": f"{tasks}?{urlencode({'status__exact': 'pending'})}",
        "queued_tasks": f"{tasks}?{urlencode({'status__exact': 'queued'})}",
        "running_tasks": f"{tasks}?{urlencode({'status__exact': 'running'})}",
        "jobs": reverse("admin:orchestration_job_changelist"),
        "partitions": reverse("admin:versioning_partitionversion_records"),
        "cursors": reverse("admin:versioning_datasetcursor_records"),
        "alert_events": reverse("admin:alerting_alertevent_changelist"),
        "deliveries": reverse("admin:alerting_alertdelivery_changelist"),
        "dead_deliveries": f"{reverse('admin:alerting_alertdelivery_changelist')}?status__exact=dead",
        "stacked_options": STACKED_OPTIONS,
        "alert_options": ALERT_CHART_OPTIONS,
    }
