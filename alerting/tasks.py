"""django-q2 entry points of alerting."""

from __future__ import annotations

import time

from .services.deliveries import deliveries_process


def deliveries_drain(max_seconds: float = 50.0, batch: int = 200) -> dict[str, int]:
    """Send due deliveries until none is due or ``max_seconds`` have passed."""
    totals: dict[str, int] = {}
    deadline = time.monotonic() + max_seconds
    while time.monotonic() < deadline:
        counts = deliveries_process(limit=batch)
        for key, value in counts.items():
            totals[key] = totals.get(key, 0) + value
        if not counts["leased"]:
            break
    return totals
