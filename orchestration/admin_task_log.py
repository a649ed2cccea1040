"""The "Log" section of a task's page: the lines logged while it ran (``platform_site.record_logs``),
oldest first, drawn like a changelist."""

from __future__ import annotations

from platform_site.admin_components import theme_table
from platform_site.admin_display import badge, preformatted, wrapping
from platform_site.record_logs import SHOWN_LINES, TASKS, line_time, record_log_read

EMPTY = "No log lines recorded for this task (they are kept on the machine that ran it)"
_LEVEL_BADGES = {"CRITICAL": "failed", "ERROR": "failed", "WARNING": "warning"}


def task_log_table(task_id) -> str:
    lines = record_log_read(TASKS, task_id, limit=SHOWN_LINES)
    if not lines:
        return EMPTY
    return theme_table(
        ["Time", "Level", "Logger", "Message", "Exception"],
        [
            (
                line_time(line),
                _level(str(line.get("level", ""))),
                line.get("logger", ""),
                wrapping(line.get("message")),
                preformatted(line.get("exception")),
            )
            for line in lines
        ],
        table_id="task-log",
    )


def _level(level: str) -> str:
    return badge(_LEVEL_BADGES[level], level) if level in _LEVEL_BADGES else level
