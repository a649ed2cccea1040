"""Each delivery attempt as a line of the delivery's log (``platform_site.record_logs``): when it
ended, how it ended, the receiver's HTTP status and the first bytes of its answer, or the error.
The deliveries table keeps only the last error; these lines keep every attempt, success included,
for the delivery's admin page."""

from __future__ import annotations

from datetime import UTC, datetime

from platform_site.record_logs import DELIVERIES, record_log_append, record_log_read

from .channels import SendResult


def delivery_attempt_log(*, delivery_id, attempt: int, result: SendResult, outcome: str) -> None:
    """``outcome``: the status the attempt left (``delivered``, ``failed``, ``dead``), or ``lost``
    when the lease was gone and nothing was recorded (the receiver was called all the same)."""
    record_log_append(
        DELIVERIES,
        delivery_id,
        {
            "ts": datetime.now(UTC).isoformat(timespec="milliseconds"),
            "event": "delivery_attempt",
            "attempt": attempt,
            "outcome": outcome,
            "http_status": result.http_status,
            "answer": result.answer,
            "error": result.error,
        },
    )


def delivery_attempts(delivery_id) -> list[dict]:
    """The delivery's attempts, oldest first (at most the last 500), as the worker wrote them."""
    return [
        line for line in record_log_read(DELIVERIES, delivery_id) if line.get("event") == "delivery_attempt"
    ]
