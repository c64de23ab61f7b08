"""The ``callbell`` provider: WhatsApp through Callbell's ``POST /v1/messages/send``.

Wire reference: ``shared/spec/providers.md`` section 4 (cited below as §4.x). One
request per message, except a document, audio or video with text: Callbell
captions images only (§4.2), so the text follows the attachment as its own
message. Herald's message id travels in ``metadata`` (echoed in Callbell's
webhooks, §4.5); `providers.callbell_webhooks` reads those webhooks. They are
verified by the account's ``signing_secret`` (``whsec_…``, §4.5's optional signed
webhooks) when set, otherwise they need the connection's ``webhook_token``. Without
either, `lookup` asks ``GET /v1/messages/status/{uuid}`` (§4.5, "Polling").

A template's parameters are its placeholders' numbers (``1``, ``2``, …): their
values go out as ``template_values`` in placeholder order, whatever order they were
written in. A template without parameters sends no ``content.text``: Callbell would
put it into the template's placeholder (seed 004). An attachment whose URL extension
names no type is asked with ``HEAD`` (`providers.media`) to choose the message type.

Connection keys: ``token`` (API key, Bearer), ``channel_uuid`` (the WhatsApp
number to send from); optional ``assign_to_sender`` (assign the conversation to
the Slack sender's e-mail), ``optin_contact`` (default true; templates need it),
``team_uuid`` (assign the conversation to a team), ``signing_secret`` (verifies
callbacks).
"""

from __future__ import annotations

import json
import re
import time
from collections.abc import Mapping
from dataclasses import replace
from typing import Any
from urllib.parse import quote

import httpx

from providers.base import (
    WHATSAPP_WINDOW_HINT,
    Channel,
    ConnectionConfig,
    DeliveryStatus,
    OutboundMessage,
    Provider,
    ProviderTemplate,
    Receipt,
    SendResult,
    SentRef,
    WebhookRequest,
    WebhookResult,
    is_whatsapp_window_refusal,
    json_body,
    require_content,
)
from providers.callbell_webhooks import (
    REFERENCE_KEY,
    SECRET_PREFIX,
    message_receipt,
    read_callback,
)
from providers.errors import (
    ProviderError,
    ProviderOutcomeUnknownError,
    ProviderRejectedError,
    ProviderUnavailableError,
    ProviderUnsupportedError,
)
from providers.media import content_type, url_file

# §4.6: metadata holds at most 10 pairs, keys up to 50 and string values up to 500 characters.
METADATA_MAX_PAIRS = 10
METADATA_MAX_KEY = 50
METADATA_MAX_VALUE = 500

# The attachment type from the URL's extension; anything else goes as a document,
# which WhatsApp accepts for any file.
_MEDIA_TYPES = {
    **dict.fromkeys(("jpg", "jpeg", "png", "webp", "gif"), "image"),
    **dict.fromkeys(("mp3", "aac", "amr", "ogg", "oga", "opus", "m4a", "wav"), "audio"),
    **dict.fromkeys(("mp4", "3gp", "mov", "m4v", "webm"), "video"),
}
# §4.5: GET /v1/templates lists templateType text|image|video|document; no audio templates.
_TEMPLATE_MEDIA = frozenset({"image", "video", "document"})
# What a send answer's message.status says (§4.3: "enqueued"; §4.4's lifecycle past it).
_ANSWERED = {
    "sent": DeliveryStatus.SENT,
    "delivered": DeliveryStatus.DELIVERED,
    "read": DeliveryStatus.READ,
}


