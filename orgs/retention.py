"""Where retention reads each org's settings (registered with ``platform_site.retention`` from the
app's ``ready()``): the effective ``retention_days`` and ``result_retention_days`` of every org."""

from __future__ import annotations

from collections.abc import Iterator

from .models import Org
from .settings_schema import org_settings


def org_retention_settings() -> Iterator[tuple[object, dict]]:
    for org in Org.objects.only("id", "settings").iterator():
        yield org.id, org_settings(org.settings)
