"""Recovering from lost broker messages and stalled worker clusters (used by the worker supervisor).

The tasks table is the truth; the broker only carries "run task X" messages, and a second delivery
of one claims nothing. So a message can always be sent again: a queued task whose message is gone
(acknowledged after a failed claim, fetched by a cluster that was killed or hung, taken by a worker
that died) is re-sent after ``TASK_LOST_MESSAGE_SECONDS`` instead of waiting for the
``TASK_QUEUED_REDISPATCH_SECONDS`` fallback. Both brokers can be read: the database one's queue
table, and on Redis the queue list and the processing lists of ``orchestration.broker``.
"""

from __future__ import annotations

import functools
import logging
import socket
import uuid

from django.conf import settings
from django.db import connection, transaction

from orchestration.broker import fetched_drop, fetched_messages, waiting_messages

from .failure import task_fail
from .leases import Lease
from .messages import message_task_ids, send_run_messages

log = logging.getLogger(__name__)


def _redispatch_seconds() -> int:
    return int(settings.TASK_QUEUED_REDISPATCH_SECONDS)


def _orm_broker():
    """django-q2's broker when it is the database one, else None."""
    from django_q.brokers.orm import ORM

    broker = _broker()
    return broker if isinstance(broker, ORM) else None


def _broker():
    from django_q.brokers import get_broker

    return get_broker()


@functools.lru_cache(maxsize=65536)
def _package_task_ids(payload: str | bytes, salt: str) -> tuple[str, ...]:
    """The task ids a broker message names; a backlog's messages are read every second, so each is
    unsigned once."""
    from django_q.signing import BadSignature, SignedPackage

    try:
        return tuple(message_task_ids(SignedPackage.loads(payload)))
    except (BadSignature, TypeError, ValueError):
        return ()


def _task_ids(payload: str | bytes) -> tuple[str, ...]:
    from django_q.conf import Conf

    return _package_task_ids(payload, Conf.PREFIX)


def _broker_messages(broker) -> tuple[set[str], dict[str, list]] | None:
    """Task ids with a message waiting to be taken, and the fetched (taken, unfinished) messages
    per task id, as handles ``_drop_fetched`` removes; None for a broker that cannot be read."""
    from django_q.brokers.orm import ORM
    from django_q.brokers.redis_broker import Redis

    waiting: set[str] = set()
    fetched: dict[str, list] = {}
    if isinstance(broker, ORM):
        from django.utils import timezone
        from django_q.models import OrmQ

        now = timezone.now()
        for message_id, payload, lock in OrmQ.objects.filter(key=broker.list_key).values_list(
            "id", "payload", "lock"
        ):
            for task_id in _task_ids(payload):
                if lock is None or lock <= now:
                    waiting.add(task_id)
                else:
                    fetched.setdefault(task_id, []).append(message_id)
        return waiting, fetched
    if isinstance(broker, Redis):
        for payload in waiting_messages(broker):
            waiting.update(_task_ids(payload))
        for handle in fetched_messages(broker):
            for task_id in _task_ids(handle[1]):
                fetched.setdefault(task_id, []).append(handle)
        return waiting, fetched
    return None


def _drop_fetched(broker, stale: list) -> None:
    from django_q.brokers.orm import ORM

    if not stale:
        return
    if isinstance(broker, ORM):
        from django_q.models import OrmQ

        OrmQ.objects.filter(id__in=stale).delete()
    else:
        fetched_drop(broker, stale)


