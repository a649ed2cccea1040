"""The JSON document a channel receives for an event (the webhook body; email and Slack render it)."""

from __future__ import annotations

from ..models import AlertEvent

KINDS = ("event", "retraction", "sample", "digest")


def event_kind(event: AlertEvent) -> str:
    kind = (event.payload or {}).get("kind", "event")
    return kind if kind in KINDS else "event"


def event_document(event: AlertEvent) -> dict:
    """``{"type": "alert.<kind>", "event": {...}}``; the kind is event, retraction (payload names the
    retracted event in ``retracts``), sample (a test-fire) or digest (a storm grouped into one)."""
    return {
        "type": f"alert.{event_kind(event)}",
        "event": {
            "id": str(event.id),
            "alert_definition": str(event.alert_definition_id),
            "severity": event.severity,
            "chain_id": event.chain_id,
            "block_hash": event.block_hash,
            "tx_hash": event.tx_hash,
            "block_number": event.block_number,
            "source_dataset": event.source_dataset,
            "partition_key": event.partition_key,
            "cursor_value": event.cursor_value,
            "payload": event.payload,
            "created_at": event.created_at.isoformat() if event.created_at else None,
        },
    }
