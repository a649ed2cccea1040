"""Test one channel of a definition now: a sample document sent straight to that channel, the
outcome returned to whoever pressed the button (delivered, or why not). Nothing is recorded: no
event, no delivery; the receiver sees an ``alert.sample`` it can tell from a real alert."""

from __future__ import annotations

from dataclasses import dataclass

from django.utils import timezone

from orgs.models import User
from platform_site.db import uuid7

from ..channel_secrets import redact_secret
from ..channels import SENDERS, SendResult
from ..models import AlertDefinition, AlertEvent, Severity
from .documents import event_document

TEST_NOTE = "TEST: a test message to this one channel; nothing happened on chain"


class ChannelMissing(LookupError):
    """The definition has no channel at that index."""


@dataclass(frozen=True)
class ChannelTestOutcome:
    index: int
    channel_type: str
    target: str  # as it may be shown: a Slack URL (the credential) redacted
    delivered: bool
    error: str = ""
    message_id: str = ""
    http_status: int | None = None  # the receiver's HTTP status, when it answered over HTTP
    answer: str = ""  # the first bytes of its answer, as text

    def as_dict(self) -> dict:
        return {
            "index": self.index,
            "type": self.channel_type,
            "target": self.target,
            "delivered": self.delivered,
            "error": self.error,
            "message_id": self.message_id,
            "http_status": self.http_status,
            "answer": self.answer,
        }

    def describe(self) -> str:
        where = f"{self.channel_type} {self.target}"
        if self.delivered:
            status = f" (HTTP {self.http_status})" if self.http_status else ""
            return f"Test message delivered to {where}{status}"
        return f"Test message to {where} failed: {self.error}"


def channel_target(channel: dict) -> str:
    kind = channel.get("type")
    if kind == "email":
        return ", ".join(str(address) for address in channel.get("to") or [])
    if kind == "slack":
        return str(redact_secret(channel.get("webhook_url", "")))
    return str(channel.get("url", ""))


def sample_document(definition: AlertDefinition, *, message_id: str, user: User | None) -> dict:
    """The document a test sends: a test-fire's sample event, built but never saved."""
    condition = definition.condition if isinstance(definition.condition, dict) else {}
    severity = condition.get("severity")
    event = AlertEvent(
        id=message_id,
        org_id=definition.org_id,
        alert_definition=definition,
        severity=severity if severity in Severity.values else Severity.INFO,
        source_dataset=condition.get("dataset"),
        payload={
            "kind": "sample",
            "sample": True,
            "channel_test": True,
            "note": TEST_NOTE,
            "definition": {"id": str(definition.pk), "name": definition.name},
            "fired_by": str(user) if user is not None else None,
        },
        created_at=timezone.now(),
    )
    return event_document(event)


def alert_channel_test(*, definition: AlertDefinition, index: int, user: User | None) -> ChannelTestOutcome:
    """Send a sample document to channel ``index`` of ``definition`` now (even a disabled one: a
    test is how its owner checks it before re-enabling it) and return the outcome. Raises
    ChannelMissing when there is no such channel. Who may test is the caller's check
    (``selectors.can_operate``)."""
    channels = definition.channels if isinstance(definition.channels, list) else []
    if not 0 <= index < len(channels) or not isinstance(channels[index], dict):
        raise ChannelMissing(f"no channel {index}")
    channel = channels[index]
    kind = channel.get("type")
    sender = SENDERS.get(kind)
    if sender is None:
        return ChannelTestOutcome(index, str(kind), "", False, f"unknown channel type {kind!r}")
    message_id = str(uuid7())
    document = sample_document(definition, message_id=message_id, user=user)
    try:
        result: SendResult = sender(channel, message_id=message_id, document=document)
    except (KeyError, TypeError, ValueError) as exc:  # a channel stored incomplete
        result = SendResult(ok=False, error=f"the channel is incomplete: {type(exc).__name__}: {exc}")
    return ChannelTestOutcome(
        index=index,
        channel_type=kind,
        target=channel_target(channel),
        delivered=result.ok,
        error="" if result.ok else result.error,
        message_id=message_id,
        http_status=result.http_status,
        answer=result.answer,
    )
