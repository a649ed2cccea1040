"""Show a dataset's current partitions (the catalog) and its column lineage (the jobs)."""

from django.core.management.base import BaseCommand, CommandError

from orchestration.models import ColumnLineage
from versioning.selectors import dataset_partitions


class Command(BaseCommand):
    help = "List a dataset's partitions (key, version, rows, bytes) and its column lineage."

    def add_arguments(self, parser):
        parser.add_argument("dataset")
        parser.add_argument("--limit", type=int, default=100)

    def handle(self, *args, dataset, limit=100, **options):
        rows = dataset_partitions(dataset=dataset)
        if not rows.exists():
            raise CommandError(f"dataset {dataset!r} has no partitions")
        for pv in rows[:limit]:
            self.stdout.write(f"{pv.partition_key}\t{pv.version.isoformat()}\t{pv.row_count}\t{pv.bytes}")
        for edge in ColumnLineage.objects.filter(output_dataset=dataset):
            self.stdout.write(f"{edge.input_dataset}.{edge.input_column} -> {dataset}.{edge.output_column}")
        for edge in ColumnLineage.objects.filter(input_dataset=dataset):
            self.stdout.write(f"{dataset}.{edge.input_column} -> {edge.output_dataset}.{edge.output_column}")
