"""Callbell's webhook callbacks read into `Receipt`s (``shared/spec/providers.md`` §4.4, §4.5).

Callbell posts every subscribed event to the one webhook of an account as
``{"event": ..., "payload": {...}}``. Only ``message_status_updated`` says anything
about delivery: ``payload.uuid`` is the ``message.uuid`` of the send, ``payload.metadata``
echoes the metadata sent with it (Herald's id under ``herald_id``) and
``payload.messageStatusPayload`` is the raw payload of the WhatsApp provider behind
Callbell, whose shape varies (§4.5 says to treat it as opaque; a reason and a
timestamp are read from it where they are visible). Every other event, and the
periodic connection check, is answered ``{"status": "ok"}`` (§4.5) and yields nothing.

Signatures are optional (§4.5, a later version of Callbell's documents): with a signing
secret (``whsec_…``) made in API Settings → Webhooks, every callback carries
``X-Callbell-Signature: t=<unix seconds>,v1=<hex HMAC-SHA256(secret, "<t>.<raw body>")>``
and `read_callback` checks it. Without one, the connection's ``?token=``, checked by
the core, is what protects the endpoint.
"""

from __future__ import annotations

import hashlib
import hmac
import re
from collections.abc import Mapping
from datetime import datetime
from types import MappingProxyType
from typing import Any

from providers.base import (
    WHATSAPP_WINDOW_HINT,
    DeliveryStatus,
    Receipt,
    WebhookRequest,
    WebhookResult,
    is_whatsapp_window_refusal,
)
from providers.callback_json import CallbackJSONError, load_object, text_of
from providers.errors import WebhookAuthError, WebhookError, clip
from providers.timestamps import first_timestamp

STATUS_EVENT = "message_status_updated"
REFERENCE_KEY = "herald_id"  # the metadata key the adapter sends Herald's id under
SIGNATURE_HEADER = "x-callbell-signature"
SECRET_PREFIX = "whsec_"  # noqa: S105 - §4.5: "The secret starts with whsec_"
# §4.5: "reject t more than 5 minutes from now". Callbell signs a retry again with a new
# t, so unlike Bird (hours-old retries keep their first timestamp) this window is safe.
SIGNATURE_TOLERANCE_SECONDS = 5 * 60
_UNIX_SECONDS = re.compile(r"[0-9]{1,12}")
_HEX_SHA256 = re.compile(r"[0-9a-fA-F]{64}")
# §4.5: what the periodic connection check must get back.
OK_REPLY: Mapping[str, str] = MappingProxyType({"status": "ok"})

# §4.4. ``accepted`` is not in Callbell's list but is what several WhatsApp providers
# call the hand-over, so it is read like ``enqueued``. Not here, so ignored: ``mismatch``
# (WhatsApp corrected the number; the message is still on its way) and ``deleted``
# (deprecated), and any status Callbell adds later.
STATUSES: Mapping[str, DeliveryStatus] = {
    "enqueued": DeliveryStatus.ACCEPTED,
    "accepted": DeliveryStatus.ACCEPTED,
    "sent": DeliveryStatus.SENT,
    "delivered": DeliveryStatus.DELIVERED,
    "read": DeliveryStatus.READ,
    "failed": DeliveryStatus.FAILED,
}

# Where BSP payloads keep the words of a failure: Gupshup ``payload.reason``, Meta
# (Cloud API, 360dialog) ``errors[].error_data.details`` / ``message`` / ``title``.
_REASON_KEYS = ("details", "reason", "message", "title", "description", "error")
_REASON_LIMIT = 300


def read_callback(
    request: WebhookRequest, provider: str, signing_secret: str | None, *, now: float
) -> WebhookResult:
    """Verify (with a ``signing_secret``) and read one callback; ``now`` is unix seconds.

    Whether Callbell signs its periodic connection checks is not documented, and an
    unanswered check disables the subscription after six hours (§4.5). So an unsigned
    request that carries no status update is answered ``{"status": "ok"}`` and changes
    nothing, while an unsigned status update is refused like a forged one.
    """
    if signing_secret is None:
        return parse_callback(request, provider)
    if not request.headers.get(SIGNATURE_HEADER, "").strip():
        result = parse_callback(request, provider)
        if result.receipts:
            raise WebhookAuthError(
                "unsigned status update: X-Callbell-Signature is required while the "
                "connection has a signing_secret",
                provider=provider,
            )
        return result
    verify_signature(request, signing_secret, provider, now=now)
    return parse_callback(request, provider)


