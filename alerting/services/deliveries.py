"""Deliveries: one per event and channel, leased by workers, sent, and recorded behind a fence.

Life of a delivery: ``pending`` (due at ``next_attempt_at``) → leased by a worker (``lease_owner``,
``leased_until``, ``attempt`` + 1, in one ``UPDATE … FOR UPDATE SKIP LOCKED``) → ``delivered``, or
``failed`` with the next try scheduled (5 s, 5 min, 30 min, 2 h, 5 h, 10 h, 10 h, each ±20%
jitter; a ``Retry-After`` answer sets the wait instead), or ``dead`` after the eighth attempt, when
the target is refused by the outbound policy, or when the channel answered 410 Gone (which also
disables that channel on the definition). ``cancelled`` when the event was retracted first.

A lease that expires (its worker died or hung) makes the delivery due again: delivery is
at-least-once, and receivers dedupe on the event id (``webhook-id``). Results are recorded only
while the row still carries the same ``lease_owner`` and ``attempt`` and is not finished, so a
worker that lost its lease records nothing.

A lease covers one attempt and nothing else. A worker leases a delivery only when one of its
senders is free to start it at once, each attempt ends within ``ALERT_DELIVERY_DEADLINE`` (connect,
send and the whole answer), which is kept below the lease (checked in the settings, and each
attempt's deadline is cut to its lease's end), and each outcome is recorded as soon as its attempt
ends. So a slow receiver holds one sender for at most the deadline: the deliveries to other
channels are neither queued behind it, nor recorded late, nor sent twice because their lease ran
out while they waited.

Which channel of the definition a delivery goes to: deliveries of an event are created in the order
of the definition's channels (time-ordered ids), so the n-th delivery of a channel type goes to
the n-th channel of that type.
"""

from __future__ import annotations

import logging
import math
import os
import random
import socket
import time
import uuid
from collections import defaultdict
from collections.abc import Callable
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from contextlib import nullcontext
from dataclasses import dataclass
from datetime import timedelta

from django.conf import settings
from django.db import connection, transaction
from django.utils import timezone

from platform_site.config import LEASE_MARGIN_SECONDS

from ..channels import SENDERS, SendResult
from ..delivery_attempts import delivery_attempt_log
from ..models import AlertDefinition, AlertDelivery, AlertEvent
from .documents import event_document

log = logging.getLogger(__name__)

RETRY_SCHEDULE_SECONDS = (5, 300, 1800, 7200, 18000, 36000, 36000)
MAX_ATTEMPTS = len(RETRY_SCHEDULE_SECONDS) + 1
JITTER = 0.2


def retry_delay(attempt: int, *, retry_after: float | None = None, rng: random.Random | None = None) -> float:
    """Seconds to wait after failed attempt number ``attempt`` (1-based)."""
    if retry_after is not None:
        return retry_after
    base = RETRY_SCHEDULE_SECONDS[min(attempt, len(RETRY_SCHEDULE_SECONDS)) - 1]
    # ALERT_RETRY_SCALE (1 in production) lets the fault tests walk the schedule in seconds.
    return base * settings.ALERT_RETRY_SCALE * (1 + (rng or random).uniform(-JITTER, JITTER))


def new_lease_owner() -> str:
    """A fencing token: host, process and a random part, fresh for every lease."""
    return f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:12]}"


def lease_seconds() -> float:
    """A lease outlives one attempt (its total deadline) by the time to record the outcome. The
    settings refuse a deadline that is not below the lease; this keeps it so if they are changed
    at run time."""
    return max(settings.ALERT_DELIVERY_LEASE_SECONDS, settings.ALERT_DELIVERY_DEADLINE + LEASE_MARGIN_SECONDS)


# -- creating deliveries ----------------------------------------------------------------------------
def deliveries_create(*, events: list[AlertEvent], definition: AlertDefinition) -> list[AlertDelivery]:
    """One delivery per event and channel of ``definition``, due now; a disabled channel's
    delivery is created ``dead`` so every channel is accounted for."""
    now = timezone.now()
    rows = []
    for event in events:
        for channel in definition.channels or []:
            disabled = bool(channel.get("disabled"))
            rows.append(
                AlertDelivery(
                    org_id=event.org_id,
                    alert_event=event,
                    channel=channel["type"],
                    status=AlertDelivery.Status.DEAD if disabled else AlertDelivery.Status.PENDING,
                    next_attempt_at=None if disabled else now,
                    error_message=f"channel disabled: {channel.get('disabled_reason') or 'by an operator'}"
                    if disabled
                    else None,
                )
            )
    AlertDelivery.objects.bulk_create(rows, batch_size=1000)
    if rows:
        transaction.on_commit(_kick_workers)
    return rows


