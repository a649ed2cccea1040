"""Recovering from lost broker messages and stalled worker clusters (used by the worker supervisor).

The tasks table is the truth; the broker only carries "run task X" messages, and a second delivery
of one claims nothing. So a message can always be sent again: a queued task whose message is gone
(acknowledged after a failed claim, fetched by a cluster that was killed or hung) is re-sent after
``TASK_LOST_MESSAGE_SECONDS`` instead of waiting for the ``TASK_QUEUED_REDISPATCH_SECONDS`` fallback.
"""

from __future__ import annotations

import logging
import socket
import uuid

from django.conf import settings
from django.db import connection, transaction

from .messages import message_task_ids

log = logging.getLogger(__name__)


def _redispatch_seconds() -> int:
    return int(getattr(settings, "TASK_QUEUED_REDISPATCH_SECONDS", 600))


def _orm_broker():
    """django-q2's broker when it is the database one (whose messages can be inspected), else None."""
    from django_q.brokers import get_broker
    from django_q.brokers.orm import ORM

    broker = get_broker()
    return broker if isinstance(broker, ORM) else None


def _waiting_message_task_ids(broker) -> tuple[set[str], dict[str, list[int]]]:
    """Task ids with a message waiting to be fetched, and the ids of fetched (locked) messages per
    task id."""
    from django.utils import timezone
    from django_q.models import OrmQ
    from django_q.signing import BadSignature, SignedPackage

    now = timezone.now()
    waiting: set[str] = set()
    fetched: dict[str, list[int]] = {}
    for message_id, payload, lock in OrmQ.objects.filter(key=broker.list_key).values_list(
        "id", "payload", "lock"
    ):
        try:
            package = SignedPackage.loads(payload)
        except (BadSignature, TypeError, ValueError):
            continue
        for task_id in message_task_ids(package):
            if lock is None or lock <= now:
                waiting.add(task_id)
            else:
                fetched.setdefault(task_id, []).append(message_id)
    return waiting, fetched


def tasks_requeue_lost(*, older_than: float | None = None) -> list[uuid.UUID]:
    """Send a fresh message for every task queued longer than ``older_than`` seconds that has no
    message waiting in the broker; drop its stale fetched ones. Returns the re-sent task ids.

    With a broker whose messages cannot be inspected (Redis), this does nothing and the
    redispatch fallback of ``tasks_reap`` applies.
    """
    broker = _orm_broker()
    if broker is None:
        return []
    if older_than is None:
        older_than = float(getattr(settings, "TASK_LOST_MESSAGE_SECONDS", 10))
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
        waiting, fetched = _waiting_message_task_ids(broker)
        lost = [task_id for task_id in candidates if str(task_id) not in waiting]
        if not lost:
            return []
        cursor.execute(
            "UPDATE tasks SET next_retry_at = now() + make_interval(secs => %s) WHERE id = ANY(%s)",
            [redispatch, lost],
        )
        stale = [m for task_id in lost for m in fetched.get(str(task_id), [])]
        transaction.on_commit(lambda: _resend(lost, stale))
    log.warning("re-sent %d queued task(s) whose broker message was gone", len(lost))
    return lost


def _resend(task_ids: list[uuid.UUID], stale_messages: list[int]) -> None:
    from django_q.models import OrmQ

    from .messages import send_run_messages

    if stale_messages:
        OrmQ.objects.filter(id__in=stale_messages).delete()
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
