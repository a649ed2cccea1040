"""``/healthz`` (the process answers) and ``/readyz`` (what a request needs is reachable).

Both are unauthenticated and cheap, for load balancers and orchestrators: ``/healthz`` touches
nothing; ``/readyz`` runs ``SELECT 1``, pings the broker and runs the checks the apps register
from their ``AppConfig.ready()`` (the lake's root, the scheduler's schedule row), each bounded by
the connection timeouts, and answers 503 naming what failed. The body names checks only, never
URLs, hosts or credentials.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass

from django.conf import settings
from django.db import connection
from django.http import JsonResponse
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET

log = logging.getLogger(__name__)


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


@dataclass(frozen=True)
class Check:
    name: str
    run: Callable[[], None]
    order: int


_CHECKS: list[Check] = []


def register_check(name: str, run: Callable[[], None], *, order: int = 0) -> None:
    """``run()`` raises when what a request needs is not reachable; ``/readyz`` then names the check
    as failed. Checks run and are listed by ``order`` (then by registration)."""
    _CHECKS[:] = [check for check in _CHECKS if check.name != name]
    _CHECKS.append(Check(name, run, order))


register_check("database", check_database, order=10)
register_check("broker", check_broker, order=20)


def checks() -> dict[str, Callable[[], None]]:
    return {check.name: check.run for check in sorted(_CHECKS, key=lambda check: check.order)}


@never_cache
@require_GET
def healthz(request):
    return JsonResponse({"status": "ok"})


@never_cache
@require_GET
def readyz(request):
    results = {}
    for name, check in checks().items():
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
