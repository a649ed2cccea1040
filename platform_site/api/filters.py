"""Filter fields shared by every app's filtersets."""

from __future__ import annotations

from datetime import datetime, timedelta

import django_filters
from django import forms
from django_filters.fields import IsoDateTimeField

# Real time zones lie within UTC-12 and UTC+14; PostgreSQL refuses offsets past ±15:59.
MAX_UTC_OFFSET = timedelta(hours=14)


def check_utc_offset(value: datetime | None) -> datetime | None:
    offset = value.utcoffset() if value is not None else None
    if offset is not None and abs(offset) > MAX_UTC_OFFSET:
        raise forms.ValidationError("the UTC offset must lie within ±14:00", code="invalid")
    return value


class BoundedIsoDateTimeField(IsoDateTimeField):
    def to_python(self, value):
        return check_utc_offset(super().to_python(value))


class IsoDateTimeFilter(django_filters.IsoDateTimeFilter):
    """ISO 8601 date-time filter that answers 400 (not a database error) for impossible offsets."""

    field_class = BoundedIsoDateTimeField
