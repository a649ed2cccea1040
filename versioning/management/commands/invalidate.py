"""Record an invalidation: consumers reprocess what it covers."""

import json

from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError

from versioning.services import invalidation_create


class Command(BaseCommand):
    help = "Invalidate a dataset, one partition, or rows matching a JSON filter."

    def add_arguments(self, parser):
        parser.add_argument("dataset")
        parser.add_argument("--scope", choices=["dataset", "partition", "rows"], required=True)
        parser.add_argument("--partition", help="partition key (scope partition)")
        parser.add_argument(
            "--rows", help='JSON filter (scope rows), e.g. \'{"block_number": {"gte": 100}}\''
        )
        parser.add_argument("--reason", default="")

    def handle(self, *args, dataset, scope, partition=None, rows=None, reason="", **options):
        row_filter = None
        if rows is not None:
            try:
                row_filter = json.loads(rows)
            except json.JSONDecodeError as exc:
                raise CommandError(f"--rows is not JSON: {exc.msg}") from None
        try:
            invalidation = invalidation_create(
                dataset=dataset,
                scope=scope,
                partition_key=partition,
                row_filter=row_filter,
                reason=reason,
                source_event={"type": "manual"},
            )
        except ValidationError as exc:
            raise CommandError(
                "; ".join(f"{k}: {' '.join(v)}" for k, v in exc.message_dict.items())
            ) from None
        self.stdout.write(f"invalidation {invalidation.id} recorded")
