"""The admin sidebar: an overview group (dashboard, DAGs), then every app's models and record
tables as the admin site lists them for the viewer, so a new admin page shows up on its own and
permissions are the site's."""

from __future__ import annotations

import contextlib

from django.contrib import admin
from django.shortcuts import redirect
from django.templatetags.static import static
from django.urls import NoReverseMatch, reverse

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
    "SavedQuery": "terminal",
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


def sidebar_navigation(request) -> list[dict]:
    overview = [{"title": "Dashboard", "icon": "monitoring", "link": reverse("admin:index")}]
    with contextlib.suppress(NoReverseMatch):
        overview.append({"title": "DAGs", "icon": "hub", "link": reverse("admin:orchestration_dags")})
    groups = [{"title": "Overview", "items": overview}]
    for app in admin.site.get_app_list(request):
        items = [
            {
                "title": model["name"],
                "icon": ICONS.get(model["object_name"], "table"),
                "link": model["admin_url"],
            }
            for model in app["models"]
            if model.get("admin_url")
        ]
        if items:
            groups.append({"title": app["name"], "collapsible": True, "items": items})
    return groups
