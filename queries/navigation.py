"""The query pages in the admin sidebar (registered with ``platform_site.admin_navigation`` from the
app's ``ready()``): the SQL console and the datasets page, for whoever may run queries."""

from __future__ import annotations

from django.urls import NoReverseMatch, reverse

from .selectors import can_run_queries


def query_pages(request) -> list[dict]:
    if not can_run_queries(request.user):
        return []
    try:
        return [
            {"title": "SQL console", "icon": "terminal", "link": reverse("admin:queries_console")},
            {"title": "Datasets", "icon": "dataset", "link": reverse("admin:queries_datasets")},
        ]
    except NoReverseMatch:
        return []
