"""The lease of a running task: the claim that takes it, the heartbeat that keeps it, the fence.

The lease is fenced by ``(worker_id, attempts)``: a claim sets a fresh ``worker_id`` and increments
``attempts``, and every later write of the worker (heartbeat, publish, failure) only applies while
the task is still ``running`` under that same pair (:data:`LEASE_HELD`). A worker that lost its task
(reaped, cancelled, re-claimed) has every write rejected: its files stay unreferenced and the GC
removes them.

Claims, heartbeats and output-less completions commit asynchronously (``synchronous_commit`` off
for that one transaction, :data:`ASYNC_COMMIT`): if the database crashes and loses one of them, the
fence makes the loss harmless — the worker's next write is rejected and the task is reaped and
retried. A publish that makes outputs visible always commits synchronously.
"""

from __future__ import annotations

import functools
import json
import os
import socket
import uuid
from dataclasses import dataclass

import psycopg
from django.db import InterfaceError, OperationalError, connection

from orchestration.models import Job, Task
from orgs.models import Org
from platform_site.database import retry_on_disconnect


class LeaseLost(Exception):
    """The task is no longer ours: reaped, cancelled or claimed by another worker."""


@dataclass(frozen=True)
class Lease:
    """One attempt's hold on a task, as its claim set it: what every later write is fenced by."""

    task_id: uuid.UUID
    worker_id: str
    attempt: int

    @property
    def fence(self) -> list:
        """The parameters of :data:`LEASE_HELD`, in its order."""
        return [self.task_id, self.worker_id, self.attempt]


# "This attempt still holds the lease", for a statement on ``tasks t``; its parameters are
# ``Lease.fence``. Every write of a worker is conditioned on it.
LEASE_HELD = "t.id = %s AND t.status = 'running' AND t.worker_id = %s AND t.attempts = %s"

# Joined into a statement's FROM: that statement's transaction commits asynchronously.
ASYNC_COMMIT = "(SELECT set_config('synchronous_commit', 'off', true)) AS cfg"


def execute_prepared(sql: str, params: list):
    """Run a hot-path statement as a server-side prepared statement on Django's connection.

    Claims, heartbeats and completions run thousands of times a second across workers; preparing
    them once per connection skips parsing and planning on every call (planning was most of the
    database's time per task). Same connection and transaction state as the ORM, but a cursor of
    psycopg's own: Django's cursors bind parameters client-side, and such a cursor never prepares.

    Errors go through Django's wrapper, so a dropped connection counts as one for Django's own
    checks; outside a transaction it is also closed here at once, so the next call reconnects
    instead of failing on the dead socket until ``CONN_MAX_AGE``.
    """
    connection.ensure_connection()
    if connection.connection.closed and not connection.in_atomic_block:
        connection.close()
        connection.ensure_connection()
    try:
        with connection.wrap_database_errors:
            return psycopg.Cursor(connection.connection).execute(sql, params, prepare=True)
    except (OperationalError, InterfaceError):
        if not connection.in_atomic_block:
            connection.close()
        raise


def new_worker_id() -> str:
    return f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"


# -- claim --------------------------------------------------------------------------------------
def _claim_sql(*, also_from: str, which: str, returning: str) -> str:
    """The claim, for the task(s) ``which`` selects: running under a fresh worker and attempt."""
    return f"""
        UPDATE tasks t SET status = 'running', worker_id = %s, attempts = t.attempts + 1,
               started_at = now(), last_heartbeat = now(), next_retry_at = NULL
        FROM {also_from}{ASYNC_COMMIT}
        WHERE {which}
        RETURNING {returning}
    """


class _RowLoader:
    """Model instances from raw column values, converted as the ORM would (jsonb arrives as text).

    The claim returns its task, job and org as plain columns of one row; the attribute names and
    the ORM's converters of the columns that have any are the same for every row, so they are
    looked up once per process.
    """

    def __init__(self, model) -> None:
        self.model = model
        self.fields = model._meta.concrete_fields

    def columns(self, alias: str) -> str:
        return ", ".join(f"{alias}.{field.column}" for field in self.fields)

    @functools.cached_property
    def _names_and_converters(self) -> tuple[list[str], list[tuple[int, list]]]:
        converting = [
            (i, converters)
            for i, field in enumerate(self.fields)
            if (converters := field.get_db_converters(connection))
        ]
        return [field.attname for field in self.fields], converting

    def load(self, values) -> object:
        names, converting = self._names_and_converters
        values = list(values)
        for index, converters in converting:
            for converter in converters:
                values[index] = converter(values[index], None, connection)
        return self.model.from_db(connection.alias, names, values)


