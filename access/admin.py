from django.contrib import admin

from .models import ApiToken


@admin.register(ApiToken)
class ApiTokenAdmin(admin.ModelAdmin):
    """Tokens are created through the API (the secret is shown once); here they are listed and
    revoked (deleted). Users see their own; nothing here can reveal a token."""

    list_display = ["token_key", "name", "user", "created", "expiry", "last_used_at"]
    list_select_related = ["user"]
    search_fields = ["token_key", "name"]
    readonly_fields = ["token_key", "name", "user", "created", "expiry", "last_used_at"]
    fields = readonly_fields

    def has_add_permission(self, request) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False
