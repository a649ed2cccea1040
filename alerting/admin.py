"""Admin for alerting: a definition page with its recent events, delivery health per channel and
its operations (backtest, test-fire, silence, disable/enable); an event page with its deliveries;
a redeliver action. Every operation calls the same services as the API, and who may do it is the
same rule (``alerting.selectors.can_operate`` / ``can_read``)."""

from __future__ import annotations

import json

from django import forms
from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import Http404
from django.shortcuts import redirect
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils.html import format_html, format_html_join

from platform_site.admin_base import LargeTableAdmin, html_table
from platform_site.admin_display import counted

from . import admin_record_pages, services
from .channel_admin import ChannelRowsAdminMixin
from .channel_forms import ChannelRowsFormMixin
from .channel_secrets import redact_channels
from .condition_widget import ConditionBuilder, condition_columns_view
from .models import AlertDefinition, AlertDelivery, AlertEvent
from .selectors import can_operate, can_read, delivery_health


class AlertDefinitionAdminForm(ChannelRowsFormMixin, forms.ModelForm):
    """Runs the definition services' validation: each problem shows on its field. Channels are
    edited as rows (``channel_forms``), whose secrets are write-only: shown redacted, and a
    redacted or missing one is kept as stored."""

    class Meta:
        model = AlertDefinition
        fields = ["org", "name", "condition", "channels", "visibility", "enabled"]

    def _post_clean(self):
        super()._post_clean()
        if self.errors or not getattr(self.instance, "org_id", None):
            return
        previous = AlertDefinition.objects.filter(pk=self.instance.pk).first() if self.instance.pk else None
        errors = services.definition_errors(
            org=self.instance.org,
            condition=self.instance.condition,
            channels=self.instance.channels,
            previous=previous,
        )
        errors = self.take_channel_errors(errors)
        grouped: dict[str, list[str]] = {}
        for key, message in errors.items():
            field = "channels" if key.startswith("channels") else "condition"
            grouped.setdefault(field, []).append(f"{key}: {message}")
        if grouped:
            self._update_errors(ValidationError(grouped))


class BacktestForm(forms.Form):
    first = forms.CharField(required=False, label="From partition (inclusive)", max_length=200)
    last = forms.CharField(required=False, label="To partition (inclusive)", max_length=200)

    def clean(self):
        data = super().clean()
        if data.get("first") and data.get("last") and data["first"] > data["last"]:
            raise ValidationError("the range ends before it starts")
        return data


class SilenceForm(forms.Form):
    until = forms.DateTimeField(
        required=False, help_text="e.g. 2026-12-01 18:00 (the site's time zone); empty lifts the silence"
    )