_TASK, _JOB, _ORG = _RowLoader(Task), _RowLoader(Job), _RowLoader(Org)


@functools.cache
def _claim_and_load_sql() -> str:
    """Claim a queued (or pending) task of an active job, returning the task, its job, its org and
    the job's cursors."""
    return _claim_sql(
        also_from="jobs j, orgs o, ",
        which="""t.id = %s AND j.id = t.job_id AND o.id = j.org_id AND j.active
          AND t.status IN ('queued', 'pending')""",
        returning=f"""{_TASK.columns("t")}, {_JOB.columns("j")}, {_ORG.columns("o")},
                  (SELECT coalesce(jsonb_object_agg(c.dataset, c.cursor_value), '{{}}'::jsonb)
                   FROM dataset_cursors c WHERE c.job_id = j.id)""",
    )


CLAIM_NEXT_SQL = _claim_sql(
    also_from="",
    which="""t.id = (
            SELECT id FROM tasks WHERE status = 'queued' ORDER BY created_at, id
            LIMIT 1 FOR UPDATE SKIP LOCKED
        )""",
    returning="t.id, t.attempts",
)


@retry_on_disconnect()
def task_claim_loaded(*, task_id: uuid.UUID | str, worker_id: str) -> tuple[Lease, Task, dict] | None:
    """Take a queued (or pending) task; returns the lease, the task with its job and org, and the
    job's cursors, or None when another worker has it or it is no longer live.

    One statement and one round trip where a claim, a load and a cursor read took three. The row is
    the one the claim wrote, so nothing can change between claim and load.
    """
    task_id = uuid.UUID(str(task_id))
    row = execute_prepared(_claim_and_load_sql(), [worker_id, task_id]).fetchone()
    if row is None:
        return None
    job_starts = len(_TASK.fields)
    org_starts = job_starts + len(_JOB.fields)
    task = _TASK.load(row[:job_starts])
    job = _JOB.load(row[job_starts:org_starts])
    job.org = _ORG.load(row[org_starts:-1])
    task.job = job
    cursors = row[-1]
    cursors = json.loads(cursors) if isinstance(cursors, str) else cursors
    return Lease(task_id, worker_id, task.attempts), task, cursors


def task_claim(*, task_id: uuid.UUID | str, worker_id: str) -> Lease | None:
    """Take a queued (or pending) task; None when another worker has it or it is no longer live."""
    claimed = task_claim_loaded(task_id=task_id, worker_id=worker_id)
    return claimed[0] if claimed else None


def task_claim_next(*, worker_id: str) -> Lease | None:
    """Take the oldest queued task of any job (pull mode: workers that poll the ledger directly)."""
    row = execute_prepared(CLAIM_NEXT_SQL, [worker_id]).fetchone()
    return Lease(row[0], worker_id, row[1]) if row else None


# -- holding the lease --------------------------------------------------------------------------
HEARTBEAT_SQL = f"UPDATE tasks t SET last_heartbeat = now() FROM {ASYNC_COMMIT} WHERE {LEASE_HELD}"
HOLDS_LEASE_SQL = f"SELECT 1 FROM tasks t WHERE {LEASE_HELD}"
LOCK_LEASED_SQL = f"SELECT 1 FROM tasks t WHERE {LEASE_HELD} FOR UPDATE"


def task_heartbeat(*, lease: Lease) -> bool:
    """Refresh the lease; False when it is lost."""
    return execute_prepared(HEARTBEAT_SQL, lease.fence).rowcount == 1


def task_holds_lease(*, lease: Lease) -> bool:
    """Is the task still running under this lease (not cancelled, reaped or re-claimed)?"""
    return execute_prepared(HOLDS_LEASE_SQL, lease.fence).fetchone() is not None


def lock_leased(cursor, lease: Lease) -> bool:
    """Lock the task's row for this transaction while the lease holds; False when it is lost."""
    cursor.execute(LOCK_LEASED_SQL, lease.fence)
    return cursor.fetchone() is not None
