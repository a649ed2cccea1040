"""Create the platform org, a demo org, a superuser, the demo pipeline and its saved queries, once;
print how to log in every time."""

import secrets

from django.conf import settings
from django.core.management import call_command
from django.core.management.base import BaseCommand
from django.db import transaction

from orgs.models import Org, User, platform_org

ADMIN_LOGIN = "admin"


class Command(BaseCommand):
    help = "Create the demo org and a superuser (idempotent); print how to log in."

    def add_arguments(self, parser):
        parser.add_argument("--quiet", action="store_true", help="print nothing")

    def handle(self, *args, quiet: bool = False, **options):
        password_file = settings.DATA_DIR / "admin_password"
        with transaction.atomic():
            platform = platform_org()
            Org.objects.get_or_create(slug="demo", defaults={"name": "Demo"})
            if not User.objects.filter(external_id=ADMIN_LOGIN).exists():
                # Generated on this machine, kept only in the data folder (never in the repository).
                password = secrets.token_urlsafe(12)
                User.objects.create_superuser(ADMIN_LOGIN, password, email="admin@localhost", org=platform)
                password_file.write_text(password)
                password_file.chmod(0o600)
        call_command("seed_demo_pipeline", quiet=quiet, stdout=self.stdout)
        call_command("seed_demo_queries", quiet=quiet, stdout=self.stdout)
        if quiet:
            return
        if password_file.exists():
            login = f"{ADMIN_LOGIN} / {password_file.read_text().strip()}"
        else:
            login = f"{ADMIN_LOGIN} (password set elsewhere; reset it with: manage.py changepassword admin)"
        self.stdout.write(f"Log in to the admin as {login}")
