"""A strict local stand-in for Callbell's ``POST /v1/messages/send``.

It checks what ``shared/spec/providers.md`` §4 documents: the Bearer token, the
required fields (``channel_uuid`` included, mandatory since 2024-10), the message
types and their content, the template fields and the metadata limits. Where the
doc says UNKNOWN it is configurable: the success code (``success_status``), the
error body (``error_body``), and how a free-form message outside WhatsApp's
24-hour window is refused (``window_open``, ``window_status``).

Templates are approved texts with numbered placeholders (``templates``: uuid → text),
filled as seed 004 says: ``template_values`` replace ``{{1}}``, ``{{2}}``… in array
order, and "When `template_values` are valid, the values inside `content` will be
ignored, since it is used for template messages with only one variable" — so
``content.text`` fills a lone ``{{1}}``. A template left with an unfilled
placeholder is refused; ``delivered`` keeps what each accepted message reads as.

It also writes the callbacks Callbell would post (§4.5): `status_update_body` for
any message, `CallbellFake.status_callback` for one it accepted (its metadata
echoed), `event_body` for the other events and `CONNECTION_CHECKS` for the
periodic check, whose shape Callbell does not document; `signature_header` signs any
of them as an account with a webhook signing secret would.

``GET /v1/messages/status/{uuid}`` is served as §4.5 "Polling" shows it: the Bearer token,
404 for a uuid it never accepted, else ``{"message": {"uuid", "status",
"messageStatusPayload"}}``, ``enqueued`` until `CallbellFake.set_status` moves it to
another of §4.4's statuses (any other word is a test's mistake and raises).
"""

from __future__ import annotations

import hashlib
import hmac
import json
import re
import secrets
import time
import uuid
from collections.abc import Callable, Mapping
from typing import Any

from providers import CallbellProvider, Channel
from tests.fakes.provider_fake import ProviderFake, Recorded, Reply
from tests.providers.cases import ProviderCase

MESSAGE_TYPES = frozenset({"text", "image", "document", "audio", "video"})
CHANNEL_TYPES = frozenset({"whatsapp", "facebook", "instagram", "telegram"})
WINDOW_ERROR = (
    "The 24 hour window to reply to this contact has expired; only template messages can be sent"
)
# Seed 004's two examples, and one without placeholders.
TEMPLATES = {
    "d980fb66fd5043d3ace1aa06ba044342": "Hello {{1}}, this is a template message example",
    "5d1c2b7e9a4f4e0b8c3d6a1f2e7b9c04": "Hello {{1}}, this is a template {{2}} example. {{3}}!",
    "0e3f7a9b2c6d4e8f9a1b3c5d7e9f1a2b": "Your parcel is on its way.",
}
_PLACEHOLDER = re.compile(r"\{\{(\d+)\}\}")
WALLET_ERROR = (
    "Your WhatsApp wallet is out of credit. Add credit to your wallet to keep sending "
    "outbound WhatsApp template messages."
)


def documented_error(message: str, code: str) -> dict[str, str]:
    """The one error body Callbell documents (its 402 wallet error); the rest is UNKNOWN."""
    return {"error": message, "code": code}


