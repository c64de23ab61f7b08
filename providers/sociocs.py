"""The ``sociocs`` provider: Sociocs, a front for Twilio SMS, Twilio WhatsApp and Gupshup WhatsApp.

One connection is one Sociocs channel. Its ``sociocs_provider`` says which network
carries it: ``twlo`` (Twilio SMS) for the sms or mms channel, ``twlowa`` (Twilio
WhatsApp) or ``gswa`` (Gupshup WhatsApp) for the whatsapp channel. A send is one
``POST /message`` with the ``apikey`` header (providers.md §3.2, §3.3).

Connection keys:

| key | required | meaning |
| --- | --- | --- |
| ``api_key`` | yes | the API key from app.sociocs.com → Profile & settings → API |
| ``channel_key`` | yes | the channel's key, from the same page |
| ``sociocs_provider`` | yes | ``twlo``, ``twlowa`` or ``gswa``; must match the channel |
| ``webhook_secret`` | no | the secret given when subscribing to status updates |
| ``save_contacts`` | no | ``true`` saves each recipient as a Sociocs contact |
| ``contact_list_id`` | no | the contact list to save into (``0`` = All Contacts) |

Delivery receipts come from Sociocs' ``status_update`` callbacks to
``/webhooks/{connection}``; they are off until the channel is subscribed with
``POST /webhook-subscriptions`` and ``"events": ["status_updates"]`` (§3.6). Give
that subscription a ``secret`` and set the same value as ``webhook_secret``: each
callback must then carry a valid ``X-Sociocs-Signature``. Without it, set the
connection's ``webhook_token`` and put ``?token=…`` in the ``webhook_url``.
Reading the callbacks lives in `providers.sociocs_webhooks`.

Media (``image_url``/``video_url``/``file_url``, one of each) goes out on ``twlo``
only, as Twilio MMS: so a ``twlo`` connection with ``channel = "mms"`` carries
media, one with ``channel = "sms"`` text alone (the core refuses media on sms). A
URL whose extension names no type is asked with ``HEAD`` (`providers.media`) to
choose the field. Provider templates go out on ``twlowa``/``gswa`` only; for ``gswa`` the template's
parameters are spelled ``MEDIA_URL``, ``Header.1``, ``Body.1``, ``Buttons.1``
(a bare ``1`` means ``Body.1``). A message with a template sends the template
alone, not its rendered text. Herald schedules on its own, so the API's
``schedule`` field is never sent.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, NoReturn

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
    json_body,
    require_content,
)
from providers.errors import (
    ProviderOutcomeUnknownError,
    ProviderRejectedError,
    ProviderUnsupportedError,
)
from providers.media import content_type, guess_type
from providers.sociocs_webhooks import parse_callback, verify_signature

# The networks `POST /message` can send on, and the channels each carries (§3.3). Telnyx
# (``tlnx``) is a Sociocs channel too, but only for webhooks: the send table leaves it out.
# Twilio SMS takes `image_url`/`video_url`/`file_url` (seed 003's "Sending text & image"
# uses "provider": "twlo"), which Twilio delivers as MMS: hence sms and mms.
NETWORKS: dict[str, frozenset[Channel]] = {
    "twlo": frozenset({Channel.SMS, Channel.MMS}),
    "twlowa": frozenset({Channel.WHATSAPP}),
    "gswa": frozenset({Channel.WHATSAPP}),
}
NETWORK_NAMES = {"twlo": "Twilio SMS", "twlowa": "Twilio WhatsApp", "gswa": "Gupshup WhatsApp"}
# Since 2024-11-11 the media fields are accepted only on Twilio SMS (§3.3, [SOC-SEND]).
MEDIA_NETWORKS = frozenset({"twlo"})
TEMPLATE_NETWORKS = frozenset({"twlowa", "gswa"})

# Gupshup template variables are grouped by component (§3.3, template for gswa).
GSWA_MEDIA_KEY = "MEDIA_URL"
GSWA_COMPONENTS = {"header": "Header", "body": "Body", "buttons": "Buttons"}

API_KEY_PAGE = "app.sociocs.com → Profile & settings → API"


class SociocsProvider(Provider):
    name = "sociocs"
    channels = frozenset({Channel.SMS, Channel.MMS, Channel.WHATSAPP})
    required_keys = ("api_key", "channel_key", "sociocs_provider")
    optional_keys = ("webhook_secret", "save_contacts", "contact_list_id")
    default_base_url = "https://api.sociocs.com"
    secret_keys = ("api_key", "webhook_secret")
    # §3.6: "no per-message status GET", only lists whose message schema is undocumented.
    no_lookup = (
        "Sociocs has no per-message status lookup; its receipts come by webhook "
        "(subscribe status_updates, with webhook_secret)"
    )

    @classmethod
    def check_config(cls, config: ConnectionConfig) -> None:
        super().check_config(config)
        for key in ("api_key", "channel_key", "sociocs_provider"):
            value = config.option(key)
            if not isinstance(value, str) or not value.strip():
                cls._config_error(f"'{key}' must be a non-empty string")
        secret = config.option("webhook_secret")
        if secret is not None and not isinstance(secret, str):
            cls._config_error("'webhook_secret' must be a string")
        if isinstance(secret, str) and not secret.strip():
            # An empty HMAC key is one anybody can sign with.
            cls._config_error(
                "'webhook_secret' is empty; set the secret given when subscribing, "
                "or leave it out and set webhook_token"
            )
        network = config.option("sociocs_provider")
        if network not in NETWORKS:
            cls._config_error(
                f"'sociocs_provider' is '{network}'; it must be one of "
                + ", ".join(f"'{key}' ({NETWORK_NAMES[key]})" for key in NETWORKS)
            )
        carried = NETWORKS[network]
        if config.channel not in carried:
            others = " or ".join(f"'{k}'" for k, c in NETWORKS.items() if config.channel in c)
            cls._config_error(
                f"'sociocs_provider' '{network}' ({NETWORK_NAMES[network]}) carries "
                f"channel {_names(carried)}, but 'channel' is {config.channel}; "
                f"use 'sociocs_provider' {others} for {config.channel}"
            )
        save = config.option("save_contacts")
        if save is not None and not isinstance(save, bool):
            cls._config_error("'save_contacts' must be true or false")
        list_id = config.option("contact_list_id")
        if list_id is not None:
            if isinstance(list_id, bool) or not isinstance(list_id, int) or list_id < 0:
                cls._config_error("'contact_list_id' must be a whole number (0 = All Contacts)")
            if save is not True:
                cls._config_error("'contact_list_id' needs 'save_contacts = true'")

    @classmethod
    def _config_error(cls, detail: str) -> NoReturn:
        raise ProviderUnsupportedError(detail, provider=cls.name)

    @property
    def network(self) -> str:
        return str(self.config.option("sociocs_provider"))

    async def send(self, message: OutboundMessage) -> SendResult:
        self._check(message)
        types = {
            url: await content_type(self.client, url, provider=self.name)
            for url in dict.fromkeys(message.media_urls)
        }
        response = await self.request(
            "POST",
            f"{self.base_url}/message",
            json=self.payload(message, types),
            headers={"apikey": str(self.config.option("api_key"))},
        )
        return self._result(response)

    def _check(self, message: OutboundMessage) -> None:
        carried = NETWORKS.get(self.network, frozenset())
        if message.channel not in carried:
            raise ProviderUnsupportedError(
                f"this connection ('{self.network}') carries {_names(carried)}, "
                f"not {message.channel}",
                provider=self.name,
            )
        # Seed 003: text is optional only "when image_url, … or template is present"; with
        # none of them Sociocs refuses the request (or would send an empty message).
        require_content(message, self.name)
        if not message.media_urls:
            return
        if self.network not in MEDIA_NETWORKS:
            raise ProviderUnsupportedError(
                f"Sociocs sends media only on Twilio SMS ('twlo'), not on "
                f"{NETWORK_NAMES.get(self.network, self.network)}; send the link in the text "
                "or use an approved template with a media header",
                provider=self.name,
            )
        if message.channel is not Channel.MMS:
            raise ProviderUnsupportedError(
                "media goes out as MMS: set channel = \"mms\" on this 'twlo' connection",
                provider=self.name,
            )

    def payload(
        self, message: OutboundMessage, types: Mapping[str, str | None] | None = None
    ) -> dict[str, Any]:
        """The JSON body of ``POST /message`` for one message (§3.3); ``types`` gives the
        MIME type of media URLs whose extension names none."""
        self._check(message)
        body: dict[str, Any] = {
            "provider": self.network,
            "channel_key": self.config.option("channel_key"),
            "to": message.to,
        }
        if message.recipient_name:
            body["name"] = message.recipient_name
        if message.template is not None:
            # A WhatsApp template carries its own approved wording; sending the
            # rendered text beside it is undocumented (§3.3: "one of" text/media/template).
            body["template"] = self._template(message.template)
        elif message.text.strip():
            body["text"] = message.text
        body.update(self._media(message.media_urls, types or {}))
        if self.config.option("save_contacts") is True:
            saving: dict[str, Any] = {"save": True}
            list_id = self.config.option("contact_list_id")
            if list_id is not None:
                saving["list_id"] = list_id
            body["contact_saving"] = saving
        return body

    def _media(self, urls: tuple[str, ...], types: Mapping[str, str | None]) -> dict[str, str]:
        fields: dict[str, str] = {}
        for url in urls:
            field = _media_field(types.get(url) or guess_type(url))
            if field in fields:
                # The API has one field per kind and `image_urls` is not defined (§3.3).
                raise ProviderUnsupportedError(
                    f"Sociocs takes one {field} per message; send the others separately",
                    provider=self.name,
                )
            fields[field] = url
        return fields

    def _template(self, template: ProviderTemplate) -> dict[str, Any]:
        if self.network not in TEMPLATE_NETWORKS:
            raise ProviderUnsupportedError(
                "provider templates exist only on WhatsApp ('twlowa' or 'gswa'); "
                "send plain text on Twilio SMS",
                provider=self.name,
            )
        body: dict[str, Any] = {"id": template.id}
        # `variables` is required only when the template has variables (seed 003).
        if template.parameters:
            if self.network == "gswa":
                body["variables"] = _gupshup_variables(template.parameters, self.name)
            else:
                body["variables"] = dict(template.parameters)
        return body

    def _result(self, response: httpx.Response) -> SendResult:
        body = json_body(response)
        status = body.get("status") if isinstance(body, dict) else None
        if status == "success":
            data = body.get("data")
            message_id = data.get("message_id") if isinstance(data, dict) else None
            return SendResult(
                str(message_id) if message_id is not None else None,
                DeliveryStatus.ACCEPTED,
                raw=body,
            )
        if status == "error":
            # The status field, not only the HTTP code, decides (§3.4 [inference]).
            messages = _messages(body)
            raise ProviderRejectedError(
                "; ".join(messages) or "the API answered status 'error'",
                provider=self.name,
                status_code=response.status_code,
                raw=body,
                hint=_hint(response.status_code, messages),
            )
        # The request went out and the answer says neither yes nor no (§3.4 documents only
        # "success" and "error"): the message may have gone, so never retried.
        raise ProviderOutcomeUnknownError(
            "unexpected answer (no 'status': 'success'), so it may or may not have gone out",
            provider=self.name,
            status_code=response.status_code,
            raw=body,
            hint="Check app.sociocs.com → Outbound before sending it again.",
        )

    def webhook_needs_token(self) -> bool:
        # With the subscription's secret every callback is checked by its signature.
        return self._webhook_secret is None

    def webhook_key(self) -> str | None:
        return self._webhook_secret

    def parse_webhook(self, request: WebhookRequest) -> WebhookResult:
        """Verify (when ``webhook_secret`` is set) and read one ``status_update`` callback."""
        secret = self._webhook_secret
        if secret is not None:
            verify_signature(request.body, request.headers, secret, self.name)
        return parse_callback(request.body, self.name)

    @property
    def _webhook_secret(self) -> str | None:
        secret = self.config.option("webhook_secret")
        return secret if isinstance(secret, str) and secret else None

    def error_detail(self, response: httpx.Response) -> str:
        messages = _messages(json_body(response))
        return "; ".join(messages) if messages else super().error_detail(response)

    def error_hint(self, response: httpx.Response) -> str | None:
        return _hint(response.status_code, _messages(json_body(response)))


def _media_field(mime: str | None) -> str:
    if mime and mime.startswith("image/"):
        return "image_url"
    if mime and mime.startswith("video/"):
        return "video_url"
    return "file_url"


def _names(channels: frozenset[Channel]) -> str:
    return " or ".join(sorted(str(channel) for channel in channels)) or "nothing"


def _gupshup_variables(parameters: Mapping[str, str], provider: str) -> dict[str, Any]:
    """Nest flat ``Component.N`` parameters into Gupshup's ``{"Body": {"1": …}}`` form."""
    variables: dict[str, Any] = {}
    for key, value in parameters.items():
        if key.upper() == GSWA_MEDIA_KEY:
            variables[GSWA_MEDIA_KEY] = value
            continue
        component, dot, number = key.rpartition(".")
        name = GSWA_COMPONENTS.get(component.lower()) if dot else "Body"
        if name is None or not number:
            raise ProviderRejectedError(
                f"template parameter '{key}' is not MEDIA_URL, Header.N, Body.N or Buttons.N "
                "(Gupshup groups variables by component)",
                provider=provider,
            )
        variables.setdefault(name, {})[number] = value
    return variables


def _messages(body: Any) -> list[str]:
    """The ``msg`` of each entry of ``{"status": "error", "errors": [{"msg": …}]}`` (§3.4)."""
    errors = body.get("errors") if isinstance(body, dict) else None
    if not isinstance(errors, list):
        return []
    found = []
    for error in errors:
        text = error.get("msg") if isinstance(error, dict) else error
        if isinstance(text, str) and text.strip():
            found.append(text.strip())
    return found


def _hint(status: int, messages: list[str]) -> str | None:
    text = " ".join(messages).lower()
    if status in (401, 403):
        return f"Check api_key in herald.toml ({API_KEY_PAGE})"
    if is_whatsapp_window_refusal(text):
        return WHATSAPP_WINDOW_HINT
    if "channel_key" in text or "channel key" in text:
        return f"Check channel_key in herald.toml ({API_KEY_PAGE})"
    if "provider" in text:
        return "Check sociocs_provider in herald.toml: twlo, twlowa or gswa, matching the channel"
    if "template" in text:
        return "Check the template id and its variables at Twilio or Gupshup"
    if "phone" in text or "'to'" in text or "number" in text:
        return "Check the recipient's number: country code first, with or without '+'"
    return None