class CallbellProvider(Provider):
    name = "callbell"
    channels = frozenset({Channel.WHATSAPP})  # §4.7: no SMS, MMS or e-mail channel
    required_keys = ("token", "channel_uuid")
    optional_keys = ("assign_to_sender", "optin_contact", "team_uuid", "signing_secret")
    default_base_url = "https://api.callbell.eu/v1"
    secret_keys = ("token", "signing_secret")
    supports_lookup = True

    @classmethod
    def check_config(cls, config: ConnectionConfig) -> None:
        super().check_config(config)
        for key in ("token", "channel_uuid"):
            value = config.option(key)
            if not isinstance(value, str) or not value.strip():
                raise ProviderUnsupportedError(
                    f"'{key}' must be a non-empty string", provider=cls.name
                )
        for key in ("assign_to_sender", "optin_contact"):
            if not isinstance(config.option(key, False), bool):
                raise ProviderUnsupportedError(f"'{key}' must be true or false", provider=cls.name)
        secret = config.option("signing_secret")
        if secret is not None and (
            not isinstance(secret, str)
            or not secret.startswith(SECRET_PREFIX)
            or secret == SECRET_PREFIX
        ):
            raise ProviderUnsupportedError(
                "'signing_secret' must be the webhook signing secret (whsec_…) from Callbell's "
                "API Settings → Webhooks",
                provider=cls.name,
            )
        team = config.option("team_uuid")
        if team is not None and (not isinstance(team, str) or not team.strip()):
            raise ProviderUnsupportedError(
                "'team_uuid' must be a non-empty string", provider=cls.name
            )

    def wants_sender_email(self) -> bool:
        return bool(self.config.option("assign_to_sender", False))

    async def send(self, message: OutboundMessage) -> SendResult:
        require_content(message, self.name)
        if len(message.media_urls) > 1:
            raise ProviderUnsupportedError(
                f"Callbell sends one attachment per message, not {len(message.media_urls)}; "
                "send each file on its own",
                provider=self.name,
            )
        url = message.media_urls[0] if message.media_urls else None
        kind = await self._media_kind(url) if url is not None else "text"
        if message.template is not None:
            return await self._post(self._template_body(message, message.template, url, kind))
        if url is None:
            return await self._post(self._body(message, "text", {"text": message.text}))
        if kind == "image":
            content = {"url": url, "text": message.text} if message.text else {"url": url}
            return await self._post(self._body(message, kind, content))
        # §4.2: only images take a caption, so the text goes after the attachment. The
        # attachment goes first: if Callbell refuses it, the customer has received nothing.
        attachment = await self._post(self._body(message, kind, {"url": url}))
        if not message.text:
            return attachment
        try:
            follow_up = await self._post(self._body(message, "text", {"text": message.text}))
        except ProviderOutcomeUnknownError as exc:
            # Not retryable either way: a retry would send the attachment a second time.
            doubt = (
                f"the attachment was sent; the text after it may or may not have been: {exc.detail}"
            )
            raise exc.recast(ProviderOutcomeUnknownError, doubt, hint=exc.hint) from exc
        except ProviderError as exc:
            refused = f"the attachment was sent but the text after it was not: {exc.detail}"
            raise exc.recast(ProviderRejectedError, refused, hint=exc.hint) from exc
        raw = dict(attachment.raw) if isinstance(attachment.raw, Mapping) else {}
        raw["text_message"] = _message_part(follow_up.raw)
        return SendResult(attachment.provider_message_id, DeliveryStatus.ACCEPTED, raw=raw)

    async def _media_kind(self, url: str) -> str:
        """The message type of an attachment: from its extension, else from a HEAD."""
        kind = _MEDIA_TYPES.get(url_file(url).suffix.lower().lstrip("."))
        if kind is not None:
            return kind
        return media_type(url, await content_type(self.client, url, provider=self.name))

    def _template_body(
        self, message: OutboundMessage, template: ProviderTemplate, url: str | None, kind: str
    ) -> dict[str, Any]:
        if not self.config.option("optin_contact", True):
            raise ProviderUnsupportedError(
                "templates need optin_contact = true: Callbell sends them only to contacts "
                "who opted in",
                provider=self.name,
            )
        values = placeholder_values(template.parameters, self.name)
        # Seed 004: content.text "refers to the placeholder of the template message" (one
        # variable), and "When template_values are valid, the values inside content will be
        # ignored". So {{1}}'s value goes in both; without parameters content has no text,
        # else Herald's rendered message would land in the template's placeholder.
        content: dict[str, str] = {"text": values[0]} if values else {}
        if url is not None:
            if kind not in _TEMPLATE_MEDIA:
                raise ProviderUnsupportedError(
                    f"a WhatsApp template carries an image, video or document, not {kind}",
                    provider=self.name,
                )
            content["url"] = url
        body = self._body(message, kind, content)
        # §4.2: template_uuid and optin_contact must both be present, optin_contact true.
        body["template_uuid"] = template.id
        body["optin_contact"] = True
        if values:
            body["template_values"] = values
        return body

    def _body(self, message: OutboundMessage, kind: str, content: dict[str, str]) -> dict[str, Any]:
        body: dict[str, Any] = {
            "to": phone(message.to),
            "from": "whatsapp",
            # §4.2: mandatory since 2024-10-15 (seed 004 predates it), so always sent.
            "channel_uuid": self.config.option("channel_uuid"),
            "type": kind,
            "content": content,
        }
        metadata = bounded_metadata({REFERENCE_KEY: message.reference})
        if metadata:
            body["metadata"] = metadata
        if self.config.option("assign_to_sender", False) and message.sender_email:
            # §4.2: the reply lands with the agent who wrote; must be a team member.
            body["assigned_user"] = message.sender_email
        team = self.config.option("team_uuid")
        if team:
            body["team_uuid"] = team
        return body

    def _headers(self) -> dict[str, str]:
        return {
            "Authorization": f"Bearer {self.config.option('token')}",
            "Accept": "application/json",  # §4.1: JSON only
        }

    async def _post(self, body: dict[str, Any]) -> SendResult:
        response = await self.request(
            "POST", f"{self.base_url}/messages/send", json=body, headers=self._headers()
        )
        # §4.3: 200 or 201 (which one is UNKNOWN); {"message": {"uuid", "status": "enqueued"}}.
        raw = json_body(response)
        part = _message_part(raw)
        uuid, status = part.get("uuid"), str(part.get("status") or "").lower()
        if status == "failed":  # §4.4: "not deliverable"
            raise ProviderRejectedError(
                "Callbell answered that the message failed",
                provider=self.name,
                status_code=response.status_code,
                raw=raw,
            )
        return SendResult(
            uuid if isinstance(uuid, str) and uuid else None,
            _ANSWERED.get(status, DeliveryStatus.ACCEPTED),
            raw=raw,
        )

    async def lookup(self, message: SentRef) -> list[Receipt]:
        """§4.5 "Polling": ``GET /v1/messages/status/{uuid}`` answers ``{"message": {"uuid",
        "status", "messageStatusPayload"}}``, the statuses and BSP payload of the
        ``message_status_updated`` callback, so it is read the same way."""
        if not message.provider_message_id:
            return []
        uuid = quote(message.provider_message_id, safe="")
        response = await self.fetch(
            f"{self.base_url}/messages/status/{uuid}", headers=self._headers()
        )
        raw = json_body(response)
        part = _message_part(raw)
        if not part:
            raise ProviderUnavailableError(
                "the status lookup answered without a message",
                provider=self.name,
                status_code=response.status_code,
            )
        receipt = message_receipt(part, raw)
        return [replace(receipt, reference=message.reference)] if receipt else []

    def webhook_needs_token(self) -> bool:
        # §4.5: with a signing secret every status update is signed; without, nothing is.
        return self.webhook_key() is None

    def webhook_key(self) -> str | None:
        secret = self.config.option("signing_secret")
        return secret if isinstance(secret, str) and secret else None

    def parse_webhook(self, request: WebhookRequest) -> WebhookResult:
        """``message_status_updated`` → one receipt; anything else (other events, the
        connection check) → none. Always answered ``{"status": "ok"}`` (§4.5)."""
        return read_callback(request, self.name, self.webhook_key(), now=time.time())

    def error_detail(self, response: httpx.Response) -> str:
        # §4.3: the error body is UNKNOWN. Callbell documents {"error", "code"} for its
        # 402 wallet error; Rails-style {"errors": [...]} or {"errors": {field: [...]}}
        # are read too, then the base's reading.
        body = json_body(response)
        detail = ""
        if isinstance(body, dict):
            detail = _words(body.get("error")) or _words(body.get("errors"))
        return detail or super().error_detail(response)

    def error_hint(self, response: httpx.Response) -> str | None:
        status = response.status_code
        body = json_body(response)
        code = str(body.get("code", "")) if isinstance(body, dict) else ""
        text = f"{code} {response.text}".lower()
        if status in (401, 403):
            return "Check the connection's token: create one in Callbell under Settings → API keys."
        if status == 402 or "wallet" in text:
            return (
                "Add credit in Callbell under Billing → WhatsApp wallet; "
                "template sends resume once it is topped up."
            )
        if is_whatsapp_window_refusal(text):  # the rule is documented (seed 004), its error not
            return WHATSAPP_WINDOW_HINT
        if "business api" in text:
            return (
                "Audio, video and templates need Callbell's official WhatsApp Business API "
                "integration."
            )
        if "template" in text:
            return (
                "Check the template id: it is the template_uuid from Callbell's templates list, "
                "and the template must be approved."
            )
        if "assigned_user" in text or "assigned user" in text:
            return (
                "assign_to_sender needs the Slack user's e-mail to be a member of your "
                "Callbell team."
            )
        if "channel" in text:
            return (
                "Check channel_uuid: it names an active WhatsApp channel of your Callbell account."
            )
        if status == 404:
            return "Check the connection's base_url (Callbell's is https://api.callbell.eu/v1)."
        return None