class CallbellFake(ProviderFake):
    def __init__(self) -> None:
        super().__init__()
        self.token = "test_" + secrets.token_urlsafe(18)
        self.channel_uuid = str(uuid.uuid4())
        self.reset()

    def reset(self) -> None:
        """Back to a fresh account's behaviour and no recorded requests (same token and channel)."""
        self.requests.clear()
        self.templates: dict[str, str] = dict(TEMPLATES)
        self.success_status = 200  # §4.3: 200 or 201, UNKNOWN which
        self.error_body: Callable[[str, str], Any] = documented_error
        self.window_open = True  # False: free-form messages are refused (24-hour rule)
        self.window_status = 422
        self.wallet_empty = False  # True: template sends get the documented 402
        # False: a QR-code channel; audio, video and templates need the official
        # WhatsApp Business API integration (seed 004).
        self.business_api = True
        self.sent: list[dict[str, Any]] = []  # bodies of accepted messages
        self.accepted: dict[str, dict[str, Any]] = {}  # message.uuid → its body, in order
        self.delivered: dict[str, str] = {}  # message.uuid → the text the customer reads
        self.statuses: dict[str, dict[str, Any]] = {}  # message.uuid → what a lookup reads

    def handle(self, request: Recorded) -> Reply:
        looked_up = _STATUS_PATH.fullmatch(request.path)
        if looked_up is not None and request.method == "GET":
            return self._status(request, looked_up["uuid"])
        if request.method != "POST" or request.path not in ("/messages/send", "/v1/messages/send"):
            return self._error(404, "Not Found", "not_found")
        if request.headers.get("authorization") != f"Bearer {self.token}":
            return self._error(401, "Unauthorized", "unauthorized")
        try:
            body = request.json()
        except ValueError:
            return self._error(400, "body must be JSON", "invalid_json")
        if not isinstance(body, dict):
            return self._error(400, "body must be a JSON object", "invalid_json")
        problem = self._problem(body)
        if problem is not None:
            return problem
        self.sent.append(body)
        message = {"uuid": uuid.uuid4().hex, "status": "enqueued"}
        self.accepted[message["uuid"]] = body
        self.delivered[message["uuid"]] = self._reads(body) or ""
        self.set_status(message["uuid"], "enqueued")
        return Reply(self.success_status, {"message": message})

    @property
    def lookups(self) -> list[Recorded]:
        """The status lookups received (answered or not)."""
        return [r for r in self.requests if _STATUS_PATH.fullmatch(r.path)]

    def set_status(
        self, message_uuid: str, status: str, *, reason: str | None = None, code: int | None = None
    ) -> None:
        """Move a message this fake accepted to ``status``, one of §4.4's words; a
        ``failed`` one carries the BSP's ``reason`` and ``code`` as the callback does."""
        if status not in STATUSES:
            raise ValueError(f"{status!r} is not one of §4.4's statuses")
        sent = self.accepted[message_uuid]
        digits = str(sent.get("to", "")).lstrip("+") or DEFAULT_PHONE
        self.statuses[message_uuid] = {
            "uuid": message_uuid,
            "status": status,
            "messageStatusPayload": status_payload(status, digits, reason, code, int(time.time())),
        }

    def _status(self, request: Recorded, message_uuid: str) -> Reply:
        if request.headers.get("authorization") != f"Bearer {self.token}":
            return self._error(401, "Unauthorized", "unauthorized")
        found = self.statuses.get(message_uuid)
        if found is None:
            return self._error(404, "Message not found", "not_found")
        return Reply(200, {"message": found})

    def status_callback(
        self,
        message_uuid: str,
        status: str,
        *,
        reason: str | None = None,
        code: int | None = None,
        ts: int | None = None,
    ) -> bytes:
        """The ``message_status_updated`` callback for a message this fake accepted: its
        metadata echoed and its number without the ``+``, as §4.5 shows."""
        sent = self.accepted[message_uuid]
        return status_update_body(
            message_uuid,
            status,
            metadata=sent.get("metadata"),
            phone=str(sent.get("to", "")).lstrip("+") or DEFAULT_PHONE,
            reason=reason,
            code=code,
            ts=ts,
        )

    def _problem(self, body: dict[str, Any]) -> Reply | None:
        # §4.2: `to` or `bsuid` (2026-06); E.164 as in the examples, the `+` optional.
        to = body.get("to")
        if to is None and not isinstance(body.get("bsuid"), str):
            return self._missing("to")
        if to is not None and not (isinstance(to, str) and re.fullmatch(r"\+?\d{6,15}", to)):
            return self._error(422, f"to is not a valid phone number: {to!r}", "invalid_param")
        for field in ("from", "type", "content", "channel_uuid"):
            if field not in body:
                return self._missing(field)
        if body["from"] not in CHANNEL_TYPES:
            return self._error(422, f"from must be one of {sorted(CHANNEL_TYPES)}", "invalid_param")
        if body["channel_uuid"] != self.channel_uuid:
            return self._error(404, "Channel not found", "channel_not_found")
        kind, content = body["type"], body["content"]
        if kind not in MESSAGE_TYPES:
            return self._error(422, f"type must be one of {sorted(MESSAGE_TYPES)}", "invalid_param")
        if not isinstance(content, dict):
            return self._error(422, "content must be an object", "invalid_param")
        if kind == "text" and "template_uuid" not in body and not _text(content.get("text")):
            return self._missing("content.text")  # a template's text is its own (seed 004)
        if kind != "text" and not re.match(r"https?://", str(content.get("url", ""))):
            return self._missing("content.url")
        problem = self._template_problem(body) or self._extras_problem(body)
        if problem is not None:
            return problem
        needs_business_api = kind in ("audio", "video") or "template_uuid" in body
        if needs_business_api and not self.business_api:
            return self._error(
                422,
                "This is only available for accounts using the official WhatsApp Business API",
                "whatsapp_business_api_required",
            )
        if "template_uuid" not in body and not self.window_open:
            return self._error(self.window_status, WINDOW_ERROR, "outside_messaging_window")
        return None

    def _template_problem(self, body: dict[str, Any]) -> Reply | None:
        template_fields = ("template_uuid", "optin_contact", "template_values")
        if not any(field in body for field in template_fields):
            return None
        # §4.2: template_uuid and optin_contact must both be present, optin_contact true.
        if not _text(body.get("template_uuid")):
            return self._missing("template_uuid")
        if body.get("optin_contact") is not True:
            return self._error(422, "optin_contact must be true for templates", "invalid_param")
        values = body.get("template_values")
        if values is not None and not (
            isinstance(values, list) and all(isinstance(v, str) for v in values)
        ):
            return self._error(422, "template_values must be a list of strings", "invalid_param")
        if body["template_uuid"] not in self.templates:
            return self._error(404, "Template not found", "template_not_found")
        if self.wallet_empty:
            return self._error(402, WALLET_ERROR, "whatsapp_wallet_depleted_credit")
        if self._reads(body) is None:
            wanted = len(set(_PLACEHOLDER.findall(self.templates[body["template_uuid"]])))
            return self._error(
                422, f"the template needs {wanted} values for its placeholders", "invalid_param"
            )
        return None

    def _reads(self, body: dict[str, Any]) -> str | None:
        """The text the customer reads; None for a template left with an empty placeholder."""
        content = body["content"]
        if "template_uuid" not in body:
            return str(content.get("text", ""))
        text = self.templates[body["template_uuid"]]
        numbers = sorted({int(n) for n in _PLACEHOLDER.findall(text)})
        values = body.get("template_values")
        if not (isinstance(values, list) and len(values) == len(numbers)):
            lone = content.get("text")  # "used for template messages with only one variable"
            values = [lone] if len(numbers) == 1 and _text(lone) else None
        if numbers and values is None:
            return None
        filled = dict(zip(numbers, values or [], strict=True))
        return _PLACEHOLDER.sub(lambda m: str(filled[int(m.group(1))]), text)

    def _extras_problem(self, body: dict[str, Any]) -> Reply | None:
        for field in ("assigned_user", "team_uuid"):
            if field in body and not _text(body[field]):
                return self._error(422, f"{field} must be a non-empty string", "invalid_param")
        if "assigned_user" in body and "@" not in body["assigned_user"]:
            return self._error(422, "assigned_user must be an e-mail address", "invalid_param")
        if body.get("bot_status", "bot_start") not in ("bot_start", "bot_end"):
            return self._error(422, "bot_status must be bot_start or bot_end", "invalid_param")
        metadata = body.get("metadata")
        if metadata is None:
            return None
        # §4.6: at most 10 pairs; keys up to 50 characters; string values up to 500.
        if not isinstance(metadata, dict) or len(metadata) > 10:
            return self._error(422, "metadata must be an object of at most 10 pairs", "metadata")
        for key, value in metadata.items():
            if len(key) > 50 or not isinstance(value, str) or len(value) > 500:
                return self._error(
                    422, f"metadata {key[:50]!r}: keys ≤ 50, string values ≤ 500", "metadata"
                )
        return None

    def _missing(self, field: str) -> Reply:
        return self._error(422, f"{field} is required", "missing_param")

    def _error(self, status: int, message: str, code: str) -> Reply:
        return Reply(status, self.error_body(message, code))


