"""Admin building blocks for tables that grow to millions of rows."""

from __future__ import annotations

from django.contrib import admin
from django.core.paginator import Paginator
from django.db import connection
from django.utils.functional import cached_property


class EstimatedCountPaginator(Paginator):
    """Counts an unfiltered table from the planner's estimate instead of ``COUNT(*)``.

    A filtered changelist still counts exactly (its filters are indexed and selective); the full
    table, which is what the changelist shows first, costs nothing to "count".
    """

    @cached_property
    def count(self) -> int:
        query = self.object_list.query
        if query.where:
            return super().count
        table = self.object_list.model._meta.db_table
        with connection.cursor() as cursor:
            cursor.execute("SELECT reltuples::bigint FROM pg_class WHERE oid = %s::regclass", [table])
            row = cursor.fetchone()
        estimate = row[0] if row else -1
        # A table never analysed reports -1; small tables are cheap to count exactly.
        return super().count if estimate < 10_000 else estimate


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