def _kick_workers() -> None:
    """Ask a django-q2 worker to drain due deliveries now, instead of at the next minute."""
    try:
        from django_q.tasks import async_task

        async_task("alerting.tasks.deliveries_drain", task_name="alert deliveries", q_options={})
    except Exception:  # the per-minute schedule and the fast loop still deliver
        log.exception("could not enqueue the delivery drain")


# -- leasing ----------------------------------------------------------------------------------------
LEASE_SQL = """
UPDATE alert_deliveries d
SET lease_owner = %(owner)s, leased_until = clock_timestamp() + make_interval(secs => %(seconds)s),
    attempt = d.attempt + 1, last_attempt_at = clock_timestamp(), updated_at = clock_timestamp()
WHERE d.id IN (
    SELECT id FROM alert_deliveries
    WHERE status IN ('pending', 'failed') AND next_attempt_at <= clock_timestamp()
      AND (leased_until IS NULL OR leased_until < clock_timestamp())
    ORDER BY next_attempt_at
    LIMIT %(limit)s
    FOR UPDATE SKIP LOCKED
)
RETURNING d.id, d.attempt
"""


@dataclass(frozen=True)
class Lease:
    delivery_id: uuid.UUID
    owner: str
    attempt: int
    # When the lease runs out, on this process's monotonic clock (taken before the lease was
    # asked for, so never later than the database's ``leased_until``).
    expires_at: float = math.inf

    def attempt_deadline(self) -> float:
        """Seconds the attempt may take from now: the delivery deadline, cut so that it ends with
        time to record its outcome before the lease runs out (<= 0: do not start it)."""
        left = self.expires_at - LEASE_MARGIN_SECONDS - time.monotonic()
        return min(settings.ALERT_DELIVERY_DEADLINE, left)


def deliveries_lease(*, owner: str, limit: int = 100) -> list[Lease]:
    seconds = lease_seconds()
    expires_at = time.monotonic() + seconds
    with connection.cursor() as cursor:  # one statement: atomic without a transaction around it
        cursor.execute(LEASE_SQL, {"owner": owner, "seconds": seconds, "limit": limit})
        return [Lease(row[0], owner, row[1], expires_at) for row in cursor.fetchall()]


# -- recording results (fenced) --------------------------------------------------------------------
FENCE = "id = %s AND lease_owner = %s AND attempt = %s AND status IN ('pending', 'failed')"


def delivery_record(*, lease: Lease, result: SendResult, rng: random.Random | None = None) -> str | None:
    """Record one send under the lease's fence; returns the new status, or None if the lease was
    lost (another worker took the delivery, or it was cancelled) and nothing was written."""
    with connection.cursor() as cursor:
        if result.ok:
            cursor.execute(
                f"""UPDATE alert_deliveries SET status = 'delivered', delivered_at = clock_timestamp(),
                    provider_message_id = %s, error_message = NULL, leased_until = NULL,
                    next_attempt_at = NULL, updated_at = clock_timestamp() WHERE {FENCE}""",
                [result.provider_message_id, lease.delivery_id, lease.owner, lease.attempt],
            )
            return "delivered" if cursor.rowcount else None
        dead = result.gone or result.permanent or lease.attempt >= MAX_ATTEMPTS
        if dead:
            reason = " (channel disabled)" if result.gone else ""
            if not result.gone and not result.permanent:
                reason = f" (gave up after {lease.attempt} attempts)"
            cursor.execute(
                f"""UPDATE alert_deliveries SET status = 'dead', error_message = %s, leased_until = NULL,
                    next_attempt_at = NULL, updated_at = clock_timestamp() WHERE {FENCE}""",
                [result.error + reason, lease.delivery_id, lease.owner, lease.attempt],
            )
            return "dead" if cursor.rowcount else None
        delay = retry_delay(lease.attempt, retry_after=result.retry_after, rng=rng)
        note = f"{result.error}; retry {lease.attempt + 1}/{MAX_ATTEMPTS} in {delay:.0f}s"
        if result.retry_after is not None:
            note += " (Retry-After)"
        cursor.execute(
            f"""UPDATE alert_deliveries SET status = 'failed', error_message = %s, leased_until = NULL,
                next_attempt_at = clock_timestamp() + make_interval(secs => %s),
                updated_at = clock_timestamp() WHERE {FENCE}""",
            [note, delay, lease.delivery_id, lease.owner, lease.attempt],
        )
        return "failed" if cursor.rowcount else None