# -- callbacks (§4.5) ----------------------------------------------------------------

DEFAULT_PHONE = "331122334455"  # §4.5: webhooks give numbers without the "+"
# §4.4's table: enqueued, sent, delivered, read, failed, mismatch, deleted.
STATUSES = frozenset({"enqueued", "sent", "delivered", "read", "failed", "mismatch", "deleted"})
_STATUS_PATH = re.compile(r"(?:/v1)?/messages/status/(?P<uuid>[^/]+)")
DEFAULT_TS = 1686563913
# §4.5: "Callbell performs periodic connection checks"; what they post is UNKNOWN.
CONNECTION_CHECKS: tuple[bytes, ...] = (b"", b"{}", b'{"status": "ok"}', b'{"event": "ping"}')
# §4.5's event list, less message_status_updated.
OTHER_EVENTS = (
    "message_created",
    "contact_created",
    "contact_updated",
    "contact_deleted",
    "conversation_opened",
    "conversation_closed",
    "agent_status_updated",
    "agent_session_updated",
    "team_membership_updated",
)


def event_body(event: str, payload: Mapping[str, Any]) -> bytes:
    """Any webhook event as Callbell posts it: ``{"event": ..., "payload": ...}``."""
    return json.dumps({"event": event, "payload": dict(payload)}).encode()


