from django.contrib import admin

from platform_site.admin_base import LargeTableAdmin

from .models import AlertDefinition, AlertDelivery, AlertEvent


@admin.register(AlertDefinition)
class AlertDefinitionAdmin(admin.ModelAdmin):
    list_display = ["name", "org", "user", "visibility", "enabled", "updated_at"]
    list_filter = ["enabled", "visibility", "org"]
    list_select_related = ["org", "user"]
    search_fields = ["name"]
    autocomplete_fields = ["org", "user"]
    readonly_fields = ["created_at", "updated_at"]


@admin.register(AlertEvent)
class AlertEventAdmin(LargeTableAdmin):
    list_display = [
        "id",
        "alert_definition",
        "severity",
        "chain_id",
        "block_number",
        "tx_hash",
        "source_dataset",
        "created_at",
    ]
    list_filter = ["severity"]
    list_select_related = ["alert_definition"]
    search_fields = ["=id", "=tx_hash", "=block_hash", "=dedupe_key"]
    raw_id_fields = ["org", "alert_definition", "producer_job", "producer_task"]
    readonly_fields = ["created_at"]


@admin.register(AlertDelivery)
class AlertDeliveryAdmin(LargeTableAdmin):
    list_display = [
        "id",
        "alert_event",
        "channel",
        "status",
        "attempt",
        "next_attempt_at",
        "delivered_at",
        "created_at",
    ]
    list_filter = ["status", "channel"]
    list_select_related = ["alert_event"]
    search_fields = ["=id", "=provider_message_id"]
    raw_id_fields = ["org", "alert_event"]
    readonly_fields = ["created_at", "updated_at"]