DELIVERED_MANY_SQL = """
UPDATE alert_deliveries d SET status = 'delivered', delivered_at = clock_timestamp(),
    provider_message_id = t.message_id, error_message = NULL, leased_until = NULL,
    next_attempt_at = NULL, updated_at = clock_timestamp()
FROM unnest(%s::uuid[], %s::text[], %s::int[], %s::text[]) AS t(id, owner, attempt, message_id)
WHERE d.id = t.id AND d.lease_owner = t.owner AND d.attempt = t.attempt AND d.status IN ('pending', 'failed')
RETURNING d.id
"""


def deliveries_record(*, outcomes: list[tuple[Lease, SendResult]]) -> dict:
    """Record a batch of sends in one transaction (one commit, not one per delivery), each behind
    its own fence; returns delivery id -> new status (None when that lease was lost)."""
    recorded: dict = {}
    ok = [(lease, result) for lease, result in outcomes if result.ok]
    statements = (1 if ok else 0) + len(outcomes) - len(ok)
    # A transaction only around several statements (one alone is atomic, and BEGIN and COMMIT
    # would triple its round trips).
    with transaction.atomic() if statements > 1 else nullcontext(), connection.cursor() as cursor:
        if ok:
            cursor.execute(
                DELIVERED_MANY_SQL,
                [
                    [lease.delivery_id for lease, _ in ok],
                    [lease.owner for lease, _ in ok],
                    [lease.attempt for lease, _ in ok],
                    [result.provider_message_id for _, result in ok],
                ],
            )
            done = {row[0] for row in cursor.fetchall()}
            recorded.update(
                {lease.delivery_id: ("delivered" if lease.delivery_id in done else None) for lease, _ in ok}
            )
        for lease, result in outcomes:
            if not result.ok:
                recorded[lease.delivery_id] = delivery_record(lease=lease, result=result)
    return recorded


def channel_disable(*, definition_id, channel_index: int, reason: str) -> None:
    """A receiver answered 410 Gone: disable that channel and kill its undelivered deliveries."""
    with transaction.atomic():
        definition = AlertDefinition.objects.select_for_update().filter(pk=definition_id).first()
        if definition is None or channel_index >= len(definition.channels or []):
            return
        channels = list(definition.channels)
        channels[channel_index] = {**channels[channel_index], "disabled": True, "disabled_reason": reason}
        AlertDefinition.objects.filter(pk=definition_id).update(channels=channels, updated_at=timezone.now())
        channel_type = channels[channel_index]["type"]
        open_ids = [
            d.pk
            for d in _deliveries_to_channel(definition, channel_index, channel_type)
            if d.status in ("pending", "failed")
        ]
        AlertDelivery.objects.filter(pk__in=open_ids).update(
            status=AlertDelivery.Status.DEAD,
            next_attempt_at=None,
            error_message=f"channel disabled: {reason}",
            updated_at=timezone.now(),
        )


def _deliveries_to_channel(definition: AlertDefinition, channel_index: int, channel_type: str):
    ordinal = sum(1 for c in definition.channels[:channel_index] if c.get("type") == channel_type)
    by_event: dict = defaultdict(list)
    for delivery in (
        AlertDelivery.objects.filter(
            alert_event__alert_definition=definition, channel=channel_type, status__in=["pending", "failed"]
        )
        .only("id", "alert_event_id", "status")
        .order_by("alert_event_id", "id")
    ):
        by_event[delivery.alert_event_id].append(delivery)
    # Only events whose deliveries all still exist matter; ordinals count every delivery of the type.
    ordinals = _ordinals(list(by_event))
    return [d for ds in by_event.values() for d in ds if ordinals.get(d.pk, (None, -1))[1] == ordinal]


