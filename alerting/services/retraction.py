"""Reorg retraction: an event whose block a reorg orphaned is taken back.

The evaluator reads the reorg invalidations itself (``data_invalidations`` whose ``source_event`` is
``{"type": "reorg", "chain_id", "from_block", "old_hashes", "new_hashes", …}``, recorded by the
chain source on the datasets it rewrote), whatever dataset they were recorded on: an orphaned
block hash is orphaned for every dataset built from that chain. An event is orphaned when its
``block_hash`` is among ``old_hashes`` (or, for a dataset without block hashes, when its block
number is one of the orphaned heights on that chain).

Retracting: undelivered deliveries (pending, failed) become ``cancelled``; a retraction event (kind
``retraction``, same severity, ``retracts`` = the original's id, dedupe key ``retraction:<id>`` so
it is raised once) is delivered to the channels the original was delivered to; the original's
payload records ``retracted_by``. The new canonical block, if its rows still match, raises new
events on the next evaluation (their dedupe key includes the new block hash).
"""

from __future__ import annotations

import json
import logging
from datetime import datetime, timedelta

from django.db import connection, transaction
from django.db.models import Q
from django.utils import timezone

from platform_site.db import uuid7
from versioning.models import DataInvalidation

from ..models import AlertDefinition, AlertDelivery, AlertEvent
from .deliveries import deliveries_create

log = logging.getLogger(__name__)

# Invalidations committed a little before an evaluator's previous run may not have been visible to it.
MARGIN = timedelta(seconds=60)


def reorg_invalidations(*, since: datetime | None):
    queryset = DataInvalidation.objects.filter(source_event__type="reorg").order_by("created_at")
    if since is not None:
        queryset = queryset.filter(created_at__gt=since - MARGIN)
    return queryset


def orphaned_events(*, org_id, dataset: str | None, source_event: dict):
    """Events of the org (on ``dataset`` when given) sitting on a block the reorg orphaned."""
    old = [h.lower() for h in source_event.get("old_hashes") or [] if isinstance(h, str)]
    try:
        first = int(source_event.get("from_block"))
    except (TypeError, ValueError):
        return AlertEvent.objects.none()
    heights = list(range(first, first + len(old)))
    chain_id = source_event.get("chain_id")
    queryset = AlertEvent.objects.filter(org_id=org_id, payload__kind="event").exclude(
        payload__has_key="retracted_by"
    )
    if dataset is not None:
        queryset = queryset.filter(source_dataset=dataset)
    if chain_id is not None:
        queryset = queryset.filter(Q(chain_id=chain_id) | Q(chain_id__isnull=True))
    return queryset.filter(
        Q(block_hash__in=old) | Q(block_hash__isnull=True, block_number__in=heights)
    ).select_related("alert_definition")


def event_retract(
    *, event: AlertEvent, invalidation: DataInvalidation | None = None, reason: str = "reorg"
) -> AlertEvent | None:
    """Retract ``event`` (idempotent: a second call returns None and changes nothing)."""
    with transaction.atomic():
        locked = AlertEvent.objects.select_for_update().filter(pk=event.pk).first()
        if locked is None or "retracted_by" in (locked.payload or {}):
            return None
        now = timezone.now()
        had_deliveries = AlertDelivery.objects.filter(alert_event=locked).exists()
        AlertDelivery.objects.filter(alert_event=locked, status__in=["pending", "failed"]).update(
            status=AlertDelivery.Status.CANCELLED,
            next_attempt_at=None,
            leased_until=None,
            error_message=f"cancelled: the event was retracted ({reason})",
            updated_at=now,
        )
        payload = {
            "kind": "retraction",
            "retracts": str(locked.pk),
            "reason": reason,
            "definition": (locked.payload or {}).get("definition"),
            "orphaned_block_hash": locked.block_hash,
            "invalidation": str(invalidation.pk) if invalidation else None,
        }
        if invalidation is not None:
            payload["new_hashes"] = (invalidation.source_event or {}).get("new_hashes")
        retraction = AlertEvent.objects.create(
            id=uuid7(),
            org_id=locked.org_id,
            alert_definition_id=locked.alert_definition_id,
            producer_job_id=locked.producer_job_id,
            producer_task_id=locked.producer_task_id,
            severity=locked.severity,
            chain_id=locked.chain_id,
            block_hash=locked.block_hash,
            tx_hash=locked.tx_hash,
            block_number=locked.block_number,
            source_dataset=locked.source_dataset,
            partition_key=locked.partition_key,
            cursor_value=locked.cursor_value,
            payload=payload,
            dedupe_key=f"retraction:{locked.pk}",
        )
        with connection.cursor() as cursor:
            # A dataset without block hashes frees the dedupe key: the same row on the new branch is
            # a new event. With a block hash the new row's key differs anyway, and keeping the old
            # key stops a not-yet-rebuilt copy of the orphaned row from raising the event again.
            cursor.execute(
                """UPDATE alert_events SET payload = payload || %s::jsonb,
                       dedupe_key = CASE WHEN block_hash IS NULL THEN dedupe_key || ':retracted'
                                         ELSE dedupe_key END
                   WHERE id = %s""",
                [json.dumps({"retracted_by": str(retraction.pk)}), locked.pk],
            )
        if had_deliveries:
            definition = AlertDefinition.objects.get(pk=locked.alert_definition_id)
            deliveries_create(events=[retraction], definition=definition)
    return retraction


def reorgs_process(*, org_id, dataset: str | None, since: datetime | None) -> tuple[int, datetime | None]:
    """Retract the org's events orphaned by reorg invalidations created since ``since``; returns
    how many were retracted and the newest invalidation time seen (the next ``since``)."""
    retracted, newest = 0, since
    for invalidation in reorg_invalidations(since=since):
        for event in orphaned_events(org_id=org_id, dataset=dataset, source_event=invalidation.source_event):
            if event_retract(event=event, invalidation=invalidation) is not None:
                retracted += 1
        newest = invalidation.created_at if newest is None else max(newest, invalidation.created_at)
    return retracted, newest
