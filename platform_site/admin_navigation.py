"""The admin sidebar: an overview group (dashboard, DAGs), then every app's models and record
tables as the admin site lists them for the viewer, so a new admin page shows up on its own and
permissions are the site's. Pages that are not a model list (a console, a catalog) are entries an
app registers for its own section (:func:`register_app_pages`)."""

from __future__ import annotations

import contextlib
from collections.abc import Callable

from django.apps import apps
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


# app label -> ``pages(request)``: the entries an app puts first in its section of the sidebar
# (pages that are not a model list), already filtered to what the viewer may open.
_APP_PAGES: dict[str, Callable[[object], list[dict]]] = {}


def register_app_pages(app_label: str, pages: Callable[[object], list[dict]]) -> None:
    """``pages(request)`` returns sidebar entries (``title``, ``icon``, ``link``) for ``app_label``'s
    section, above its models; an app registers it from its ``AppConfig.ready()``."""
    _APP_PAGES[app_label] = pages


# Apps of the frameworks underneath (sign-in lockouts, auth groups, the task queue): one "System"
# section at the end, for superusers only, instead of sitting among the product's sections.
SYSTEM_APPS = frozenset({"axes", "auth", "django_q", "guardian", "knox", "sessions", "contenttypes", "admin"})


def sidebar_navigation(request) -> list[dict]:
    overview = [{"title": "Dashboard", "icon": "monitoring", "link": reverse("admin:index")}]
    with contextlib.suppress(NoReverseMatch):
        overview.append({"title": "DAGs", "icon": "hub", "link": reverse("admin:orchestration_dags")})
    pages = {label: provide(request) for label, provide in _APP_PAGES.items()}
    on_a_page = any(request.path.startswith(page["link"]) for entries in pages.values() for page in entries)
    groups = [{"title": "Overview", "items": overview}]
    system = []
    for app in admin.site.get_app_list(request):
        items = [
            {
                "title": spelled(str(model["name"])),
                "icon": ICONS.get(model["object_name"], "table"),
                "link": model["admin_url"],
                # An app's own pages live under a model list's address; only their entry lights up.
                **({"active": False} if on_a_page else {}),
            }
            for model in app["models"]
            if model.get("admin_url")
        ]
        items = pages.get(app["app_label"], []) + items
        if not items:
            continue
        if app["app_label"] in SYSTEM_APPS:
            system.extend(items)
        else:
            groups.append({"title": app["name"], "collapsible": True, "items": items})
    # Apps with pages but no model of their own (e.g. chains) get a section of their own too.
    listed = {app["app_label"] for app in admin.site.get_app_list(request)}
    for label, entries in pages.items():
        if entries and label not in listed:
            title = apps.get_app_config(label).verbose_name
            groups.append({"title": title, "collapsible": True, "items": entries})
    if system and request.user.is_superuser:
        groups.append({"title": "System", "collapsible": True, "items": system})
    return groups