def _ordinals(event_ids: list) -> dict:
    """delivery id -> (channel type, ordinal among the event's deliveries of that type)."""
    found: dict = {}
    counters: dict = defaultdict(int)
    rows = AlertDelivery.objects.filter(alert_event_id__in=event_ids).order_by("alert_event_id", "id")
    for delivery_id, event_id, channel in rows.values_list("id", "alert_event_id", "channel"):
        found[delivery_id] = (channel, counters[(event_id, channel)])
        counters[(event_id, channel)] += 1
    return found


def _channel_for(definition: AlertDefinition, channel_type: str, ordinal: int) -> tuple[int, dict] | None:
    seen = -1
    for index, channel in enumerate(definition.channels or []):
        if channel.get("type") == channel_type:
            seen += 1
            if seen == ordinal:
                return index, channel
    return None


# -- the worker -------------------------------------------------------------------------------------
_POOLS: dict[int, ThreadPoolExecutor] = {}
IDLE_POLL_SECONDS = 0.2


def _pool(threads: int) -> ThreadPoolExecutor:
    """One long-lived pool of sender threads per size (starting threads per batch costs)."""
    if threads not in _POOLS:
        _POOLS[threads] = ThreadPoolExecutor(max_workers=threads, thread_name_prefix="alert-send")
    return _POOLS[threads]


@dataclass
class _Attempt:
    lease: Lease
    delivery: AlertDelivery
    channel: tuple[int, dict] | None  # (index in the definition's channels, the channel)


def _send_one(attempt: _Attempt) -> SendResult:
    channel = attempt.channel[1] if attempt.channel else None
    if channel is None:
        return SendResult(ok=False, error="the definition no longer has this channel", permanent=True)
    if channel.get("disabled"):
        return SendResult(ok=False, error="channel disabled", permanent=True)
    deadline = attempt.lease.attempt_deadline()
    if deadline <= 0:  # the lease would run out first; the next lease tries again
        return SendResult(ok=False, error="not sent: the lease ran out before the attempt started")
    document = event_document(attempt.delivery.alert_event)
    try:
        send = SENDERS[channel["type"]]
        message_id = str(attempt.delivery.alert_event_id)
        return send(channel, message_id=message_id, document=document, deadline_seconds=deadline)
    except Exception as exc:  # a sender bug must not lose the delivery: it is retried
        log.exception("sending delivery %s failed", attempt.delivery.pk)
        return SendResult(ok=False, error=f"{type(exc).__name__}: {exc}"[:500])


def _attempts_lease(*, owner: str | None, limit: int) -> list[_Attempt]:
    """Lease up to ``limit`` due deliveries and load what sending them needs."""
    leases = deliveries_lease(owner=owner or new_lease_owner(), limit=limit)
    if not leases:
        return []
    by_id = {lease.delivery_id: lease for lease in leases}
    # One read serves both: the leased deliveries with their events, and each one's ordinal among
    # its event's deliveries of the same type (which channel of the definition it goes to).
    event_ids = AlertDelivery.objects.filter(pk__in=by_id).values("alert_event_id")
    deliveries, ordinals = [], {}
    counters: dict = defaultdict(int)
    for delivery in (
        AlertDelivery.objects.filter(alert_event_id__in=event_ids)
        .select_related("alert_event")
        .order_by("alert_event_id", "id")
    ):
        ordinals[delivery.pk] = counters[(delivery.alert_event_id, delivery.channel)]
        counters[(delivery.alert_event_id, delivery.channel)] += 1
        if delivery.pk in by_id:
            deliveries.append(delivery)
    # One definition object per definition, not one per delivery (a storm is one definition).
    definitions = AlertDefinition.objects.in_bulk({d.alert_event.alert_definition_id for d in deliveries})
    attempts = []
    for delivery in deliveries:
        definition = definitions[delivery.alert_event.alert_definition_id]
        delivery.alert_event.alert_definition = definition
        found = _channel_for(definition, delivery.channel, ordinals[delivery.pk])
        attempts.append(_Attempt(by_id[delivery.pk], delivery, found))
    return attempts


