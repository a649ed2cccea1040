from django.contrib import admin
from django.contrib.admin.options import IncorrectLookupParameters
from django.core.exceptions import PermissionDenied
from django.http import HttpResponseBadRequest
from django.template.response import TemplateResponse
from django.urls import path

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
        context = {
            **self.admin_site.each_context(request),
            "title": "Personal data registry",
            "opts": self.opts,
            "entries": registry_visible_to(request.user),
        }
        return TemplateResponse(request, "admin/pii/registry.html", context)
