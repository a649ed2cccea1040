"""Delete old tasks, alert events and deliveries, query results and django-q2 records now."""

from django.core.management.base import BaseCommand

from platform_site.retention import retention_prune


class Command(BaseCommand):
    help = "Apply every org's retention settings now (the daily schedule does the same)."

    def handle(self, *args, **options):
        counts = retention_prune()
        self.stdout.write(", ".join(f"{key}: {value}" for key, value in counts.items()))