def verify_signature(
    request: WebhookRequest, signing_secret: str, provider: str, *, now: float
) -> None:
    """Raise `WebhookAuthError` unless ``X-Callbell-Signature`` signs exactly this body
    within five minutes of ``now``. Errors never show the secret or the header."""
    fields: dict[str, list[str]] = {}
    for part in request.headers.get(SIGNATURE_HEADER, "").split(","):
        key, _, value = part.partition("=")
        fields.setdefault(key.strip(), []).append(value.strip())
    stamps, signatures = fields.get("t", []), fields.get("v1", [])
    if len(stamps) != 1 or not _UNIX_SECONDS.fullmatch(stamps[0]) or not signatures:
        raise WebhookAuthError(
            "X-Callbell-Signature is not of the form t=<unix seconds>,v1=<hex>",
            provider=provider,
        )
    expected = hmac.new(
        signing_secret.encode(), stamps[0].encode() + b"." + request.body, hashlib.sha256
    ).hexdigest()
    # Several v1 values may come while a secret is being rotated; one must match.
    if not any(
        _HEX_SHA256.fullmatch(given) and hmac.compare_digest(given.lower(), expected)
        for given in signatures
    ):
        raise WebhookAuthError(
            "X-Callbell-Signature does not match the body",
            provider=provider,
            hint="Check that signing_secret is the account's current whsec_… secret",
        )
    if abs(now - int(stamps[0])) > SIGNATURE_TOLERANCE_SECONDS:
        raise WebhookAuthError(
            "X-Callbell-Signature is more than 5 minutes from this server's clock: "
            "refused as a possible replay (check the clock if this repeats)",
            provider=provider,
        )


def parse_callback(request: WebhookRequest, provider: str) -> WebhookResult:
    """Read one callback; `WebhookError` (400) if it is not JSON or a status update is broken."""
    if not request.body.strip():
        # The shape of the periodic connection check is not documented: an empty
        # body is the likeliest, and answering it keeps the subscription alive.
        return WebhookResult([], reply=OK_REPLY)
    try:
        body = load_object(request.body)
    except CallbackJSONError as exc:
        raise WebhookError(
            f'the callback is not readable: {exc}; expected {{"event": ..., "payload": ...}}',
            provider=provider,
            status_code=400,
        ) from None
    if body.get("event") != STATUS_EVENT:
        return WebhookResult([], reply=OK_REPLY)
    receipt = status_receipt(body, provider)
    return WebhookResult([receipt] if receipt else [], reply=OK_REPLY)


def status_receipt(body: Mapping[str, Any], provider: str) -> Receipt | None:
    """The receipt a ``message_status_updated`` event carries; None for a status Herald
    does not track."""
    payload = body.get("payload")
    if not isinstance(payload, dict):
        payload = {}
    uuid, status = text_of(payload.get("uuid")), text_of(payload.get("status"))
    if uuid is None or status is None:
        raise WebhookError(
            "message_status_updated without payload.uuid and payload.status",
            provider=provider,
            status_code=400,
        )
    return message_receipt(payload, dict(body))


def message_receipt(message: Mapping[str, Any], raw: Any) -> Receipt | None:
    """The receipt a message's status gives: a callback's ``payload``, or the ``message``
    of ``GET /v1/messages/status/{uuid}`` (§4.5, the same ``uuid``, ``status`` and
    ``messageStatusPayload``); None without a uuid or status, or for a status Herald does
    not track."""
    uuid, status = text_of(message.get("uuid")), text_of(message.get("status"))
    delivery = STATUSES.get(status.lower()) if status else None
    if uuid is None or delivery is None:
        return None
    metadata = message.get("metadata")
    reference = text_of(metadata.get(REFERENCE_KEY)) if isinstance(metadata, dict) else None
    bsp = message.get("messageStatusPayload")
    bsp = bsp if isinstance(bsp, dict) else {}
    return Receipt(
        delivery,
        provider_message_id=uuid,
        reference=reference,
        reason=failure_reason(message, bsp) if delivery is DeliveryStatus.FAILED else None,
        occurred_at=_occurred_at(bsp),
        raw=raw,
    )


def failure_reason(payload: Mapping[str, Any], bsp: Mapping[str, Any]) -> str | None:
    """The provider's words for a failure, with its code; None where none is visible."""
    errors = bsp.get("errors")
    places: list[Any] = [
        bsp.get("payload"),
        *(errors[:1] if isinstance(errors, list) else []),
        bsp.get("error"),
        bsp,
        payload.get("error"),
        payload,
    ]
    for place in places:
        if not isinstance(place, dict):
            continue
        words = _words(place)
        code = place.get("code")
        code = str(code) if isinstance(code, int | str) and not isinstance(code, bool) else ""
        if words or code:
            reason = f"{words} (code {code})" if words and code else words or f"error code {code}"
            if is_whatsapp_window_refusal(reason):
                reason = f"{reason}. {WHATSAPP_WINDOW_HINT}"
            return reason
    return None


def _words(place: Mapping[str, Any]) -> str:
    details = place.get("error_data")
    values = [details.get("details") if isinstance(details, dict) else None]
    values += [place.get(key) for key in _REASON_KEYS]
    for value in values:
        text = text_of(value)
        if text is not None:
            return clip(text, _REASON_LIMIT)
    return ""


def _occurred_at(bsp: Mapping[str, Any]) -> datetime | None:
    """When the status happened, from the BSP's ``payload.ts`` (Gupshup) or ``timestamp``
    (Meta); None leaves the core to use the time the callback arrived."""
    inner = bsp.get("payload")
    candidates = [inner.get("ts") if isinstance(inner, dict) else None]
    candidates += [bsp.get("ts"), bsp.get("timestamp")]
    return first_timestamp(candidates)
