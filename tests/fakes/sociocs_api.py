"""A strict local stand-in for the Sociocs API's ``POST /message`` (providers.md §3).

It checks the ``apikey`` header (401 otherwise), the body's fields against the
documented table and each channel key against the network it belongs to, and
answers with the documented shapes: ``{"status": "success", "data":
{"message_id": …}}`` or ``{"status": "error", "errors": [{"msg": …}]}`` with 400.
Whether the real API ever answers an error with HTTP 200 is UNKNOWN (§3.4), so
`refuse_next` can script that. The real API also accepts Basic auth and
``?apikey=``; the fake takes only the header, the one form Herald uses.

`status_update_callback` and `incoming_message_callback` build the callbacks
Sociocs posts to a subscription's ``webhook_url`` (§3.6), signed like the real
ones when given the subscription's secret.
"""

from __future__ import annotations

import hashlib
import hmac
import itertools
import json
import re
from collections.abc import Mapping
from typing import Any

from providers import Channel, SociocsProvider
from tests.fakes.provider_fake import ProviderFake, Recorded, Reply
from tests.providers.cases import ProviderCase

API_KEY = "e047nbp2UnWuHD9m:Xqc37DHPGMyF0Z4hWX3Afn1Iyj6j7dPc"  # the doc's part1:part2 shape
WEBHOOK_SECRET = "whsec-sociocs-7d1f0c"
SMS_CHANNEL_KEY = "ck-twlo-5f2a"
TWILIO_WA_CHANNEL_KEY = "ck-twlowa-81c0"
GUPSHUP_WA_CHANNEL_KEY = "ck-gswa-39be"

FIELDS = frozenset(
    {
        "provider",
        "channel_key",
        "to",
        "name",
        "text",
        "image_url",
        "video_url",
        "file_url",
        "template",
        "contact_saving",
        "schedule",
        "user_id",
    }
)
MEDIA_FIELDS = ("image_url", "video_url", "file_url")
MEDIA_PROVIDERS = frozenset({"twlo"})  # since 2024-11-11 (§3.3)
TEMPLATE_PROVIDERS = frozenset({"twlowa", "gswa"})
GSWA_COMPONENTS = frozenset({"Header", "Body", "Buttons"})
PHONE = re.compile(r"^\+?[1-9]\d{6,14}$")  # country code, '+' optional (§3.3)


# The failure example of §3.6, verbatim but for the elided number: pass as
# ``status_update_callback(id, "failed", **FAILED_21614)``.
FAILED_21614: dict[str, Any] = {
    "error": {
        "code": 21614,
        "message": "You have attempted to send a message to a number that is not a valid "
        "mobile number (code: 21614)",
    },
    "provider_err_obj": {
        "status": 400,
        "code": 21614,
        "moreInfo": "https://www.twilio.com/docs/errors/21614",
        "error": True,
    },
}


def sign(body: bytes, secret: str) -> str:
    """``X-Sociocs-Signature``: lowercase hex HMAC-SHA256 of the raw body (§3.6)."""
    return hmac.new(secret.encode("utf-8"), body, hashlib.sha256).hexdigest()


def _callback(payload: dict[str, Any], secret: str | None) -> tuple[bytes, dict[str, str]]:
    body = json.dumps(payload, separators=(",", ":")).encode("utf-8")
    headers = {"content-type": "application/json"}
    if secret is not None:  # Sociocs signs only subscriptions made with a secret
        headers["x-sociocs-signature"] = sign(body, secret)
    return body, headers


def status_update_callback(
    message_id: str,
    status: str,
    *,
    secret: str | None = None,
    error: Mapping[str, Any] | None = None,
    provider_err_obj: Mapping[str, Any] | None = None,
    timestamp: int | None = None,
    event: str = "status_update",
    nested_event: bool = False,
) -> tuple[bytes, dict[str, str]]:
    """The raw body and (lower-cased) headers of one status callback as Sociocs posts it.

    ``status`` goes into ``event_data.status`` as given (the normalized
    sent|delivered|read|failed or a network's own value such as ``undelivered``).
    ``timestamp`` (ms) is not in the documented payload and is added only when given;
    ``nested_event`` also puts ``event`` inside ``event_data``, as the doc's prose
    template does.
    """
    event_data: dict[str, Any] = {"status": status}
    if nested_event:
        event_data["event"] = event
    if error is not None:
        event_data["error"] = dict(error)
    if provider_err_obj is not None:
        event_data["provider_err_obj"] = dict(provider_err_obj)
    if timestamp is not None:
        event_data["timestamp"] = timestamp
    payload = {"message_id": message_id, "event": event, "event_data": event_data}
    return _callback(payload, secret)


def incoming_message_callback(
    text: str, *, sender: str = "+31612345678", secret: str | None = None
) -> tuple[bytes, dict[str, str]]:
    """An ``event: "message"`` callback (a customer wrote in), as documented in §3.6."""
    payload = {
        "message_id": "SM9f3c1e0b7a2d4c5e8f6a1b2c3d4e5f60",
        "event": "message",
        "provider": "twlo",
        "channel_key": SMS_CHANNEL_KEY,
        "direction": "incoming",
        "from": sender,
        "to": "+16175551212",
        "name": "Jane Doe",
        "text": text,
        "file_urls": [],
        "image_urls": [],
        "video_urls": [],
        "contact": {},
        "timestamp": 1_731_330_000_000,
    }
    return _callback(payload, secret)


def error(msg: str, status: int = 400) -> Reply:
    return Reply(status, {"status": "error", "errors": [{"msg": msg}]})


def _string_map(value: Any) -> bool:
    return isinstance(value, dict) and all(
        isinstance(k, str) and isinstance(v, str) for k, v in value.items()
    )


