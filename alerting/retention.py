"""Retention of alerting's records (registered with ``platform_site.retention`` from the app's
``ready()``): deliveries that are over (delivered, dead, cancelled) and created more than the org's
``retention_days`` ago (with their attempt logs, ``platform_site.record_logs``), then the alert
events older than that with no delivery left."""

from __future__ import annotations

from datetime import datetime, timedelta

from platform_site.record_logs import DELIVERIES, record_logs_delete
from platform_site.retention import delete_in_batches

from .models import AlertDelivery, AlertEvent

FINISHED_DELIVERIES = ("delivered", "dead", "cancelled")


def prune_alerts(org_id, org_settings: dict, now: datetime) -> dict[str, int]:
    cutoff = now - timedelta(days=org_settings["retention_days"])
    pruned: list = []
    deliveries = delete_in_batches(
        AlertDelivery,
        """
        SELECT id FROM alert_deliveries
        WHERE org_id = %(org)s AND created_at < %(cutoff)s AND status = ANY(%(finished)s)
        ORDER BY created_at LIMIT %(batch)s
        """,
        {"org": org_id, "cutoff": cutoff, "finished": list(FINISHED_DELIVERIES)},
        on_batch=lambda ids: pruned.extend(ids),
    )
    record_logs_delete(DELIVERIES, pruned)
    events = delete_in_batches(
        AlertEvent,
        """
        SELECT e.id FROM alert_events e
        WHERE e.org_id = %(org)s AND e.created_at < %(cutoff)s
          AND NOT EXISTS (SELECT 1 FROM alert_deliveries d WHERE d.alert_event_id = e.id)
        ORDER BY e.created_at LIMIT %(batch)s
        """,
        {"org": org_id, "cutoff": cutoff},
    )
    return {"alert_deliveries": deliveries, "alert_events": events}
