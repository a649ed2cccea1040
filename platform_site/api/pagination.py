"""Pagination for the API: pages for small lists, keyset cursors for high-volume ones.

Keyset pagination walks ``(<time column>, id)`` downwards: a page is an index range scan that starts
where the previous page ended, so page 10,000 costs what page 1 costs and nothing counts the table.
The cursor is opaque (base64 of the last row's time and id).
"""

from __future__ import annotations

import base64
import binascii
import json
import uuid
from datetime import datetime

from django.utils.dateparse import parse_datetime
from rest_framework.exceptions import ValidationError
from rest_framework.pagination import BasePagination, PageNumberPagination
from rest_framework.response import Response
from rest_framework.utils.urls import replace_query_param

from .filters import MAX_UTC_OFFSET

MAX_PAGE_SIZE = 500


class PagePagination(PageNumberPagination):
    """Numbered pages with a total count, for lists that stay small (jobs, roles, definitions)."""

    page_size_query_param = "page_size"
    max_page_size = MAX_PAGE_SIZE


def _positive_int(raw: str | None, default: int, maximum: int) -> int:
    if raw in (None, ""):
        return default
    try:
        value = int(raw)
    except ValueError:
        raise ValidationError({"page_size": "must be a whole number"}) from None
    if value < 1:
        raise ValidationError({"page_size": "must be at least 1"})
    return min(value, maximum)


class KeysetPagination(BasePagination):
    """Newest first, ``?cursor=`` for the next page, ``?page_size=`` up to 500.

    The view names its time column in ``keyset_field`` (default ``created_at``); a composite index on
    ``(<field> DESC, id DESC)`` (possibly behind an org column) serves every page.
    """

    page_size = 50
    cursor_query_param = "cursor"
    page_size_query_param = "page_size"

    def paginate_queryset(self, queryset, request, view=None):
        field = getattr(view, "keyset_field", "created_at")
        self.request = request
        self.page_size_value = _positive_int(
            request.query_params.get(self.page_size_query_param), self.page_size, MAX_PAGE_SIZE
        )
        queryset = queryset.order_by(f"-{field}", "-pk")
        if raw := request.query_params.get(self.cursor_query_param):
            moment, last_id = self._decode(raw)
            # (field, id) < (moment, last_id), written so the planner scans the index from `moment`.
            queryset = queryset.filter(**{f"{field}__lte": moment}).exclude(
                **{field: moment, "pk__gte": last_id}
            )
        rows = list(queryset[: self.page_size_value + 1])
        self.next_cursor = None
        if len(rows) > self.page_size_value:
            rows = rows[: self.page_size_value]
            last = rows[-1]
            self.next_cursor = self._encode(getattr(last, field), last.pk)
        return rows

    def get_paginated_response(self, data):
        next_url = None
        if self.next_cursor:
            url = self.request.build_absolute_uri()
            next_url = replace_query_param(url, self.cursor_query_param, self.next_cursor)
        return Response({"next": next_url, "results": data})

    def get_paginated_response_schema(self, schema):
        return {
            "type": "object",
            "required": ["next", "results"],
            "properties": {"next": {"type": "string", "nullable": True, "format": "uri"}, "results": schema},
        }

    def get_schema_operation_parameters(self, view):
        return [
            {
                "name": self.cursor_query_param,
                "required": False,
                "in": "query",
                "description": "Opaque cursor from the previous page's `next` link.",
                "schema": {"type": "string"},
            },
            {
                "name": self.page_size_query_param,
                "required": False,
                "in": "query",
                "description": f"Rows per page (1-{MAX_PAGE_SIZE}).",
                "schema": {"type": "integer", "minimum": 1, "maximum": MAX_PAGE_SIZE},
            },
        ]

    @staticmethod
    def _encode(moment: datetime, pk) -> str:
        raw = json.dumps([moment.isoformat(), str(pk)]).encode()
        return base64.urlsafe_b64encode(raw).decode().rstrip("=")

    @staticmethod
    def _decode(cursor: str):
        try:
            padded = cursor + "=" * (-len(cursor) % 4)
            moment_text, pk = json.loads(base64.urlsafe_b64decode(padded.encode()))
            moment = parse_datetime(moment_text)
            pk = uuid.UUID(pk)
        except (ValueError, TypeError, binascii.Error, UnicodeDecodeError):
            raise ValidationError({"cursor": "invalid cursor"}) from None
        if moment is None or moment.tzinfo is None or abs(moment.utcoffset()) > MAX_UTC_OFFSET:
            raise ValidationError({"cursor": "invalid cursor"})
        return moment, pk
