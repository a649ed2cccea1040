"""Template filters of the admin pages: durations, short ids, exact times, badges."""

from __future__ import annotations

import datetime as dt
import re

from django import template

from platform_site import admin_components, admin_display

register = template.Library()


@register.filter
def duration(value) -> str:
    """``3 d 4 h``, ``12 m 5 s``: the two largest units of a timedelta (or seconds)."""
    if value is None or value == "":
        return admin_display.EMPTY
    seconds = int(value.total_seconds() if isinstance(value, dt.timedelta) else value)
    if seconds < 0:
        seconds = 0
    parts = []
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60), ("s", 1)):
        if seconds >= size or (unit == "s" and not parts):
            parts.append(f"{seconds // size} {unit}")
            seconds %= size
        if len(parts) == 2:
            break
    return " ".join(parts)


@register.filter
def moment(value) -> str:
    return admin_display.moment(value)


@register.filter
def short_hash(value) -> str:
    return admin_display.short_hash(value)


@register.filter
def badge(value) -> str:
    return admin_display.badge(value)


@register.simple_tag
def id_link(value, url_name: str = "") -> str:
    return admin_display.id_link(value, url_name=url_name or None)


# The theme's look for custom pages (see platform_site.admin_components).
THEME_CLASSES = {
    "header_cell": admin_components.HEADER_CELL_CLASSES,
    "cell": admin_components.BODY_CELL_CLASSES,
    "table": admin_components.TABLE_CLASSES,
    "table_box": admin_components.TABLE_BOX_CLASSES,
    "row_group": admin_components.ROW_GROUP_CLASSES,
    "row": admin_components.ROW_CLASSES_,
    "stripe": admin_components.STRIPE_CLASSES,
    "input": admin_components.INPUT_CLASSES,
    "select": admin_components.SELECT_CLASSES,
    "textarea": admin_components.TEXTAREA_CLASSES,
    "label": admin_components.LABEL_CLASSES,
    "checkbox": admin_components.CHECKBOX_CLASSES,
}


@register.simple_tag
def theme_classes(name: str) -> str:
    return THEME_CLASSES[name]


@register.filter
def themed(form):
    """The form with the theme's widgets (bordered inputs, selects, file pickers)."""
    return admin_components.themed_form(form)


@register.simple_tag
def attrs(**values) -> dict:
    """Attributes for the theme's components (``{% attrs id="run" type="button" as run_attrs %}``)."""
    return values


@register.filter
def spelled_label(label_tag):
    """A form row's ``<label>`` with its acronyms in capitals: read-only fields are labelled from the
    model's column name ("Sql hash"), which no admin hook reaches."""
    from django.utils.safestring import mark_safe

    from platform_site.admin_theme import spelled

    return mark_safe(re.sub(r">([^<]+)<", lambda m: ">" + spelled(m.group(1)) + "<", str(label_tag)))


@register.simple_tag
def object_page_breadcrumbs(opts, obj, title: str) -> list[dict]:
    """The header trail of a page about one object (a definition's backtest): app, list, object,
    then the page, named by its title without the object's name ("Backtest")."""
    from django.urls import reverse
    from django.utils.text import capfirst

    info = opts.app_label, opts.model_name
    return [
        {"title": opts.app_config.verbose_name, "link": reverse("admin:app_list", args=[opts.app_label])},
        {
            "title": capfirst(opts.verbose_name_plural),
            "link": reverse("admin:{}_{}_changelist".format(*info)),
        },
        {"title": str(obj), "link": reverse("admin:{}_{}_change".format(*info), args=[obj.pk])},
        {"title": str(title).removesuffix(str(obj)).strip() or title},
    ]