def media_type(url: str, mime: str | None = None) -> str:
    """Callbell's message ``type`` for an attachment: from the URL's file extension, else
    from its MIME type (as its server gave it); a document when neither says."""
    kind = _MEDIA_TYPES.get(url_file(url).suffix.lower().lstrip("."))
    if kind is not None:
        return kind
    family = (mime or "").split("/")[0]
    return family if family in ("image", "audio", "video") else "document"


def placeholder_values(parameters: Mapping[str, str], provider: str) -> list[str]:
    """``template_values`` in placeholder order: the value of ``1`` first, then ``2``, ….

    Seed 004: the values replace "{{1}}, {{2}}, {{3}}" in array order, so the keys must be
    the placeholders' numbers, every one from 1 up; anything else is refused, not guessed.
    """
    numbered: dict[int, str] = {}
    for key, value in parameters.items():
        name = key.strip().removeprefix("{{").removesuffix("}}").strip()
        if not name.isdigit() or int(name) < 1:
            raise ProviderRejectedError(
                f"template parameter '{key}' is not a placeholder number: Callbell fills "
                "{{1}}, {{2}}, … in order, so name the parameters 1, 2, …",
                provider=provider,
            )
        numbered[int(name)] = str(value)
    missing = [n for n in range(1, len(numbered) + 1) if n not in numbered]
    if missing:
        raise ProviderRejectedError(
            f"template parameters skip placeholder {missing[0]}: give every one from 1 to "
            f"{max(numbered)}",
            provider=provider,
        )
    return [numbered[n] for n in sorted(numbered)]


