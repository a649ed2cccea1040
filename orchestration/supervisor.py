"""The worker supervisor: runs a django-q2 ``qcluster`` as a child and keeps the work moving.

django-q2 alone can stop for good: a worker killed while it waits on the cluster's task queue dies
holding the queue's lock, every other worker then waits forever and the cluster hangs even on
SIGTERM; a killed cluster takes the messages it had fetched with it; and its schedules run at most
once a minute, so a retry due in two seconds waits up to a minute. The supervisor, one per host:

* dispatches due pending tasks (retries) every ``poll`` seconds, so due work starts within a second;
* re-sends the message of a queued task whose message is gone (``recovery.tasks_requeue_lost``);
* on Redis (``orchestration.broker``): gives its host an identity, keeps the host's liveness key
  alive from a thread of its own (a database outage that blocks the loop does not make the host
  look dead), puts its cluster's unfinished messages back on the queue whenever that cluster is
  gone, and does the same for the clusters of any host whose liveness key expired;
* reaps lost running tasks every few seconds instead of once a minute, and at once those of a
  worker process of its cluster that ended (``recovery.tasks_fail_of_ended_workers``);
* restarts the cluster when it exits, or when it made no progress (none of its workers ran or
  claimed a task, none of its processes computed) for ``WORKER_STALL_SECONDS`` while work waited:
  SIGTERM to its main process, then SIGKILL to its process group, since a hung cluster ignores
  SIGTERM. Right after one of the cluster's processes ended the wait is ``QUICK_STALL_SECONDS``:
  an idle worker killed while it held the cluster's task queue lock hangs it, and a hung cluster
  computes, runs and claims nothing, which a healthy one with work waiting never does for long.

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
import threading
import time
from pathlib import Path

import psutil
from django.conf import settings
from django.db import connection

from orchestration import broker as reliable
from orchestration.services import tasks_dispatch, tasks_reap
from orchestration.services.recovery import (
    tasks_fail_of_ended_workers,
    tasks_requeue_lost,
    work_waiting,
    workers_made_progress,
)
from platform_site.database import disconnect_errors

log = logging.getLogger(__name__)

MANAGE = Path(__file__).resolve().parents[1] / "manage.py"
QUICK_STALL_SECONDS = 3.0


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
        # This host's identity, and (on Redis) the broker its liveness and reclaims go through.
        self.host_id = reliable.new_host_id()
        self.generation = 0
        self.cluster_id: str | None = None
        self.host_ttl = float(settings.WORKER_HOST_TTL_SECONDS)
        self.broker = _reliable_broker()
        self._heartbeat_stop = threading.Event()
        self._heartbeat: threading.Thread | None = None
        # The cluster's processes as last seen, and when one of them last ended.
        self._known_pids: set[int] = set()
        self._last_death = float("-inf")

    # -- the child cluster ----------------------------------------------------------------------
    def start_cluster(self) -> None:
        self.generation += 1
        self.cluster_id = f"{self.host_id}:{self.generation}"
        if self.broker is not None:
            # Registered before it can take anything, so its list is never unowned. (Unregistered,
            # its cluster takes nothing until the heartbeat thread registers it.)
            try:
                reliable.host_heartbeat(
                    self.broker, host_id=self.host_id, cluster_id=self.cluster_id, ttl=self.host_ttl
                )
            except Exception as exc:
                log.warning("could not register cluster %s yet (%s)", self.cluster_id, exc)
        self.child = subprocess.Popen(
            [sys.executable, str(MANAGE), "qcluster"],
            cwd=MANAGE.parent,
            env={**os.environ, reliable.CLUSTER_ID_ENV: self.cluster_id},
            start_new_session=True,  # its own process group: stopped as a whole, hung or not
        )
        self.child_started = time.monotonic()
        log.info("started qcluster %s (pid %s)", self.cluster_id, self.child.pid)

    def stop_cluster(self, *, grace: float = 8.0) -> None:
        child, self.child = self.child, None
        if child is None:
            return
        try:
            self._end_cluster(child, grace=grace)
        finally:
            self._reclaim_own()
            ended, self._known_pids = list(self._known_pids), set()
            try:
                tasks_fail_of_ended_workers(pids=ended)
            except Exception:  # the database is away: the reaper fails them after their heartbeat
                log.exception("could not fail the tasks of the stopped cluster")
                connection.close()
            if self.broker is None:
                # The database broker cannot say who fetched a message: re-send every queued task's
                # that is not waiting (a live cluster's duplicate claims nothing).
                with contextlib.suppress(Exception):
                    tasks_requeue_lost(older_than=1.0)

    def _reclaim_own(self) -> None:
        """The cluster is gone: what it took and did not finish goes back to the head of the queue."""
        cluster_id, self.cluster_id = self.cluster_id, None  # the heartbeat stops claiming it
        if self.broker is None or cluster_id is None:
            return
        try:
            moved = reliable.cluster_reclaim(self.broker, cluster_id=cluster_id)
        except Exception:  # Redis away: any supervisor reclaims the list once this host's key expires
            log.exception("could not put back the messages of cluster %s", cluster_id)
            return
        if moved:
            log.warning("put %d unfinished message(s) of cluster %s back on the queue", moved, cluster_id)

    def _end_cluster(self, child: subprocess.Popen, *, grace: float) -> None:
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
        self._start_heartbeat()
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
                    self._watch_processes(now)
                    tasks_dispatch()
                    if now >= next_requeue:
                        next_requeue = now + 1.0
                        self._reclaim_dead_hosts()
                        tasks_requeue_lost(broker=self.broker)
                    if now >= next_reap:
                        tasks_reap()
                        next_reap = now + self.reap_every
                    if window := self._stalled():
                        log.error(
                            "qcluster %s ran nothing for %gs while work waited; replacing it",
                            self.child.pid,
                            window,
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
            self._stop_heartbeat()
            connection.close()

    # -- the host's liveness (Redis) --------------------------------------------------------------
    def _start_heartbeat(self) -> None:
        if self.broker is None:
            return
        self._heartbeat = threading.Thread(target=self._beat, name="host-heartbeat", daemon=True)
        self._heartbeat.start()

    def _beat(self) -> None:
        # A few beats per TTL: one late or failed refresh does not make a live host look dead.
        every = max(self.host_ttl / 5, 0.2)
        while not self._heartbeat_stop.wait(every):
            try:
                reliable.host_heartbeat(
                    self.broker, host_id=self.host_id, cluster_id=self.cluster_id, ttl=self.host_ttl
                )
            except Exception as exc:
                log.warning("could not refresh this host's liveness (%s); retrying", exc)

    def _stop_heartbeat(self) -> None:
        if self._heartbeat is None:
            return
        self._heartbeat_stop.set()
        self._heartbeat.join(timeout=5)
        with contextlib.suppress(Exception):
            reliable.host_retire(self.broker, host_id=self.host_id)

    def _reclaim_dead_hosts(self) -> None:
        if self.broker is None:
            return
        moved = reliable.dead_hosts_reclaim(self.broker)
        if moved:
            log.warning("put %d message(s) of vanished worker hosts back on the queue", moved)

    def _watch_processes(self, now: float) -> None:
        """Notice processes of the cluster that ended since the last look, and fail their tasks."""
        pids = set(self.worker_pids())
        ended = [pid for pid in self._known_pids - pids if not psutil.pid_exists(pid)]
        if ended:
            self._last_death = now
            tasks_fail_of_ended_workers(pids=ended)  # if the database is away: again next time
        self._known_pids = pids

    def _stalled(self) -> float:
        """How long the cluster made no progress while work waited, when that is a stall; else 0."""
        now = time.monotonic()
        window = self.stall_seconds
        if now - self._last_death < self.stall_seconds:
            window = min(window, QUICK_STALL_SECONDS)
        if self._computing():
            self.last_cpu_progress = now
        if now - max(self.child_started, self.last_cpu_progress) < window:
            return 0.0
        if not work_waiting(older_than=window):
            return 0.0
        return 0.0 if workers_made_progress(pids=self.worker_pids(), within=window) else window

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


def _reliable_broker():
    """The broker when it is the reliable Redis one (hosts, liveness, processing lists), else None."""
    from django_q.brokers import get_broker

    broker = get_broker()
    return broker if isinstance(broker, reliable.ReliableRedis) else None


def _signal_group(pid: int, sig: int) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pid, sig)
