"""How values read in admin lists and pages: short linked ids, short hashes with the full value on
hover, status badges and times to the second in the active (the org's) time zone."""

from __future__ import annotations

import datetime as dt
import uuid

from django.db import models
from django.urls import NoReverseMatch, reverse
from django.utils import timezone
from django.utils.html import format_html

EMPTY = "—"
SHORT_ID_LENGTH = 8
SHORT_HASH_LENGTH = 12


def counted(number: int, noun: str) -> str:
    """``1 task``, ``3 tasks``: a count as people write it, not ``task(s)``."""
    return f"{number:,} {noun}" if number == 1 else f"{number:,} {noun}s"


def short_id(value) -> str:
    """The last characters of a UUID: UUIDv7 ids share their leading (time) digits within a page,
    so the tail is what tells rows apart."""
    text = str(value)
    return text[-SHORT_ID_LENGTH:] if len(text) > SHORT_ID_LENGTH else text


def id_link(value, model=None, *, url_name: str | None = None) -> str:
    """A shortened id linking to its change page (or just shortened when there is none)."""
    if value in (None, ""):
        return EMPTY
    url = None
    if url_name or model is not None:
        name = url_name or f"admin:{model._meta.app_label}_{model._meta.model_name}_change"
        try:
            url = reverse(name, args=[value])
        except NoReverseMatch:
            url = None
    if url:
        return format_html('<a class="cl-short" href="{}" title="{}">…{}</a>', url, value, short_id(value))
    return format_html('<span class="cl-short" title="{}">…{}</span>', value, short_id(value))


def short_hash(value) -> str:
    if value in (None, ""):
        return EMPTY
    text = str(value)
    if len(text) <= SHORT_HASH_LENGTH + 2:
        return format_html('<span class="cl-short">{}</span>', text)
    return format_html('<span class="cl-short" title="{}">{}…</span>', text, text[:SHORT_HASH_LENGTH])


def badge(value, label: str | None = None) -> str:
    if value in (None, ""):
        return EMPTY
    return format_html('<span class="cl-badge cl-badge--{}">{}</span>', value, label or value)


def wrapping(text) -> str:
    """Text whose long tokens (a URL, markup, a path) wrap inside their cell instead of widening
    the page; escaped like any cell."""
    return format_html('<span style="overflow-wrap:anywhere">{}</span>', text) if text else ""


def preformatted(text) -> str:
    """Text that reads only with its own line breaks (a traceback, a receiver's answer), escaped and
    wrapping inside its cell."""
    if not text:
        return ""
    return format_html(
        '<pre class="cl-mono" style="white-space:pre-wrap;overflow-wrap:anywhere;margin:0">{}</pre>', text
    )


def moment(value: dt.datetime | None) -> str:
    """A time to the second in the active time zone (the org's, set per request)."""
    if value is None:
        return EMPTY
    local = timezone.localtime(value)
    return format_html(
        '<span title="{}" style="white-space:nowrap">{}</span>',
        value.isoformat(),
        local.strftime("%Y-%m-%d %H:%M:%S"),
    )


def moment_short(value: dt.datetime | None) -> str:
    """A list cell's time: to the second, without the date when it is today (full value on hover)."""
    if value is None:
        return EMPTY
    local = timezone.localtime(value)
    today = timezone.localtime(timezone.now()).date()
    text = local.strftime("%H:%M:%S" if local.date() == today else "%Y-%m-%d %H:%M:%S")
    return format_html('<span title="{}" style="white-space:nowrap">{}</span>', local.isoformat(), text)


def display_cell(value, field=None) -> str:
    """A record-table cell: foreign keys and UUIDs as short linked ids, hashes short, times exact."""
    if value is None or value == "":
        return EMPTY
    if isinstance(value, dt.datetime):
        return moment(value)
    if isinstance(value, models.Model):
        return _object_link(value)
    if isinstance(value, uuid.UUID):
        model = field.related_model if field is not None and field.is_relation else None
        return id_link(value, model)
    if field is not None and field.name.endswith("_hash"):
        return short_hash(value)
    if field is not None and field.name == "location":
        return short_hash(value)
    return value


def _object_link(obj: models.Model) -> str:
    try:
        url = reverse(f"admin:{obj._meta.app_label}_{obj._meta.model_name}_change", args=[obj.pk])
    except NoReverseMatch:
        return str(obj)
    return format_html('<a href="{}">{}</a>', url, obj)


def once_per_object(method):
    """Compute a change page's read-only display once per object: the theme's templates read a
    field's contents several times (tabs, error counts, the field itself), and each read would
    otherwise run the method's queries again."""
    import functools

    name = method.__name__

    @functools.wraps(method)
    def wrapper(self, obj):
        if obj is None or getattr(obj, "pk", None) is None:
            return method(self, obj)
        cache = obj.__dict__.setdefault("_admin_display_cache", {})
        if name not in cache:
            cache[name] = method(self, obj)
        return cache[name]

    return wrapper
