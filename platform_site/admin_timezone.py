"""Times in the admin read in the viewer's org time zone (org settings ``timezone``, default UTC)."""

from __future__ import annotations

import zoneinfo
from collections.abc import Callable

from django.utils import timezone

from .database import disconnect_errors

# ``lookup(org_id)``: the org's time zone name as its settings hold it (anything not a valid name
# reads as UTC); provided by the app that owns the orgs, from its ``AppConfig.ready()``.
_zone_lookup: list[Callable[[object], object]] = []


def register_zone_lookup(lookup: Callable[[object], object]) -> None:
    _zone_lookup[:] = [lookup]


class OrgTimezoneMiddleware:
    """Activates the org's time zone for admin pages; one small query per admin request."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        try:
            zone = _zone_for(request)
        except disconnect_errors():
            # The view meets the outage too and answers 503 (DatabaseUnavailableMiddleware); an
            # error here would be turned into a 500 before that middleware could see it.
            zone = None
        if zone is not None:
            timezone.activate(zone)
            try:
                return self.get_response(request)
            finally:
                timezone.deactivate()
        return self.get_response(request)


def _zone_for(request) -> zoneinfo.ZoneInfo | None:
    if not request.path.startswith("/admin/"):
        return None
    user = getattr(request, "user", None)
    org_id = getattr(user, "org_id", None) if user is not None and user.is_authenticated else None
    return _org_zone(org_id) if org_id else None


def _org_zone(org_id) -> zoneinfo.ZoneInfo:
    name = _zone_lookup[0](org_id) if _zone_lookup else None
    try:
        return zoneinfo.ZoneInfo(name) if isinstance(name, str) and name else zoneinfo.ZoneInfo("UTC")
    except (zoneinfo.ZoneInfoNotFoundError, ValueError):
        return zoneinfo.ZoneInfo("UTC")
