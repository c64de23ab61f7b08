"""Reading Bird's delivery-status callbacks (Notifications API webhooks, providers spec §2.7).

A subscription to ``<platform>.outbound`` makes Bird POST
``{"service": "channels", "event": "sms.outbound", "payload": {...message resource...}}``
whenever an outgoing message changes status. With a ``signingKey`` on the subscription
each callback carries ``messagebird-signature`` = base64 HMAC-SHA256(signing key,
timestamp + "\\n" + URL + "\\n" + SHA-256(raw body)) and ``messagebird-request-timestamp``
(unix seconds); `read_callback` checks both, then turns the payload into one `Receipt`.

| Bird status (§2.6) | receipt |
| --- | --- |
| ``accepted``, ``processing``, ``scheduled`` | accepted |
| ``sent`` | sent |
| ``delivered`` | delivered |
| ``read``, ``seen`` (not in Bird's enum; taken if they ever come) | read |
| ``rejected``, ``failed``, ``sending_failed``, ``delivery_failed`` | failed, with the reason |
| ``deleted`` and anything else | none: acknowledged and ignored |

Interaction events (``<platform>.interaction``, an inferred name, §6) of type ``opened``
or ``read`` become a ``read`` receipt; other interactions, inbound messages and other
services are acknowledged and ignored, so Bird does not retry them for eight hours.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import re
from typing import Any

from providers.base import DeliveryStatus, Receipt, WebhookRequest, WebhookResult
from providers.callback_json import CallbackJSONError, load_object, text_of
from providers.errors import WebhookAuthError, WebhookError
from providers.timestamps import first_timestamp, parse_timestamp

PROVIDER = "bird"
SIGNATURE_HEADER = "messagebird-signature"
TIMESTAMP_HEADER = "messagebird-request-timestamp"

# The replay rule (§2.7, "Retries and freshness"). Bird retries a callback that did not
# get a 2xx "at increasing intervals over a period of 8 hours", and the retries keep the
# timestamp of the first attempt, so a legitimate retry can be hours old: a Stripe-style
# five-minute window would drop real receipts. The timestamp is covered by the signature,
# so it cannot be moved forward by anyone without the key; Herald therefore accepts any
# correctly signed callback up to MAX_AGE old (the 8-hour retry horizon with a wide margin
# for Bird's queueing and our downtime, within the spec's ≤ 24 h ceiling) and refuses one
# stamped more than MAX_SKEW in the future (a clock that cannot be Bird's). What is left —
# replaying a captured callback within the day — only repeats a status Bird really
# reported for that message, to the same URL; the core never moves a message back from a
# later status, so a replay at most adds a repeated line to the message's history.
MAX_AGE_SECONDS = 24 * 60 * 60
MAX_SKEW_SECONDS = 5 * 60
_UNIX_SECONDS = re.compile(r"[0-9]{1,12}(\.[0-9]{1,9})?")

STATUSES = {
    "accepted": DeliveryStatus.ACCEPTED,
    "processing": DeliveryStatus.ACCEPTED,
    "scheduled": DeliveryStatus.ACCEPTED,
    "sent": DeliveryStatus.SENT,
    "delivered": DeliveryStatus.DELIVERED,
    # Not in the Channels status enum (§2.6); unambiguous should Bird ever send them.
    "read": DeliveryStatus.READ,
    "seen": DeliveryStatus.READ,
    "rejected": DeliveryStatus.FAILED,
    "failed": DeliveryStatus.FAILED,
    "sending_failed": DeliveryStatus.FAILED,
    "delivery_failed": DeliveryStatus.FAILED,
}
# Interactions are separate from status (§2.6); an open is the only sign of reading Bird
# documents (e-mail), "read" is there in case a platform reports it by that name.
READ_INTERACTIONS = frozenset({"opened", "read", "seen"})


def read_callback(request: WebhookRequest, signing_key: str | None, *, now: float) -> WebhookResult:
    """Verify (when there is a ``signing_key``) and read one Bird callback.

    Raises `WebhookAuthError` if the signature or its timestamp does not verify and
    `WebhookError` (400) if the body is not a Bird callback. ``now`` is unix seconds.
    """
    if signing_key is not None:
        verify_signature(request, signing_key, now=now)
    try:
        body = load_object(request.body)
    except CallbackJSONError as exc:
        raise _unreadable(str(exc)) from None
    if "payload" not in body and "status" in body and "id" in body:
        # The envelope is known from third-party handlers only (§2.7): take a bare
        # message resource too, since it is signed all the same.
        return _status(body, body, event="")
    event, payload = body.get("event"), body.get("payload")
    if not isinstance(event, str) or not isinstance(payload, dict):
        raise _unreadable('expected {"service", "event", "payload": {...}}')
    if body.get("service", "channels") != "channels":
        return WebhookResult([])
    kind = event.rpartition(".")[2]
    if kind == "outbound":
        return _status(payload, body, event=event)
    if kind == "interaction":
        return _interaction(payload, body)
    return WebhookResult([])  # inbound messages, channel.created/updated, …


def verify_signature(request: WebhookRequest, signing_key: str, *, now: float) -> None:
    """Check ``messagebird-signature`` over the exact raw body and URL, then the timestamp."""
    signature = request.headers.get(SIGNATURE_HEADER, "").strip()
    timestamp = request.headers.get(TIMESTAMP_HEADER, "").strip()
    if not signature or not timestamp:
        raise WebhookAuthError(
            f"unsigned callback: the {SIGNATURE_HEADER} and {TIMESTAMP_HEADER} headers are "
            "required while the connection has a signing_key",
            provider=PROVIDER,
        )
    try:
        given = base64.b64decode(signature, validate=True)
    except (binascii.Error, ValueError):
        given = b""
    expected = hmac.new(
        signing_key.encode(),
        b"\n".join(
            (timestamp.encode(), request.url.encode(), hashlib.sha256(request.body).digest())
        ),
        hashlib.sha256,
    ).digest()
    if not hmac.compare_digest(given, expected):
        raise WebhookAuthError(
            "the signature does not match: check signing_key, and that [server] public_url "
            "gives the exact URL Bird calls",
            provider=PROVIDER,
        )
    if not _UNIX_SECONDS.fullmatch(timestamp):
        raise WebhookAuthError(f"{TIMESTAMP_HEADER} is not unix seconds", provider=PROVIDER)
    age = now - float(timestamp)
    if age > MAX_AGE_SECONDS:
        raise WebhookAuthError(
            f"the callback is {age / 3600:.0f} hours old, past Bird's retry horizon; "
            "refused as a possible replay",
            provider=PROVIDER,
        )
    if age < -MAX_SKEW_SECONDS:
        raise WebhookAuthError(
            "the callback is stamped in the future: check this server's clock",
            provider=PROVIDER,
        )


def _status(payload: dict[str, Any], raw: dict[str, Any], *, event: str) -> WebhookResult:
    if text_of(payload.get("id")) is None or text_of(payload.get("status")) is None:
        raise _unreadable(f"the {event or 'message'} payload lacks its id or status")
    receipt = message_receipt(payload, raw)
    return WebhookResult([receipt] if receipt else [])


def message_receipt(resource: dict[str, Any], raw: Any) -> Receipt | None:
    """The receipt a message resource (§2.5: a callback's payload, or the answer to
    ``GET …/messages/{id}``) gives; None for an incoming message, one without its id or
    status, and a status Herald does not track (``deleted``, or one Bird adds later)."""
    message_id, status = text_of(resource.get("id")), text_of(resource.get("status"))
    if message_id is None or status is None or resource.get("direction") == "incoming":
        return None
    mapped = STATUSES.get(status.lower())
    if mapped is None:
        return None
    reason = _failure_reason(resource, status) if mapped is DeliveryStatus.FAILED else None
    return Receipt(
        mapped,
        provider_message_id=message_id,
        reference=text_of(resource.get("reference")),
        reason=reason,
        occurred_at=first_timestamp((resource.get("lastStatusAt"), resource.get("updatedAt"))),
        raw=raw,
    )


def _interaction(payload: dict[str, Any], raw: dict[str, Any]) -> WebhookResult:
    # Shaped like an item of the interactions list (§2.6): messageId, type, createdAt.
    kind, message_id = payload.get("type"), payload.get("messageId")
    if text_of(kind) is None or str(kind).lower() not in READ_INTERACTIONS:
        return WebhookResult([])
    if text_of(message_id) is None:
        raise _unreadable("the interaction payload lacks its messageId")
    receipt = Receipt(
        DeliveryStatus.READ,
        provider_message_id=str(message_id),
        reference=text_of(payload.get("messageReference")),
        occurred_at=parse_timestamp(payload.get("createdAt")),
        raw=raw,
    )
    return WebhookResult([receipt])


def _failure_reason(payload: dict[str, Any], status: str) -> str:
    """Bird's words for a failure: ``failure.description``, else ``reason`` (§2.6)."""
    failure = payload.get("failure")
    failure = failure if isinstance(failure, dict) else {}
    source = failure.get("source")
    source = source if isinstance(source, dict) else {}
    description = text_of(failure.get("description"))
    reason = text_of(payload.get("reason"))
    if description and reason and reason.lower() not in description.lower():
        return f"{description} ({reason})"
    return (
        description
        or reason
        or text_of(payload.get("details"))
        or text_of(source.get("name"))
        or text_of(failure.get("code"))
        or status.replace("_", " ")
    )


def _unreadable(problem: str) -> WebhookError:
    return WebhookError(f"not a Bird callback: {problem}", provider=PROVIDER, status_code=400)
