"""Every benchmark runs in a database of its own, on the server the platform uses.

The server is the embedded PostgreSQL (or the one ``DATABASE_URL`` names); the database is separate
so a benchmark never reads or writes development or production data. Call before ``django.setup()``.
"""

from __future__ import annotations

import os

import psycopg
from psycopg import sql


def _maintenance_url() -> str:
    if url := os.environ.get("DATABASE_URL"):
        import dj_database_url

        parsed = dj_database_url.parse(url)
        credentials = f"{parsed['USER']}:{parsed['PASSWORD']}"
        return f"postgresql://{credentials}@{parsed['HOST']}:{parsed['PORT'] or 5432}/postgres"
    from platform_site.config import data_dir
    from platform_site.database import embedded_server

    return embedded_server(data_dir()).get_uri("postgres")


def use_bench_database(name: str, *, fresh: bool) -> None:
    """Point Django at database ``name``; ``fresh`` drops it first, otherwise an existing one is kept
    (a benchmark that loads millions of rows reuses them between runs)."""
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "platform_site.settings")
    with psycopg.connect(_maintenance_url(), autocommit=True) as conn:
        if fresh:
            conn.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name)))
        exists = conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", [name]).fetchone()
        if not exists:
            create = sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name))
            if not os.environ.get("DATABASE_URL"):
                # Created by the embedded superuser, owned by the role the platform connects as, so
                # its migrations may create tables in the database's public schema.
                from platform_site.database import EMBEDDED_APP_ROLE

                create += sql.SQL(" OWNER {}").format(sql.Identifier(EMBEDDED_APP_ROLE))
            conn.execute(create)
    os.environ["CHAINLAKE_DATABASE_NAME"] = name
