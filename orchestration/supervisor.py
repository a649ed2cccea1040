"""The worker supervisor: runs a django-q2 ``qcluster`` as a child and keeps the work moving.

django-q2 alone can stop for good: a worker killed while it waits on the cluster's task queue dies
holding the queue's lock, every other worker then waits forever and the cluster hangs even on
SIGTERM; a killed cluster takes the messages it had fetched with it; and its schedules run at most
once a minute, so a retry due in two seconds waits up to a minute. The supervisor, one per host:

* dispatches due pending tasks (retries) every ``poll`` seconds, so due work starts within a second;
* re-sends the message of a queued task whose message is gone (``recovery.tasks_requeue_lost``);
* reaps lost running tasks every few seconds instead of once a minute;
* restarts the cluster when it exits, or when it made no progress (none of its workers ran or
  claimed a task, none of its processes computed) for ``WORKER_STALL_SECONDS`` while work waited:
  SIGTERM to its main process, then SIGKILL to its process group, since a hung cluster ignores
  SIGTERM.

Every step is safe with many supervisors on many hosts: dispatch and requeue skip rows another one
holds, and a duplicate message claims nothing.
"""

from __future__ import annotations

import contextlib
import logging
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import psutil
from django.conf import settings
from django.db import connection

from orchestration.services import tasks_dispatch, tasks_reap
from orchestration.services.recovery import tasks_requeue_lost, work_waiting, workers_made_progress
from platform_site.database import disconnect_errors

log = logging.getLogger(__name__)

MANAGE = Path(__file__).resolve().parents[1] / "manage.py"


class WorkerSupervisor:
    def __init__(self, *, poll: float = 0.5, stall_seconds: float | None = None, reap_every: float = 5.0):
        self.poll = poll
        self.stall_seconds = (
            stall_seconds if stall_seconds is not None else float(settings.WORKER_STALL_SECONDS)
        )
        self.reap_every = reap_every
        self.child: subprocess.Popen | None = None
        self.child_started = 0.0
        self.restarts = 0
        self._stopping = False
        self.last_cpu_progress = 0.0
        self._cpu_seen: dict[int, float] = {}
        self._cpu_sampled_at = time.monotonic()

    # -- the child cluster ----------------------------------------------------------------------
    def start_cluster(self) -> None:
        self.child = subprocess.Popen(
            [sys.executable, str(MANAGE), "qcluster"],
            cwd=MANAGE.parent,
            start_new_session=True,  # its own process group: stopped as a whole, hung or not
        )
        self.child_started = time.monotonic()
        log.info("started qcluster (pid %s)", self.child.pid)

    def stop_cluster(self, *, grace: float = 8.0) -> None:
        child, self.child = self.child, None
        if child is None:
            return
        if child.poll() is not None:
            _signal_group(child.pid, signal.SIGKILL)  # workers left behind by a dead sentinel
            return
        # Only the cluster's main process: it stops its workers in order (they die at once on a
        # SIGTERM of their own, which leaves the sentinel waiting for them).
        child.send_signal(signal.SIGTERM)
        try:
            child.wait(timeout=grace)
        except subprocess.TimeoutExpired:
            log.warning("qcluster %s ignored SIGTERM for %gs; killing it", child.pid, grace)
        # Workers outlive a killed sentinel: clear the whole group either way.
        _signal_group(child.pid, signal.SIGKILL)
        child.wait(timeout=10)

    def worker_pids(self) -> list[int]:
        if self.child is None:
            return []
        try:
            return [p.pid for p in psutil.Process(self.child.pid).children(recursive=True)]
        except psutil.NoSuchProcess:
            return []

    # -- the loop ---------------------------------------------------------------------------------
    def run(self) -> None:
        signal.signal(signal.SIGTERM, self._request_stop)
        signal.signal(signal.SIGINT, self._request_stop)
        self.start_cluster()
        next_reap = next_requeue = 0.0
        try:
            while not self._stopping:
                now = time.monotonic()
                try:
                    if self.child is None or self.child.poll() is not None:
                        code = self.child.returncode if self.child else None
                        log.warning("qcluster exited (%s); starting a new one", code)
                        self.stop_cluster(grace=1)
                        self.restarts += 1
                        self.start_cluster()
                    tasks_dispatch()
                    if now >= next_requeue:
                        tasks_requeue_lost()
                        next_requeue = now + 1.0
                    if now >= next_reap:
                        tasks_reap()
                        next_reap = now + self.reap_every
                    if self._stalled():
                        log.error(
                            "qcluster %s ran nothing for %gs while work waited; replacing it",
                            self.child.pid,
                            self.stall_seconds,
                        )
                        self.stop_cluster(grace=3)
                        self.restarts += 1
                        self.start_cluster()
                except disconnect_errors() as exc:
                    log.warning("database unavailable (%s); retrying", exc)
                    connection.close()
                except Exception:
                    log.exception("supervisor step failed; retrying")
                    connection.close()
                time.sleep(self.poll)
        finally:
            self.stop_cluster()
            connection.close()

    def _stalled(self) -> bool:
        now = time.monotonic()
        if self._computing():
            self.last_cpu_progress = now
        if now - max(self.child_started, self.last_cpu_progress) < self.stall_seconds:
            return False
        if not work_waiting(older_than=self.stall_seconds):
            return False
        return not workers_made_progress(pids=self.worker_pids(), within=self.stall_seconds)

    def _computing(self) -> bool:
        """Did a process of the cluster use a tenth of a core since the last look? A busy cluster
        running something the tasks table does not track (a long django-q2 job of another app) is
        not stalled; a hung one sits blocked on a lock and uses nothing."""
        used = {}
        for pid in self.worker_pids():
            try:
                times = psutil.Process(pid).cpu_times()
            except psutil.NoSuchProcess:
                continue
            used[pid] = times.user + times.system
        now = time.monotonic()
        elapsed = max(now - self._cpu_sampled_at, 1e-3)
        busy = any(used[pid] - self._cpu_seen.get(pid, used[pid]) >= 0.1 * elapsed for pid in used)
        self._cpu_seen, self._cpu_sampled_at = used, now
        return busy

    def _request_stop(self, signum, frame) -> None:
        self._stopping = True


def _signal_group(pid: int, sig: int) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pid, sig)
