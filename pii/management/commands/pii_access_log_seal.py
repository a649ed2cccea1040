"""Seal the personal-data access log against the application's role (run once, with a superuser)."""

from __future__ import annotations

import psycopg
from django.core.management.base import BaseCommand, CommandError
from django.db import connection

from pii import access_log_guard


class Command(BaseCommand):
    help = (
        "Make pii_access_log append-only against the role the platform connects as: a NOLOGIN role "
        "owns the log, its trigger functions and the public schema; the platform keeps SELECT and INSERT. "
        "Needs a superuser URL for the platform's database; run it after each migrate that alters the log "
        "(with --release before it). Without --superuser-url, only reports whether the seal holds."
    )

    def add_arguments(self, parser):
        parser.add_argument(
            "--superuser-url", help="postgres://superuser@host/ (the database name is taken from settings)"
        )
        parser.add_argument("--owner-role", default=access_log_guard.DEFAULT_OWNER_ROLE)
        parser.add_argument("--release", action="store_true", help="hand the log back to the platform's role")

    def handle(self, *args, superuser_url, owner_role, release, **options):
        settings_dict = connection.settings_dict
        app_role = settings_dict["USER"]
        if superuser_url:
            try:
                conn = psycopg.connect(superuser_url, dbname=settings_dict["NAME"], autocommit=True)
            except psycopg.Error as exc:
                raise CommandError(f"could not connect with --superuser-url: {exc}".strip()) from None
            with conn, conn.cursor() as cursor:
                cursor.execute("SELECT rolsuper FROM pg_roles WHERE rolname = current_user")
                if not cursor.fetchone()[0]:
                    raise CommandError("--superuser-url must connect as a superuser")
                if cursor.connection.info.user == app_role:
                    raise CommandError(
                        f"the platform connects as {app_role}, this superuser: nothing to seal against"
                    )
                if not access_log_guard.table_exists(cursor):
                    raise CommandError("pii_access_log does not exist in that database: run migrate first")
                if release:
                    access_log_guard.release(cursor, app_role=app_role)
                    self.stdout.write(
                        f"pii_access_log handed back to {app_role}: seal it again after migrating"
                    )
                    return
                access_log_guard.seal(cursor, app_role=app_role, owner_role=owner_role)
        with connection.cursor() as cursor:
            problems = access_log_guard.guarantee_problems(cursor)
        if problems:
            raise CommandError(
                "pii_access_log is not append-only against the platform's role: " + "; ".join(problems)
            )
        self.stdout.write(
            f"pii_access_log is append-only against {app_role} (owned by a role it cannot become)"
        )
