""" "Run task X" messages to django-q2's broker, sent in bulk.

django-q2's ``async_task`` sends one message per call: a Redis round trip or an INSERT each, plus a
human-readable name made from a fresh UUID. A dispatch hands up to hundreds of tasks to the broker
at once, and under a stream of short tasks that per-message cost was the largest part of a worker's
time. So the messages are built here as django-q2 builds them (the same package, signed the same
way, which its workers read unchanged) and pushed together: one RPUSH on Redis, one INSERT of many
rows on the database broker. Any other broker gets them one by one through its own ``enqueue``.

``save=False``: django-q2 keeps no success record of a task run; the tasks table is the record of
every outcome (a failure of the entry point itself is still kept).
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable

EXECUTE_FUNC = "orchestration.tasks.task_execute"


def send_run_messages(task_ids: Iterable[uuid.UUID | str]) -> int:
    """One message per task id, in order; returns how many were sent."""
    from django_q.brokers import get_broker
    from django_q.conf import Conf

    task_ids = [str(task_id) for task_id in task_ids]
    if not task_ids:
        return 0
    if Conf.SYNC:  # run in place (django-q2's sync mode): its own path does that
        from django_q.tasks import async_task

        for task_id in task_ids:
            async_task(EXECUTE_FUNC, task_id, task_name=f"task {task_id}", save=False)
        return len(task_ids)
    broker = get_broker()
    _push(broker, [_package(task_id) for task_id in task_ids])
    return len(task_ids)


def _package(task_id: str) -> str:
    """The signed package ``async_task`` would send for ``task_execute(task_id)``."""
    from django.utils import timezone
    from django_q.conf import Conf
    from django_q.signals import pre_enqueue
    from django_q.signing import SignedPackage

    task = {
        "id": uuid.uuid4().hex,
        "name": f"task {task_id}",
        "func": EXECUTE_FUNC,
        "args": (task_id,),
        "save": False,
        "kwargs": {},
        "started": timezone.now(),
    }
    if Conf.CACHED:
        task["cached"] = Conf.CACHED
    if Conf.ACK_FAILURES:
        task["ack_failure"] = Conf.ACK_FAILURES
    pre_enqueue.send(sender="django_q", task=task)
    return SignedPackage.dumps(task)


def _push(broker, packages: list[str]) -> None:
    from django.utils import timezone
    from django_q.brokers.orm import ORM
    from django_q.brokers.redis_broker import Redis
    from django_q.conf import Conf
    from django_q.models import OrmQ

    if isinstance(broker, Redis):
        broker.connection.rpush(broker.list_key, *packages)
    elif isinstance(broker, ORM):
        # A message's lock is its enqueue time until a cluster fetches it, as ORM.enqueue sets it.
        now = timezone.now()
        key = broker.list_key or Conf.CLUSTER_NAME
        OrmQ.objects.using(Conf.ORM).bulk_create(
            [OrmQ(key=key, payload=package, lock=now) for package in packages]
        )
    else:
        for package in packages:
            broker.enqueue(package)
