"""Reading Sociocs' ``status_update`` callbacks (providers.md §3.5, §3.6).

Sociocs posts one JSON object per status change to the subscription's
``webhook_url``:

    {"message_id": "MM2a…", "event": "status_update",
     "event_data": {"status": "failed",
                    "error": {"code": 21614, "message": "…"},
                    "provider_err_obj": {"status": 400, "code": 21614, "moreInfo": "…"}}}

Receipts are off unless the subscription lists ``"events": ["status_updates"]``.
When a ``secret`` was given at subscribe time, every callback carries
``X-Sociocs-Signature``: the lowercase hex HMAC-SHA256 of the raw body keyed with
that secret, with no timestamp (so no replay protection; the core's receipt rules
make a repeated status harmless).
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Mapping
from datetime import datetime
from typing import Any

from providers.base import DeliveryStatus, Receipt, WebhookResult
from providers.callback_json import CallbackJSONError, load_object, text_of
from providers.errors import WebhookAuthError, WebhookError, clip
from providers.timestamps import first_timestamp

SIGNATURE_HEADER = "x-sociocs-signature"
STATUS_EVENT = "status_update"
MISMATCH_HINT = (
    "Check that webhook_secret in herald.toml is the secret given when subscribing "
    "(POST /webhook-subscriptions)"
)

# The documented values of ``event_data.status`` are sent|delivered|read|failed, but the
# subscription's ``subevents`` filter lists each network's own statuses, so callbacks
# may carry those raw values too (§3.5 [inference]). Anything else is acknowledged and
# ignored rather than guessed at.
STATUSES: dict[str, DeliveryStatus] = {
    # Still with Sociocs or the network: the message has not left yet.
    "queued": DeliveryStatus.ACCEPTED,  # Twilio, Telnyx, Gupshup
    "sending": DeliveryStatus.ACCEPTED,  # Twilio, Telnyx
    "enqueued": DeliveryStatus.ACCEPTED,  # Gupshup: handed to WhatsApp, not yet sent
    "sent": DeliveryStatus.SENT,
    "delivered": DeliveryStatus.DELIVERED,
    "read": DeliveryStatus.READ,  # WhatsApp channels only
    "failed": DeliveryStatus.FAILED,
    "undelivered": DeliveryStatus.FAILED,  # Twilio: the carrier could not deliver it
    "sending_failed": DeliveryStatus.FAILED,  # Telnyx
    "delivery_failed": DeliveryStatus.FAILED,  # Telnyx
}

REASON_LIMIT = 300
# Incoming-message payloads carry ``timestamp`` in milliseconds (§3.6); a status update
# documents none, so one is read only if present, under any of these names.
TIME_KEYS = ("timestamp", "occurred_at", "updated_at")


def verify_signature(body: bytes, headers: Mapping[str, str], secret: str, provider: str) -> None:
    """Raise `WebhookAuthError` unless ``X-Sociocs-Signature`` signs exactly ``body``.

    The secret never appears in an error: only whether the header was missing or wrong.
    """
    given = headers.get(SIGNATURE_HEADER, "").strip()
    if not given:
        raise WebhookAuthError(
            "callback has no X-Sociocs-Signature header, but webhook_secret is set",
            provider=provider,
            hint="Subscribe with the same secret, or remove webhook_secret and use webhook_token",
        )
    expected = hmac.new(secret.encode("utf-8"), body, hashlib.sha256).hexdigest()
    if not hmac.compare_digest(given.lower().encode("utf-8", "replace"), expected.encode()):
        raise WebhookAuthError(
            "X-Sociocs-Signature does not match the body", provider=provider, hint=MISMATCH_HINT
        )


def parse_callback(body: bytes, provider: str) -> WebhookResult:
    """The receipt a callback carries: one for a known status, none for other events."""
    try:
        payload = load_object(body)
    except CallbackJSONError as exc:
        raise _unreadable(str(exc), provider) from None
    event_data = payload.get("event_data")
    # The prose template nests ``event`` inside ``event_data``; the examples put it at
    # the top (§3.6). Accept either.
    event = payload.get("event")
    if event is None and isinstance(event_data, dict):
        event = event_data.get("event")
    if not isinstance(event, str) or not event:
        raise _unreadable("no 'event' field", provider)
    if event != STATUS_EVENT:
        return WebhookResult([])  # incoming messages and the like: nothing to record
    if not isinstance(event_data, dict):
        raise _unreadable("a status_update without an 'event_data' object", provider)
    message_id = payload.get("message_id")
    if isinstance(message_id, bool) or not isinstance(message_id, str | int) or message_id == "":
        raise _unreadable("a status_update without a 'message_id'", provider)
    raw_status = event_data.get("status")
    if not isinstance(raw_status, str) or not raw_status.strip():
        raise _unreadable("a status_update without 'event_data.status'", provider)
    status = STATUSES.get(raw_status.strip().lower())
    if status is None:
        return WebhookResult([])
    return WebhookResult(
        [
            Receipt(
                status,
                # Herald stores the send's ``data.message_id`` as the provider id and
                # matches on it. Whether Sociocs uses the same id here is UNKNOWN
                # (§3.6, §6): the doc's webhook example shows a Twilio SID ("MM…") and
                # its send example "Xyz12345". If they differ the receipt matches no
                # message and the core logs and ignores it; nothing breaks.
                provider_message_id=str(message_id),
                reason=_reason(event_data, raw_status.strip())
                if status is DeliveryStatus.FAILED
                else None,
                occurred_at=_occurred_at(event_data, payload),
                raw=payload,
            )
        ]
    )


def _unreadable(problem: str, provider: str) -> WebhookError:
    return WebhookError(
        f"unreadable callback: {problem}; expected "
        '{"message_id": …, "event": "status_update", "event_data": {"status": …}}',
        provider=provider,
        status_code=400,
    )


def _reason(event_data: Mapping[str, Any], raw_status: str) -> str:
    """Why it failed, in the network's words: ``error.message`` and the error code."""
    error = event_data.get("error")
    details = event_data.get("provider_err_obj")
    message: str | None = None
    code: object = None
    more: str | None = None
    if isinstance(error, dict):
        message = text_of(error.get("message")) or text_of(error.get("msg"))
        code = error.get("code")
    elif isinstance(error, str):
        message = text_of(error)
    if isinstance(details, dict):
        message = message or text_of(details.get("message"))
        if code in (None, ""):
            code = details.get("code")
        more = text_of(details.get("moreInfo"))
    code_text = None if code in (None, "") or isinstance(code, bool) else str(code)
    if message:
        reason = message
        if code_text and code_text not in message:
            reason += f" (code {code_text})"
    elif code_text:
        reason = f"error code {code_text}" + (f", see {more}" if more else "")
    else:
        reason = f"Sociocs reported '{raw_status}'"
    return clip(reason, REASON_LIMIT)


def _occurred_at(*sources: Mapping[str, Any]) -> datetime | None:
    """When the status changed, if the callback says; a value that cannot be read is
    skipped (the receipt still counts) rather than failing the whole callback."""
    return first_timestamp(source.get(key) for source in sources for key in TIME_KEYS)
