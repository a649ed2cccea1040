"""The lake's gauges at ``/metrics``: current partitions and bytes by dataset (registered with
``platform_site.metrics`` from the app's ``ready()``; computed from the catalog at scrape time)."""

from __future__ import annotations

from prometheus_client.core import GaugeMetricFamily

from platform_site.metrics import Naming, rows


def collect_lake(naming: Naming):
    partitions = GaugeMetricFamily(
        "chainlake_lake_partitions", "Current partitions by dataset.", labels=["dataset"]
    )
    size = GaugeMetricFamily(
        "chainlake_lake_bytes", "Bytes of the current partitions by dataset.", labels=["dataset"]
    )
    dataset_label, dataset_params = naming.dataset_label()
    for dataset, count, total in rows(
        f"SELECT {dataset_label}, count(*), coalesce(sum(bytes), 0) FROM partition_versions GROUP BY 1",
        dataset_params,
    ):
        partitions.add_metric([dataset], count)
        size.add_metric([dataset], total)
    yield partitions
    yield size
