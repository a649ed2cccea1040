from django.contrib import admin

from platform_site.admin_base import LargeTableAdmin

from .models import QueryResult, SavedQuery


@admin.register(SavedQuery)
class SavedQueryAdmin(admin.ModelAdmin):
    list_display = ["name", "org", "user", "visibility", "updated_at"]
    list_filter = ["visibility", "org"]
    list_select_related = ["org", "user"]
    search_fields = ["name", "query"]
    autocomplete_fields = ["org", "user"]
    readonly_fields = ["created_at", "updated_at"]


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
