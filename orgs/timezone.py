"""An org's time zone for the admin (registered with ``platform_site.admin_timezone`` from the
app's ``ready()``): the ``timezone`` of its settings, one small query per admin request."""

from __future__ import annotations

from .models import Org


def org_timezone_name(org_id) -> object:
    return Org.objects.filter(pk=org_id).values_list("settings__timezone", flat=True).first()
