"""django-q2's Redis broker, made reliable: a message a cluster takes stays in Redis until its run is
over, in a processing list of that cluster's own, so a worker, cluster or host that dies loses nothing.

django-q2's own Redis broker takes a message with ``BLPOP``: from then on it exists only in the
cluster's memory (its pusher, its task queue, a worker), and a cluster killed with messages fetched,
or a worker killed in the middle of a bundle, loses them until the 600 s redispatch fallback. Here a
message moves atomically (``BLMOVE``) from the queue into the cluster's processing list and leaves it
when django-q2's monitor acknowledges the run (``LREM``). What stays behind belongs to a run that
never finished:

* a cluster that exits or is replaced: its supervisor puts its processing list back at the head of
  the queue as soon as the cluster is gone (``cluster_reclaim``);
* a host that vanished (supervisor and cluster killed, the machine lost): every supervisor
  refreshes a liveness key of its host with a TTL (``host_heartbeat``), and any other supervisor
  puts the processing lists of a host whose key expired back on the queue (``dead_hosts_reclaim``);
* a worker killed inside a live cluster: its message stays in the live cluster's list; the
  lost-message recovery (``orchestration.services.recovery``) re-sends a task queued longer than
  ``TASK_LOST_MESSAGE_SECONDS`` that has no message waiting in the queue, and drops the stale copy.

A message that comes back twice is harmless: the claim is a fenced ``UPDATE`` on the tasks table,
so a second delivery claims nothing.

Keys, all under the queue's name (deployments sharing one Redis keep apart by it):

====================================  ==========================================================
``django_q:<queue>:q``                the waiting messages (django-q2's own list)
``django_q:<queue>:processing:<id>``  the messages cluster ``<id>`` took and has not finished
``django_q:<queue>:clusters``         hash: processing list → id of the host that owns it
``django_q:<queue>:host:<host id>``   the host's liveness: exists while its supervisor lives
====================================  ==========================================================

A cluster learns its id from ``CHAINLAKE_WORKER_CLUSTER_ID`` (its supervisor sets it); a bare
``qcluster`` makes one up, takes and acknowledges the same way, but no supervisor owns its list:
what it loses comes back through the lost-message recovery only.
"""

from __future__ import annotations

import os
import socket
import time
import uuid

from django_q.brokers.redis_broker import Redis

CLUSTER_ID_ENV = "CHAINLAKE_WORKER_CLUSTER_ID"
# How often a supervised cluster's pusher checks that its list is still registered: a cluster whose
# host was declared dead (its supervisor killed, the cluster orphaned) stops taking messages.
REGISTRATION_CHECK_SECONDS = 2.0

# Moves a whole processing list back to the head of the queue, oldest first, and forgets it. One
# script, so a reclaim never races a cluster's acknowledgement or another supervisor's reclaim.
_RECLAIM = """
local moved = 0
while redis.call('LMOVE', KEYS[1], KEYS[2], 'RIGHT', 'LEFT') do moved = moved + 1 end
redis.call('HDEL', KEYS[3], KEYS[1])
return moved
"""


def queue_prefix(list_key: str) -> str:
    """``django_q:<queue>`` from django-q2's list key ``django_q:<queue>:q``."""
    return list_key.removesuffix(":q")


def processing_key(list_key: str, cluster_id: str) -> str:
    return f"{queue_prefix(list_key)}:processing:{cluster_id}"


def registry_key(list_key: str) -> str:
    return f"{queue_prefix(list_key)}:clusters"


def host_key(list_key: str, host_id: str) -> str:
    return f"{queue_prefix(list_key)}:host:{host_id}"


def new_host_id() -> str:
    """A worker host's identity: the machine, the supervisor's pid, and a nonce (pids are reused)."""
    return f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"


