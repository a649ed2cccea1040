"""The admin sidebar: an overview group (dashboard, DAGs), then every app's models and record
tables as the admin site lists them for the viewer, so a new admin page shows up on its own and
permissions are the site's."""

from __future__ import annotations

import contextlib

from django.contrib import admin
from django.shortcuts import redirect
from django.templatetags.static import static
from django.urls import NoReverseMatch, reverse

from .admin_theme import spelled

# Material Symbols names (shipped with the theme) per model; anything else gets a table icon.
ICONS = {
    "Job": "account_tree",
    "Task": "task_alt",
    "TaskInput": "input",
    "ColumnLineage": "timeline",
    "AddressLabel": "label",
    "PartitionVersion": "inventory_2",
    "DatasetCursor": "bookmark",
    "DataInvalidation": "restart_alt",
    "SavedQuery": "bookmark_star",
    "QueryResult": "table_view",
    "AlertDefinition": "notifications",
    "AlertEvent": "campaign",
    "AlertDelivery": "send",
    "Org": "corporate_fare",
    "User": "person",
    "OrgRole": "badge",
    "OrgRoleMembership": "group",
    "PiiAccessLog": "policy",
    "ApiToken": "key",
    "Group": "groups",
}


def admin_stylesheet(request) -> str:
    return static("chainlake/admin.css")


def favicon_url(request) -> str:
    return static("chainlake/favicon.svg")


def favicon_redirect(request):
    # Resolved per request: with hashed static file names the URL is only known once collected.
    return redirect(static("chainlake/favicon.svg"))


# Apps of the frameworks underneath (sign-in lockouts, auth groups, the task queue): one "System"
# section at the end, for superusers only, instead of sitting among the product's sections.
SYSTEM_APPS = frozenset({"axes", "auth", "django_q", "guardian", "knox", "sessions", "contenttypes", "admin"})


def sidebar_navigation(request) -> list[dict]:
    overview = [{"title": "Dashboard", "icon": "monitoring", "link": reverse("admin:index")}]
    with contextlib.suppress(NoReverseMatch):
        overview.append({"title": "DAGs", "icon": "hub", "link": reverse("admin:orchestration_dags")})
    pages = _query_pages(request)
    on_a_page = any(request.path.startswith(page["link"]) for page in pages)
    groups = [{"title": "Overview", "items": overview}]
    system = []
    for app in admin.site.get_app_list(request):
        items = [
            {
                "title": spelled(str(model["name"])),
                "icon": ICONS.get(model["object_name"], "table"),
                "link": model["admin_url"],
                # The console lives under the saved-query list's address; only its own entry lights up.
                **({"active": False} if on_a_page else {}),
            }
            for model in app["models"]
            if model.get("admin_url")
        ]
        if app["app_label"] == "queries":
            items = pages + items
        if not items:
            continue
        if app["app_label"] in SYSTEM_APPS:
            system.extend(items)
        else:
            groups.append({"title": app["name"], "collapsible": True, "items": items})
    if system and request.user.is_superuser:
        groups.append({"title": "System", "collapsible": True, "items": system})
    return groups


def _query_pages(request) -> list[dict]:
    """The SQL console and the datasets page, for whoever may run queries."""
    from queries.selectors import can_run_queries  # the site is assembled from the apps

    if not can_run_queries(request.user):
        return []
    try:
        return [
            {"title": "SQL console", "icon": "terminal", "link": reverse("admin:queries_console")},
            {"title": "Datasets", "icon": "dataset", "link": reverse("admin:queries_datasets")},
        ]
    except NoReverseMatch:
        return []
