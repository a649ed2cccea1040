"""The admin's theme: django-unfold, carried by one base class that the admin site mixes into every
registration, so admins written against ``django.contrib.admin.ModelAdmin`` are themed too.

Presentation only: permissions and tenancy stay with the mixins of ``admin_tenancy``.
"""

from __future__ import annotations

from django.contrib import admin
from django.contrib.postgres.fields import ArrayField
from django.db import models
from unfold.admin import ModelAdmin as UnfoldModelAdmin
from unfold.widgets import UnfoldAdminTextareaWidget

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

    def formfield_for_dbfield(self, db_field, request, **kwargs):
        if "widget" not in kwargs:
            widget = _widget_for(db_field)
            if widget is not None:
                kwargs["widget"] = widget
        formfield = super().formfield_for_dbfield(db_field, request, **kwargs)
        if formfield is not None and not formfield.help_text:
            formfield.help_text = help_text_for(db_field)
        return formfield


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
