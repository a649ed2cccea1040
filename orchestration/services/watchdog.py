"""The watchdog of a running task: it keeps the lease alive while the operator runs and stops the
work once the task is no longer ours or ran past its timeout.

Watchdogs run on daemon threads kept between tasks (``_WatchdogThreads``), and only once their
first check is due (``_WatchdogsNotYetDue``): most tasks are over before that.
"""

from __future__ import annotations

import contextlib
import logging
import os
import queue
import threading
import time

from django.conf import settings
from django.db import connection

from orchestration.models import Job
from orchestration.operators.base import TaskContext
from platform_site.record_logs import task_log_context

from .failure import task_fail
from .leases import Lease, task_heartbeat, task_holds_lease

log = logging.getLogger(__name__)


def interrupt_grace_seconds() -> float:
    return float(settings.TASK_INTERRUPT_GRACE_SECONDS)


def fence_check_seconds() -> float:
    return float(settings.TASK_FENCE_CHECK_SECONDS)


class _WatchdogThreads:
    """Daemon threads kept between tasks to run watchdogs. Starting a thread waits until the new
    thread is scheduled, milliseconds on a loaded machine, paid by every task however short; an idle
    kept thread takes the next watchdog at once. A busy one (its task still running) is never
    shared: each watchdog has a thread of its own while it runs.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._idle: list[queue.SimpleQueue] = []

    def forget(self) -> None:
        """In a forked child: the parent's threads do not exist here."""
        self._lock = threading.Lock()
        self._idle = []

    def run(self, work) -> None:
        with self._lock:
            inbox = self._idle.pop() if self._idle else None
        if inbox is None:
            inbox = queue.SimpleQueue()
            threading.Thread(target=self._serve, args=(inbox,), daemon=True, name="watchdog").start()
        inbox.put(work)

    def _serve(self, inbox: queue.SimpleQueue) -> None:
        while True:
            work = inbox.get()
            try:
                work()
            except Exception:
                log.exception("a task watchdog failed")
            with self._lock:
                self._idle.append(inbox)


class _WatchdogsNotYetDue:
    """Watchdogs whose first check is still ahead, handed to a thread only when it comes.

    A watchdog does nothing before its first check (a heartbeat interval or a fence check away,
    seconds), and most tasks are over by then. Handing each one to a thread at once woke that
    thread per task, which under a stream of short tasks cost a fifth of a worker's time. One
    thread per process looks every ``TICK`` seconds instead: a watchdog whose task has finished is
    dropped unseen, one that is due starts on its own thread. A first check is late by at most a
    tick.
    """

    TICK = 0.1

    def __init__(self) -> None:
        self.forget()

    def forget(self) -> None:
        """In a forked child: the parent's thread does not exist here."""
        self._lock = threading.Lock()
        self._waiting: dict[Watchdog, float] = {}
        self._thread: threading.Thread | None = None

    def add(self, watchdog: Watchdog, due: float) -> None:
        with self._lock:
            self._waiting[watchdog] = due
            if self._thread is None:
                self._thread = threading.Thread(target=self._serve, daemon=True, name="watchdog-starter")
                self._thread.start()

    def _serve(self) -> None:
        while True:
            time.sleep(self.TICK)
            now = time.monotonic()
            with self._lock:
                over = [w for w, due in self._waiting.items() if w.stopped.is_set() or due <= now]
                for watchdog in over:
                    del self._waiting[watchdog]
            for watchdog in over:
                if not watchdog.stopped.is_set():
                    _watchdog_threads.run(watchdog.run)


_watchdog_threads = _WatchdogThreads()
_watchdogs_not_yet_due = _WatchdogsNotYetDue()
os.register_at_fork(after_in_child=_watchdog_threads.forget)
os.register_at_fork(after_in_child=_watchdogs_not_yet_due.forget)