def tasks_requeue_lost(*, older_than: float | None = None, broker=None) -> list[uuid.UUID]:
    """Send a fresh message for every task queued longer than ``older_than`` seconds that has no
    message waiting in the broker (the database's queue table, or the Redis list); drop its stale
    fetched copies. Returns the re-sent task ids.

    A task whose message a live cluster holds (prefetched behind long work, or taken by a worker
    that died) is sent again too: whichever delivery comes first claims it, the other claims
    nothing. With a broker whose messages cannot be read, this does nothing and the redispatch
    fallback of ``tasks_reap`` applies.
    """
    broker = broker or _broker()
    if older_than is None:
        older_than = float(settings.TASK_LOST_MESSAGE_SECONDS)
    redispatch = _redispatch_seconds()
    with transaction.atomic(), connection.cursor() as cursor:
        # While queued, next_retry_at = queued time + redispatch: queued before now - older_than.
        cursor.execute(
            """
            SELECT id FROM tasks
            WHERE status = 'queued' AND next_retry_at < now() + make_interval(secs => %s)
            ORDER BY created_at LIMIT 1000
            FOR UPDATE SKIP LOCKED
            """,
            [redispatch - older_than],
        )
        candidates = [row[0] for row in cursor.fetchall()]
        if not candidates:
            return []
        messages = _broker_messages(broker)
        if messages is None:
            return []
        waiting, fetched = messages
        lost = [task_id for task_id in candidates if str(task_id) not in waiting]
        if not lost:
            return []
        cursor.execute(
            "UPDATE tasks SET next_retry_at = now() + make_interval(secs => %s) WHERE id = ANY(%s)",
            [redispatch, lost],
        )
        stale = list({m: None for task_id in lost for m in fetched.get(str(task_id), [])})
        transaction.on_commit(lambda: _resend(broker, lost, stale))
    log.warning("re-sent %d queued task(s) whose broker message was gone", len(lost))
    return lost


def _resend(broker, task_ids: list[uuid.UUID], stale_messages: list) -> None:
    _drop_fetched(broker, stale_messages)
    send_run_messages(task_ids)


def work_waiting(*, older_than: float) -> bool:
    """Has work waited at least ``older_than`` seconds for a worker: a queued task, or a broker
    message nobody fetched?"""
    with connection.cursor() as cursor:
        cursor.execute(
            """
            SELECT EXISTS (SELECT 1 FROM tasks
                           WHERE status = 'queued' AND next_retry_at < now() + make_interval(secs => %s))
            """,
            [_redispatch_seconds() - older_than],
        )
        if cursor.fetchone()[0]:
            return True
    broker = _orm_broker()
    if broker is None:
        return False
    from datetime import timedelta

    from django.utils import timezone
    from django_q.models import OrmQ

    # A message's lock is its enqueue time until a cluster fetches it (then it moves ahead).
    return OrmQ.objects.filter(
        key=broker.list_key, lock__lte=timezone.now() - timedelta(seconds=older_than)
    ).exists()


def workers_made_progress(*, pids: list[int], within: float) -> bool:
    """Is one of these worker processes (of this host) running a task, or did one claim a task in
    the last ``within`` seconds? Worker ids are ``host:pid:nonce``."""
    if not pids:
        return False
    host = socket.gethostname()
    patterns = [f"{host}:{pid}:%" for pid in pids]
    with connection.cursor() as cursor:
        cursor.execute(
            """
            SELECT EXISTS (SELECT 1 FROM tasks
                           WHERE worker_id LIKE ANY(%s)
                             AND (status = 'running' OR started_at > now() - make_interval(secs => %s)))
            """,
            [patterns, within],
        )
        return cursor.fetchone()[0]


def tasks_fail_of_ended_workers(*, pids: list[int]) -> list[uuid.UUID]:
    """Fail, with the usual retry, the running tasks of worker processes of this host that have
    ended (killed, out of memory, their cluster stopped): the supervisor saw them in its cluster and
    they are gone, so nothing will heartbeat or finish them, and waiting ``heartbeat_timeout_seconds``
    for the reaper would only delay the retry. Fenced: a task that moved on is left alone. Returns
    the failed task ids."""
    if not pids:
        return []
    host = socket.gethostname()
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT id, worker_id, attempts FROM tasks WHERE status = 'running' AND worker_id LIKE ANY(%s)",
            [[f"{host}:{pid}:%" for pid in pids]],
        )
        rows = cursor.fetchall()
    failed = []
    for task_id, worker_id, attempts in rows:
        pid = worker_id.split(":")[1]
        if task_fail(lease=Lease(task_id, worker_id, attempts), error=f"worker process {pid} ended"):
            failed.append(task_id)
    if failed:
        log.warning("failed %d task(s) whose worker process ended", len(failed))
    return failed
