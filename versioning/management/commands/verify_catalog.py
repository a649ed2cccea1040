"""Verify the catalog against storage; exits non-zero when a partition is missing or differs."""

from django.core.management.base import BaseCommand, CommandError
from tqdm import tqdm

from versioning.datasets import dataset_exists
from versioning.models import PartitionVersion
from versioning.services import catalog_verify


class Command(BaseCommand):
    help = (
        "Check that every current partition's file exists and matches its row count and schema, and "
        "that no two partitions of a dataset hold the same blocks."
    )

    def add_arguments(self, parser):
        parser.add_argument("--dataset")

    def handle(self, *args, dataset=None, **options):
        if dataset is not None and not dataset_exists(dataset):
            raise CommandError(f"unknown dataset {dataset!r}: no partition of it and no job writes it")
        rows = PartitionVersion.objects.filter(dataset=dataset) if dataset else PartitionVersion.objects.all()
        with tqdm(total=rows.count(), desc="verifying", unit="partition") as bar:
            problems = catalog_verify(dataset=dataset, progress=bar.update)
        for problem in problems:
            self.stderr.write(f"{problem.dataset}/{problem.partition_key}: {problem.problem}")
        if problems:
            raise CommandError(f"{len(problems)} partition problem(s) found")
        self.stdout.write("catalog matches storage")
