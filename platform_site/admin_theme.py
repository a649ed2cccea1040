"""The admin's theme: django-unfold, carried by one base class that the admin site mixes into every
registration, so admins written against ``django.contrib.admin.ModelAdmin`` are themed too.

Presentation only: permissions and tenancy stay with the mixins of ``orgs.admin_tenancy``.
"""

from __future__ import annotations

import re

from django import forms
from django.contrib import admin
from django.contrib.admin.utils import display_for_field
from django.contrib.postgres.fields import ArrayField
from django.core.exceptions import FieldDoesNotExist
from django.db import models
from django.utils.html import format_html
from django.utils.text import capfirst
from unfold.admin import ModelAdmin as UnfoldModelAdmin
from unfold.mixins.dataset_model_admin import DatasetModelAdminMixin
from unfold.widgets import UnfoldAdminTextareaWidget

from .admin_display import EMPTY, badge, id_link, short_hash, short_id
from .admin_help import help_text_for
from .admin_widgets import CommaListInput, JsonEditor, ShortTextInput, SqlEditor

# TextField columns that hold prose or code; every other TextField is a short name, key or slug.
LONG_TEXT_FIELDS = {"description", "error_message", "reason", "message", "body", "template", "notes"}
SQL_FIELDS = {"query", "sql"}


class ThemedModelAdmin(UnfoldModelAdmin):
    """Defaults of every admin: compact forms, submit-button filters, a warning before leaving an
    edited form, and the field widgets below."""

    compressed_fields = True
    warn_unsaved_form = True
    list_filter_submit = True

    def changeform_view(self, request, object_id=None, form_url="", extra_context=None):
        # unfold reads any POST that carries a "dataset" field as an action on its change-form
        # "datasets" (and redirects without saving); several of our models have a ``dataset``
        # column. No admin here declares such datasets, so the form is handled as Django's.
        if not self.get_changeform_datasets(request):
            return super(DatasetModelAdminMixin, self).changeform_view(
                request, object_id, form_url, extra_context
            )
        return super().changeform_view(request, object_id, form_url, extra_context)

    def changelist_view(self, request, extra_context=None):
        # Django titles a list "Select <model> to change" (or "to view"); the list is just its name.
        title = capfirst(self.opts.verbose_name_plural)
        return super().changelist_view(request, {"title": title, **(extra_context or {})})

    def formfield_for_dbfield(self, db_field, request, **kwargs):
        if "widget" not in kwargs:
            widget = _widget_for(db_field)
            if widget is not None:
                kwargs["widget"] = widget
        formfield = super().formfield_for_dbfield(db_field, request, **kwargs)
        if formfield is not None and not formfield.help_text:
            formfield.help_text = help_text_for(db_field)
        if formfield is not None and formfield.label:
            formfield.label = spelled(str(formfield.label))
        if formfield is not None and db_field.choices and hasattr(formfield, "choices"):
            # Choices named after their enum member read "Sql"; spell them as people do.
            formfield.choices = [(value, spelled(str(label))) for value, label in formfield.choices]
        return formfield

    @property
    def media(self):
        media = super().media
        if self.prepopulated_fields:
            return media
        # Slug prepopulation scripts (xregexp alone is 300 kB) serve no page of ours without
        # prepopulated fields; dropping them keeps the first visit of a change page fast.
        unused = ("urlify.js", "prepopulate.js", "prepopulate_init.js", "xregexp")
        return forms.Media(
            css=media._css, js=[js for js in media._js if not any(name in str(js) for name in unused)]
        )

    def get_list_display(self, request):
        return [_presented(self.model, item) for item in super().get_list_display(request)]


# Columns that read better shortened (full value on hover) and linked.
HASH_FIELDS = {"tx_hash", "block_hash", "sql_hash", "config_hash", "schema_hash", "location", "worker_id"}
BADGE_FIELDS = {"status", "severity"}