class ReliableRedis(Redis):
    """django-q2's Redis broker whose taken messages wait in a processing list until acknowledged."""

    def __init__(self, list_key: str | None = None):
        super().__init__(list_key=list_key)
        self.cluster_id = os.environ.get(CLUSTER_ID_ENV) or f"{new_host_id()}:bare"
        self.supervised = bool(os.environ.get(CLUSTER_ID_ENV))
        self.processing_key = processing_key(self.list_key, self.cluster_id)
        self._registered_checked = 0.0

    # The pusher and the monitor get the sentinel's broker: they must use the same processing list.
    def __getstate__(self):
        return self.list_key, self._info, self.cluster_id, self.supervised

    def __setstate__(self, state):
        self.list_key, self._info, self.cluster_id, self.supervised = state
        self.processing_key = processing_key(self.list_key, self.cluster_id)
        self._registered_checked = 0.0
        self.connection = self.get_connection(self.list_key)
        self.cache = self.get_cache()

    def dequeue(self):
        if self.supervised and not self._still_registered():
            time.sleep(1)
            return None
        message = self.connection.blmove(self.list_key, self.processing_key, 1, "LEFT", "RIGHT")
        if message:
            # The message itself is its acknowledgement id: it is unique (a fresh id inside).
            return [(message, message)]
        return None

    def acknowledge(self, task_id):
        if task_id:
            self.connection.lrem(self.processing_key, 1, task_id)

    def fail(self, task_id):
        # A message that cannot be read (a foreign signature) would only come back to fail again.
        self.acknowledge(task_id)

    def lock_size(self):
        return self.connection.llen(self.processing_key)

    def delete_queue(self):
        return self.connection.delete(self.list_key, self.processing_key)

    def _still_registered(self) -> bool:
        """Is this cluster's list still owned by a live host? Looked up every few seconds."""
        now = time.monotonic()
        if now - self._registered_checked < REGISTRATION_CHECK_SECONDS:
            return True
        if self.connection.hexists(registry_key(self.list_key), self.processing_key):
            self._registered_checked = now
            return True
        return False


# -- what the supervisors do ------------------------------------------------------------------------
def host_heartbeat(broker: Redis, *, host_id: str, cluster_id: str | None, ttl: float) -> None:
    """Say the host lives for ``ttl`` more seconds, and (again) that it owns its cluster's list: a
    host that was late and got declared dead takes its cluster back."""
    pipe = broker.connection.pipeline(transaction=False)
    pipe.set(host_key(broker.list_key, host_id), "1", px=int(ttl * 1000))
    if cluster_id:
        pipe.hset(registry_key(broker.list_key), processing_key(broker.list_key, cluster_id), host_id)
    pipe.execute()


def host_retire(broker: Redis, *, host_id: str) -> None:
    """A host that stops cleanly: its liveness key goes at once."""
    broker.connection.delete(host_key(broker.list_key, host_id))


def cluster_reclaim(broker: Redis, *, cluster_id: str) -> int:
    """Put a (stopped or dead) cluster's unfinished messages back at the head of the queue; returns
    how many."""
    script = broker.connection.register_script(_RECLAIM)
    key = processing_key(broker.list_key, cluster_id)
    return int(script(keys=[key, broker.list_key, registry_key(broker.list_key)]))


def dead_hosts_reclaim(broker: Redis) -> int:
    """Put back every processing list whose host's liveness key has expired; returns how many
    messages went back. Any supervisor may run it; two at once move each message once."""
    connection = broker.connection
    owners = {
        key.decode(): host.decode() for key, host in connection.hgetall(registry_key(broker.list_key)).items()
    }
    if not owners:
        return 0
    hosts = sorted(set(owners.values()))
    pipe = connection.pipeline(transaction=False)
    for host in hosts:
        pipe.exists(host_key(broker.list_key, host))
    alive = {host for host, exists in zip(hosts, pipe.execute(), strict=True) if exists}
    script = connection.register_script(_RECLAIM)
    moved = 0
    for key, host in owners.items():
        if host not in alive:
            moved += int(script(keys=[key, broker.list_key, registry_key(broker.list_key)]))
    return moved


def waiting_messages(broker: Redis) -> list[bytes]:
    """Every message waiting in the queue."""
    return broker.connection.lrange(broker.list_key, 0, -1)


def fetched_messages(broker: Redis) -> list[tuple[str, bytes]]:
    """(processing list, message) of every message a supervised cluster has taken and not finished."""
    keys = [key.decode() for key in broker.connection.hkeys(registry_key(broker.list_key))]
    if not keys:
        return []
    pipe = broker.connection.pipeline(transaction=False)
    for key in keys:
        pipe.lrange(key, 0, -1)
    return [
        (key, message) for key, messages in zip(keys, pipe.execute(), strict=True) for message in messages
    ]


def fetched_drop(broker: Redis, stale: list[tuple[str, bytes]]) -> None:
    """Drop stale copies from processing lists (their tasks got a fresh message)."""
    if not stale:
        return
    pipe = broker.connection.pipeline(transaction=False)
    for key, message in stale:
        pipe.lrem(key, 1, message)
    pipe.execute()