class SociocsFake(ProviderFake):
    def __init__(self) -> None:
        super().__init__()
        self.api_key = API_KEY
        self.webhook_secret = WEBHOOK_SECRET
        # channel_key → the network its channel is on; a key used with another
        # provider value is refused like an unknown one.
        self.channels: dict[str, str] = {
            SMS_CHANNEL_KEY: "twlo",
            TWILIO_WA_CHANNEL_KEY: "twlowa",
            GUPSHUP_WA_CHANNEL_KEY: "gswa",
        }
        self.sent: list[dict[str, Any]] = []
        self._ids = itertools.count(1)

    def channel_key(self, provider: str) -> str:
        return next(key for key, value in self.channels.items() if value == provider)

    def refuse_next(self, *messages: str, status: int = 200) -> None:
        """Answer the next request with an error body, by default with HTTP 200."""
        self.fail_next(status, {"status": "error", "errors": [{"msg": m} for m in messages]})

    def handle(self, request: Recorded) -> Reply:
        if request.path != "/message":
            return error("Not found.", 404)
        if request.method != "POST":
            return error("Method not allowed.", 405)
        if request.headers.get("apikey") != self.api_key:
            # Never echo the key that was sent.
            return error("Authentication failed. Check the apikey header.", 401)
        if not request.headers.get("content-type", "").startswith("application/json"):
            return error("Content-Type must be application/json.")
        try:
            body = request.json()
        except ValueError:
            return error("Malformed JSON body.")
        if not isinstance(body, dict):
            return error("Body must be a JSON object.")
        problem = self.check(body)
        if problem:
            return error(problem)
        self.sent.append(body)
        return Reply(
            200, {"status": "success", "data": {"message_id": f"Xyz{next(self._ids):05d}"}}
        )

    def check(self, body: dict[str, Any]) -> str | None:
        """The documented validation error for a body, or None if it would be sent."""
        unknown = sorted(set(body) - FIELDS)
        if unknown:
            return f"Unknown field: {unknown[0]}."
        for key in ("provider", "channel_key", "to"):
            if not isinstance(body.get(key), str) or not body[key]:
                return f"{key} is required."
        provider = body["provider"]
        if provider not in {"twlo", "twlowa", "gswa"}:
            return "Invalid provider."
        if self.channels.get(body["channel_key"]) != provider:
            return "Invalid channel_key."
        if not PHONE.match(body["to"]):
            return "Invalid phone number in 'to'."
        for key in ("name", "text", "schedule", "user_id", *MEDIA_FIELDS):
            if key in body and not isinstance(body[key], str):
                return f"{key} must be a string."
        media = [key for key in MEDIA_FIELDS if key in body]
        if media and provider not in MEDIA_PROVIDERS:
            return f"{media[0]} is supported only for provider twlo."
        for key in media:
            if not body[key].startswith(("http://", "https://")):
                return f"{key} must be a publicly accessible URL."
        if "template" in body:
            problem = self._check_template(provider, body["template"])
            if problem:
                return problem
        if not (body.get("text") or media or "template" in body):
            return "One of text, image_url, video_url, file_url or template is required."
        if "contact_saving" in body:
            return self._check_contact_saving(body["contact_saving"])
        return None

    def _check_template(self, provider: str, template: Any) -> str | None:
        if provider not in TEMPLATE_PROVIDERS:
            return "template is supported only for providers twlowa and gswa."
        if not isinstance(template, dict) or set(template) - {"id", "variables"}:
            return "template must be an object with id and variables."
        if not isinstance(template.get("id"), str) or not template["id"]:
            return "template.id is required."
        if "variables" not in template:
            return None
        variables = template["variables"]
        if provider == "twlowa":
            return None if _string_map(variables) else "template.variables must map keys to text."
        if not isinstance(variables, dict):
            return "template.variables must be an object."
        for key, value in variables.items():
            if key == "MEDIA_URL":
                if not isinstance(value, str):
                    return "template.variables.MEDIA_URL must be a URL."
            elif key not in GSWA_COMPONENTS:
                return f"Invalid template.variables key: {key}."
            elif not _string_map(value):
                return f"template.variables.{key} must map numbers to text."
        return None

    @staticmethod
    def _check_contact_saving(saving: Any) -> str | None:
        if not isinstance(saving, dict) or set(saving) - {"save", "list_id", "extra_fields"}:
            return "contact_saving must be an object with save, list_id, extra_fields."
        if "save" in saving and not isinstance(saving["save"], bool):
            return "contact_saving.save must be a boolean."
        list_id = saving.get("list_id", 0)
        if isinstance(list_id, bool) or not isinstance(list_id, int):
            return "contact_saving.list_id must be an integer."
        if "extra_fields" in saving and not isinstance(saving["extra_fields"], dict):
            return "contact_saving.extra_fields must be an object."
        return None


CASE = ProviderCase(
    name="sociocs",
    provider=SociocsProvider,
    fake=SociocsFake,
    channel=Channel.SMS,
    recipient="+31612345678",
    options=lambda fake: {
        "api_key": API_KEY,
        "channel_key": SMS_CHANNEL_KEY,
        "sociocs_provider": "twlo",
        "webhook_secret": WEBHOOK_SECRET,
    },
    wrong_options=lambda fake: {
        "api_key": "e047nbp2UnWuHD9m:wrong-part-two",
        "channel_key": SMS_CHANNEL_KEY,
        "sociocs_provider": "twlo",
        "webhook_secret": WEBHOOK_SECRET,
    },
    # §3.4: {"status": "error", "errors": [{"msg": …}]}, decided by the status field.
    refusal=lambda words: (200, {"status": "error", "errors": [{"msg": words}]}),
    unsupported_channel=Channel.EMAIL,
)