def phone(number: str) -> str:
    """``to`` as in §4.2's examples: E.164 with the ``+`` (webhooks drop it, requests keep it)."""
    digits = re.sub(r"[\s().-]", "", number)
    return digits if digits.startswith("+") else f"+{digits}"


def bounded_metadata(pairs: Mapping[str, str]) -> dict[str, str]:
    """The pairs within §4.6's limits; a cut value would not correlate, so it is left out."""
    kept = {
        key: value
        for key, value in pairs.items()
        if len(key) <= METADATA_MAX_KEY and len(value) <= METADATA_MAX_VALUE
    }
    return dict(list(kept.items())[:METADATA_MAX_PAIRS])


def _message_part(raw: Any) -> dict[str, Any]:
    part = raw.get("message") if isinstance(raw, dict) else None
    return part if isinstance(part, dict) else {}


def _words(value: Any) -> str:
    """Readable text from an error field that may be a string, a list or a dict."""
    if isinstance(value, str):
        return value
    if isinstance(value, dict):
        inner = value.get("message") or value.get("detail")
        if isinstance(inner, str):
            return inner
        return "; ".join(f"{k}: {_words(v)}" for k, v in value.items() if _words(v))
    if isinstance(value, list):
        return "; ".join(w for w in (_words(v) for v in value) if w)
    return "" if value is None else json.dumps(value)
