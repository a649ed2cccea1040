"""Times in the admin read in the viewer's org time zone (org settings ``timezone``, default UTC)."""

from __future__ import annotations

import zoneinfo

from django.utils import timezone


class OrgTimezoneMiddleware:
    """Activates the org's time zone for admin pages; one small query per admin request."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        user = getattr(request, "user", None)
        org_id = getattr(user, "org_id", None) if user is not None and user.is_authenticated else None
        if org_id and request.path.startswith("/admin/"):
            timezone.activate(_org_zone(org_id))
            try:
                return self.get_response(request)
            finally:
                timezone.deactivate()
        return self.get_response(request)


def _org_zone(org_id) -> zoneinfo.ZoneInfo:
    from orgs.models import Org

    name = Org.objects.filter(pk=org_id).values_list("settings__timezone", flat=True).first()
    try:
        return zoneinfo.ZoneInfo(name) if isinstance(name, str) and name else zoneinfo.ZoneInfo("UTC")
    except (zoneinfo.ZoneInfoNotFoundError, ValueError):
        return zoneinfo.ZoneInfo("UTC")
