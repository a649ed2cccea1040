"""Admin building blocks for tables that grow to millions of rows."""

from __future__ import annotations

import hashlib
import json

from django.contrib import admin
from django.core.cache import cache
from django.core.paginator import Paginator
from django.db import connection
from django.db.models import Q, QuerySet
from django.utils.functional import cached_property


class EstimatedCountPaginator(Paginator):
    """Counts a large list from the planner's estimate instead of ``COUNT(*)``.

    The unfiltered table uses ``pg_class.reltuples``; a filtered list (every non-superuser's list is
    filtered by its org scope) uses the row estimate of ``EXPLAIN``. Lists the planner thinks are
    small are counted exactly, so the page numbers of a short list are right.
    """

    EXACT_BELOW = 10_000

    @cached_property
    def count(self) -> int:
        query = self.object_list.query
        if query.where:
            estimate = _planner_rows(self.object_list)
        else:
            table = self.object_list.model._meta.db_table
            with connection.cursor() as cursor:
                cursor.execute("SELECT reltuples::bigint FROM pg_class WHERE oid = %s::regclass", [table])
                row = cursor.fetchone()
            # A table never analysed reports -1.
            estimate = row[0] if row else -1
        return super().count if estimate < self.EXACT_BELOW else estimate


class KeysetAssistedPaginator(EstimatedCountPaginator):
    """Deep pages without fetching every skipped row: the row a page starts at is found by the
    narrowest query that can count past the skipped rows (only the ordering columns, which a covering
    index answers without touching the table), then the page is read from that row on by keyset.

    Only for an ordering that is a strict total order in one direction ending with the primary key
    (``-created_at, -id``); any other ordering pages by plain offset.
    """

    KEYSET_FROM = 5_000  # shallower pages are as cheap by offset
    # The row a deep page starts at is kept this long per query: reloading a page or paging back and
    # forth does not count past a million rows again. Offset pages of a live table shift as rows
    # arrive anyway; this is as fresh as the dashboard.
    BOUNDARY_SECONDS = 30

    def page(self, number):
        number = self.validate_number(number)
        bottom = (number - 1) * self.per_page
        if bottom >= self.KEYSET_FROM:
            rows = self._keyset_rows(bottom)
            if rows is not None:
                return self._get_page(rows, number, self)
        return super().page(number)

    def _keyset_rows(self, offset: int):
        queryset = self.object_list
        if not isinstance(queryset, QuerySet):
            return None
        names = list(queryset.query.order_by) or list(queryset.model._meta.ordering)
        if not names or any(not isinstance(name, str) for name in names):
            return None
        descending = {name.startswith("-") for name in names}
        fields = [name.lstrip("-") for name in names]
        if len(descending) != 1 or fields[-1] not in {"id", "pk", queryset.model._meta.pk.name}:
            return None
        if any("__" in field for field in fields):
            return None
        boundary = queryset.values_list(*fields)[offset : offset + 1]
        key = "chainlake:page-start:" + hashlib.sha256(str(boundary.query).encode()).hexdigest()
        start = cache.get(key)
        if start is None:
            found = list(boundary)
            if not found:
                return []
            start = found[0]
            cache.set(key, start, self.BOUNDARY_SECONDS)
        return list(queryset.filter(_from_row(fields, start, descending.pop()))[: self.per_page])


def _from_row(fields: list[str], values: tuple, descending: bool) -> Q:
    """Rows at or after ``values`` in the ordering: the first column bounds the index range, the
    rest break ties."""
    strict, inclusive = ("lt", "lte") if descending else ("gt", "gte")
    condition = Q(**{f"{fields[-1]}__{inclusive}": values[-1]})
    for field, value in zip(reversed(fields[:-1]), reversed(values[:-1]), strict=True):
        condition = Q(**{f"{field}__{strict}": value}) | (Q(**{field: value}) & condition)
    return Q(**{f"{fields[0]}__{inclusive}": values[0]}) & condition


def _planner_rows(queryset) -> int:
    try:
        plan = json.loads(queryset.explain(format="json"))
        return int(plan[0]["Plan"]["Plan Rows"])
    except (ValueError, KeyError, IndexError, TypeError):
        return -1


class LargeTableAdmin(admin.ModelAdmin):
    """Changelist defaults for high-volume tables: no exact counts, no per-row queries."""

    show_full_result_count = False
    paginator = KeysetAssistedPaginator
    list_per_page = 50


def html_table(headers: list[str], rows: list[tuple], empty: str = "none") -> str:
    """A small read-only table for a change page (task inputs, lineage, memberships), drawn like a
    changelist."""
    from .admin_components import theme_table

    if not rows:
        return empty
    return theme_table(headers, rows)
