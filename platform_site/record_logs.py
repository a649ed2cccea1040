"""Log lines kept per record (a task, a delivery) on the machine that wrote them, for its admin page.

The data model has no table for log lines, and a chatty operator must not fill the database, so each
record's lines are a JSON-lines file of its own, ``<RECORD_LOG_DIR>/<kind>/<record id>.jsonl``
(``RECORD_LOG_DIR`` is ``<data dir>/logs``). One writer serves both kinds:

* **tasks**: every log record emitted while a task executes carries its id (``task_log_context`` sets
  a context variable around the run, :class:`TaskIdFilter` copies it onto records that have no
  ``task_id`` of their own) and :class:`RecordLogHandler` appends each record with a ``task_id``;
* **deliveries**: the delivery worker appends one line per attempt (:func:`record_log_append`).

A file stops growing at ``MAX_BYTES``: the line that crosses it is followed by a final
``truncated`` line and nothing more is written. Each line is bounded too (message and exception
text are cut), so the file never ends far past the limit. The lines hold what the code logs (ids,
operators' messages, exceptions), never payload data.
"""

from __future__ import annotations

import contextvars
import json
import logging
import os
import re
import threading
from collections import deque
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path

TASKS = "tasks"
DELIVERIES = "deliveries"
KINDS = (TASKS, DELIVERIES)
MAX_BYTES = 1024 * 1024
MAX_MESSAGE_CHARS = 4000
MAX_EXCEPTION_CHARS = 16000
SHOWN_LINES = 500

_current_task: contextvars.ContextVar[str | None] = contextvars.ContextVar("chainlake_task_id", default=None)
# Record ids become file names: only ids (UUIDs and plain integers), never a path.
_SAFE_ID = re.compile(r"^[0-9A-Za-z-]{1,64}$")
_write_lock = threading.Lock()


@contextmanager
def task_log_context(task_id) -> Iterator[None]:
    """Everything logged inside (in this thread, or a context copied from it) belongs to the task."""
    token = _current_task.set(str(task_id))
    try:
        yield
    finally:
        _current_task.reset(token)


def current_task_id() -> str | None:
    return _current_task.get()


class TaskIdFilter(logging.Filter):
    """Adds the running task's id to a record that carries none (operators log with plain
    ``logging``, unaware of the task)."""

    def filter(self, record: logging.LogRecord) -> bool:
        if getattr(record, "task_id", None) is None:
            task_id = _current_task.get()
            if task_id is not None:
                record.task_id = task_id
        return True


def _directory() -> Path:
    from django.conf import settings

    return Path(settings.RECORD_LOG_DIR)


def record_log_path(kind: str, record_id) -> Path | None:
    """The file of one record, or None for an id that cannot be a file name."""
    if kind not in KINDS:
        raise ValueError(f"unknown record log kind {kind!r}")
    text = str(record_id)
    if not _SAFE_ID.match(text):
        return None
    return _directory() / kind / f"{text}.jsonl"


def _encoded(line: dict) -> bytes:
    return (json.dumps(line, default=str, ensure_ascii=False) + "\n").encode("utf-8", "replace")


def _open_for_append(path: Path) -> int:
    """A descriptor appending to ``path``; its folder is made only when it is missing (this runs for
    every line a task logs, so the common case is one system call)."""
    flags = os.O_WRONLY | os.O_APPEND | os.O_CREAT
    try:
        return os.open(path, flags, 0o640)
    except FileNotFoundError:
        path.parent.mkdir(parents=True, exist_ok=True)
        return os.open(path, flags, 0o640)


def record_log_append(kind: str, record_id, line: dict) -> bool:
    """Append ``line`` (a JSON object) to the record's file; False when it was not written (the file
    is full, or the disk refused). Never raises: a log line is not worth failing the work for."""
    path = record_log_path(kind, record_id)
    if path is None:
        return False
    data = _encoded(line)
    try:
        with _write_lock:
            # One write per line on an O_APPEND descriptor: lines of concurrent writers never mix.
            fd = _open_for_append(path)
            try:
                size = os.fstat(fd).st_size
                if size >= MAX_BYTES:
                    return False
                os.write(fd, data)
                if size + len(data) >= MAX_BYTES:
                    marker = {
                        "ts": _now(),
                        "level": "WARNING",
                        "logger": "chainlake.record_logs",
                        "message": f"log truncated: later lines were not kept (limit {MAX_BYTES} bytes)",
                        "truncated": True,
                    }
                    os.write(fd, _encoded(marker))
            finally:
                os.close(fd)
    except OSError:
        return False
    return True


def record_log_read(kind: str, record_id, *, limit: int = SHOWN_LINES) -> list[dict]:
    """The record's last ``limit`` lines, oldest first; a line that is not JSON (torn by a crash
    mid-write) is skipped."""
    path = record_log_path(kind, record_id)
    if path is None:
        return []
    try:
        with path.open("r", encoding="utf-8", errors="replace") as handle:
            last = deque(handle, maxlen=limit)
    except OSError:
        return []
    lines = []
    for text in last:
        try:
            line = json.loads(text)
        except ValueError:
            continue
        if isinstance(line, dict):
            lines.append(line)
    return lines


def record_logs_delete(kind: str, record_ids: Iterable) -> int:
    """Remove the files of these records (retention); returns how many were removed."""
    removed = 0
    for record_id in record_ids:
        path = record_log_path(kind, record_id)
        if path is None:
            continue
        try:
            path.unlink()
            removed += 1
        except FileNotFoundError:
            pass
        except OSError:
            logging.getLogger(__name__).warning("could not remove the log file of %s %s", kind, record_id)
    return removed


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="milliseconds")


class RecordLogHandler(logging.Handler):
    """Appends each log record that carries a ``task_id`` to that task's file."""

    def __init__(self, level: int = logging.NOTSET) -> None:
        super().__init__(level)
        self._formatter = logging.Formatter()

    def emit(self, record: logging.LogRecord) -> None:
        task_id = getattr(record, "task_id", None)
        if not task_id:
            return
        try:
            line = {
                "ts": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
                "level": record.levelname,
                "logger": record.name,
                "message": record.getMessage()[:MAX_MESSAGE_CHARS],
            }
            if record.exc_info:
                line["exception"] = self._formatter.formatException(record.exc_info)[-MAX_EXCEPTION_CHARS:]
            record_log_append(TASKS, task_id, line)
        except Exception:
            self.handleError(record)


def line_time(line: dict) -> datetime | None:
    """When a line was written (its ``ts``), or None when it has no readable time."""
    try:
        return datetime.fromisoformat(line["ts"])
    except (KeyError, TypeError, ValueError):
        return None
