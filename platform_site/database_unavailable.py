"""While the database is unreachable (a restart, a failover), answer 503 with a retry hint, not a 500.

The error page of an unexpected failure is for bugs; an outage of the database is an expected,
passing state that the visitor can do nothing about but wait. The connection is closed so the next
request reconnects.
"""

from __future__ import annotations

import logging

from django.db import connections
from django.http import HttpRequest, HttpResponse, JsonResponse

from .database import disconnect_errors

log = logging.getLogger(__name__)

RETRY_AFTER_SECONDS = 10
MESSAGE = "The database is unavailable for a moment. Please try again in a few seconds."
# The API's error body (drf-standardized-errors' shape, as every other API error).
API_BODY = {
    "type": "server_error",
    "errors": [{"code": "database_unavailable", "detail": MESSAGE, "attr": None}],
}

PAGE = f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Temporarily unavailable</title></head>
<body><h1>Temporarily unavailable</h1><p>{MESSAGE}</p></body></html>
"""


class DatabaseUnavailableMiddleware:
    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        return self.get_response(request)

    def process_exception(self, request: HttpRequest, exception: Exception) -> HttpResponse | None:
        if not isinstance(exception, disconnect_errors()):
            return None
        log.warning("database unavailable during %s %s: %s", request.method, request.path, exception)
        for conn in connections.all(initialized_only=True):
            if not conn.in_atomic_block:
                conn.close()
        if request.path.startswith("/api/"):
            response: HttpResponse = JsonResponse(API_BODY, status=503)
        else:
            response = HttpResponse(PAGE, status=503, content_type="text/html; charset=utf-8")
        response["Retry-After"] = str(RETRY_AFTER_SECONDS)
        return response


def api_exception_handler(exc: Exception, context: dict):
    """DRF's exception handler: a database outage is a 503 too; anything else goes to the handler
    configured before (``DATABASE_UNAVAILABLE_NEXT_HANDLER``)."""
    from django.conf import settings
    from django.utils.module_loading import import_string

    if isinstance(exc, disconnect_errors()):
        log.warning("database unavailable during an API call: %s", exc)
        for conn in connections.all(initialized_only=True):
            if not conn.in_atomic_block:
                conn.close()
        response = JsonResponse(API_BODY, status=503)
        response["Retry-After"] = str(RETRY_AFTER_SECONDS)
        return response
    return import_string(settings.DATABASE_UNAVAILABLE_NEXT_HANDLER)(exc, context)
