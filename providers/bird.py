"""The ``bird`` provider: Bird's Channels API (``api.bird.com``), one message per request.

Section numbers (§) refer to the providers spec (``spec/providers.md``, section 2). A send
is ``POST /workspaces/{workspace_id}/channels/{channel_id}/messages`` with
``Authorization: AccessKey <access_key>``; Bird answers 202 with the message resource, whose
``id`` becomes the provider message id and whose ``reference`` echoes Herald's id (§2.3, §2.5).

| message | request |
| --- | --- |
| text (SMS, WhatsApp, MMS without media) | ``body`` of type ``text`` |
| MMS / WhatsApp media | ``image`` body if all are images (≤ 10, text as caption), else ``file`` |
| e-mail | receiver ``emailaddress``; subject in the body's ``metadata.subject`` (as seed 001 |
| | shows it) and ``meta.email.subject`` (in its schema); media as ``text.attachments`` |
| a provider template | ``template`` instead of ``body`` (never both, §2.4) |

A media URL whose extension names no type is asked with ``HEAD`` (`providers.media`), so an
image behind an extensionless CDN link still goes as an image. Keys are checked by
`read_settings`. Herald schedules itself, so ``scheduledFor`` is never sent.
Delivery callbacks are read by `providers.bird_webhooks` (§2.7); without them, `lookup`
reads the message resource from ``GET …/messages/{id}`` (§2.7, "Polling alternative") the
same way.
"""

from __future__ import annotations

import asyncio
import json
import re
import time
import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
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
    ReceiptSink,
    SendResult,
    SentRef,
    WebhookRequest,
    WebhookResult,
    is_whatsapp_window_refusal,
    json_body,
    require_content,
)
from providers.bird_errors import describe_error
from providers.bird_webhooks import message_receipt, read_callback
from providers.errors import (
    ProviderRejectedError,
    ProviderUnavailableError,
    ProviderUnsupportedError,
)
from providers.media import OCTET_STREAM, content_type, guess_type, url_file

PROVIDER = "bird"
MAX_TAGS = 10  # §2.3
MAX_IMAGES = 10  # §2.4
DEFAULT_TEMPLATE_VERSION = "latest"  # §2.4
SHORT_LINK_CHANNELS = frozenset({Channel.SMS, Channel.MMS})  # "SMS link shortening", §2.3

AUTH_HINT = "Check access_key, and that its access policy allows sending messages on the channel."
NOT_FOUND_HINT = "Check workspace_id and channel_id: the channel must belong to that workspace."
TEMPLATE_HINT = "Check the template's id, version and locale in Bird Studio."
MMS_HINT = "MMS needs an MMS-capable (US or Canadian) number on the Bird SMS channel."

_HOSTNAME = re.compile(r"(?=.{1,253}$)([a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z]{2,63}", re.I)
# Bird's statuses (§2.6) that mean a message will not go, should a send answer carry one.
_REFUSED = frozenset({"rejected", "sending_failed", "delivery_failed", "deleted"})
# Statuses past "accepted" a send answer may already carry (§2.6: ``sent`` is "the API
# attempted to hand the message to the platform"); the rest (accepted, processing,
# scheduled, anything new) mean accepted.
_ANSWERED = {"sent": DeliveryStatus.SENT, "delivered": DeliveryStatus.DELIVERED}


@dataclass(frozen=True)
class BirdSettings:
    """A connection's keys, checked and normalized."""

    access_key: str = field(repr=False)
    workspace_id: str
    channel_id: str
    signing_key: str | None = field(default=None, repr=False)
    tags: tuple[str, ...] = ()  # lower-cased, as Bird stores them (§2.3)
    validity: int | None = None  # seconds; Bird's default depends on the channel (§2.3)
    short_links_domain: str | None = None
    sender: str | None = None  # identifierValue of the channel's sending connector
    template_locale: str | None = None
    template_version: str | None = None