class Watchdog:
    """Keeps the lease alive while the operator runs, and stops the work once the task is no
    longer ours (cancelled, reaped, re-claimed) or ran past ``timeout_seconds``.

    Every ``interval`` it refreshes the heartbeat; every ``fence_check_seconds`` it checks the fence
    (a cancel shows within seconds, not a heartbeat period) and the deadline. To stop, it runs the
    context's interrupt hooks (a DuckDB query is cancelled where it computes) and, when the operator
    still runs after ``TASK_INTERRUPT_GRACE_SECONDS`` and the worker is disposable (a django-q2
    worker process, which its cluster replaces), ends the process: a runaway computation must not
    keep a core busy after its task is gone.

    A database outage only delays heartbeats: each failure closes the dead connection and the next
    try, half a second later, reconnects.
    """

    def __init__(self, lease: Lease, ctx: TaskContext, *, interval: float, timeout: float, hard_stop: bool):
        self.lease, self.ctx, self.interval = lease, ctx, interval
        self.deadline = time.monotonic() + timeout
        self.timeout = timeout
        self.hard_stop = hard_stop
        self.stopped = threading.Event()  # set by the worker once the operator returned

    def start(self) -> None:
        self.started = time.monotonic()
        _watchdogs_not_yet_due.add(self, due=self._first_check())

    def _step(self) -> float:
        return min(self.interval, fence_check_seconds())

    def _first_check(self) -> float:
        return min(self.started + self._step(), self.deadline)

    def run(self) -> None:
        # A pooled thread does not inherit the worker's context: what it logs belongs to the task.
        with task_log_context(self.lease.task_id):
            try:
                reason = self._watch()
                if reason is not None:
                    self._stop(reason)
            finally:
                connection.close()

    def _watch(self) -> str | None:
        next_beat = self.started + self.interval
        # Started when its first check is due (or a tick later): that one runs at once.
        next_check = self._first_check()
        while not self.stopped.wait(max(0.0, next_check - time.monotonic())):
            now = time.monotonic()
            if now >= self.deadline:
                return f"timed out after {self.timeout:g}s"
            try:
                if now >= next_beat:
                    held = task_heartbeat(lease=self.lease)
                    next_beat = now + self.interval
                else:
                    held = task_holds_lease(lease=self.lease)
            except Exception as exc:
                log.warning("heartbeat of %s failed (retrying): %s", self.lease.task_id, exc)
                next_beat = min(next_beat, time.monotonic() + 0.5)
                next_check = min(time.monotonic() + 0.5, self.deadline)
                continue
            if not held:
                self.ctx.lease_lost.set()
                return "the task was cancelled, reaped or claimed by another worker"
            # The deadline is looked at when it comes, not at the next check after it.
            next_check = min(now + self._step(), self.deadline)
        return None

    def _stop(self, reason: str) -> None:
        log.warning("stopping task %s: %s", self.lease.task_id, reason)
        grace_end = time.monotonic() + interrupt_grace_seconds()
        while True:
            # Repeated: a hook registered just before its query started may have missed the first.
            self.ctx.interrupt(reason)
            if self.stopped.wait(0.5):
                return
            if time.monotonic() >= grace_end:
                break
        if not self.hard_stop:
            return
        log.critical(
            "task %s: the operator ignored the interrupt for %gs; ending worker process %s",
            self.lease.task_id,
            interrupt_grace_seconds(),
            os.getpid(),
        )
        if not self.ctx.lease_lost.is_set():
            # Record why, so the task is retried now rather than when the reaper notices.
            with contextlib.suppress(Exception):
                task_fail(lease=self.lease, error=f"{reason}; the worker process was ended")
        logging.shutdown()
        os._exit(70)


def watchdog_for(lease: Lease, ctx: TaskContext, job: Job, *, hard_stop: bool) -> Watchdog:
    """The watchdog of a run of ``job``: heartbeats at a third of its heartbeat timeout."""
    return Watchdog(
        lease,
        ctx,
        interval=max(0.5, job.heartbeat_timeout_seconds / 3),
        timeout=job.timeout_seconds,
        hard_stop=hard_stop,
    )