def _attempts_record(finished: list[tuple[_Attempt, SendResult]], counts: dict[str, int]) -> None:
    recorded = deliveries_record(outcomes=[(attempt.lease, result) for attempt, result in finished])
    for attempt, result in finished:
        status = recorded.get(attempt.delivery.pk)
        counts[status or "lost"] += 1
        delivery_attempt_log(
            delivery_id=attempt.delivery.pk,
            attempt=attempt.lease.attempt,
            result=result,
            outcome=status or "lost",
        )
        if status == "dead" and result.gone and attempt.channel is not None:
            channel_disable(
                definition_id=attempt.delivery.alert_event.alert_definition_id,
                channel_index=attempt.channel[0],
                reason=f"{result.error} at {timezone.now().isoformat(timespec='seconds')}",
            )


def deliveries_process(
    *,
    owner: str | None = None,
    limit: int | None = 100,
    threads: int = 16,
    batch: int | None = None,
    until: float | None = None,
    stop: Callable[[], bool] | None = None,
) -> dict[str, int]:
    """Send due deliveries, ``threads`` at once, until none is due and none is in flight.

    A delivery is leased only when a sender is free to start it, and its outcome is recorded as
    soon as its attempt ends, so a slow receiver delays nothing but its own delivery. No new lease
    once ``limit`` deliveries were leased (None: no limit), after ``until`` (a
    ``time.monotonic()`` value) or when ``stop()`` is true; the attempts in flight then finish
    (each within its deadline). ``owner`` fixes the lease owner (else each lease statement takes
    a fresh one); ``batch`` caps the deliveries one lease statement takes. Returns counts by outcome
    (``leased``, ``delivered``, ``failed``, ``dead``, ``lost``)."""
    counts = {"leased": 0, "delivered": 0, "failed": 0, "dead": 0, "lost": 0}
    pool = _pool(max(1, threads))
    running: dict[Future, _Attempt] = {}
    senders = max(1, threads)
    quiet = True  # no attempt ended during the last wait (or none ran)
    while True:
        free = senders - len(running)
        if limit is not None:
            free = min(free, limit - counts["leased"])
        if batch is not None:
            free = min(free, batch)
        may_lease = free > 0 and (until is None or time.monotonic() < until) and not (stop and stop())
        # While attempts keep ending, lease for half the senders at once (one lease statement and
        # its reads serve many deliveries); after a quiet poll, for any free sender. Either way a
        # delivery is leased only when a sender is free for it.
        chunk = min(
            senders // 2, limit - counts["leased"] if limit is not None else senders, batch or senders
        )
        started = _attempts_lease(owner=owner, limit=free) if may_lease and (quiet or free >= chunk) else []
        counts["leased"] += len(started)
        for attempt in started:
            running[pool.submit(_send_one, attempt)] = attempt
        if not running:
            return counts
        # Wake on the first attempt to end, or after a moment to lease what has fallen due.
        timeout = IDLE_POLL_SECONDS if may_lease else None
        done, _ = wait(running, timeout=timeout, return_when=FIRST_COMPLETED)
        quiet = not done
        if done:
            _attempts_record([(running.pop(future), future.result()) for future in done], counts)


# -- redeliver --------------------------------------------------------------------------------------
def delivery_redeliver(*, delivery: AlertDelivery) -> AlertDelivery:
    """Send again now (a dead, failed, delivered or cancelled delivery): a fresh attempt budget,
    same event, so the receiver sees the same ``webhook-id``."""
    AlertDelivery.objects.filter(pk=delivery.pk).update(
        status=AlertDelivery.Status.PENDING,
        attempt=0,
        next_attempt_at=timezone.now(),
        leased_until=None,
        lease_owner=None,
        error_message=None,
        updated_at=timezone.now(),
    )
    transaction.on_commit(_kick_workers)
    delivery.refresh_from_db()
    return delivery


def deliveries_due_in(*, seconds: float) -> bool:
    """Is a delivery due within ``seconds`` (the fast loop's idle check)?"""
    horizon = timezone.now() + timedelta(seconds=seconds)
    return AlertDelivery.objects.filter(
        status__in=["pending", "failed"], next_attempt_at__lte=horizon
    ).exists()
