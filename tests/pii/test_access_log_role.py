"""The access log is append-only against the role the application connects as, not only through the
ORM and the triggers: once sealed, that role cannot disable, drop or rewrite what guards the log.

On the embedded server (``make test``) the tests run as the platform's own role, sealed after migrate
as every embedded database is. On a server the tests reach as a superuser (DATABASE_URL), each test
creates a login role standing for the application (inside the test's transaction, rolled back with
it), seals the log against it as the seal command does, and acts as it with SET ROLE."""

from __future__ import annotations

import pytest
from django.db import DatabaseError, connection, transaction
from psycopg import sql

from pii import access_log_guard
from pii.services import access_log_write

pytestmark = pytest.mark.django_db


def _roles() -> tuple[str, str]:
    # Roles belong to the whole server, shared by concurrent test databases: named after this one.
    name = connection.settings_dict["NAME"]
    return f"{name}_app", f"{name}_log_owner"


def _run(statement: str, params=None):
    with connection.cursor() as cursor:
        cursor.execute(statement, params)
        return cursor.fetchall() if cursor.description else None


def _refused(statement: str) -> str | None:
    """The database's refusal of ``statement``, or None when it ran (rolled back either way)."""
    try:
        with transaction.atomic():
            _run(statement)
            raise _RanAnyway()
    except _RanAnyway:
        return None
    except DatabaseError as exc:
        return str(exc)


class _RanAnyway(Exception):
    pass


def _superuser() -> bool:
    return _run("SELECT rolsuper FROM pg_roles WHERE rolname = current_user")[0][0]


@pytest.fixture
def app_role(reader):
    """The role to act as: the platform's own (sealed) or a stand-in (see the module docstring)."""
    # Foreign keys are checked at once, so no deferred check is pending when a table is altered.
    _run("SET CONSTRAINTS ALL IMMEDIATE")
    if not _superuser():
        access_log_write(user=reader, action="query", reads=[("alpha.people", "email", None)])
        return None
    return _stand_in(reader)


def _stand_in(reader):
    """A non-superuser login role owning the application's tables (``users`` among them), as the
    application's role does; the log holds one row."""
    app, _ = _roles()
    _run(
        sql.SQL("CREATE ROLE {} LOGIN NOSUPERUSER")
        .format(sql.Identifier(app))
        .as_string(connection.connection)
    )
    _run(
        sql.SQL("GRANT USAGE, CREATE ON SCHEMA public TO {}")
        .format(sql.Identifier(app))
        .as_string(connection.connection)
    )
    _run(
        sql.SQL("ALTER TABLE users OWNER TO {}").format(sql.Identifier(app)).as_string(connection.connection)
    )
    access_log_write(user=reader, action="query", reads=[("alpha.people", "email", None)])
    return app


def _seal(app: str | None) -> None:
    if app is None:
        return  # the embedded server sealed it after migrate
    _, owner = _roles()
    with connection.cursor() as cursor:
        access_log_guard.seal(cursor.cursor, app_role=app, owner_role=owner)


def _as(role: str | None) -> None:
    if role is None:
        return
    _run(sql.SQL("SET ROLE {}").format(sql.Identifier(role)).as_string(connection.connection))


ATTEMPTS = [
    "ALTER TABLE pii_access_log DISABLE TRIGGER ALL",
    "ALTER TABLE pii_access_log DISABLE TRIGGER USER",
    "ALTER TABLE pii_access_log DISABLE TRIGGER pii_access_log_append_only",
    "DROP TRIGGER pii_access_log_append_only ON pii_access_log",
    "DROP TRIGGER pii_access_log_no_truncate ON pii_access_log",
    "DROP TABLE pii_access_log",
    "DROP TABLE pii_access_log CASCADE",
    "TRUNCATE pii_access_log",
    "TRUNCATE users CASCADE",
    "UPDATE pii_access_log SET column_name = 'nothing'",
    "DELETE FROM pii_access_log",
    "ALTER TABLE pii_access_log OWNER TO CURRENT_USER",
    "ALTER TABLE pii_access_log RENAME TO pii_access_log_old",
    "ALTER SCHEMA public OWNER TO CURRENT_USER",
    "DROP SCHEMA public CASCADE",
    "CREATE OR REPLACE FUNCTION pii_access_log_refuse_change() RETURNS trigger LANGUAGE plpgsql "
    "AS $$ BEGIN RETURN OLD; END $$",
    "ALTER FUNCTION pii_access_log_refuse_truncate() OWNER TO CURRENT_USER",
    "SET session_replication_role = replica",
    "CREATE RULE no_delete AS ON DELETE TO pii_access_log DO INSTEAD NOTHING",
]


