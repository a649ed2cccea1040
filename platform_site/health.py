"""``/healthz`` (the process answers) and ``/readyz`` (what a request needs is reachable).

Both are unauthenticated and cheap, for load balancers and orchestrators: ``/healthz`` touches
nothing; ``/readyz`` runs ``SELECT 1``, pings the broker, stats the lake's root and reads one
schedule row, each bounded by the connection timeouts, and answers 503 naming what failed. The
body names checks only, never URLs, hosts or credentials.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import timedelta

import pyarrow.fs as pafs
from django.conf import settings
from django.db import connection
from django.http import JsonResponse
from django.utils import timezone
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET

log = logging.getLogger(__name__)

# The scheduler tick runs every minute on some cluster; its schedule row advancing within this
# window shows that at least one cluster's scheduler is alive.
WORKERS_SEEN_WITHIN = timedelta(seconds=150)


def check_database() -> None:
    with connection.cursor() as cursor:
        cursor.execute("SELECT 1")


def check_broker() -> None:
    if settings.REDIS_URL:
        import redis

        client = redis.Redis.from_url(settings.REDIS_URL, socket_connect_timeout=2, socket_timeout=2)
        try:
            client.ping()
        finally:
            client.close()
    else:  # the ORM broker is a table in the database
        from django_q.models import OrmQ

        OrmQ.objects.exists()


def check_storage() -> None:
    from versioning.storage import lake

    storage = lake()
    # The root of a file lake, or the bucket of an S3 lake: one stat, no listing.
    target = storage.root if isinstance(storage.fs, pafs.LocalFileSystem) else storage.root.split("/")[0]
    if storage.fs.get_file_info(target).type == pafs.FileType.NotFound:
        raise RuntimeError("the lake's root does not exist")


def check_workers() -> None:
    """A cluster's scheduler ran the per-minute tick recently, or a cluster reports its stats."""
    from django_q.models import Schedule
    from django_q.status import Stat

    from orchestration.schedules import TICK_NAME

    tick = Schedule.objects.filter(name=TICK_NAME).values("task", "next_run").first()
    if tick and tick["task"] and tick["next_run"] >= timezone.now() - WORKERS_SEEN_WITHIN:
        return
    if Stat.get_all():
        return
    raise RuntimeError("no worker cluster seen recently")


CHECKS: dict[str, Callable[[], None]] = {
    "database": check_database,
    "broker": check_broker,
    "storage": check_storage,
    "workers": check_workers,
}


@never_cache
@require_GET
def healthz(request):
    return JsonResponse({"status": "ok"})


@never_cache
@require_GET
def readyz(request):
    results = {}
    for name, check in CHECKS.items():
        try:
            check()
            results[name] = "ok"
        except Exception as exc:
            log.warning("readiness check %s failed: %s", name, type(exc).__name__)
            results[name] = "failed"
    ready = all(value == "ok" for value in results.values())
    return JsonResponse(
        {"status": "ok" if ready else "unavailable", "checks": results}, status=200 if ready else 503
    )
