"""Create the demo's saved queries in the platform org where they are missing (idempotent; run by
``seed_demo`` on every ``make run``)."""

from django.core.management.base import BaseCommand

from orgs.models import User, platform_org
from queries.demo import demo_queries_seed


class Command(BaseCommand):
    help = "Create the demo's saved queries where they are missing (idempotent; keeps admin edits)."

    def add_arguments(self, parser):
        parser.add_argument("--quiet", action="store_true", help="print nothing")

    def handle(self, *args, quiet: bool = False, **options):
        owner = User.objects.filter(is_superuser=True, is_active=True).order_by("created_at").first()
        if owner is None:
            if not quiet:
                self.stdout.write("Demo queries: skipped (no superuser to own them yet)")
            return
        saved = demo_queries_seed(org=platform_org(), user=owner)
        if not quiet:
            self.stdout.write(f"Demo queries: {len(saved)} saved queries in the platform org")
