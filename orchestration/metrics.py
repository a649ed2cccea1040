"""The engine's gauges at ``/metrics``: tasks by job and status, the oldest due task, pending to
running latency, retries and reaper actions (registered with ``platform_site.metrics`` from the
app's ``ready()``; computed from the tables at scrape time)."""

from __future__ import annotations

from prometheus_client.core import GaugeMetricFamily

from platform_site.metrics import RECENT, Naming, rows

LATENCY_WINDOW = "5 minutes"


def collect_tasks(naming: Naming):
    tasks = GaugeMetricFamily(
        "chainlake_tasks",
        f"Tasks by job and status: every live task, and finished tasks created in the last {RECENT}.",
        labels=["job", "status"],
    )
    job_label, job_params = naming.org_label("o.slug", "j.name")
    for job, status, count in rows(
        f"""
        SELECT {job_label}, t.status, count(*)
        FROM tasks t JOIN jobs j ON j.id = t.job_id JOIN orgs o ON o.id = j.org_id
        WHERE t.status IN ('pending', 'queued', 'running') OR t.created_at > now() - interval '{RECENT}'
        GROUP BY 1, 2
        """,
        job_params,
    ):
        tasks.add_metric([job, status], count)
    yield tasks

    (oldest,) = rows(
        """
        SELECT coalesce(extract(epoch FROM now() - min(coalesce(next_retry_at, created_at))), 0)
        FROM tasks WHERE status = 'pending' AND (next_retry_at IS NULL OR next_retry_at <= now())
        """
    )[0]
    yield GaugeMetricFamily(
        "chainlake_oldest_due_task_age_seconds",
        "How long the oldest due pending task has waited (0 when none waits).",
        value=float(oldest),
    )

    latency = GaugeMetricFamily(
        "chainlake_task_pending_to_running_seconds",
        f"Pending to running latency of first attempts started in the last {LATENCY_WINDOW}.",
        labels=["quantile"],
    )
    row = rows(
        f"""
        SELECT percentile_cont(ARRAY[0.5, 0.95, 0.99]) WITHIN GROUP (
                   ORDER BY extract(epoch FROM started_at - created_at)),
               count(*)
        FROM tasks
        WHERE created_at > now() - interval '{RECENT}' AND attempts = 1
          AND started_at > now() - interval '{LATENCY_WINDOW}'
        """
    )[0]
    quantiles, started = row
    for quantile, value in zip(("0.5", "0.95", "0.99"), quantiles or [0, 0, 0], strict=True):
        latency.add_metric([quantile], float(value))
    yield latency
    yield GaugeMetricFamily(
        "chainlake_tasks_started_recent",
        f"First attempts started in the last {LATENCY_WINDOW}.",
        value=started,
    )

    retries = GaugeMetricFamily(
        "chainlake_task_retries_recent",
        f"Retried attempts (attempts beyond the first) of tasks created in the last {RECENT}, by job.",
        labels=["job"],
    )
    reaped = GaugeMetricFamily(
        "chainlake_tasks_reaped_recent",
        f"Tasks created in the last {RECENT} whose last failure was the reaper's, by job.",
        labels=["job"],
    )
    for job, retried, reaped_count in rows(
        f"""
        SELECT {job_label}, sum(t.attempts - 1),
               count(*) FILTER (WHERE t.error_message LIKE 'reaped:%%')
        FROM tasks t JOIN jobs j ON j.id = t.job_id JOIN orgs o ON o.id = j.org_id
        WHERE t.created_at > now() - interval '{RECENT}' AND t.attempts > 1
        GROUP BY 1
        """,
        job_params,
    ):
        retries.add_metric([job], retried)
        reaped.add_metric([job], reaped_count)
    yield retries
    yield reaped