@admin.register(AlertDefinition)
class AlertDefinitionAdmin(ChannelRowsAdminMixin, admin.ModelAdmin):
    form = AlertDefinitionAdminForm
    list_display = ["name", "org", "user", "dataset", "visibility", "enabled", "silenced", "updated_at"]
    list_filter = ["enabled", "visibility", "org"]
    list_select_related = ["org", "user"]
    search_fields = ["name"]
    autocomplete_fields = ["org", "user"]
    actions = ["disable", "enable", "test_fire"]
    readonly_fields = ["operations", "channels_shown", "recent_events", "health", "created_at", "updated_at"]
    fieldsets = [
        (None, {"fields": ["org", "name", "condition", "channels", "visibility", "enabled"]}),
        ("Operations", {"fields": ["operations"]}),
        ("Recent events", {"fields": ["recent_events"]}),
        ("Delivery health per channel", {"fields": ["health"]}),
        ("Times", {"fields": ["created_at", "updated_at"]}),
    ]

    # What only a saved definition has: the add page leaves these out.
    SAVED_ONLY_FIELDSETS = {"Operations", "Recent events", "Delivery health per channel", "Times"}
    SAVED_ONLY_FIELDS = {"operations", "recent_events", "health", "created_at", "updated_at"}

    def get_readonly_fields(self, request, obj=None):
        fields = super().get_readonly_fields(request, obj)
        return fields if obj is not None else [f for f in fields if f not in self.SAVED_ONLY_FIELDS]

    def get_fieldsets(self, request, obj=None):
        # A page shown read-only renders stored values, not the form: its channels show redacted.
        fieldsets = super().get_fieldsets(request, obj)
        if obj is None:
            return [(name, options) for name, options in fieldsets if name not in self.SAVED_ONLY_FIELDSETS]
        if self.has_change_permission(request, obj):
            return fieldsets
        return [
            (
                name,
                {
                    **options,
                    "fields": ["channels_shown" if f == "channels" else f for f in options["fields"]],
                },
            )
            for name, options in fieldsets
        ]

    @admin.display(description="Channels")
    def channels_shown(self, definition: AlertDefinition) -> str:
        return format_html("<pre>{}</pre>", json.dumps(redact_channels(definition.channels), indent=1))

    def save_model(self, request, obj, form, change):
        if not obj.user_id:  # the creator is whoever adds it (superusers too)
            obj.user = request.user
        services.alert_definition_save(definition=obj)

    @admin.display(description="Dataset")
    def dataset(self, definition: AlertDefinition) -> str:
        return (
            (definition.condition or {}).get("dataset", "") if isinstance(definition.condition, dict) else ""
        )

    @admin.display(description="Silenced until")
    def silenced(self, definition: AlertDefinition) -> str:
        condition = definition.condition if isinstance(definition.condition, dict) else {}
        return condition.get("silenced_until") or "—"

    # -- the definition page -------------------------------------------------------------------
    @admin.display(description="Operations")
    def operations(self, definition: AlertDefinition) -> str:
        if not definition.pk:
            return "Save the definition first."
        links = [
            ("backtest", "Backtest over past partitions…"),
            ("test-fire", "Test-fire a sample event…"),
            ("silence", "Silence…"),
            ("toggle", "Disable…" if definition.enabled else "Enable…"),
        ]
        return format_html_join(
            " · ",
            '<a href="{}">{}</a>',
            (
                (
                    reverse(f"admin:alerting_alertdefinition_{name.replace('-', '_')}", args=[definition.pk]),
                    label,
                )
                for name, label in links
            ),
        )

    @admin.display(description="Recent events")
    def recent_events(self, definition: AlertDefinition) -> str:
        events = definition.events.order_by("-created_at")[:20] if definition.pk else []
        return html_table(
            ["Event", "Kind", "Severity", "Block", "Tx", "Created"],
            [
                (
                    format_html(
                        '<a href="{}">{}</a>', reverse("admin:alerting_alertevent_change", args=[e.pk]), e.pk
                    ),
                    (e.payload or {}).get("kind", "event"),
                    e.severity,
                    e.block_number,
                    (e.tx_hash or "")[:18],
                    e.created_at,
                )
                for e in events
            ],
        )

    @admin.display(description="Deliveries by channel and status")
    def health(self, definition: AlertDefinition) -> str:
        rows = delivery_health(definition) if definition.pk else []
        statuses = [s.value for s in AlertDelivery.Status]
        return html_table(
            ["Channel", *statuses], [(r["channel"], *[r.get(s, 0) for s in statuses]) for r in rows]
        )

    # -- actions on many -------------------------------------------------------------------------
    def _operable(self, request, queryset):
        allowed = [d for d in queryset if can_operate(request.user, d)]
        refused = len(queryset) - len(allowed)
        if refused:
            self.message_user(
                request,
                f"{counted(refused, 'definition')} skipped: you may not change them",
                messages.WARNING,
            )
        return allowed

    @admin.action(description="Disable")
    def disable(self, request, queryset):
        for definition in self._operable(request, queryset):
            services.alert_definition_set_enabled(definition=definition, enabled=False)

    @admin.action(description="Enable")
    def enable(self, request, queryset):
        for definition in self._operable(request, queryset):
            services.alert_definition_set_enabled(definition=definition, enabled=True)

    @admin.action(description="Test-fire (a sample event to every channel)")
    def test_fire(self, request, queryset):
        fired = [
            services.alert_definition_test_fire(definition=d, user=request.user)
            for d in self._operable(request, queryset)
        ]
        self.message_user(request, f"{counted(len(fired), 'sample event')} sent")

    # -- the condition builder -------------------------------------------------------------------
    def formfield_for_dbfield(self, db_field, request, **kwargs):
        if db_field.name == "condition":  # its dataset picker lists what this user may read
            kwargs["widget"] = ConditionBuilder(user=request.user)
        return super().formfield_for_dbfield(db_field, request, **kwargs)

    # -- operation pages -------------------------------------------------------------------------
    def get_urls(self):
        view = self.admin_site.admin_view
        return [
            path(
                "condition-columns/",
                view(condition_columns_view),
                name="alerting_alertdefinition_condition_columns",
            ),
            path(
                "<path:object_id>/backtest/",
                view(self.backtest_view),
                name="alerting_alertdefinition_backtest",
            ),
            path(
                "<path:object_id>/test-fire/",
                view(self.test_fire_view),
                name="alerting_alertdefinition_test_fire",
            ),
            path(
                "<path:object_id>/silence/", view(self.silence_view), name="alerting_alertdefinition_silence"
            ),
            path("<path:object_id>/toggle/", view(self.toggle_view), name="alerting_alertdefinition_toggle"),
            *super().get_urls(),
        ]

    def _definition(self, request, object_id, *, operate: bool) -> AlertDefinition:
        try:
            definition = self.get_queryset(request).filter(pk=object_id).first()
        except (ValidationError, ValueError):
            definition = None
        if definition is None or not can_read(request.user, definition):
            raise Http404("No alert definition with this id.")
        if operate and not can_operate(request.user, definition):
            raise PermissionDenied
        return definition

    def _page(self, request, definition, title: str, **context):
        return TemplateResponse(
            request,
            "admin/alerting/alertdefinition_operation.html",
            {
                **self.admin_site.each_context(request),
                "title": title,
                "definition": definition,
                "opts": self.model._meta,
                "original": definition,
                **context,
            },
        )

    def _back(self, definition):
        return redirect("admin:alerting_alertdefinition_change", definition.pk)

    def backtest_view(self, request, object_id):
        definition = self._definition(request, object_id, operate=False)
        form = BacktestForm(request.POST or None)
        result = None
        if request.method == "POST" and form.is_valid():
            try:
                result = services.alert_definition_backtest(
                    definition=definition,
                    reader=request.user,
                    first=form.cleaned_data["first"] or None,
                    last=form.cleaned_data["last"] or None,
                )
            except ValidationError as exc:
                form.add_error(None, "; ".join(exc.messages))
        sample = (
            [json.dumps(s, indent=1, sort_keys=True, default=str) for s in result.sample] if result else []
        )
        return self._page(
            request,
            definition,
            f"Backtest {definition}",
            form=form,
            result=result,
            sample=sample,
            submit="Run backtest",
            explanation="Evaluates the definition over the current partitions in the range and reports "
            "how many events it would have raised, with a sample. Nothing is created or sent.",
        )

    def test_fire_view(self, request, object_id):
        definition = self._definition(request, object_id, operate=True)
        if request.method == "POST":
            event = services.alert_definition_test_fire(definition=definition, user=request.user)
            self.message_user(
                request, f"Sample event {event.pk} sent to {counted(len(definition.channels), 'channel')}"
            )
            return redirect("admin:alerting_alertevent_change", event.pk)
        return self._page(
            request,
            definition,
            f"Test-fire {definition}",
            form=forms.Form(),
            submit="Send a sample event",
            explanation="Sends one event marked as a sample (kind 'sample') to every channel of the "
            "definition, even when it is disabled or silenced.",
        )

    def silence_view(self, request, object_id):
        definition = self._definition(request, object_id, operate=True)
        form = SilenceForm(request.POST or None)
        if request.method == "POST" and form.is_valid():
            services.alert_definition_silence(definition=definition, until=form.cleaned_data["until"])
            until = form.cleaned_data["until"]
            self.message_user(request, f"Silenced until {until}" if until else "Silence lifted")
            return self._back(definition)
        return self._page(
            request,
            definition,
            f"Silence {definition}",
            form=form,
            submit="Save",
            explanation="A silenced definition still records its events but delivers nothing.",
        )

    def toggle_view(self, request, object_id):
        definition = self._definition(request, object_id, operate=True)
        if request.method == "POST":
            services.alert_definition_set_enabled(definition=definition, enabled=not definition.enabled)
            self.message_user(request, "Enabled" if definition.enabled else "Disabled")
            return self._back(definition)
        verb = "Disable" if definition.enabled else "Enable"
        return self._page(
            request, definition, f"{verb} {definition}", form=forms.Form(), submit=verb, explanation=""
        )


