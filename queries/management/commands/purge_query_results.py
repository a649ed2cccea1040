"""Expire query results past their org's retention and delete their files (also run daily)."""

from django.core.management.base import BaseCommand
from tqdm import tqdm

from platform_site.admin_display import counted
from queries.services import query_results_purge


class Command(BaseCommand):
    help = "Mark query results older than their org's result_retention_days expired and delete their files."

    def handle(self, *args, **options):
        with tqdm(desc="expiring", unit="result", disable=not self.stdout.isatty()) as bar:
            expired = query_results_purge(progress=bar.update)
        self.stdout.write(f"{counted(expired, 'result')} expired")
