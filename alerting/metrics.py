"""Alerting's gauge at ``/metrics``: deliveries due now, failed and dead (registered with
``platform_site.metrics`` from the app's ``ready()``; computed from the table at scrape time)."""

from __future__ import annotations

from prometheus_client.core import GaugeMetricFamily

from platform_site.metrics import Naming, rows, table_exists


def collect_deliveries(naming: Naming):
    deliveries = GaugeMetricFamily(
        "chainlake_alert_deliveries",
        "Alert deliveries due now (pending or failed, next attempt reached), failed and dead.",
        labels=["state"],
    )
    counts = {"due": 0, "failed": 0, "dead": 0}
    if table_exists("alert_deliveries"):
        counts.update(
            dict(
                rows(
                    """
                    SELECT 'due', count(*) FROM alert_deliveries
                    WHERE status IN ('pending', 'failed')
                      AND (next_attempt_at IS NULL OR next_attempt_at <= now())
                    UNION ALL SELECT 'failed', count(*) FROM alert_deliveries WHERE status = 'failed'
                    UNION ALL SELECT 'dead', count(*) FROM alert_deliveries WHERE status = 'dead'
                    """
                )
            )
        )
    for state, count in counts.items():
        deliveries.add_metric([state], count)
    yield deliveries
