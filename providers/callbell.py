"""The ``callbell`` provider: WhatsApp through Callbell's ``POST /v1/messages/send``.

Wire reference: ``shared/spec/providers.md`` section 4 (cited below as §4.x). One
request per message, except a document, audio or video with text: Callbell
captions images only (§4.2), so the text follows the attachment as its own
message. Herald's message id travels in ``metadata`` (echoed in Callbell's
webhooks, §4.5); `providers.callbell_webhooks` reads those webhooks. Callbell
signs nothing, so callbacks need the connection's ``webhook_token``.

Connection keys: ``token`` (API key, Bearer), ``channel_uuid`` (the WhatsApp
number to send from); optional ``assign_to_sender`` (assign the conversation to
the Slack sender's e-mail), ``optin_contact`` (default true; templates need it),
``team_uuid`` (assign the conversation to a team).
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from pathlib import PurePosixPath
from typing import Any
from urllib.parse import urlsplit

import httpx

from providers.base import (
    WHATSAPP_WINDOW_HINT,
    Channel,
    ConnectionConfig,
    DeliveryStatus,
    OutboundMessage,
    Provider,
    ProviderTemplate,
    SendResult,
    WebhookRequest,
    WebhookResult,
    is_whatsapp_window_refusal,
)
from providers.callbell_webhooks import REFERENCE_KEY, parse_callback
from providers.errors import ProviderError, ProviderRejectedError, ProviderUnsupportedError

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


class CallbellProvider(Provider):
    name = "callbell"
    channels = frozenset({Channel.WHATSAPP})  # §4.7: no SMS, MMS or e-mail channel
    required_keys = ("token", "channel_uuid")
    optional_keys = ("assign_to_sender", "optin_contact", "team_uuid")
    default_base_url = "https://api.callbell.eu/v1"

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
        team = config.option("team_uuid")
        if team is not None and (not isinstance(team, str) or not team.strip()):
            raise ProviderUnsupportedError(
                "'team_uuid' must be a non-empty string", provider=cls.name
            )

    def wants_sender_email(self) -> bool:
        return bool(self.config.option("assign_to_sender", False))

    async def send(self, message: OutboundMessage) -> SendResult:
        if len(message.media_urls) > 1:
            raise ProviderUnsupportedError(
                f"Callbell sends one attachment per message, not {len(message.media_urls)}; "
                "send each file on its own",
                provider=self.name,
            )
        url = message.media_urls[0] if message.media_urls else None
        if message.template is not None:
            return await self._post(self._template_body(message, message.template, url))
        if url is None:
            return await self._post(self._body(message, "text", {"text": message.text}))
        kind = media_type(url)
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
        except ProviderError as exc:
            # Not retryable: a retry would send the attachment a second time.
            raise ProviderRejectedError(
                f"the attachment was sent but the text after it was not: {exc.detail}",
                provider=self.name,
                status_code=exc.status_code,
                hint=exc.hint,
            ) from exc
        raw = dict(attachment.raw) if isinstance(attachment.raw, Mapping) else {}
        raw["text_message"] = _message_part(follow_up.raw)
        return SendResult(attachment.provider_message_id, DeliveryStatus.ACCEPTED, raw=raw)

    def _template_body(
        self, message: OutboundMessage, template: ProviderTemplate, url: str | None
    ) -> dict[str, Any]:
        if not self.config.option("optin_contact", True):
            raise ProviderUnsupportedError(
                "templates need optin_contact = true: Callbell sends them only to contacts "
                "who opted in",
                provider=self.name,
            )
        values = [str(v) for v in template.parameters.values()]
        # §4.2: content.text fills a single placeholder; template_values fill {{1}}, {{2}}…
        # and win when present. Both are sent so either reading fills the template.
        content: dict[str, str] = {"text": values[0] if values else message.text}
        kind = "text"
        if url is not None:
            kind = media_type(url)
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

    async def _post(self, body: dict[str, Any]) -> SendResult:
        response = await self.request(
            "POST",
            f"{self.base_url}/messages/send",
            json=body,
            headers={
                "Authorization": f"Bearer {self.config.option('token')}",
                "Accept": "application/json",  # §4.1: JSON only
            },
        )
        # §4.3: 200 or 201 (which one is UNKNOWN); {"message": {"uuid", "status": "enqueued"}}.
        raw = _json(response)
        uuid = _message_part(raw).get("uuid")
        return SendResult(
            uuid if isinstance(uuid, str) and uuid else None, DeliveryStatus.ACCEPTED, raw=raw
        )

    # webhook_needs_token stays True: §4.5 documents no signature to check instead.

    def parse_webhook(self, request: WebhookRequest) -> WebhookResult:
        """``message_status_updated`` → one receipt; anything else (other events, the
        connection check) → none. Always answered ``{"status": "ok"}`` (§4.5)."""
        return parse_callback(request, self.name)

    def error_detail(self, response: httpx.Response) -> str:
        # §4.3: the error body is UNKNOWN. Callbell documents {"error", "code"} for its
        # 402 wallet error; Rails-style {"errors": [...]} or {"errors": {field: [...]}}
        # are read too, then the base's reading.
        body = _json(response)
        detail = ""
        if isinstance(body, dict):
            detail = _words(body.get("error")) or _words(body.get("errors"))
        detail = detail or super().error_detail(response)
        # Never show the token, even if an error body were to echo it.
        token = str(self.config.option("token") or "")
        return detail.replace(token, "***") if len(token) >= 8 else detail

    def error_hint(self, response: httpx.Response) -> str | None:
        status = response.status_code
        body = _json(response)
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


def media_type(url: str) -> str:
    """Callbell's message ``type`` for an attachment, from the URL's file extension."""
    suffix = PurePosixPath(urlsplit(url).path).suffix.lower().lstrip(".")
    return _MEDIA_TYPES.get(suffix, "document")


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


def _json(response: httpx.Response) -> Any:
    try:
        return response.json()
    except ValueError:
        return None


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
