"""The alert definition admin's channel parts: the secret generated on save, shown once, and the
test button of each saved channel (a POST, by whoever may operate the definition)."""

from __future__ import annotations

from django.contrib import messages
from django.http import Http404
from django.shortcuts import redirect
from django.urls import path
from django.utils.html import format_html
from django.views.decorators.http import require_POST

from . import services


class ChannelRowsAdminMixin:
    """For AlertDefinitionAdmin, whose form mixes in ``channel_forms.ChannelRowsFormMixin`` and
    which provides ``_definition(request, object_id, operate=…)`` (404 unless readable, 403
    unless operable)."""

    def get_urls(self):
        view = self.admin_site.admin_view
        return [
            path(
                "<path:object_id>/channels/<int:index>/test/",
                view(require_POST(self.channel_test_view)),
                name="alerting_alertdefinition_channel_test",
            ),
            *super().get_urls(),
        ]

    def save_related(self, request, form, formsets, change):
        super().save_related(request, form, formsets, change)
        for new in getattr(form, "new_secrets", []):
            text = format_html(
                'Signing secret for {}: <code class="cl-mono" data-new-secret>{}</code> '
                "— copy it now, it will not be shown again.",
                new.url,
                new.secret,
            )
            self.message_user(request, text, messages.WARNING)

    def channel_test_view(self, request, object_id, index: int):
        definition = self._definition(request, object_id, operate=True)
        try:
            outcome = services.alert_channel_test(definition=definition, index=index, user=request.user)
        except services.ChannelMissing:
            raise Http404("No channel with this number.") from None
        self.message_user(
            request, outcome.describe(), messages.SUCCESS if outcome.delivered else messages.ERROR
        )
        return redirect("admin:alerting_alertdefinition_change", definition.pk)
