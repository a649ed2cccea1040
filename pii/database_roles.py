"""Keeping the access log sealed on the embedded server across migrations.

On the embedded server the platform holds the superuser's socket, so it seals the log itself after
every ``migrate`` (and hands it back to the application role just before, so a migration that alters
the log can run). With DATABASE_URL the operator seals once with ``manage.py pii_access_log_seal``
and a superuser URL; ``manage.py check --deploy`` says whether the seal holds.
"""

from __future__ import annotations

import psycopg
from django.db import connections

from platform_site.database import EMBEDDED_OWNER_ROLE, embedded_superuser_url

from . import access_log_guard


def _embedded_superuser_cursor(using: str):
    settings_dict = connections[using].settings_dict
    url = embedded_superuser_url(settings_dict["NAME"])
    if url is None:
        return None, None
    return psycopg.connect(url, autocommit=True), settings_dict["USER"]


def release_before_migrate(*, using: str = "default", **kwargs) -> None:
    conn, app_role = _embedded_superuser_cursor(using)
    if conn is None:
        return
    with conn, conn.cursor() as cursor:
        access_log_guard.release(cursor, app_role=app_role)


def seal_after_migrate(*, using: str = "default", **kwargs) -> None:
    conn, app_role = _embedded_superuser_cursor(using)
    if conn is None:
        return
    with conn, conn.cursor() as cursor:
        if access_log_guard.table_exists(cursor):
            access_log_guard.seal(cursor, app_role=app_role, owner_role=EMBEDDED_OWNER_ROLE)
