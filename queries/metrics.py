"""The query engine's gauges at ``/metrics``: queries of the last hour by mode and error code, and
their duration quantiles (registered with ``platform_site.metrics`` from the app's ``ready()``;
computed from the table at scrape time)."""

from __future__ import annotations

from prometheus_client.core import GaugeMetricFamily

from platform_site.metrics import RECENT, Naming, rows, table_exists


def collect_queries(naming: Naming):
    count = GaugeMetricFamily(
        "chainlake_queries_recent",
        f"Queries finished in the last {RECENT}, by mode and error code ('none' when they succeeded).",
        labels=["mode", "error_code"],
    )
    duration = GaugeMetricFamily(
        "chainlake_query_duration_seconds",
        f"Query duration quantiles over the last {RECENT}, by mode and error code.",
        labels=["mode", "error_code", "quantile"],
    )
    if table_exists("query_results"):
        for mode, error_code, n, quantiles in rows(
            f"""
            SELECT mode, coalesce(error_code, 'none'), count(*),
                   percentile_cont(ARRAY[0.5, 0.95]) WITHIN GROUP (ORDER BY duration_ms / 1000.0)
            FROM query_results
            WHERE created_at > now() - interval '{RECENT}' AND duration_ms IS NOT NULL
            GROUP BY 1, 2
            """
        ):
            count.add_metric([mode, error_code], n)
            for quantile, value in zip(("0.5", "0.95"), quantiles, strict=True):
                duration.add_metric([mode, error_code, quantile], float(value))
    yield count
    yield duration
