"""``manage.py check --deploy --database default``: is the access log append-only against the
application's role? Tagged ``database``, so it runs only when asked to reach the database (a plain
``check --deploy`` stays a static check that needs no server)."""

from __future__ import annotations

from django.core import checks
from django.db import DatabaseError, connection

from .access_log_guard import guarantee_problems


@checks.register(checks.Tags.security, checks.Tags.database, deploy=True)
def access_log_sealed(app_configs=None, databases=None, **kwargs) -> list[checks.CheckMessage]:
    if not databases or connection.alias not in databases:
        return []
    try:
        with connection.cursor() as cursor:
            problems = guarantee_problems(cursor)
    except DatabaseError as exc:
        return [checks.Warning(f"could not check the access log's seal: {exc}", id="pii.W001")]
    return [
        checks.Warning(
            f"pii_access_log is not append-only against the application's role: {problem}",
            hint="connect as a role that is no superuser and run "
            "`manage.py pii_access_log_seal --superuser-url postgres://…` once",
            id="pii.W002",
        )
        for problem in problems
    ]
