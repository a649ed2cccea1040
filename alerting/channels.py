"""Channels an event is delivered to: validation of ``alert_definitions.channels`` and the senders.

``channels`` is a list of

* ``{"type": "webhook", "url": "https://…", "secret": "whsec_…"}`` — signed per Standard Webhooks
  (``webhook-id`` = the event id, ``webhook-timestamp``, ``webhook-signature``). During a secret
  rotation ``"secret"`` may be a list: the request carries one ``v1`` signature per secret.
* ``{"type": "email", "to": ["oncall@example.com"]}`` — through Django's email backend.
* ``{"type": "slack", "webhook_url": "https://hooks.slack.com/…"}`` — a Slack incoming webhook.

Each may carry ``"disabled": true`` (set by the platform when a receiver answers 410 Gone, with
``disabled_reason``); a disabled channel gets no deliveries until someone re-enables it.

A sender returns a :class:`SendResult`; every outbound HTTP call goes through
``platform_site.outbound`` (the policy refuses private, loopback and link-local targets). Each send
ends within ``deadline_seconds`` in total (connect, send and the answer, however slowly a receiver
trickles it; the worker passes the delivery deadline, kept below the lease); redirects are never
followed: a 3xx answer is a failed attempt.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import UTC, datetime
from email.utils import make_msgid, parsedate_to_datetime
from typing import Any
from urllib.parse import urljoin, urlsplit

import httpx
from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.mail import EmailMessage, get_connection
from django.core.mail.backends import smtp
from django.core.validators import validate_email
from standardwebhooks import Webhook

from platform_site import outbound

from .mail import DeadlineEmailBackend, SmtpDeadline

CHANNEL_TYPES = ("webhook", "email", "slack")
MAX_RETRY_AFTER_SECONDS = 10 * 3600
ANSWER_BYTES = 300  # how much of a receiver's answer an attempt keeps, for the delivery's page


@dataclass
class SendResult:
    ok: bool
    error: str = ""
    provider_message_id: str | None = None
    retry_after: float | None = None
    gone: bool = False  # HTTP 410: the receiver asks never to be called again
    permanent: bool = False  # retrying cannot help (the target is refused by policy)
    http_status: int | None = None  # the receiver's HTTP status, when it answered
    answer: str = ""  # the first ANSWER_BYTES of its answer, as text (undecodable bytes replaced)


def _secrets(channel: dict) -> list[str]:
    secret = channel.get("secret")
    return secret if isinstance(secret, list) else [secret]


def channel_errors(channels: Any, *, check_targets: bool = True) -> dict[str, str]:
    """Field errors of a channels list (``channels[0].url`` …); empty when it is valid.

    ``check_targets`` resolves the URLs now and applies the outbound policy, so a refused target is
    a clear error on save (it is checked again, authoritatively, on every send)."""
    if not isinstance(channels, list):
        return {"channels": "a list of channels"}
    errors: dict[str, str] = {}
    for index, channel in enumerate(channels):
        path = f"channels[{index}]"
        if not isinstance(channel, dict) or channel.get("type") not in CHANNEL_TYPES:
            errors[path] = f"an object whose type is one of {', '.join(CHANNEL_TYPES)}"
            continue
        kind = channel["type"]
        url_key = {"webhook": "url", "slack": "webhook_url"}.get(kind)
        if url_key:
            url = channel.get(url_key)
            if not isinstance(url, str) or not url.startswith(("http://", "https://")):
                errors[f"{path}.{url_key}"] = "an http(s) URL"
            elif check_targets:
                try:
                    outbound.check_url(url)
                except outbound.OutboundRefused as exc:
                    errors[f"{path}.{url_key}"] = str(exc)
        if kind == "webhook":
            secrets = _secrets(channel)
            try:
                if not secrets or not all(isinstance(s, str) and s.startswith("whsec_") for s in secrets):
                    raise ValueError
                for secret in secrets:
                    Webhook(secret)
            except Exception:
                errors[f"{path}.secret"] = "a whsec_… secret (base64), or a list of them during a rotation"
        if kind == "email":
            to = channel.get("to")
            if not isinstance(to, list) or not to:
                errors[f"{path}.to"] = "a non-empty list of email addresses"
            else:
                for address in to:
                    try:
                        validate_email(address)
                    except (ValidationError, TypeError):
                        errors[f"{path}.to"] = f"{address!r} is not an email address"
                        break
    return errors


def _retry_after(value: str | None) -> float | None:
    if not value:
        return None
    try:
        seconds = float(value)
    except ValueError:
        try:
            seconds = (parsedate_to_datetime(value) - datetime.now(UTC)).total_seconds()
        except (TypeError, ValueError):
            return None
    return max(0.0, min(seconds, MAX_RETRY_AFTER_SECONDS))


def _redirect_host(response: outbound.OutboundResponse) -> str:
    """The host a redirect points to (never its path or query, which may carry credentials)."""
    location = response.headers.get("location")
    if not location:
        return "nowhere (no Location)"
    return urlsplit(urljoin(response.url, location)).hostname or "an unreadable Location"


def _http_result(response: outbound.OutboundResponse) -> SendResult:
    status = response.status_code
    answered = {"http_status": status, "answer": response.body[:ANSWER_BYTES].decode("utf-8", "replace")}
    if 200 <= status < 300:
        return SendResult(ok=True, provider_message_id=response.headers.get("x-request-id"), **answered)
    if 300 <= status < 400:
        # Retried like any failure: the receiver's owner may fix the URL or the redirect.
        # Its body is not kept: it usually repeats the Location, whose path may carry credentials.
        where = _redirect_host(response)
        return SendResult(
            ok=False, error=f"HTTP {status}: redirected to {where} (not followed)", http_status=status
        )
    snippet = response.body[:200].decode("utf-8", "replace").strip()
    error = f"HTTP {status}" + (f": {snippet}" if snippet else "")
    return SendResult(
        ok=False,
        error=error,
        retry_after=_retry_after(response.headers.get("retry-after")) if status in (429, 503) else None,
        gone=status == 410,
        **answered,
    )


def _post(url: str, body: bytes, headers: dict[str, str], *, deadline_seconds: float | None) -> SendResult:
    try:
        response = outbound.request(
            "POST",
            url,
            headers={"Content-Type": "application/json", "User-Agent": "Chainlake-Alerts/1", **headers},
            content=body,
            connect_timeout=settings.ALERT_DELIVERY_CONNECT_TIMEOUT,
            read_timeout=settings.ALERT_DELIVERY_READ_TIMEOUT,
            deadline_seconds=_deadline(deadline_seconds),
        )
    except outbound.OutboundRefused as exc:
        return SendResult(ok=False, error=str(exc), permanent=True)
    except outbound.DeadlineExceeded as exc:
        return SendResult(ok=False, error=f"timed out: {exc}")
    except httpx.TimeoutException as exc:
        return SendResult(ok=False, error=f"timed out: {type(exc).__name__}")
    except httpx.HTTPError as exc:
        return SendResult(ok=False, error=f"{type(exc).__name__}: {exc}"[:500])
    return _http_result(response)


def _deadline(deadline_seconds: float | None) -> float:
    """The attempt's total deadline: the one given (the worker's, bounded by its lease), else the
    configured delivery deadline."""
    return settings.ALERT_DELIVERY_DEADLINE if deadline_seconds is None else deadline_seconds


def webhook_headers(channel: dict, *, message_id: str, body: str, at: datetime) -> dict[str, str]:
    """Standard Webhooks headers: one ``v1`` signature per secret (several during a rotation)."""
    signatures = [Webhook(secret).sign(message_id, at, body) for secret in _secrets(channel)]
    return {
        "webhook-id": message_id,
        "webhook-timestamp": str(int(at.timestamp())),
        "webhook-signature": " ".join(signatures),
    }


def send_webhook(
    channel: dict, *, message_id: str, document: dict, deadline_seconds: float | None = None
) -> SendResult:
    body = json.dumps(document, separators=(",", ":"), sort_keys=True)
    headers = webhook_headers(channel, message_id=message_id, body=body, at=datetime.now(UTC))
    result = _post(channel["url"], body.encode(), headers, deadline_seconds=deadline_seconds)
    if result.ok and not result.provider_message_id:
        result.provider_message_id = message_id
    return result


def summary(document: dict) -> tuple[str, str]:
    """A subject line and a plain-text body for people (email, Slack)."""
    event = document["event"]
    kind = document["type"].removeprefix("alert.")
    label = {"event": "", "retraction": "RETRACTED: ", "sample": "[TEST] ", "digest": "DIGEST: "}.get(
        kind, ""
    )
    name = event.get("payload", {}).get("definition", {}).get("name", "alert")
    subject = f"{label}[{event['severity']}] {name}"
    lines = [subject, ""]
    for key in ("id", "source_dataset", "chain_id", "block_number", "block_hash", "tx_hash", "partition_key"):
        if event.get(key) is not None:
            lines.append(f"{key}: {event[key]}")
    lines.append("")
    lines.append(json.dumps(event.get("payload", {}), indent=2, sort_keys=True, default=str))
    return subject, "\n".join(lines)


def send_slack(
    channel: dict, *, message_id: str, document: dict, deadline_seconds: float | None = None
) -> SendResult:
    subject, text = summary(document)
    body = json.dumps({"text": f"*{subject}*\n```{text[len(subject) + 2 :][:3000]}```"}).encode()
    return _post(channel["webhook_url"], body, {}, deadline_seconds=deadline_seconds)


def send_email(
    channel: dict, *, message_id: str, document: dict, deadline_seconds: float | None = None
) -> SendResult:
    subject, text = summary(document)
    domain = settings.DEFAULT_FROM_EMAIL.rsplit("@", 1)[-1]
    msgid = make_msgid(idstring=message_id, domain=domain)
    message = EmailMessage(
        subject=subject,
        body=text,
        from_email=settings.DEFAULT_FROM_EMAIL,
        to=list(channel["to"]),
        headers={"Message-ID": msgid, "X-Chainlake-Event-Id": message_id},
        connection=_email_connection(),
    )
    deadline = SmtpDeadline(_deadline(deadline_seconds))
    try:
        with deadline:
            message.send(fail_silently=False)
    except Exception as exc:  # SMTP errors come in many classes (smtplib, socket, ssl)
        if deadline.passed:
            error = f"timed out: no complete answer within {deadline.seconds:.1f} s"
            return SendResult(ok=False, error=error)
        return SendResult(ok=False, error=f"{type(exc).__name__}: {exc}"[:500])
    return SendResult(ok=True, provider_message_id=msgid)


def _email_connection():
    """The configured email backend; Django's SMTP one is swapped for the same backend under the
    send's total deadline."""
    connection = get_connection(timeout=settings.EMAIL_TIMEOUT)
    if type(connection) is smtp.EmailBackend:
        return DeadlineEmailBackend(timeout=settings.EMAIL_TIMEOUT)
    return connection


SENDERS = {"webhook": send_webhook, "email": send_email, "slack": send_slack}