def _presented(model, item):
    """A list column as it should read: UUID ids short and linked, foreign keys to million-row
    tables as short linked ids (no query: the column value is enough), hashes short, statuses as
    badges. Anything else is left to Django."""
    if not isinstance(item, str):
        return item
    try:
        field = model._meta.get_field(item)
    except FieldDoesNotExist:
        return item
    if field.primary_key and isinstance(field, models.UUIDField):
        return _column(
            item,
            "Id",
            lambda obj: format_html('<span class="cl-short" title="{}">…{}</span>', obj.pk, short_id(obj.pk)),
        )
    if (
        field.many_to_one
        and isinstance(field.target_field, models.UUIDField)
        and _is_high_volume(field.related_model)
    ):
        attname = field.attname
        return _column(
            item,
            capfirst(field.verbose_name),
            lambda obj: id_link(getattr(obj, attname), field.related_model),
        )
    label = spelled(capfirst(field.verbose_name))
    if item in HASH_FIELDS:
        return _column(item, label, lambda obj: short_hash(getattr(obj, item)))
    if item in BADGE_FIELDS and field.choices:
        return _column(item, label, lambda obj: badge(getattr(obj, item)))
    if label != capfirst(field.verbose_name) and not field.is_relation:
        return _column(item, label, lambda obj: display_for_field(getattr(obj, field.attname), field, EMPTY))
    return item


# Words that are read as letters: a column named ``sql_hash`` is headed "SQL hash", not "Sql hash".
ACRONYMS = {
    "sql": "SQL",
    "dag": "DAG",
    "pii": "PII",
    "api": "API",
    "url": "URL",
    "csv": "CSV",
    "json": "JSON",
    "evm": "EVM",
    "id": "ID",
    "ids": "IDs",
    "tx": "Tx",
}


def spelled(label: str) -> str:
    """``label`` with its acronyms in capitals."""
    return re.sub(r"[A-Za-z]+", lambda m: ACRONYMS.get(m.group(0).lower(), m.group(0)), str(label))


def _column(name: str, description: str, render):
    def column(obj):
        return render(obj)

    column.__name__ = name
    return admin.display(description=description, ordering=name)(column)


def _is_high_volume(model) -> bool:
    # Tables keyed by time-ordered UUIDv7 ids grow to millions of rows; their str() says little.
    return model._meta.label_lower in {
        "orchestration.task",
        "alerting.alertevent",
        "alerting.alertdelivery",
        "queries.queryresult",
        "pii.piiaccesslog",
    }


def _widget_for(db_field):
    if isinstance(db_field, models.JSONField):
        return JsonEditor
    if isinstance(db_field, ArrayField) and isinstance(db_field.base_field, models.TextField):
        return CommaListInput
    if isinstance(db_field, models.TextField) and not db_field.choices:
        if db_field.name in SQL_FIELDS:
            return SqlEditor
        if db_field.name in LONG_TEXT_FIELDS:
            return UnfoldAdminTextareaWidget
        return ShortTextInput
    return None


def themed_admin_class(admin_class: type) -> type:
    """``admin_class`` on top of the theme's base (unchanged when it already has it)."""
    if issubclass(admin_class, ThemedModelAdmin):
        return admin_class
    if admin_class is admin.ModelAdmin:
        return ThemedModelAdmin
    return type(admin_class.__name__, (admin_class, ThemedModelAdmin), {"__module__": admin_class.__module__})


def _headers_once_per_changelist():
    """unfold builds a changelist's column headers again for every row (to label cells on small
    screens): a 50-row page built them 51 times, a third of the list's rendering. The headers only
    depend on the changelist, so they are built once per changelist and reused."""
    from unfold.templatetags import unfold_list

    build = unfold_list.result_headers
    if getattr(build, "once_per_changelist", False):
        return

    def result_headers(cl):
        headers = getattr(cl, "_headers_built_once", None)
        if headers is None:
            headers = cl._headers_built_once = list(build(cl))
        return iter([dict(header) for header in headers])

    result_headers.once_per_changelist = True
    unfold_list.result_headers = result_headers


_headers_once_per_changelist()
