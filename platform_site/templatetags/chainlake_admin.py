"""Template filters of the admin pages: durations, short ids, exact times, badges."""

from __future__ import annotations

import datetime as dt

from django import template

from platform_site import admin_display

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