def read_settings(config: ConnectionConfig) -> BirdSettings:
    """Check a connection's keys; raises `ProviderUnsupportedError` naming the key at fault."""
    access_key = _text(config, "access_key", required=True) or ""
    workspace_id, channel_id = _uuid(config, "workspace_id"), _uuid(config, "channel_id")
    tags = _tags(config.option("tags"))
    validity = config.option("validity")
    # bool is an int in Python, but `validity = true` in TOML is a mistake, not one second.
    if validity is not None and (
        not isinstance(validity, int) or isinstance(validity, bool) or validity <= 0
    ):
        raise _bad_key("validity", "must be a positive whole number of seconds, e.g. 3600")
    domain = _text(config, "short_links_domain")
    if domain is not None and not _HOSTNAME.fullmatch(domain):
        raise _bad_key("short_links_domain", "must be a domain like 'go.example.com' (no https://)")
    if domain is not None and config.channel not in SHORT_LINK_CHANNELS:
        raise _bad_key(
            "short_links_domain", f"shortens SMS links; this connection sends {config.channel}"
        )
    return BirdSettings(
        access_key=access_key,
        workspace_id=workspace_id,
        channel_id=channel_id,
        signing_key=_text(config, "signing_key"),
        tags=tags,
        validity=validity,
        short_links_domain=domain.lower() if domain else None,
        sender=_text(config, "sender"),
        template_locale=_text(config, "template_locale"),
        template_version=_text(config, "template_version"),
    )


class BirdProvider(Provider):
    name = PROVIDER
    channels = frozenset({Channel.SMS, Channel.MMS, Channel.EMAIL, Channel.WHATSAPP})
    required_keys = ("access_key", "workspace_id", "channel_id")
    optional_keys = (
        "signing_key",
        "tags",
        "validity",
        "short_links_domain",
        "sender",
        "template_locale",
        "template_version",
    )
    default_base_url = "https://api.bird.com"
    # Bird's error bodies are not documented (§2.5): the base keeps these out of them.
    secret_keys = ("access_key", "signing_key")
    supports_lookup = True

    def __init__(
        self, config: ConnectionConfig, client: httpx.AsyncClient, receipts: ReceiptSink
    ) -> None:
        super().__init__(config, client, receipts)
        self.settings = read_settings(config)

    @classmethod
    def check_config(cls, config: ConnectionConfig) -> None:
        super().check_config(config)
        read_settings(config)

    @property
    def _messages_url(self) -> str:
        s = self.settings
        return f"{self.base_url}/workspaces/{s.workspace_id}/channels/{s.channel_id}/messages"

    @property
    def _headers(self) -> dict[str, str]:
        return {
            "Authorization": f"AccessKey {self.settings.access_key}",
            "Accept": "application/json",
        }

    async def send(self, message: OutboundMessage) -> SendResult:
        types = await self._media_types(message)
        payload = build_payload(message, self.settings, types)
        response = await self.request(
            "POST", self._messages_url, json=payload, headers=self._headers
        )
        return self._result(response, sent_template="template" in payload)

    async def lookup(self, message: SentRef) -> list[Receipt]:
        """The message resource (§2.5) of ``GET …/messages/{id}``, read as a callback's
        payload is (§2.7: "Polling alternative"; the path is inferred from the access
        policies, so a 404 here means check the ids, as it does for a send)."""
        if not message.provider_message_id:
            return []
        url = f"{self._messages_url}/{quote(message.provider_message_id, safe='')}"
        response = await self.fetch(url, headers=self._headers)
        body = json_body(response)
        if not isinstance(body, dict):
            raise ProviderUnavailableError(
                "the message lookup answered without a message resource",
                provider=self.name,
                status_code=response.status_code,
            )
        receipt = message_receipt(body, body)
        return [replace(receipt, reference=message.reference)] if receipt else []

    def _result(self, response: httpx.Response, *, sent_template: bool) -> SendResult:
        raw = json_body(response)
        if not isinstance(raw, dict):
            # 202 is "accepted for processing" whatever the body; without an object, no id.
            return SendResult(None, DeliveryStatus.ACCEPTED, raw=raw)
        status = str(raw.get("status") or "accepted")
        if status in _REFUSED:
            detail = describe_error(raw) or f"Bird set the message to {status}"
            raise ProviderRejectedError(
                detail,
                provider=self.name,
                status_code=response.status_code,
                raw=raw,
                hint=self._hint(response.status_code, detail, sent_template=sent_template),
            )
        message_id = str(raw["id"]) if raw.get("id") else None
        return SendResult(message_id, _ANSWERED.get(status, DeliveryStatus.ACCEPTED), raw=raw)

    async def _media_types(self, message: OutboundMessage) -> dict[str, str]:
        """Each media URL's type, asking the server for those whose extension says nothing.

        E-mail attachments need none, and a template carries no media (refused later)."""
        if message.channel is Channel.EMAIL or message.template is not None:
            return {}
        urls = list(dict.fromkeys(message.media_urls))
        found = await asyncio.gather(
            *(content_type(self.client, url, provider=self.name) for url in urls)
        )
        return {url: kind for url, kind in zip(urls, found, strict=True) if kind}

    def error_detail(self, response: httpx.Response) -> str:
        return describe_error(json_body(response)) or super().error_detail(response)

    def error_hint(self, response: httpx.Response) -> str | None:
        detail = self.error_detail(response)
        return self._hint(response.status_code, detail, sent_template=_sent_template(response))

    def webhook_needs_token(self) -> bool:
        # Bird signs every callback when the subscription has a signingKey (§2.7).
        return self.settings.signing_key is None

    def webhook_key(self) -> str | None:
        return self.settings.signing_key

    def parse_webhook(self, request: WebhookRequest) -> WebhookResult:
        return read_callback(request, self.settings.signing_key, now=time.time())

    def _hint(self, status: int, detail: str, *, sent_template: bool) -> str | None:
        lowered = detail.lower()
        if status in (401, 403):
            return AUTH_HINT
        if sent_template and ("template" in lowered or "project" in lowered):
            return TEMPLATE_HINT
        if status == 404:
            return NOT_FOUND_HINT
        free_form_whatsapp = self.config.channel is Channel.WHATSAPP and not sent_template
        if free_form_whatsapp and is_whatsapp_window_refusal(detail):  # §2.4, §6: wording unknown
            return WHATSAPP_WINDOW_HINT
        if self.config.channel is Channel.MMS and ("mms" in lowered or "media" in lowered):
            return MMS_HINT
        return None