class ReadOnlyRecordAdmin(LargeTableAdmin):
    """Events and deliveries are written by the platform only: no add, no edit, no delete here."""

    def has_add_permission(self, request, *args) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False

    def has_delete_permission(self, request, obj=None) -> bool:
        return False


@admin.register(AlertEvent)
class AlertEventAdmin(ReadOnlyRecordAdmin):
    list_display = [
        "id",
        "definition",
        "kind",
        "severity",
        "chain_id",
        "block_number",
        "tx_hash",
        "source_dataset",
        "producer_job_shown",
        "producer_task_shown",
        "created_at",
    ]
    list_filter = ["severity"]
    list_select_related = ["alert_definition", "producer_job__org"]
    search_fields = ["=id", "=tx_hash", "=block_hash", "=dedupe_key"]
    raw_id_fields = ["org", "alert_definition", "producer_job", "producer_task"]
    readonly_fields = [
        "deliveries_table",
        "created_at",
        "definition",
        "producer_job_shown",
        "producer_task_shown",
    ]
    # On the read-only page these show as links to what the viewer may read, plain otherwise.
    _SHOWN_AS = {
        "alert_definition": "definition",
        "producer_job": "producer_job_shown",
        "producer_task": "producer_task_shown",
    }

    def get_queryset(self, request):
        return admin_record_pages.with_readable_links(super().get_queryset(request), request.user)

    def get_fields(self, request, obj=None):
        fields = [self._SHOWN_AS.get(f, f) for f in super().get_fields(request, obj)]
        return list(dict.fromkeys(fields))

    @admin.display(description="Alert definition", ordering="alert_definition__name")
    def definition(self, event: AlertEvent) -> str:
        return admin_record_pages.definition_link(event)

    @admin.display(description="Producer job")
    def producer_job_shown(self, event: AlertEvent) -> str:
        return admin_record_pages.producer_job_link(event)

    @admin.display(description="Producer task")
    def producer_task_shown(self, event: AlertEvent) -> str:
        return admin_record_pages.producer_task_link(event)

    @admin.display(description="Kind")
    def kind(self, event: AlertEvent) -> str:
        return (event.payload or {}).get("kind", "event") if isinstance(event.payload, dict) else "event"

    @admin.display(description="Deliveries")
    def deliveries_table(self, event: AlertEvent) -> str:
        deliveries = event.deliveries.order_by("id") if event.pk else []
        return html_table(
            [
                "Delivery",
                "Channel",
                "Status",
                "Attempts",
                "Last attempt",
                "Next attempt",
                "Delivered",
                "Error",
            ],
            [
                (
                    format_html(
                        '<a href="{}">{}</a>',
                        reverse("admin:alerting_alertdelivery_change", args=[d.pk]),
                        d.pk,
                    ),
                    d.channel,
                    d.status,
                    d.attempt,
                    d.last_attempt_at,
                    d.next_attempt_at,
                    d.delivered_at,
                    (d.error_message or "")[:300],
                )
                for d in deliveries
            ],
        )


