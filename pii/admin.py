from django.contrib import admin
from django.contrib.admin.options import IncorrectLookupParameters
from django.core.exceptions import PermissionDenied
from django.http import HttpResponseBadRequest
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils.safestring import mark_safe

from orgs.roles import can_audit_personal_data
from platform_site.admin_base import LargeTableAdmin

from .exports import access_log_csv_response
from .models import PiiAccessLog
from .selectors import registry_visible_to


@admin.register(PiiAccessLog)
class PiiAccessLogAdmin(LargeTableAdmin):
    """Read-only: the access log is append-only on every surface. Auditors filter it here and export
    the filtered rows as CSV; the personal-data registry is a page of its own."""

    list_display = ["accessed_at", "user", "action", "dataset", "column_name", "record_id"]
    # The model is named for the log; the list's footer counts its entries.
    result_noun, result_noun_plural = "entry", "entries"
    list_filter = ["action", "accessed_at"]
    list_select_related = ["user"]
    search_fields = ["dataset", "column_name", "=record_id", "=user__external_id"]
    raw_id_fields = ["user"]

    def has_add_permission(self, request) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False

    def has_delete_permission(self, request, obj=None) -> bool:
        return False

    def get_actions(self, request):
        return {}  # no bulk delete, nothing else either

    def get_urls(self):
        info = self.opts.app_label, self.opts.model_name
        return [
            path("export/", self.admin_site.admin_view(self.export_view), name="{}_{}_export".format(*info)),
            path(
                "registry/",
                self.admin_site.admin_view(self.registry_view),
                name="{}_{}_registry".format(*info),
            ),
            *super().get_urls(),
        ]

    def export_view(self, request):
        """The changelist's rows (same filters and search) as a streamed CSV."""
        if not (self.has_view_permission(request) and can_audit_personal_data(request.user)):
            raise PermissionDenied
        try:
            changelist = self.get_changelist_instance(request)
            queryset = changelist.get_queryset(request)
        except IncorrectLookupParameters:
            return HttpResponseBadRequest("unknown or malformed filter")
        return access_log_csv_response(queryset)

    def registry_view(self, request):
        if not self.has_module_permission(request):
            raise PermissionDenied
        entries = registry_visible_to(request.user)
        context = {
            **self.admin_site.each_context(request),
            "title": "Personal data registry",
            "opts": self.opts,
            "entries": entries,
            "registry_headers": ["Dataset or table", "Column", "Strategy", "Declared by"],
            "registry_rows": [(e.dataset, e.column, e.strategy.label, e.declared_by) for e in entries],
            "breadcrumbs": [
                {"title": self.opts.app_config.verbose_name, "link": reverse("admin:app_list", args=["pii"])},
                {
                    "title": self.opts.verbose_name_plural,
                    "link": reverse("admin:pii_piiaccesslog_changelist"),
                },
                {"title": "Personal data registry"},
            ],
            "intro": mark_safe(
                "Columns and fields holding personal data, and how every surface masks them. Dataset columns "
                "are declared by their producing job (<code>config.pii_columns</code>) or in the "
                "<code>PII_DATASET_COLUMNS</code> setting; model fields in <code>PII_MODEL_FIELDS</code>. "
                "Read-only."
            ),
        }
        return TemplateResponse(request, "admin/pii/registry.html", context)
