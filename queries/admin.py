"""Admin for saved queries and results, plus the SQL console and the datasets page.

The console (``/admin/queries/savedquery/console/``) is one page over the query API: the datasets
the user may read with their columns, an editor, run (sync, async for long ones), a paged result
table with row count and duration, errors with their code, cancel, save as a saved query, export
downloads, and a line or bar chart of a result drawn by a script served from this app's static
files. A saved query's page runs it in the console and lists its result history.
"""

from django.contrib import admin
from django.http import Http404
from django.template.response import TemplateResponse
from django.urls import path, reverse

from platform_site import tenancy
from platform_site.admin_base import LargeTableAdmin

from .datasets import datasets_readable_by
from .models import QueryResult, SavedQuery
from .selectors import can_run_queries

HISTORY_ROWS = 25


@admin.register(SavedQuery)
class SavedQueryAdmin(admin.ModelAdmin):
    list_display = ["name", "org", "user", "visibility", "updated_at"]
    list_filter = ["visibility", "org"]
    list_select_related = ["org", "user"]
    search_fields = ["name", "query"]
    autocomplete_fields = ["org", "user"]
    readonly_fields = ["created_at", "updated_at"]
    change_form_template = "admin/queries/savedquery/change_form.html"
    change_list_template = "admin/queries/savedquery/change_list.html"

    def get_urls(self):
        return [
            path("console/", self.admin_site.admin_view(self.console_view), name="queries_console"),
            path("datasets/", self.admin_site.admin_view(self.datasets_view), name="queries_datasets"),
            *super().get_urls(),
        ]

    def console_view(self, request):
        if not can_run_queries(request.user):
            raise Http404
        saved = None
        wanted = request.GET.get("saved")
        if wanted:
            saved = tenancy.visible_to(request.user, SavedQuery).filter(pk=_uuid_or_none(wanted)).first()
            if saved is None:
                raise Http404
        context = {
            **self.admin_site.each_context(request),
            "title": "SQL console",
            "opts": self.model._meta,
            "datasets": datasets_readable_by(request.user),
            "saved": saved,
            "autorun": bool(saved and request.GET.get("run")),
            "can_save": tenancy.can_create(request.user, SavedQuery),
            "datasets_url": reverse("admin:queries_datasets"),
            "breadcrumbs": _breadcrumbs("SQL console"),
        }
        return TemplateResponse(request, "admin/queries/console.html", context)

    def datasets_view(self, request):
        if not can_run_queries(request.user):
            raise Http404
        context = {
            **self.admin_site.each_context(request),
            "title": "Datasets",
            "opts": self.model._meta,
            "datasets": datasets_readable_by(request.user),
            "console_url": reverse("admin:queries_console"),
            "headers": [
                "Dataset",
                "Producer",
                "Columns",
                "Partitions",
                "Rows",
                "Size",
                "Last publish",
                "Open invalidations",
                "Lineage",
            ],
            "breadcrumbs": _breadcrumbs("Datasets"),
        }
        return TemplateResponse(request, "admin/queries/datasets.html", context)

    def changelist_view(self, request, extra_context=None):
        extra = {
            "console_url": reverse("admin:queries_console"),
            "datasets_url": reverse("admin:queries_datasets"),
        }
        return super().changelist_view(request, {**extra, **(extra_context or {})})

    def change_view(self, request, object_id, form_url="", extra_context=None):
        extra = {}
        saved = self.get_object(request, object_id)
        if saved is not None:
            extra["run_url"] = f"{reverse('admin:queries_console')}?saved={saved.pk}&run=1"
            extra["history"] = list(
                tenancy.visible_to(request.user, QueryResult)
                .filter(saved_query=saved)
                .select_related("user")
                .order_by("-created_at")[:HISTORY_ROWS]
            )
        return super().change_view(request, object_id, form_url, {**extra, **(extra_context or {})})


def _uuid_or_none(value: str):
    import uuid

    try:
        return uuid.UUID(value)
    except ValueError:
        return None


@admin.register(QueryResult)
class QueryResultAdmin(LargeTableAdmin):
    list_display = [
        "id",
        "org",
        "user",
        "saved_query",
        "mode",
        "status",
        "row_count",
        "duration_ms",
        "error_code",
        "created_at",
    ]
    list_filter = ["status", "mode", "error_code"]
    list_select_related = ["org", "user", "saved_query"]
    search_fields = ["=id", "=sql_hash"]
    raw_id_fields = ["org", "user", "saved_query", "task"]
    readonly_fields = ["created_at", "updated_at"]


def _breadcrumbs(page: str) -> list[dict]:
    # The console and the datasets page are pages of their own, not of the saved-query list.
    return [{"title": "Queries", "link": reverse("admin:app_list", args=["queries"])}, {"title": page}]