@admin.register(AlertDelivery)
class AlertDeliveryAdmin(ReadOnlyRecordAdmin):
    list_display = [
        "id",
        "event_shown",
        "channel",
        "status",
        "attempt",
        "next_attempt_at",
        "delivered_at",
        "error_excerpt",
        "created_at",
    ]
    list_filter = ["status", "channel"]
    list_select_related = ["alert_event"]
    search_fields = ["=id", "=provider_message_id"]
    raw_id_fields = ["org", "alert_event"]
    readonly_fields = ["created_at", "updated_at", "attempts", "event_shown"]
    actions = ["redeliver"]
    change_form_outer_before_template = "admin/alerting/alertdelivery_buttons.html"

    def get_fieldsets(self, request, obj=None):
        # The event reads as a link to its page (which answers only to whoever may read it).
        shown = {"alert_event": "event_shown"}
        fields = [shown.get(f, f) for f in self.get_fields(request, obj)]
        fields = [f for f in dict.fromkeys(fields) if f != "attempts"]
        return [(None, {"fields": fields}), ("Attempts", {"fields": ["attempts"]})]

    @admin.display(description="Alert event")
    def event_shown(self, delivery: AlertDelivery) -> str:
        event = delivery.alert_event
        return format_html(
            '<a href="{}">{}</a>', reverse("admin:alerting_alertevent_change", args=[event.pk]), event
        )

    def get_urls(self):
        return [
            path(
                "<path:object_id>/redeliver/",
                self.admin_site.admin_view(
                    lambda request, object_id: admin_record_pages.redeliver_view(self, request, object_id)
                ),
                name="alerting_alertdelivery_redeliver",
            ),
            *super().get_urls(),
        ]

    def changeform_view(self, request, object_id=None, form_url="", extra_context=None):
        delivery = self.get_object(request, object_id) if object_id else None
        if delivery is not None and admin_record_pages.may_redeliver(request.user, delivery):
            extra_context = {
                **(extra_context or {}),
                "redeliver_url": reverse("admin:alerting_alertdelivery_redeliver", args=[delivery.pk]),
            }
        return super().changeform_view(request, object_id, form_url, extra_context)

    @admin.display(description="Attempts (newest last)")
    def attempts(self, delivery: AlertDelivery) -> str:
        return admin_record_pages.attempts_table(delivery) if delivery.pk else "—"

    @admin.display(description="Error")
    def error_excerpt(self, delivery: AlertDelivery) -> str:
        return (delivery.error_message or "")[:120]

    @admin.action(description="Redeliver (send again, same event id)")
    def redeliver(self, request, queryset):
        done = skipped = 0
        for delivery in queryset.select_related("alert_event__alert_definition"):
            if can_operate(request.user, delivery.alert_event.alert_definition):
                services.delivery_redeliver(delivery=delivery)
                done += 1
            else:
                skipped += 1
        self.message_user(request, f"{done} delivery(ies) queued again")
        if skipped:
            self.message_user(
                request, f"{skipped} skipped: you may not change their definitions", messages.WARNING
            )
