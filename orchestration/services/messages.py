"""Messages to django-q2's broker that say "run these tasks", sent in bulk.

django-q2's ``async_task`` sends one message per call: a Redis round trip or an INSERT each, plus a
human-readable name made from a fresh UUID. A dispatch hands up to hundreds of tasks to the broker
at once, and under a stream of short tasks that per-message cost was the largest part of a worker's
time. So the messages are built here as django-q2 builds them (the same package, signed the same
way, which its workers read unchanged) and pushed together: one RPUSH on Redis, one INSERT of many
rows on the database broker. Any other broker gets them one by one through its own ``enqueue``.

A large dispatch also bundles its tasks: a message names up to ``MAX_BUNDLE`` of them, run one after
another by the worker that takes it (``orchestration.tasks.task_execute``), because a message costs
its broker, django-q2's pusher, worker loop and monitor about as much as a short task costs the
engine. Dispatches of up to ``MIN_MESSAGES`` tasks send one message per task, and larger ones never
fewer messages than that, so a backlog still spreads over every worker. A bundle that runs long
sends the tasks it has not started back through ``send_run_messages`` (``BUNDLE_SECONDS``): being
few, they go one per message, to as many free workers.

``save=False``: django-q2 keeps no success record of a run; the tasks table is the record of every
outcome (a failure of the entry point itself is still kept).
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Sequence

EXECUTE_FUNC = "orchestration.tasks.task_execute"
MAX_BUNDLE = 8
MIN_MESSAGES = 64
# Past this, a bundle's remaining tasks go back to the broker for any free worker to take.
BUNDLE_SECONDS = 0.5


def bundles(task_ids: Sequence[str]) -> list[Sequence[str]]:
    """``task_ids`` in order, cut into the messages that carry them."""
    total = len(task_ids)
    count = max(min(total, MIN_MESSAGES), -(-total // MAX_BUNDLE))
    # Even cuts: bundle sizes differ by one at most.
    return [task_ids[i * total // count : (i + 1) * total // count] for i in range(count)]


def send_run_messages(task_ids: Iterable[uuid.UUID | str]) -> int:
    """Messages for the tasks, in order, bundled as ``bundles`` cuts them; returns how many
    messages were sent."""
    from django_q.brokers import get_broker
    from django_q.conf import Conf

    task_ids = [str(task_id) for task_id in task_ids]
    if not task_ids:
        return 0
    messages = bundles(task_ids)
    if Conf.SYNC:  # run in place (django-q2's sync mode): its own path does that
        from django_q.tasks import async_task

        for ids in messages:
            async_task(EXECUTE_FUNC, *ids, task_name=_name(ids), save=False)
        return len(messages)
    _push(get_broker(), [_package(ids) for ids in messages])
    return len(messages)


def message_task_ids(package: dict) -> list[str]:
    """The task ids a message names (none when it is not a run message)."""
    if package.get("func") != EXECUTE_FUNC:
        return []
    return [str(task_id) for task_id in package.get("args") or ()]


def _name(task_ids: Sequence[str]) -> str:
    return f"task {task_ids[0]}" + (f" and {len(task_ids) - 1} more" if len(task_ids) > 1 else "")


def _package(task_ids: Sequence[str]) -> str:
    """The signed package ``async_task`` would send for ``task_execute(*task_ids)``."""
    from django.utils import timezone
    from django_q.conf import Conf
    from django_q.signals import pre_enqueue
    from django_q.signing import SignedPackage

    task = {
        "id": uuid.uuid4().hex,
        "name": _name(task_ids),
        "func": EXECUTE_FUNC,
        "args": tuple(task_ids),
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
