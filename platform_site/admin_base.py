"""Admin building blocks for tables that grow to millions of rows."""

from __future__ import annotations

import json

from django.contrib import admin
from django.core.paginator import Paginator
from django.db import connection
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


def _planner_rows(queryset) -> int:
    try:
        plan = json.loads(queryset.explain(format="json"))
        return int(plan[0]["Plan"]["Plan Rows"])
    except (ValueError, KeyError, IndexError, TypeError):
        return -1


class LargeTableAdmin(admin.ModelAdmin):
    """Changelist defaults for high-volume tables: no exact counts, no per-row queries."""

    show_full_result_count = False
    paginator = EstimatedCountPaginator
    list_per_page = 50


def html_table(headers: list[str], rows: list[tuple], empty: str = "none") -> str:
    """A small read-only table for a change page (task inputs, lineage, memberships)."""
    from django.utils.html import format_html, format_html_join

    if not rows:
        return empty
    head = format_html_join("", "<th>{}</th>", ((h,) for h in headers))
    body = format_html_join(
        "", "<tr>{}</tr>", ((format_html_join("", "<td>{}</td>", ((c,) for c in row)),) for row in rows)
    )
    return format_html("<table><thead><tr>{}</tr></thead><tbody>{}</tbody></table>", head, body)
