"""The access log is append-only against the role the application connects as.

The triggers of migration 0003 refuse UPDATE, DELETE and the TRUNCATE of a non-empty log, but a
table's owner may disable or drop its triggers, and the owner of its schema may drop it. So the log is
*sealed*: a NOLOGIN role the application cannot become owns the table and its trigger functions, the
application keeps SELECT and INSERT (and TRUNCATE, which the trigger allows on an empty log only: a
test run's flush), and the schema is not the application's either. Sealing takes a superuser once;
:func:`guarantee_problems` tells, from the application's own connection, whether it holds.

A superuser can still do anything (disable the triggers, change the owner, drop the table, set
``session_replication_role``); so can whoever owns the database's data folder on disk.
"""

from __future__ import annotations

from psycopg import sql

TABLE = "pii_access_log"
TRIGGER_FUNCTIONS = ("pii_access_log_refuse_change()", "pii_access_log_refuse_truncate()")
TRIGGERS = ("pii_access_log_append_only", "pii_access_log_no_truncate")
# The role owning the log in every database of a server (roles are per server, not per database).
DEFAULT_OWNER_ROLE = "chainlake_log_owner"


def seal_statements(*, app_role: str, owner_role: str) -> list[sql.Composed]:
    """What a superuser runs, in the application's database, to seal the log (idempotent)."""
    app, owner = sql.Identifier(app_role), sql.Identifier(owner_role)
    table = sql.Identifier(TABLE)
    statements = [
        sql.SQL(
            "DO $$ BEGIN IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = {name}) THEN "
            "CREATE ROLE {owner} NOLOGIN; END IF; END $$"
        ).format(name=sql.Literal(owner_role), owner=owner),
        # Nobody logs in as the owner, and the application must not be able to act as it.
        sql.SQL("REVOKE {owner} FROM {app}").format(owner=owner, app=app),
        sql.SQL("ALTER TABLE {table} OWNER TO {owner}").format(table=table, owner=owner),
        *(
            sql.SQL("ALTER FUNCTION {function} OWNER TO {owner}").format(
                function=sql.SQL(function), owner=owner
            )
            for function in TRIGGER_FUNCTIONS
        ),
        # ALWAYS: the triggers fire even under session_replication_role = replica.
        *(
            sql.SQL("ALTER TABLE {table} ENABLE ALWAYS TRIGGER {trigger}").format(
                table=table, trigger=sql.Identifier(trigger)
            )
            for trigger in TRIGGERS
        ),
        sql.SQL("REVOKE ALL ON {table} FROM PUBLIC, {app}").format(table=table, app=app),
        sql.SQL("GRANT SELECT, INSERT, TRUNCATE ON {table} TO {app}").format(table=table, app=app),
        # A schema's owner may drop any table in it: public belongs to the owner role, the
        # application keeps creating (and owning) its other tables there.
        sql.SQL("ALTER SCHEMA public OWNER TO {owner}").format(owner=owner),
        sql.SQL("GRANT USAGE, CREATE ON SCHEMA public TO {app}").format(app=app),
    ]
    return statements


def release_statements(*, app_role: str) -> list[sql.Composed]:
    """Hand the log back to the application role, for a migration that alters it (then seal again)."""
    app = sql.Identifier(app_role)
    return [
        sql.SQL("ALTER TABLE {table} OWNER TO {app}").format(table=sql.Identifier(TABLE), app=app),
        *(
            sql.SQL("ALTER FUNCTION {function} OWNER TO {app}").format(function=sql.SQL(function), app=app)
            for function in TRIGGER_FUNCTIONS
        ),
    ]


def table_exists(cursor) -> bool:
    cursor.execute("SELECT to_regclass('public.pii_access_log') IS NOT NULL")
    return bool(cursor.fetchone()[0])


def seal(cursor, *, app_role: str, owner_role: str = DEFAULT_OWNER_ROLE) -> None:
    """Seal the log in the database ``cursor`` (a superuser's) is connected to."""
    for statement in seal_statements(app_role=app_role, owner_role=owner_role):
        cursor.execute(statement)


def release(cursor, *, app_role: str) -> None:
    if table_exists(cursor):
        for statement in release_statements(app_role=app_role):
            cursor.execute(statement)


# What the application's own connection can see about its rights over the log. pg_has_role(...,
# 'USAGE') is true for a role's owner, its members that inherit it, and every superuser.
GUARANTEE_QUERY = """
SELECT
    (SELECT rolsuper FROM pg_roles WHERE rolname = current_user),
    pg_has_role(current_user, c.relowner, 'USAGE'),
    pg_has_role(current_user, n.nspowner, 'USAGE'),
    (SELECT bool_or(pg_has_role(current_user, p.proowner, 'USAGE'))
       FROM pg_proc p JOIN pg_trigger t ON t.tgfoid = p.oid
      WHERE t.tgrelid = c.oid AND NOT t.tgisinternal),
    (SELECT array_agg(t.tgname::text ORDER BY t.tgname)
       FROM pg_trigger t WHERE t.tgrelid = c.oid AND NOT t.tgisinternal AND t.tgenabled IN ('O', 'A')),
    current_user
FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
WHERE c.oid = to_regclass('public.pii_access_log')
"""


def guarantee_problems(cursor) -> list[str]:
    """Why the application's role (the one ``cursor`` runs as) could rewrite the log; empty when the
    log is append-only against it."""
    cursor.execute(GUARANTEE_QUERY)
    row = cursor.fetchone()
    if row is None:
        return ["the pii_access_log table does not exist (run migrate)"]
    superuser, owns_table, owns_schema, owns_functions, enabled, role = row
    problems = []
    if superuser:
        problems.append(f"the application connects as {role}, a superuser: it can disable the log's triggers")
    else:
        if owns_table:
            problems.append(f"{role} owns pii_access_log (or can act as its owner): it can drop its triggers")
        if owns_schema:
            problems.append(f"{role} owns the public schema: it can drop pii_access_log")
        if owns_functions:
            problems.append(f"{role} owns the log's trigger functions: it can rewrite them")
    missing = sorted(set(TRIGGERS) - set(enabled or []))
    if missing:
        problems.append(f"trigger {', '.join(missing)} missing or disabled on pii_access_log")
    return problems