def status_update_body(
    message_uuid: str,
    status: str,
    *,
    metadata: Mapping[str, str] | None = None,
    phone: str = DEFAULT_PHONE,
    reason: str | None = None,
    code: int | None = None,
    ts: int | None = DEFAULT_TS,
) -> bytes:
    """A ``message_status_updated`` callback as §4.5 shows it.

    ``messageStatusPayload`` is the Gupshup-shaped BSP payload of §4.5's example: a
    failure carries ``payload{code, reason}`` (``reason``/``code`` here), other
    statuses ``payload{ts}``; ``enqueued`` looks like §4.5's polling answer.
    ``metadata`` appears only when given, as Callbell echoes it only when sent.
    """
    digits = phone.lstrip("+")
    payload: dict[str, Any] = {
        "uuid": message_uuid,
        "status": status,
        "contact": {
            "href": "https://dash.callbell.eu/contacts/" + uuid.uuid4().hex,
            "conversationHref": "https://dash.callbell.eu/chat/" + uuid.uuid4().hex,
            "name": "John Doe",
            "tags": ["Lead"],
            "uuid": uuid.uuid4().hex,
            "source": "whatsapp",
            "avatarUrl": None,
            "createdAt": "2023-06-12T09:58:33Z",
            "phoneNumber": digits,
        },
    }
    if metadata is not None:
        payload["metadata"] = dict(metadata)
    payload["messageStatusPayload"] = status_payload(status, digits, reason, code, ts)
    return event_body("message_status_updated", payload)


def status_payload(
    status: str, digits: str, reason: str | None, code: int | None, ts: int | None
) -> dict[str, Any]:
    """The Gupshup-shaped ``messageStatusPayload`` of §4.5's examples: a failure carries
    ``payload{code, reason}``, other statuses ``payload{ts}``, and ``enqueued`` looks like
    the polling answer (``payload{type, whatsappMessageId}``)."""
    inner: dict[str, Any]
    if status == "enqueued":
        inner = {"type": "session", "whatsappMessageId": "wamid." + secrets.token_hex(12)}
    elif status == "failed":
        inner = {key: value for key, value in (("code", code), ("reason", reason)) if value}
    else:
        inner = {}
    if ts is not None and status != "enqueued":
        inner["ts"] = ts
    return {
        "id": "gBGGM2MSRxl_" + secrets.token_hex(8),
        "gsId": str(uuid.uuid4()),
        "type": status,
        "payload": inner,
        "destination": digits,
    }


def signature_header(body: bytes, secret: str, timestamp: int) -> dict[str, str]:
    """The ``X-Callbell-Signature`` header Callbell adds when the account has a signing
    secret. providers.md §4.5 (from callbell-public-docs, webhooks/signatures.md):
    "Header `X-Callbell-Signature: t=<unix seconds>,v1=<hex HMAC-SHA256(secret,
    "<t>.<raw body>")>`" and "the whole string, prefix included, is the HMAC key"."""
    signed = str(timestamp).encode() + b"." + body
    digest = hmac.new(secret.encode(), signed, hashlib.sha256).hexdigest()
    return {"X-Callbell-Signature": f"t={timestamp},v1={digest}"}


def _text(value: Any) -> bool:
    return isinstance(value, str) and bool(value.strip())


def _options(fake: ProviderFake, token: str | None = None) -> dict[str, Any]:
    assert isinstance(fake, CallbellFake)
    return {"token": token or fake.token, "channel_uuid": fake.channel_uuid}


CASE = ProviderCase(
    name="callbell",
    provider=CallbellProvider,
    fake=CallbellFake,
    channel=Channel.WHATSAPP,
    recipient="+31612345678",
    options=_options,
    wrong_options=lambda fake: _options(fake, token="test_wrongTokenWrongToken00"),
    # §4.4: "failed" is "not deliverable"; an undocumented field carries the words.
    refusal=lambda words: (200, {"message": {"uuid": "u-1", "status": "failed", "error": words}}),
    secret_options=lambda fake: [
        {**_options(fake), "signing_secret": "whsec_" + secrets.token_urlsafe(18)}
    ],
    unsupported_channel=Channel.SMS,
)