def _sent_template(response: httpx.Response) -> bool:
    try:
        return "template" in json.loads(response.request.content)
    except (RuntimeError, ValueError, TypeError):  # no request attached, or not a JSON object
        return False


def build_payload(
    message: OutboundMessage,
    settings: BirdSettings,
    content_types: Mapping[str, str] | None = None,
) -> dict[str, Any]:
    """The ``CreateChannelMessage`` body for one message (§2.3). ``content_types`` gives
    the type of media URLs whose extension names none (else they go as generic files)."""
    if message.channel not in BirdProvider.channels:
        raise ProviderUnsupportedError(f"cannot carry channel {message.channel}", provider=PROVIDER)
    require_content(message, PROVIDER)
    if message.channel is Channel.EMAIL and message.template is None and not message.text.strip():
        # An e-mail body is a text part; Bird needs its text even beside attachments.
        raise ProviderRejectedError("an e-mail needs text, not only attachments", provider=PROVIDER)
    key = "emailaddress" if message.channel is Channel.EMAIL else "phonenumber"
    payload: dict[str, Any] = {
        "receiver": {"contacts": [{"identifierKey": key, "identifierValue": message.to}]},
        "reference": message.reference,
    }
    domain = settings.short_links_domain if message.channel in SHORT_LINK_CHANNELS else None
    # Bird's e-mail documentation shows {"enabled": true, "domain": …}; the seed's schema
    # shows only the domain, and without `enabled` the links are left as they are.
    short_links = {"enabled": True, "domain": domain} if domain else None
    if message.template is not None:
        if message.media_urls:
            raise ProviderUnsupportedError(
                "media cannot go with a provider template: the template carries its own",
                provider=PROVIDER,
            )
        payload["template"] = _template(message.template, settings, short_links)
    else:
        payload["body"] = _body(message, content_types or {})
        if short_links:
            # With a template the template-level shortLinks applies instead (seed 001).
            payload["shortLinks"] = short_links
    if message.channel is Channel.EMAIL and message.subject:
        # Seed 001 shows the subject as the body part's metadata.subject (set by `_body`);
        # its schema also has meta.email.subject, which §2.4 could not verify: both are
        # sent, as the spec asks where that is harmless.
        payload["meta"] = {"email": {"subject": message.subject}}
    if settings.sender:
        payload["sender"] = {"connector": {"identifierValue": settings.sender}}
    if settings.tags:
        payload["tags"] = list(settings.tags)
    if settings.validity is not None:
        payload["validity"] = settings.validity
    return payload


