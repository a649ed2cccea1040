"""Issue an API token for a user from the command line (integrations that never open a browser)."""

from datetime import timedelta

from django.core.management.base import BaseCommand, CommandError

from access.services import api_token_create
from orgs.models import User


class Command(BaseCommand):
    help = "Create an API token for a user and print it once (it is stored hashed)."

    def add_arguments(self, parser):
        parser.add_argument("external_id", help="the user's login (external_id)")
        parser.add_argument("--name", default="", help="what the token is for")
        parser.add_argument("--expires-in-days", type=int, default=None, help="default: the TTL setting")

    def handle(self, *args, external_id: str, name: str, expires_in_days: int | None, **options):
        user = User.objects.filter(external_id=external_id, is_active=True).first()
        if user is None:
            raise CommandError(f"no active user {external_id!r}")
        if expires_in_days is not None and expires_in_days <= 0:
            raise CommandError("--expires-in-days must be a positive number of days")
        expires_in = timedelta(days=expires_in_days) if expires_in_days else None
        _, secret = api_token_create(user=user, name=name, expires_in=expires_in)
        self.stdout.write(secret)
