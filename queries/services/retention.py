"""Expiry of query results after their org's retention (``result_retention_days``)."""

from __future__ import annotations

import contextlib
from datetime import timedelta

from django.db.models import Q
from django.utils import timezone

from orgs.models import Org
from orgs.settings_schema import org_settings
from versioning.storage import result_store

from ..models import QueryResult

PURGE_BATCH = 1000


def query_results_purge(*, now=None, progress=None) -> int:
    """Mark results past their org's retention ``expired`` and delete their files, in batches.

    A file shared by cache hits is deleted only when no unexpired result still points at it.
    Returns the number of results expired.
    """
    now = now or timezone.now()
    storage = result_store()
    expired = 0
    for org in Org.objects.only("id", "settings").iterator():
        cutoff = now - timedelta(days=org_settings(org.settings)["result_retention_days"])
        while True:
            batch = list(
                QueryResult.objects.filter(org=org, created_at__lt=cutoff)
                .exclude(status=QueryResult.Status.EXPIRED)
                .order_by("created_at")
                .values_list("id", "output_location")[:PURGE_BATCH]
            )
            if not batch:
                break
            ids = [pk for pk, _ in batch]
            QueryResult.objects.filter(pk__in=ids).update(
                status=QueryResult.Status.EXPIRED,
                error_code=None,
                error_message=f"expired after the org's retention of "
                f"{org_settings(org.settings)['result_retention_days']} days",
                updated_at=now,
            )
            locations = {loc for _, loc in batch if loc}
            still_used = set(
                QueryResult.objects.filter(org=org, output_location__in=locations)
                .filter(~Q(status=QueryResult.Status.EXPIRED))
                .values_list("output_location", flat=True)
            )
            for location in locations - still_used:
                with contextlib.suppress(FileNotFoundError, OSError):
                    storage.delete(location)
            expired += len(ids)
            if progress:
                progress(len(ids))
    return expired