def _body(message: OutboundMessage, content_types: Mapping[str, str]) -> dict[str, Any]:
    if not message.media_urls or message.channel is Channel.EMAIL:
        text: dict[str, Any] = {"text": message.text}
        if message.media_urls:
            text["attachments"] = [
                {"mediaUrl": url, "filename": url_file(url).name or "attachment"}
                for url in message.media_urls
            ]
        if message.subject:
            # Seed 001: "text": {"text": …, "attachments": […], "metadata": {"subject": …}}.
            text["metadata"] = {"subject": message.subject}
        return {"type": "text", "text": text}
    types = [
        guess_type(url) or content_types.get(url) or OCTET_STREAM for url in message.media_urls
    ]
    part: dict[str, Any]
    if all(t.startswith("image/") for t in types):
        if len(types) > MAX_IMAGES:
            raise ProviderUnsupportedError(
                f"a message carries at most {MAX_IMAGES} images; this one has {len(types)}",
                provider=PROVIDER,
            )
        kind, part = "image", {"images": [{"mediaUrl": url} for url in message.media_urls]}
    else:
        files = [
            {"mediaUrl": url, "contentType": t}
            for url, t in zip(message.media_urls, types, strict=True)
        ]
        kind, part = "file", {"files": files}
    if message.text:
        part["text"] = message.text
    if message.subject:
        part["metadata"] = {"subject": message.subject}
    return {"type": kind, kind: part}


def _template(
    template: ProviderTemplate, settings: BirdSettings, short_links: dict[str, Any] | None
) -> dict[str, Any]:
    shape: dict[str, Any] = {
        "projectId": template.id,
        "version": template.version or settings.template_version or DEFAULT_TEMPLATE_VERSION,
    }
    # Whether Bird needs a locale when the template has a default one is unknown (§2.4):
    # send one only when the template or the connection names it.
    locale = template.locale or settings.template_locale
    if locale:
        shape["locale"] = locale
    if template.parameters:
        shape["parameters"] = [
            {"type": "string", "key": key, "value": value}
            for key, value in template.parameters.items()
        ]
    if short_links:
        shape["shortLinks"] = short_links
    return shape


def _bad_key(key: str, problem: str) -> ProviderUnsupportedError:
    return ProviderUnsupportedError(f"connection key '{key}' {problem}", provider=PROVIDER)


def _text(config: ConnectionConfig, key: str, *, required: bool = False) -> str | None:
    value = config.option(key)
    if value is None:
        if required:
            raise _bad_key(key, "is missing")
        return None
    if not isinstance(value, str) or not value.strip():
        raise _bad_key(key, "must be a non-empty string")
    return value.strip()


def _uuid(config: ConnectionConfig, key: str) -> str:
    value = _text(config, key, required=True) or ""
    try:
        # Both ids are UUIDs (§2.1); checking also keeps anything else out of the URL path.
        return str(uuid.UUID(value))
    except ValueError:
        raise _bad_key(key, "must be a UUID, as shown in Bird's settings") from None


def _tags(value: Any) -> tuple[str, ...]:
    if value is None:
        return ()
    if not isinstance(value, list) or not all(isinstance(t, str) and t.strip() for t in value):
        raise _bad_key("tags", 'must be a list of non-empty strings, e.g. tags = ["herald"]')
    tags = tuple(dict.fromkeys(t.strip().lower() for t in value))
    if len(tags) > MAX_TAGS:
        raise _bad_key("tags", f"holds {len(tags)} tags; Bird takes at most {MAX_TAGS}")
    return tags
