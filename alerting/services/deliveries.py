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

Which channel of the definition a delivery goes to: deliveries of an event are created in the order
of the definition's channels (time-ordered ids), so the n-th delivery of a channel type goes to
the n-th channel of that type.
"""

from __future__ import annotations

import logging
import os
import random
import socket
import uuid
from collections import defaultdict
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import timedelta

from django.conf import settings
from django.db import connection, transaction
from django.utils import timezone

from ..channels import SENDERS, SendResult
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
    """A lease outlives the longest send (connect + read timeouts) with a margin."""
    floor = settings.ALERT_DELIVERY_CONNECT_TIMEOUT + settings.ALERT_DELIVERY_READ_TIMEOUT + 5
    return max(settings.ALERT_DELIVERY_LEASE_SECONDS, floor)


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


def deliveries_lease(*, owner: str, limit: int = 100) -> list[Lease]:
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute(LEASE_SQL, {"owner": owner, "seconds": lease_seconds(), "limit": limit})
        return [Lease(row[0], owner, row[1]) for row in cursor.fetchall()]


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
    with transaction.atomic(), connection.cursor() as cursor:
        ok = [(lease, result) for lease, result in outcomes if result.ok]
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


def _pool(threads: int) -> ThreadPoolExecutor:
    """One long-lived pool of sender threads per size (starting threads per batch costs)."""
    if threads not in _POOLS:
        _POOLS[threads] = ThreadPoolExecutor(max_workers=threads, thread_name_prefix="alert-send")
    return _POOLS[threads]


def _send_one(delivery: AlertDelivery, channel: dict | None) -> SendResult:
    if channel is None:
        return SendResult(ok=False, error="the definition no longer has this channel", permanent=True)
    if channel.get("disabled"):
        return SendResult(ok=False, error="channel disabled", permanent=True)
    document = event_document(delivery.alert_event)
    try:
        return SENDERS[channel["type"]](channel, message_id=str(delivery.alert_event_id), document=document)
    except Exception as exc:  # a sender bug must not lose the delivery: it is retried
        log.exception("sending delivery %s failed", delivery.pk)
        return SendResult(ok=False, error=f"{type(exc).__name__}: {exc}"[:500])


def deliveries_process(*, owner: str | None = None, limit: int = 100, threads: int = 16) -> dict[str, int]:
    """Lease up to ``limit`` due deliveries, send them (``threads`` at once) and record each.
    Returns counts by outcome (``leased``, ``delivered``, ``failed``, ``dead``, ``lost``)."""
    leases = deliveries_lease(owner=owner or new_lease_owner(), limit=limit)
    counts = {"leased": len(leases), "delivered": 0, "failed": 0, "dead": 0, "lost": 0}
    if not leases:
        return counts
    by_id = {lease.delivery_id: lease for lease in leases}
    deliveries = list(AlertDelivery.objects.filter(pk__in=by_id).select_related("alert_event"))
    # One definition object per definition, not one per delivery (a storm is one definition).
    definitions = AlertDefinition.objects.in_bulk({d.alert_event.alert_definition_id for d in deliveries})
    ordinals = _ordinals(list({d.alert_event_id for d in deliveries}))
    targets = []
    for delivery in deliveries:
        definition = definitions[delivery.alert_event.alert_definition_id]
        delivery.alert_event.alert_definition = definition
        found = _channel_for(definition, delivery.channel, ordinals[delivery.pk][1])
        targets.append((delivery, found))

    def send(target):
        delivery, found = target
        return _send_one(delivery, found[1] if found else None)

    if len(targets) == 1 or threads <= 1:
        results = [send(t) for t in targets]
    else:
        results = list(_pool(threads).map(send, targets))
    recorded = deliveries_record(
        outcomes=[
            (by_id[delivery.pk], result) for (delivery, _), result in zip(targets, results, strict=True)
        ]
    )
    for (delivery, found), result in zip(targets, results, strict=True):
        status = recorded.get(delivery.pk)
        counts[status or "lost"] += 1
        if status == "dead" and result.gone and found is not None:
            channel_disable(
                definition_id=delivery.alert_event.alert_definition_id,
                channel_index=found[0],
                reason=f"{result.error} at {timezone.now().isoformat(timespec='seconds')}",
            )
    return counts


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
