"""Masking in the admin: a ModelAdmin mixin driven by the registry.

On list and change pages every registered field of the model shows masked; on a change page it is
read-only (nobody overwrites what they cannot see). ``?unmask=1`` on the page, by a user holding the
unmask right, shows the real values (and the editable field); without the right it is a 403. Each
unmasked page writes one ``admin_view`` access-log row per field and record shown, in the page's
transaction, before the page leaves. Add pages are not masked: there is nothing stored to reveal.
"""

from __future__ import annotations

from django.contrib import messages
from django.contrib.admin.utils import flatten_fieldsets
from django.db import transaction
from django.utils.html import format_html

from orgs.roles import can_unmask_personal_data

from .masking import mask_value, unmask_allowed
from .models import PiiAccessLog
from .registry import fields_of_model, personal_field_of_path
from .services import access_log_write

UNMASK_PARAM = "unmask"
MASKED_PREFIX = "pii_masked_"


def personal_lookup_error(model_admin, request, model, path: str) -> str | None:
    """The admin's one rule for filters, search, sidebar filters and ordering on personal data
    (a lookup guard of :mod:`platform_site.admin_lookups`, so it holds for every admin page and
    through relations): on a masked page they are oracles on the raw value, refused; on a page
    unmasked by a holder of the right they run, and what the page shows is logged."""
    field = personal_field_of_path(model, path)
    if field is None:
        return None
    decide = getattr(model_admin, "_pii_unmask", None)
    if decide is not None and decide(request):
        return None
    how = "; unmask the page to use it (each view is logged)" if decide is not None else ""
    return f"{field} is personal data, masked on this page{how}"


class PiiMaskedAdminMixin:
    pii_masked = True

    # --- the request's decision ------------------------------------------------------------------

    def _pii_unmask(self, request) -> bool:
        """Decided once per request; the parameter is taken out of ``request.GET`` so the changelist
        does not read it as a filter."""
        if not hasattr(request, "_pii_unmask"):
            raw = request.GET.get(UNMASK_PARAM)
            if raw is not None:
                request.GET = request.GET.copy()
                del request.GET[UNMASK_PARAM]
            requested = raw is not None and raw.strip().lower() in ("1", "true", "yes")
            request._pii_reads = []
            request._pii_unmask = unmask_allowed(request.user, requested=requested)
        return request._pii_unmask

    def _pii_flush(self, request) -> None:
        reads = getattr(request, "_pii_reads", None)
        if reads:
            access_log_write(user=request.user, action=PiiAccessLog.Action.ADMIN_VIEW, reads=reads)
            request._pii_reads = []

    def _pii_offer_unmask(self, request) -> None:
        """A holder of the unmask right sees a link to the unmasked page (nobody unmasks by accident)."""
        if (
            request._pii_unmask
            or not fields_of_model(self.model)
            or not can_unmask_personal_data(request.user)
        ):
            return
        query = request.GET.copy()
        query[UNMASK_PARAM] = "1"
        messages.info(
            request,
            format_html(
                'Personal data is masked. <a href="?{}">Show it unmasked</a> (each view is logged).',
                query.urlencode(),
            ),
        )

    def _pii_render(self, request, response):
        # Lists and change pages are rendered lazily; render here so the values shown and their log
        # rows belong to one transaction.
        if hasattr(response, "render") and not getattr(response, "is_rendered", True):
            response.render()
        if 200 <= response.status_code < 300:
            self._pii_flush(request)
        return response

    # --- list pages ------------------------------------------------------------------------------

    def _pii_column(self, request, name: str, strategy, unmask: bool):
        table = self.model._meta.db_table

        def column(obj):
            value = getattr(obj, name)
            if unmask:
                request._pii_reads.append((table, name, obj.pk))
                return value
            return mask_value(value, strategy)

        column.short_description = self.model._meta.get_field(name).verbose_name
        column.__name__ = name
        if unmask:
            column.admin_order_field = name  # ordering by a masked column would leak its order
        return column

    def get_list_display(self, request):
        display = list(super().get_list_display(request))
        fields = fields_of_model(self.model)
        unmask = self._pii_unmask(request)
        return [
            self._pii_column(request, entry, fields[entry], unmask)
            if isinstance(entry, str) and entry in fields
            else entry
            for entry in display
        ]

    def get_list_display_links(self, request, list_display):
        links = super().get_list_display_links(request, list_display)
        fields = fields_of_model(self.model)
        return [link for link in links if not (isinstance(link, str) and link in fields)] if links else links

    def changelist_view(self, request, extra_context=None):
        self._pii_unmask(request)
        if request.method == "GET":
            self._pii_offer_unmask(request)
        with transaction.atomic():
            return self._pii_render(request, super().changelist_view(request, extra_context))

    # --- change pages ----------------------------------------------------------------------------

    def _pii_masked_fields(self, request, obj) -> dict:
        if obj is None or self._pii_unmask(request):
            return {}
        return fields_of_model(self.model)

    def get_fieldsets(self, request, obj=None):
        fieldsets = super().get_fieldsets(request, obj)
        masked = self._pii_masked_fields(request, obj)
        if not masked:
            return fieldsets
        return [
            (
                title,
                {
                    **options,
                    "fields": [
                        f"{MASKED_PREFIX}{f}" if isinstance(f, str) and f in masked else f
                        for f in options["fields"]
                    ],
                },
            )
            for title, options in fieldsets
        ]

    def get_readonly_fields(self, request, obj=None):
        readonly = list(super().get_readonly_fields(request, obj))
        return readonly + [f"{MASKED_PREFIX}{name}" for name in self._pii_masked_fields(request, obj)]

    def __getattr__(self, name: str):
        # ``pii_masked_<field>``: the read-only masked display of a registered field.
        if name.startswith(MASKED_PREFIX) and "model" in self.__dict__:
            field = name.removeprefix(MASKED_PREFIX)
            strategy = fields_of_model(self.model).get(field)
            if strategy is not None:

                def display(obj):
                    return mask_value(getattr(obj, field), strategy)

                display.short_description = f"{self.model._meta.get_field(field).verbose_name} (masked)"
                return display
        raise AttributeError(name)

    def change_view(self, request, object_id, form_url="", extra_context=None):
        unmask = self._pii_unmask(request)
        if request.method == "GET":
            self._pii_offer_unmask(request)
        with transaction.atomic():
            response = super().change_view(request, object_id, form_url, extra_context)
            original = (getattr(response, "context_data", None) or {}).get("original")
            if unmask and original is not None:
                fields = fields_of_model(self.model)
                shown = set(flatten_fieldsets(self.get_fieldsets(request, original)))
                table = self.model._meta.db_table
                request._pii_reads.extend((table, name, original.pk) for name in fields if name in shown)
            return self._pii_render(request, response)