@pytest.mark.parametrize("statement", ATTEMPTS)
def test_the_application_role_cannot_rewrite_the_sealed_log(app_role, statement):
    _seal(app_role)
    _as(app_role)
    assert _refused(statement) is not None, statement
    if app_role:
        _run("RESET ROLE")
    assert _run("SELECT count(*) FROM pii_access_log") == [(1,)]


def test_a_temporary_table_of_the_same_name_does_not_fool_the_truncate_guard(app_role):
    _seal(app_role)
    _as(app_role)
    refusal = _refused("CREATE TEMPORARY TABLE pii_access_log (id int); TRUNCATE public.pii_access_log")
    assert refusal is not None and "append-only" in refusal


def test_the_application_role_still_inserts_and_reads(app_role, reader):
    _seal(app_role)
    _as(app_role)
    access_log_write(user=reader, action="export", reads=[("alpha.people", "phone", None)])
    assert _run("SELECT count(*) FROM pii_access_log") == [(2,)]
    with connection.cursor() as cursor:
        assert access_log_guard.guarantee_problems(cursor) == []


def test_an_owning_application_role_could_disable_the_triggers_and_the_check_says_so(app_role):
    if app_role is None:
        pytest.skip("needs a superuser to hand the log to the platform's role")
    # What sealing prevents: the owner of the table switches its guard off.
    _run(f'ALTER TABLE pii_access_log OWNER TO "{app_role}"')
    _as(app_role)
    with connection.cursor() as cursor:
        problems = access_log_guard.guarantee_problems(cursor)
    assert any("owns pii_access_log" in problem for problem in problems)
    assert _refused("ALTER TABLE pii_access_log DISABLE TRIGGER USER") is None
    assert _refused("DROP TRIGGER pii_access_log_append_only ON pii_access_log") is None


def test_the_check_reports_a_superuser_connection():
    if not _superuser():
        pytest.skip("the platform does not connect as a superuser here")
    with connection.cursor() as cursor:
        problems = access_log_guard.guarantee_problems(cursor)
    assert problems and "a superuser" in problems[0]


def test_releasing_hands_the_log_back_for_a_migration(app_role):
    if app_role is None:
        pytest.skip("releasing takes a superuser")
    _seal(app_role)
    with connection.cursor() as cursor:
        access_log_guard.release(cursor.cursor, app_role=app_role)
    _as(app_role)
    assert _refused("ALTER TABLE pii_access_log ADD COLUMN note text") is None


def test_check_deploy_warns_while_the_guarantee_does_not_hold():
    from pii.checks import access_log_sealed

    assert access_log_sealed() == []  # a plain check --deploy does not reach the database
    warnings = access_log_sealed(databases=["default"])
    if _superuser():
        assert [warning.id for warning in warnings] == ["pii.W002"]
        assert "superuser" in warnings[0].msg and "pii_access_log_seal" in warnings[0].hint
    else:
        assert warnings == []  # the embedded server sealed the log after migrate


def test_the_seal_command_refuses_a_superuser_platform_connection():
    from django.core.management import CommandError, call_command

    if not _superuser():
        pytest.skip("the platform does not connect as a superuser here")
    url = "postgres://{USER}@{HOST}:{PORT}/".format(**connection.settings_dict)
    with pytest.raises(CommandError, match="nothing to seal against"):
        call_command("pii_access_log_seal", superuser_url=url)
    with pytest.raises(CommandError, match="not append-only"):
        call_command("pii_access_log_seal")
