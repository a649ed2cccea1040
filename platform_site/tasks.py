"""django-q2 entry points of the platform itself."""

from __future__ import annotations

from platform_site.retention import retention_prune


def retention_daily() -> dict[str, int]:
    """The daily retention schedule (registered after migrate by ``platform_site.schedules``)."""
    return retention_prune()
