"""Admin for saved queries and results, plus the SQL console and the datasets page.

The console (``/admin/queries/savedquery/console/``) is one page over the query API: the datasets
the user may read with their columns, an editor, run (sync, async for long ones), a paged result
table with row count and duration, errors with their code, cancel, save as a saved query, export
downloads, and a line or bar chart of a result drawn by a script served from this app's static
files. A saved query's page runs it in the console and lists its result history; the console opened
for a saved query lists that history too, with the run it just made (``?result=<id>``, which the
page's address keeps so that a reload shows the run again instead of running it again) pinned at
the top as "this run", refreshed from ``<saved query>/results/`` as the run progresses.
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
            path(
                "<uuid:object_id>/results/",
                self.admin_site.admin_view(self.result_history_view),
                name="queries_savedquery_results",
            ),
            *super().get_urls(),
        ]

    def console_view(self, request):
        if not can_run_queries(request.user):
            raise Http404
        saved = this_run = None
        wanted = request.GET.get("saved")
        if wanted:
            saved = _visible_saved_query(request.user, wanted)
            if request.GET.get("result"):
                this_run = _visible_run(request.user, saved, request.GET["result"])
        context = {
            **self.admin_site.each_context(request),
            "title": "SQL console",
            "opts": self.model._meta,
            "datasets": datasets_readable_by(request.user),
            "saved": saved,
            "autorun": bool(saved and request.GET.get("run") and this_run is None),
            "this_run": this_run,
            "history": result_history(request.user, saved, this_run) if saved else [],
            "history_url": _history_url(saved) if saved else "",
            "can_save": tenancy.can_create(request.user, SavedQuery),
            "datasets_url": reverse("admin:queries_datasets"),
            "breadcrumbs": _breadcrumbs("SQL console"),
        }
        return TemplateResponse(request, "admin/queries/console.html", context)

    def result_history_view(self, request, object_id):
        """The result history of a saved query, as the fragment the console swaps in; ``this_run``
        is a run of it the user may see (another id is refused, not ignored)."""
        if not can_run_queries(request.user):
            raise Http404
        saved = _visible_saved_query(request.user, str(object_id))
        wanted = request.GET.get("this_run")
        this_run = _visible_run(request.user, saved, wanted) if wanted else None
        context = {"history": result_history(request.user, saved, this_run), "this_run": this_run}
        return TemplateResponse(request, "admin/queries/savedquery/result_history.html", context)

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
            extra["history"] = result_history(request.user, saved)
        return super().change_view(request, object_id, form_url, {**extra, **(extra_context or {})})


def result_history(user, saved: SavedQuery, this_run: QueryResult | None = None) -> list[QueryResult]:
    """The runs of ``saved`` that ``user`` may see, newest first; ``this_run`` pinned at the top."""
    runs = tenancy.visible_to(user, QueryResult).filter(saved_query=saved).select_related("user")
    if this_run is None:
        return list(runs.order_by("-created_at")[:HISTORY_ROWS])
    others = runs.exclude(pk=this_run.pk).order_by("-created_at")[: HISTORY_ROWS - 1]
    return [this_run, *others]


def _visible_saved_query(user, wanted: str) -> SavedQuery:
    saved = tenancy.visible_to(user, SavedQuery).filter(pk=_uuid_or_none(wanted)).first()
    if saved is None:
        raise Http404
    return saved


def _visible_run(user, saved: SavedQuery, wanted: str) -> QueryResult:
    """A run of ``saved`` that ``user`` may see (the results' own visibility), else 404."""
    run = (
        tenancy.visible_to(user, QueryResult)
        .filter(saved_query=saved, pk=_uuid_or_none(wanted))
        .select_related("user")
        .first()
    )
    if run is None:
        raise Http404
    return run


def _history_url(saved: SavedQuery) -> str:
    return reverse("admin:queries_savedquery_results", args=[saved.pk])


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
