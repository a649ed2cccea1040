"""Run SQL through the query service as a user: a table on the terminal, or a file."""

import json
import sys

from django.core.management.base import BaseCommand, CommandError

from orgs.models import User
from queries.models import QueryResult
from queries.result_files import download_chunks, read_page
from queries.services import QueryRefused, query_execute
from versioning.storage import result_store

TABLE_ROWS = 1000
CELL_WIDTH = 66  # a transaction hash (0x + 64 hex digits) is shown whole


class Command(BaseCommand):
    help = (
        "Run SQL over the lake as a user, with the same sandbox, limits and rights as the API. "
        "Prints a table, or writes --format csv|json|parquet (to --output, or stdout for csv/json)."
    )

    def add_arguments(self, parser):
        parser.add_argument("sql")
        parser.add_argument(
            "--org",
            help="org slug the user belongs to (checked when given); a superuser reads every org's "
            "datasets, whichever org is named",
        )
        parser.add_argument("--user", required=True, help="the user's login (external_id)")
        parser.add_argument("--format", choices=["table", "csv", "json", "parquet"], default="table")
        parser.add_argument("--output", help="file to write (required for parquet)")
        parser.add_argument(
            "--parameters", default="{}", help='JSON object for $name parameters, e.g. {"n": 5}'
        )
        parser.add_argument("--force", action="store_true", help="run fresh even if a cached result is fresh")

    def handle(self, *args, sql, org, user, format, output, parameters, force, **options):
        found = User.objects.select_related("org").filter(external_id=user, is_active=True).first()
        if found is None or (org is not None and found.org.slug != org and not found.is_superuser):
            raise CommandError(f"no active user {user!r}" + (f" in org {org!r}" if org else ""))
        try:
            values = json.loads(parameters)
        except json.JSONDecodeError as exc:
            raise CommandError(f"--parameters is not JSON: {exc.msg}") from None
        if format == "parquet" and not output:
            raise CommandError("--format parquet needs --output FILE")
        table = format == "table"
        try:
            result = query_execute(
                user=found,
                sql=sql,
                parameters=values,
                mode=QueryResult.Mode.SYNC if table else QueryResult.Mode.EXPORT,
                output_format="parquet" if table else format,
                force=force,
                in_process=True,
            )
        except QueryRefused as exc:
            raise CommandError(
                f"{exc.code}: {'; '.join(f'{k}: {v}' for k, v in exc.errors.items())}"
            ) from None
        if result.status != QueryResult.Status.SUCCEEDED:
            raise CommandError(f"{result.error_code or result.status}: {result.error_message or ''}")
        if table:
            self._print_table(result)
        elif output:
            with open(output, "wb") as handle:
                for chunk in download_chunks(result_store(), result.output_location):
                    handle.write(chunk)
            self.stderr.write(f"{result.row_count} rows written to {output}")
        else:
            for chunk in download_chunks(result_store(), result.output_location):
                sys.stdout.buffer.write(chunk)
            sys.stdout.flush()

    def _print_table(self, result):
        columns, rows = read_page(
            result_store(), result.output_location, result.output_format, offset=0, limit=TABLE_ROWS
        )
        names = [c["name"] for c in columns]
        cells = [["NULL" if v is None else _cell(str(v)) for v in row] for row in rows]
        widths = [max([len(n), *(len(r[i]) for r in cells)]) for i, n in enumerate(names)]
        self.stdout.write(" | ".join(n.ljust(w) for n, w in zip(names, widths, strict=True)))
        self.stdout.write("-+-".join("-" * w for w in widths))
        for row in cells:
            self.stdout.write(" | ".join(v.ljust(w) for v, w in zip(row, widths, strict=True)))
        shown = f"first {len(rows)} of " if len(rows) < (result.row_count or 0) else ""
        self.stdout.write(f"({shown}{result.row_count} rows, {result.duration_ms} ms)")


def _cell(text: str) -> str:
    """A value as the table shows it: whole up to CELL_WIDTH, else cut with a visible ellipsis (a
    value cut silently reads as another address or hash); --format csv|json gives every value whole."""
    return text if len(text) <= CELL_WIDTH else text[: CELL_WIDTH - 1] + "…"
