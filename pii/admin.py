from django.contrib import admin

from platform_site.admin_base import LargeTableAdmin

from .models import PiiAccessLog


@admin.register(PiiAccessLog)
class PiiAccessLogAdmin(LargeTableAdmin):
    """Read-only: the access log is append-only on every surface."""

    list_display = ["accessed_at", "user", "action", "dataset", "column_name", "record_id"]
    list_filter = ["action"]
    list_select_related = ["user"]
    search_fields = ["dataset", "column_name", "=record_id"]

    def has_add_permission(self, request) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False

    def has_delete_permission(self, request, obj=None) -> bool:
        return False
