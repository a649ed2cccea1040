"""Prometheus metrics at ``/metrics``.

Two sources, so the figures are right however many web and worker processes run:

- **The database, read at scrape time** (:class:`DatabaseCollector`): the state of the platform is
  in PostgreSQL, shared by every process on every host, so gauges computed from it need no
  coordination: tasks by status and job, the age of the oldest due task, pending→running latency,
  retries and reaper actions of the last hour, lake bytes and partitions by dataset, alert
  deliveries due/failed/dead, query durations by mode and error code.
- **Events measured in the processes** (planning time, reaper runs): prometheus-client histograms
  and counters, aggregated across the processes of a host through its multiprocess mode when
  ``PROMETHEUS_MULTIPROC_DIR`` is set (``make run`` sets it; gunicorn workers and qcluster
  processes then write to that folder and any web process reads them all).

Who may scrape, and what they see (:func:`scrape_scope`): a superuser's session sees everything; a
scraper with ``CHAINLAKE_METRICS_TOKEN`` (or, with no token set, one on this host) sees the platform
as a whole, with the platform org's jobs and the system datasets named and every other org's jobs
and datasets summed under ``other``, so a scraper learns no tenant's names. "On this host" is the
socket's peer (``REMOTE_ADDR`` as the WSGI server gives it) being loopback with no proxy header: a
reverse proxy on the same host also connects from loopback, but adds ``X-Forwarded-For``, and a
request it forwards is not a local scraper. Headers never grant anything: forging one only refuses.
Recent-window figures cover the last hour (``RECENT``) and are labelled with the job as
``org/name``. Each scrape runs a handful of aggregate queries over indexed columns.
"""

from __future__ import annotations

import hmac
import ipaddress
import os

from django.conf import settings
from django.db import connection
from django.http import HttpResponse
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, Counter, Histogram, generate_latest
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.multiprocess import MultiProcessCollector

RECENT = "1 hour"
LATENCY_WINDOW = "5 minutes"

PLANNING_SECONDS = Histogram(
    "chainlake_planning_seconds",
    "Time to plan every active job in one scheduler tick.",
    buckets=(0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60),
)
REAPER_ACTIONS = Counter("chainlake_reaper_actions", "Tasks failed by the reaper (lost heartbeat, timeout).")

# The label value that sums the jobs and datasets of orgs a scraper may not see by name.
OTHER = "other"
# Headers a reverse proxy adds: their presence means the loopback peer is a proxy, not a scraper.
PROXY_HEADERS = ("HTTP_X_FORWARDED_FOR", "HTTP_FORWARDED", "HTTP_X_REAL_IP", "HTTP_X_FORWARDED_HOST")


def _rows(sql: str, params: list | None = None) -> list[tuple]:
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        return cursor.fetchall()


def _table_exists(name: str) -> bool:
    return name in connection.introspection.table_names()


class DatabaseCollector:
    """Gauges computed from the tables at scrape time (see the module docstring).

    ``every_name``: label every org's jobs and datasets; otherwise only the platform's, the rest
    summed under :data:`OTHER`."""

    def __init__(self, *, every_name: bool = False):
        self.every_name = every_name

    def _job_label(self) -> tuple[str, list]:
        """SQL for a task's job label (tables ``j`` and ``o``) and its parameters."""
        if self.every_name:
            return "o.slug || '/' || j.name", []
        return "CASE WHEN o.slug = %s THEN o.slug || '/' || j.name ELSE %s END", [
            settings.PLATFORM_ORG_SLUG,
            OTHER,
        ]

    def _dataset_label(self) -> tuple[str, list]:
        if self.every_name:
            return "dataset", []
        platform = [settings.PLATFORM_ORG_SLUG, *settings.SYSTEM_NAMESPACES]
        return "CASE WHEN split_part(dataset, '.', 1) = ANY(%s) THEN dataset ELSE %s END", [platform, OTHER]

    def collect(self):
        yield from self._tasks()
        yield from self._lake()
        yield from self._deliveries()
        yield from self._queries()

    def _tasks(self):
        tasks = GaugeMetricFamily(
            "chainlake_tasks",
            f"Tasks by job and status: every live task, and finished tasks created in the last {RECENT}.",
            labels=["job", "status"],
        )
        job_label, job_params = self._job_label()
        for job, status, count in _rows(
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

        (oldest,) = _rows(
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
        row = _rows(
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
        for job, retried, reaped_count in _rows(
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

    def _lake(self):
        partitions = GaugeMetricFamily(
            "chainlake_lake_partitions", "Current partitions by dataset.", labels=["dataset"]
        )
        size = GaugeMetricFamily(
            "chainlake_lake_bytes", "Bytes of the current partitions by dataset.", labels=["dataset"]
        )
        dataset_label, dataset_params = self._dataset_label()
        for dataset, count, total in _rows(
            f"SELECT {dataset_label}, count(*), coalesce(sum(bytes), 0) FROM partition_versions GROUP BY 1",
            dataset_params,
        ):
            partitions.add_metric([dataset], count)
            size.add_metric([dataset], total)
        yield partitions
        yield size

    def _deliveries(self):
        deliveries = GaugeMetricFamily(
            "chainlake_alert_deliveries",
            "Alert deliveries due now (pending or failed, next attempt reached), failed and dead.",
            labels=["state"],
        )
        counts = {"due": 0, "failed": 0, "dead": 0}
        if _table_exists("alert_deliveries"):
            counts.update(
                dict(
                    _rows(
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

    def _queries(self):
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
        if _table_exists("query_results"):
            for mode, error_code, n, quantiles in _rows(
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


def registry(*, every_name: bool = False) -> CollectorRegistry:
    """The database gauges plus the process metrics (all of this host's processes in multiprocess mode)."""
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        scrape = CollectorRegistry()
        MultiProcessCollector(scrape)
    else:
        scrape = CollectorRegistry()
        for collector in (PLANNING_SECONDS, REAPER_ACTIONS):
            scrape.register(collector)
    scrape.register(DatabaseCollector(every_name=every_name))
    return scrape


def from_this_host(request) -> bool:
    """The socket's peer is loopback and no proxy forwarded the request (see the module docstring)."""
    try:
        peer = ipaddress.ip_address(request.META.get("REMOTE_ADDR", ""))
    except ValueError:
        return False
    if isinstance(peer, ipaddress.IPv6Address) and peer.ipv4_mapped:
        peer = peer.ipv4_mapped
    return peer.is_loopback and not any(header in request.META for header in PROXY_HEADERS)


def scrape_scope(request) -> str | None:
    """``"all"`` for a superuser's session; ``"platform"`` for the bearer of ``CHAINLAKE_METRICS_TOKEN``
    or, with no token set, a scraper on this host; None for anyone else (answered as a 404)."""
    if getattr(request.user, "is_superuser", False) and request.user.is_active:
        return "all"
    token = settings.METRICS_TOKEN
    if token:
        sent = request.headers.get("Authorization", "").removeprefix("Bearer ").strip()
        return "platform" if hmac.compare_digest(sent.encode(), token.encode()) else None
    return "platform" if from_this_host(request) else None


@never_cache
@require_GET
def metrics(request):
    scope = scrape_scope(request)
    if scope is None:
        return HttpResponse("not found", status=404, content_type="text/plain")
    return HttpResponse(
        generate_latest(registry(every_name=scope == "all")), content_type=CONTENT_TYPE_LATEST
    )
