"""Remove lake files no catalog row or live task references."""

from datetime import timedelta

from django.core.management.base import BaseCommand, CommandError
from tqdm import tqdm

from platform_site.admin_display import counted
from versioning.services import storage_gc


class Command(BaseCommand):
    help = "Garbage-collect unreferenced lake files older than the grace period."

    def add_arguments(self, parser):
        parser.add_argument("--grace-seconds", type=int, default=3600)
        parser.add_argument("--dry-run", action="store_true")

    def handle(self, *args, grace_seconds=3600, dry_run=False, **options):
        if grace_seconds < 0:
            raise CommandError("--grace-seconds must be >= 0")
        with tqdm(desc="scanning", unit="file") as bar:
            removed = storage_gc(grace=timedelta(seconds=grace_seconds), dry_run=dry_run, progress=bar.update)
        verb = "would remove" if dry_run else "removed"
        self.stdout.write(f"{verb} {counted(len(removed), 'file')}")
