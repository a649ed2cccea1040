"""Prometheus metrics at ``/metrics``.

Two sources, so the figures are right however many web and worker processes run:

- **The database, read at scrape time** (:class:`DatabaseCollector`): the state of the platform is
  in PostgreSQL, shared by every process on every host, so gauges computed from it need no
  coordination. Each app registers the gauges of its own tables (:func:`register_collector`, from
  its ``AppConfig.ready()``): tasks by status and job, the age of the oldest due task,
  pending→running latency, retries and reaper actions of the last hour, lake bytes and partitions
  by dataset, alert deliveries due/failed/dead, query durations by mode and error code.
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
from collections.abc import Callable, Iterable
from dataclasses import dataclass

from django.conf import settings
from django.db import connection
from django.http import HttpResponse
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, Counter, Histogram, generate_latest
from prometheus_client.core import Metric
from prometheus_client.multiprocess import MultiProcessCollector

RECENT = "1 hour"

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


def rows(sql: str, params: list | None = None) -> list[tuple]:
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        return cursor.fetchall()


def table_exists(name: str) -> bool:
    return name in connection.introspection.table_names()


Collect = Callable[["Naming"], Iterable[Metric]]


@dataclass(frozen=True)
class _Collector:
    collect: Collect
    order: int


_COLLECTORS: list[_Collector] = []


def register_collector(collect: Collect, *, order: int = 0) -> None:
    """``collect(naming)`` yields the gauges an app computes from its tables at scrape time; the
    scrape lists them by ``order`` (then by registration), so the exposition reads the same on every
    scrape."""
    _COLLECTORS.append(_Collector(collect, order))


@dataclass(frozen=True)
class Naming:
    """How a scrape labels what belongs to an org. ``every_name``: label every org's jobs and
    datasets; otherwise only the platform's, the rest summed under :data:`OTHER`."""

    every_name: bool = False

    def org_label(self, slug_sql: str, name_sql: str) -> tuple[str, list]:
        """SQL for an ``org/name`` label from an org slug and a name column, and its parameters."""
        if self.every_name:
            return f"{slug_sql} || '/' || {name_sql}", []
        return f"CASE WHEN {slug_sql} = %s THEN {slug_sql} || '/' || {name_sql} ELSE %s END", [
            settings.PLATFORM_ORG_SLUG,
            OTHER,
        ]

    def dataset_label(self) -> tuple[str, list]:
        """SQL for a label from a ``dataset`` column (namespace.name), and its parameters."""
        if self.every_name:
            return "dataset", []
        platform = [settings.PLATFORM_ORG_SLUG, *settings.SYSTEM_NAMESPACES]
        return "CASE WHEN split_part(dataset, '.', 1) = ANY(%s) THEN dataset ELSE %s END", [platform, OTHER]


class DatabaseCollector:
    """Gauges computed from the tables at scrape time by every registered collector (see the module
    docstring)."""

    def __init__(self, *, every_name: bool = False):
        self.naming = Naming(every_name=every_name)

    def collect(self):
        for collector in sorted(_COLLECTORS, key=lambda c: c.order):
            yield from collector.collect(self.naming)


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
