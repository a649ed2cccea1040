"""The engine's figures on the admin dashboard: tasks per minute, tasks now, failures by job and the
oldest due task (registered with ``platform_site.dashboard`` from the app's ``ready()``).

Each figure is one bounded statement on an index (a time window, a status, a LIMIT); ``org_id`` is
None for a superuser, who sees every org."""

from __future__ import annotations

import datetime as dt
import json
from urllib.parse import urlencode

from django.urls import reverse
from django.utils import timezone

TASK_WINDOW = dt.timedelta(hours=24)
TOP = 10
STATUS_COLOURS = {
    "succeeded": "#16a34a",
    "failed": "#dc2626",
    "running": "#2563eb",
    "queued": "#60a5fa",
    "pending": "#eab308",
    "cancelled": "#9ca3af",
}


def _job_join(org_id) -> tuple[str, list]:
    if org_id is None:
        return "", []
    return "JOIN jobs j ON j.id = t.job_id AND j.org_id = %s", [org_id]


def tasks_per_minute(cursor, org_id, now) -> list[tuple[dt.datetime, str, int]]:
    join, params = _job_join(org_id)
    cursor.execute(
        f"SELECT date_trunc('minute', t.created_at), t.status, count(*) FROM tasks t {join} "
        "WHERE t.created_at >= %s GROUP BY 1, 2 ORDER BY 1",
        [*params, now - TASK_WINDOW],
    )
    return cursor.fetchall()


def live_tasks(cursor, org_id, now) -> dict[str, int]:
    join, params = _job_join(org_id)
    counts = {}
    # One count per status, each on its own partial index.
    for status in ("pending", "queued", "running"):
        cursor.execute(f"SELECT count(*) FROM tasks t {join} WHERE t.status = %s", [*params, status])
        counts[status] = cursor.fetchone()[0]
    return counts


def failures_by_job(cursor, org_id, now) -> list[dict]:
    org_filter = "AND j.org_id = %s" if org_id is not None else ""
    cursor.execute(
        "SELECT j.id, j.name, count(*) FROM tasks t JOIN jobs j ON j.id = t.job_id "
        f"WHERE t.status = 'failed' AND t.created_at >= %s {org_filter} "
        "GROUP BY j.id, j.name ORDER BY 3 DESC, 2 LIMIT %s",
        [now - TASK_WINDOW, *([org_id] if org_id is not None else []), TOP],
    )
    return [{"job_id": row[0], "job": row[1], "failed": row[2]} for row in cursor.fetchall()]


def oldest_due(cursor, org_id, now) -> dict | None:
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


def task_chart(figures: dict) -> str:
    """Chart.js data for a stacked bar chart of tasks per minute over the whole 24 h window, one
    series per status (minutes without tasks are zero, so the time axis reads true)."""
    rows, now = figures["tasks_per_minute"], figures["computed_at"]
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


def links() -> dict[str, str]:
    tasks = reverse("admin:orchestration_task_changelist")
    return {
        "tasks": tasks,
        "failed_tasks": f"{tasks}?{urlencode({'status__exact': 'failed'})}",
        "pending_tasks": f"{tasks}?{urlencode({'status__exact': 'pending'})}",
        "queued_tasks": f"{tasks}?{urlencode({'status__exact': 'queued'})}",
        "running_tasks": f"{tasks}?{urlencode({'status__exact': 'running'})}",
        "jobs": reverse("admin:orchestration_job_changelist"),
        "stacked_options": STACKED_OPTIONS,
    }
