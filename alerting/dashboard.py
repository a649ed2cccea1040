"""Alerting on the admin dashboard: alert events per day and deliveries due or dead (registered with
``platform_site.dashboard`` from the app's ``ready()``). The figures read zero until alerting has
rows."""

from __future__ import annotations

import datetime as dt
import json

from django.urls import reverse
from django.utils import timezone

ALERT_DAYS = 14


def alert_events_per_day(cursor, org_id, now) -> list[tuple[dt.date, int]]:
    org_filter = "AND org_id = %s" if org_id is not None else ""
    zone = timezone.get_current_timezone_name()
    cursor.execute(
        "SELECT (created_at AT TIME ZONE %s)::date, count(*) FROM alert_events "
        f"WHERE created_at >= %s {org_filter} GROUP BY 1 ORDER BY 1",
        [zone, now - dt.timedelta(days=ALERT_DAYS), *([org_id] if org_id is not None else [])],
    )
    return cursor.fetchall()


def deliveries(cursor, org_id, now) -> dict[str, int]:
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


def alert_chart(figures: dict) -> str:
    rows = figures["alert_events_per_day"]
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


def links() -> dict[str, str]:
    deliveries_list = reverse("admin:alerting_alertdelivery_changelist")
    return {
        "alert_events": reverse("admin:alerting_alertevent_changelist"),
        "deliveries": deliveries_list,
        "dead_deliveries": f"{deliveries_list}?status__exact=dead",
        "alert_options": ALERT_CHART_OPTIONS,
    }
