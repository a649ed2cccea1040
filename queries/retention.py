"""Retention of query results (registered with ``platform_site.retention`` from the app's
``ready()``): the rows of results created more than the org's ``result_retention_days`` ago are
deleted, with any file left. (``services/retention.py`` marks results past that age expired and frees
their files; this rule deletes the rows themselves.)"""

from __future__ import annotations

import logging
from datetime import datetime, timedelta

from platform_site.retention import delete_in_batches
from versioning.storage import result_store

from .models import QueryResult

log = logging.getLogger(__name__)


def prune_query_results(org_id, org_settings: dict, now: datetime) -> dict[str, int]:
    cutoff = now - timedelta(days=org_settings["result_retention_days"])
    files: list[str] = []

    def remember_files(ids):
        files.extend(
            QueryResult.objects.filter(pk__in=ids, output_location__isnull=False).values_list(
                "output_location", flat=True
            )
        )

    deleted = delete_in_batches(
        QueryResult,
        """
        SELECT id FROM query_results WHERE org_id = %(org)s AND created_at < %(cutoff)s
        ORDER BY created_at LIMIT %(batch)s
        """,
        {"org": org_id, "cutoff": cutoff},
        on_batch=remember_files,
    )
    _delete_result_files(files)
    return {"query_results": deleted}


def _delete_result_files(locations: list[str]) -> None:
    """Best effort: a file left behind is only space, the row that pointed at it is gone."""
    if not locations:
        return
    store = result_store()
    for location in locations:
        try:
            if store.exists(location):
                store.delete(location)
        except Exception as exc:
            log.warning("could not delete query result file %s: %s", location, exc)
