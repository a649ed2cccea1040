"""Channel secrets are write-only: a webhook's signing ``secret`` and a Slack ``webhook_url`` (the
URL is the credential) are shown once, in the answer that creates them, and afterwards only
redacted (``whsec_...abcd``, ``https://hooks.slack.com/...``) on every surface, to everyone.

An edit that sends a channel back with the redacted form, or without the secret, keeps the stored
value; a new value (or a list of them, during a rotation) replaces it.
"""

from __future__ import annotations

import copy
from typing import Any
from urllib.parse import urlsplit

ELLIPSIS = "..."  # ASCII: JSON editors and terminals show it as it is
SECRET_KEYS = {"webhook": "secret", "slack": "webhook_url"}


def redact_secret(value: Any) -> Any:
    """A secret as it may be shown again: the kind, an ellipsis, and the last four characters."""
    if isinstance(value, list):
        return [redact_secret(item) for item in value]
    if not isinstance(value, str) or not value:
        return value
    if value.startswith(("http://", "https://")):
        parts = urlsplit(value)
        return f"{parts.scheme}://{parts.hostname or ''}/{ELLIPSIS}"
    prefix = "whsec_" if value.startswith("whsec_") else ""
    return f"{prefix}{ELLIPSIS}{value[-4:]}"


def redact_channels(channels: Any) -> Any:
    """``channels`` with every secret redacted (anything that is not a list of objects as it is)."""
    if not isinstance(channels, list):
        return channels
    shown = copy.deepcopy(channels)
    for channel in shown:
        if isinstance(channel, dict):
            key = SECRET_KEYS.get(channel.get("type"))
            if key and key in channel:
                channel[key] = redact_secret(channel[key])
    return shown


def _restore(sent: Any, stored: Any) -> Any:
    """The value to keep: ``stored`` where ``sent`` is its redacted form, else what was sent."""
    stored_values = stored if isinstance(stored, list) else [stored]
    by_redacted = {redact_secret(value): value for value in stored_values if isinstance(value, str)}
    if isinstance(sent, list):
        return [by_redacted.get(item, item) if isinstance(item, str) else item for item in sent]
    if isinstance(sent, str):
        return by_redacted.get(sent, sent)
    return sent


def merge_secrets(sent: Any, stored: Any) -> Any:
    """The channels to save from ``sent`` (an edit) over ``stored`` (what is saved now): a secret
    sent redacted, or left out, of a channel of the same type at the same place stays as stored."""
    if not isinstance(sent, list) or not isinstance(stored, list):
        return sent
    merged = copy.deepcopy(sent)
    for index, channel in enumerate(merged):
        if not isinstance(channel, dict) or index >= len(stored) or not isinstance(stored[index], dict):
            continue
        previous = stored[index]
        key = SECRET_KEYS.get(channel.get("type"))
        if not key or previous.get("type") != channel.get("type") or key not in previous:
            continue
        channel[key] = _restore(channel[key], previous[key]) if key in channel else previous[key]
    return merged
