"""django-q2 entry points of alerting."""

from __future__ import annotations

import time

from .services.deliveries import deliveries_process


def deliveries_drain(max_seconds: float = 50.0, threads: int = 16) -> dict[str, int]:
    """Send due deliveries until none is due, leasing none after ``max_seconds``; the attempts
    then in flight end within the delivery deadline, so the task ends within the two."""
    return deliveries_process(limit=None, threads=threads, until=time.monotonic() + max_seconds)
