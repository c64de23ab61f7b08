"""A strict local stand-in for Bird's Channels API send endpoint (providers spec §2).

It serves ``POST /workspaces/{workspace_id}/channels/{channel_id}/messages`` and checks
what the API documents: ``Authorization: AccessKey <key>`` (else 401), its own workspace
and channel in the path (else 404), and the ``CreateChannelMessage`` schema (§2.3) —
``additionalProperties: false``, ``receiver`` required, exactly one of ``body`` and
``template``, at most 10 tags and 10 images — answering 422 with the problems, or 202 with
a message resource (§2.5).

`BirdFake.status_callback` builds the delivery-status webhook Bird would send for a message
(§2.7): the ``<platform>.outbound`` envelope around the message resource, signed with the
fake's ``signing_key`` for a given URL and timestamp; `sign_callback` signs any body.

It also serves ``GET /workspaces/{workspace_id}/channels/{channel_id}/messages/{id}``
(§2.7, "Polling alternative"): the same auth, 404 for a message it never accepted, else
200 with the message resource as it stands. `BirdFake.set_status` moves a message to
one of the words of seed 001's ``Status-3`` enum (any other word is a test's mistake and
raises), with a failure's ``reason`` and ``failure.description`` (§2.6); `lookups`
lists the lookups received; while ``lookup_outage`` holds an HTTP status, lookups are
answered with it (sends are not).

What the spec leaves UNKNOWN is a setting, not a guess: the error body's shape
(``error_body``), whether a template needs a ``locale``, whether a ``Bearer`` JWT is taken
(§2.2), the words of a WhatsApp refusal outside the 24-hour window
(``free_form_refusal``: free-form bodies are refused with it while it is set), and the
status an accepted message comes back with (``answer_status``, "accepted" by default;
§2.6 lists "sent" too).

Where the seed shows a field, the fake reads it there and nowhere else, so an adapter
that puts it elsewhere is seen: an e-mail's subject is the body part's
``metadata.subject`` (seed 001: "Single image message with text and title"; e-mail
without it is refused); links are shortened only when ``shortLinks`` says
``"enabled": true`` as Bird's e-mail documentation shows it (``short_links`` records
the domain each accepted message's links were shortened with, or None).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import re
import secrets
import time
import uuid
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from providers import BirdProvider, Channel
from tests.fakes.provider_fake import ProviderFake, Recorded, Reply
from tests.providers.cases import ProviderCase

Problem = dict[str, str]
ErrorBody = Callable[[str, str, list[Problem]], Any]  # (code, message, problems) -> JSON

MESSAGE_FIELDS = frozenset(
    {
        *("sender", "receiver", "reference", "template", "meta", "replyTo", "body"),
        *("notification", "capFrequency", "enableLinkTracking", "ignoreQuietHours"),
        *("ignoreGlobalHoldout", "tags", "shortLinks", "scheduledFor", "validity"),
    }
)
TEMPLATE_FIELDS = frozenset(
    {
        *("projectId", "version", "locale", "parameters", "variables", "attachments"),
        *("shortLinks", "utmParameters", "settings", "name"),
    }
)
BODY_TYPES = {"text": "text", "html": "html", "image": "images", "file": "files"}
IDENTIFIER_KEYS = frozenset({"phonenumber", "emailaddress"})
CONTACT_TYPES = frozenset({"to", "cc", "bcc"})
MAX_TAGS = 10
MAX_IMAGES = 10
SENDER_NUMBER = "+3197010203040"
_PATH = re.compile(r"/workspaces/(?P<workspace>[^/]+)/channels/(?P<channel>[^/]+)/messages")
_MESSAGE_PATH = re.compile(_PATH.pattern + r"/(?P<message>[^/]+)")
# Seed 001, the response's "status*Status-3 (enum)":
# "acceptedrejectedprocessingscheduledsentsending_faileddelivereddelivery_faileddeleted"
STATUSES = frozenset(
    {
        *("accepted", "rejected", "processing", "scheduled", "sent", "sending_failed"),
        *("delivered", "delivery_failed", "deleted"),
    }
)


def default_error_body(code: str, message: str, problems: list[Problem]) -> dict[str, Any]:
    body: dict[str, Any] = {"code": code, "message": message}
    if problems:
        body["details"] = problems
    return body


class BirdFake(ProviderFake):
    """Bird's send endpoint; accepted messages are kept in `messages` by id."""

    def __init__(
        self,
        *,
        access_key: str | None = None,
        jwt: str | None = None,
        require_template_locale: bool = False,
        free_form_refusal: str | None = None,
        error_body: ErrorBody = default_error_body,
        answer_status: str = "accepted",
    ) -> None:
        super().__init__()
        self.access_key = access_key or "ak_" + secrets.token_urlsafe(18)
        self.signing_key = "sk_" + secrets.token_urlsafe(18)
        self.workspace_id = str(uuid.uuid4())
        self.channel_id = str(uuid.uuid4())
        self.connector_id = str(uuid.uuid4())
        self.jwt = jwt
        self.require_template_locale = require_template_locale
        self.free_form_refusal = free_form_refusal
        self.error_body = error_body
        self.answer_status = answer_status
        self.messages: dict[str, dict[str, Any]] = {}
        self.lookup_outage: int | None = None
        self.short_links: dict[str, str | None] = {}  # message id → shortening domain

    def handle(self, request: Recorded) -> Reply:
        if not self._authorized(request.headers.get("authorization", "")):
            return self._error(401, "Unauthorized", "The access key is missing or not valid")
        lookup = _MESSAGE_PATH.fullmatch(request.path)
        if lookup is not None:
            return self._lookup(request, lookup)
        match = _PATH.fullmatch(request.path)
        if match is None or (match["workspace"], match["channel"]) != (
            self.workspace_id,
            self.channel_id,
        ):
            return self._error(404, "NotFound", "The workspace or channel was not found")
        if request.method != "POST":
            return self._error(405, "MethodNotAllowed", f"{request.method} is not allowed here")
        if "application/json" not in request.headers.get("content-type", ""):
            return self._error(415, "UnsupportedMediaType", "The body must be JSON")
        try:
            body = request.json()
        except ValueError:
            return self._error(400, "InvalidJSON", "The request body is not valid JSON")
        problems = message_problems(body, require_locale=self.require_template_locale)
        if problems:
            return self._error(
                422, "InvalidPayload", "The request did not pass validation", problems
            )
        if self.free_form_refusal is not None and "body" in body:
            return self._error(422, "MessageNotAllowed", self.free_form_refusal)
        return Reply(202, self._accept(body))

    @property
    def lookups(self) -> list[Recorded]:
        """The message lookups received (answered or not)."""
        return [r for r in self.requests if _MESSAGE_PATH.fullmatch(r.path)]

    def _lookup(self, request: Recorded, match: re.Match[str]) -> Reply:
        if (match["workspace"], match["channel"]) != (self.workspace_id, self.channel_id):
            return self._error(404, "NotFound", "The workspace or channel was not found")
        if request.method != "GET":
            return self._error(405, "MethodNotAllowed", f"{request.method} is not allowed here")
        if self.lookup_outage is not None:
            return self._error(self.lookup_outage, "Unavailable", "try later")
        resource = self.messages.get(match["message"])
        if resource is None:
            return self._error(404, "NotFound", "The message was not found")
        return Reply(200, resource)

    def set_status(
        self,
        message_id: str,
        status: str,
        *,
        reason: str | None = None,
        failure: str | None = None,
    ) -> dict[str, Any]:
        """Move a message this fake accepted to ``status`` (a seed 001 word), as Bird would
        on a delivery report; returns its resource as a lookup now answers it."""
        if status not in STATUSES:
            raise ValueError(f"{status!r} is not in seed 001's status enum")
        now = _rfc3339(datetime.now(UTC))
        resource = self.messages[message_id]
        resource.update(status=status, lastStatusAt=now, updatedAt=now)
        if reason is not None:
            resource["reason"] = reason
        if failure is not None:
            resource["failure"] = {
                "description": failure,
                "source": {"code": "0", "name": "platform"},
            }
        return resource

    def _authorized(self, header: str) -> bool:
        scheme, _, credential = header.partition(" ")
        if scheme == "AccessKey":
            return secrets.compare_digest(credential.encode(), self.access_key.encode())
        # The JWT (user-session) scheme of the GitBook snippets (§2.2), only when configured.
        return scheme == "Bearer" and self.jwt is not None and credential == self.jwt

    def _error(
        self, status: int, code: str, message: str, problems: list[Problem] | None = None
    ) -> Reply:
        return Reply(status, self.error_body(code, message, problems or []))

    def _accept(self, body: dict[str, Any]) -> dict[str, Any]:
        now = _rfc3339(datetime.now(UTC))
        receiver = body["receiver"]
        contacts = receiver.get("contacts") or [receiver["connector"]]
        sender = (body.get("sender") or {}).get("connector") or {}
        resource: dict[str, Any] = {
            "id": str(uuid.uuid4()),
            "channelId": self.channel_id,
            "sender": {
                "connector": {
                    "id": self.connector_id,
                    "identifierValue": sender.get("identifierValue", SENDER_NUMBER),
                }
            },
            "receiver": {
                "contacts": [
                    {
                        "id": str(uuid.uuid4()),
                        "identifierKey": contact.get("identifierKey", "phonenumber"),
                        "identifierValue": contact.get("identifierValue"),
                    }
                    for contact in contacts
                ]
            },
            "meta": body.get("meta", {}),
            "parts": [],
            "status": "scheduled" if body.get("scheduledFor") else self.answer_status,
            "direction": "outgoing",
            "lastStatusAt": now,
            "createdAt": now,
            "updatedAt": now,
            "tags": [tag.lower() for tag in body.get("tags", [])],
        }
        for key in ("reference", "body", "shortLinks", "scheduledFor"):
            if body.get(key) is not None:
                resource[key] = body[key]
        self.messages[resource["id"]] = resource
        links = body.get("shortLinks") or (body.get("template") or {}).get("shortLinks") or {}
        self.short_links[resource["id"]] = links["domain"] if links.get("enabled") else None
        return resource

    def status_callback(
        self,
        url: str,
        message_id: str,
        status: str,
        *,
        reference: str | None = None,
        reason: str | None = None,
        failure: str | None = None,
        platform: str = "sms",
        timestamp: int | None = None,
    ) -> tuple[bytes, dict[str, str]]:
        """The ``<platform>.outbound`` callback for ``message_id`` reaching ``status``, as
        (raw body, lower-cased headers) signed for ``url`` at ``timestamp`` (default now).

        A message this fake accepted keeps its resource (and reference); any other id gets
        a minimal one. ``reason`` and ``failure`` (a description) fill a failure (§2.5, §2.6).
        """
        now = _rfc3339(datetime.now(UTC))
        resource: dict[str, Any] = dict(self.messages.get(message_id) or {})
        resource.setdefault("id", message_id)
        resource.setdefault("channelId", self.channel_id)
        resource.setdefault("direction", "outgoing")
        resource.setdefault("createdAt", now)
        if reference is not None:
            resource["reference"] = reference
        resource.update(status=status, lastStatusAt=now, updatedAt=now)
        if reason is not None:
            resource["reason"] = reason
        if failure is not None:
            resource["failure"] = {
                "description": failure,
                "source": {"code": "0", "name": "platform"},
            }
        envelope = {"service": "channels", "event": f"{platform}.outbound", "payload": resource}
        if message_id in self.messages:
            self.messages[message_id] = resource
        return self.sign_body(url, envelope, timestamp=timestamp)

    def sign_body(
        self, url: str, body: Any, *, timestamp: int | None = None
    ) -> tuple[bytes, dict[str, str]]:
        """Any callback body (bytes as they are, else JSON), signed as Bird signs (§2.7)."""
        raw = body if isinstance(body, bytes) else json.dumps(body).encode()
        stamp = str(int(time.time()) if timestamp is None else timestamp)
        headers = {
            "content-type": "application/json",
            "messagebird-signature": sign_callback(self.signing_key, stamp, url, raw),
            "messagebird-request-timestamp": stamp,
            "messagebird-request-id": str(uuid.uuid4()),
        }
        return raw, headers


def sign_callback(signing_key: str, timestamp: str, url: str, body: bytes) -> str:
    """``messagebird-signature``: base64 HMAC-SHA256(key, ts + "\\n" + url + "\\n" +
    SHA-256(body)), the body hash as raw bytes, not hex (§2.7)."""
    signed = b"\n".join((timestamp.encode(), url.encode(), hashlib.sha256(body).digest()))
    digest = hmac.new(signing_key.encode(), signed, hashlib.sha256).digest()
    return base64.b64encode(digest).decode()


def _rfc3339(when: datetime) -> str:
    return when.isoformat(timespec="milliseconds").replace("+00:00", "Z")


def message_problems(body: Any, *, require_locale: bool = False) -> list[Problem]:
    """What is wrong with a ``CreateChannelMessage`` body, as Bird would say it (§2.3)."""
    if not isinstance(body, dict):
        return [_problem("", "must be a JSON object")]
    problems = [_problem(key, "is not a known field") for key in body if key not in MESSAGE_FIELDS]
    problems += _receiver_problems(body.get("receiver"))
    has_body, has_template = body.get("body") is not None, body.get("template") is not None
    if has_body and has_template:
        problems.append(_problem("template", "must not be set together with body"))
    elif not has_body and not has_template:
        problems.append(_problem("body", "is required unless template is set"))
    if has_body:
        problems += _body_problems(body["body"])
        problems += _subject_problems(body)
    if has_template:
        problems += _template_problems(body["template"], require_locale)
    return problems + _extra_problems(body)


def _problem(field: str, message: str) -> Problem:
    return {"field": field, "message": message}


def _text(value: Any) -> bool:
    return isinstance(value, str) and bool(value.strip())


def _url(value: Any) -> bool:
    return _text(value) and str(value).startswith(("https://", "http://"))


def _receiver_problems(receiver: Any) -> list[Problem]:
    if receiver is None:
        return [_problem("receiver", "is required")]
    if not isinstance(receiver, dict):
        return [_problem("receiver", "must be an object")]
    contacts = receiver.get("contacts")
    if contacts is None and isinstance(receiver.get("connector"), dict):
        contacts = [receiver["connector"]]  # the seed's response form, taken too (§2.5)
    if not isinstance(contacts, list) or not contacts:
        return [_problem("receiver.contacts", "must be a non-empty list")]
    problems = []
    for index, contact in enumerate(contacts):
        where = f"receiver.contacts[{index}]"
        if not isinstance(contact, dict) or not (
            _text(contact.get("identifierValue")) or _text(contact.get("id"))
        ):
            problems.append(_problem(where, "needs an identifierValue or an id"))
            continue
        if contact.get("identifierKey", "phonenumber") not in IDENTIFIER_KEYS:
            problems.append(_problem(f"{where}.identifierKey", "is not a known identifier key"))
        if contact.get("type", "to") not in CONTACT_TYPES:
            problems.append(_problem(f"{where}.type", "must be to, cc or bcc"))
    return problems


def _body_problems(body: Any) -> list[Problem]:
    if not isinstance(body, dict):
        return [_problem("body", "must be an object")]
    kind = body.get("type")
    if kind not in BODY_TYPES:
        return [_problem("body.type", f"must be one of {', '.join(BODY_TYPES)}")]
    part = body.get(kind)
    if not isinstance(part, dict):
        return [_problem(f"body.{kind}", f"is required when type is {kind}")]
    problems = [
        _problem(f"body.{key}", f"is not allowed when type is {kind}")
        for key in body
        if key not in ("type", kind)
    ]
    if kind in ("text", "html") and not _text(part.get(kind)):
        problems.append(_problem(f"body.{kind}.{kind}", "is required"))
    attachments = part.get("attachments", [])
    if not isinstance(attachments, list) or not all(
        isinstance(a, dict) and _url(a.get("mediaUrl")) for a in attachments
    ):
        problems.append(_problem(f"body.{kind}.attachments", "each needs a mediaUrl"))
    if kind in ("image", "file"):
        problems += _media_problems(kind, part)
    if "text" in part and kind != "text" and not isinstance(part["text"], str):
        problems.append(_problem(f"body.{kind}.text", "must be a string"))
    if not isinstance(part.get("metadata", {}), dict):
        problems.append(_problem(f"body.{kind}.metadata", "must be an object"))
    return problems


def _subject_problems(body: dict[str, Any]) -> list[Problem]:
    """An e-mail's subject is where seed 001 shows it: ``body.<type>.metadata.subject``."""
    receiver = body.get("receiver")
    contacts = receiver.get("contacts") if isinstance(receiver, dict) else None
    emails = isinstance(contacts, list) and any(
        isinstance(c, dict) and c.get("identifierKey") == "emailaddress" for c in contacts
    )
    message = body["body"]
    kind = message.get("type") if isinstance(message, dict) else None
    part = message.get(kind) if isinstance(message, dict) and isinstance(kind, str) else None
    metadata = part.get("metadata") if isinstance(part, dict) else None
    subject = metadata.get("subject") if isinstance(metadata, dict) else None
    if emails and not _text(subject):
        return [_problem(f"body.{kind}.metadata.subject", "is required for an e-mail")]
    return []


def _media_problems(kind: str, part: dict[str, Any]) -> list[Problem]:
    field = BODY_TYPES[kind]
    where = f"body.{kind}.{field}"
    items = part.get(field)
    if not isinstance(items, list) or not items:
        return [_problem(where, "must be a non-empty list")]
    if kind == "image" and len(items) > MAX_IMAGES:
        return [_problem(where, f"must hold at most {MAX_IMAGES} images")]
    problems = []
    for index, item in enumerate(items):
        if not isinstance(item, dict) or not _url(item.get("mediaUrl")):
            problems.append(_problem(f"{where}[{index}].mediaUrl", "must be an http(s) URL"))
        elif kind == "file" and "/" not in str(item.get("contentType", "")):
            problems.append(_problem(f"{where}[{index}].contentType", "must be a MIME type"))
    return problems


def _template_problems(template: Any, require_locale: bool) -> list[Problem]:
    if not isinstance(template, dict):
        return [_problem("template", "must be an object")]
    problems = [
        _problem(f"template.{key}", "is not a known field")
        for key in template
        if key not in TEMPLATE_FIELDS
    ]
    try:
        uuid.UUID(str(template.get("projectId")))
    except ValueError:
        problems.append(_problem("template.projectId", "must be a UUID"))
    if "version" in template and not _text(template["version"]):
        problems.append(_problem("template.version", 'must be "latest" or a version id'))
    if ("locale" in template or require_locale) and not _text(template.get("locale")):
        problems.append(_problem("template.locale", "is required"))
    parameters = template.get("parameters", [])
    if not isinstance(parameters, list) or not all(
        isinstance(p, dict)
        and p.get("type") == "string"
        and _text(p.get("key"))
        and isinstance(p.get("value"), str)
        for p in parameters
    ):
        problems.append(
            _problem("template.parameters", 'each must be {"type": "string", "key", "value"}')
        )
    return problems + _short_links_problems(template, "template.shortLinks")


def _short_links_problems(owner: dict[str, Any], where: str) -> list[Problem]:
    links = owner.get("shortLinks")
    if links is None:
        return []
    if not isinstance(links, dict) or not _text(links.get("domain")):
        return [_problem(where, "must be an object with a domain")]
    if set(links) - {"domain", "enabled"} or not isinstance(links.get("enabled", True), bool):
        return [_problem(where, "takes only domain and enabled (a boolean)")]
    return []


def _extra_problems(body: dict[str, Any]) -> list[Problem]:
    problems = _short_links_problems(body, "shortLinks")
    tags = body.get("tags", [])
    if not isinstance(tags, list) or not all(_text(tag) for tag in tags):
        problems.append(_problem("tags", "must be a list of strings"))
    elif len(tags) > MAX_TAGS:
        problems.append(_problem("tags", f"must hold at most {MAX_TAGS} tags"))
    validity = body.get("validity", 1)
    if not isinstance(validity, int) or isinstance(validity, bool) or validity <= 0:
        problems.append(_problem("validity", "must be a positive number of seconds"))
    if "reference" in body and not isinstance(body["reference"], str):
        problems.append(_problem("reference", "must be a string"))
    sender = body.get("sender", {"connector": {"id": "-"}})
    connector = sender.get("connector") if isinstance(sender, dict) else None
    if not isinstance(connector, dict) or not (
        _text(connector.get("identifierValue")) or _text(connector.get("id"))
    ):
        problems.append(_problem("sender.connector", "needs an identifierValue or an id"))
    meta = body.get("meta", {})
    email = meta.get("email", {}) if isinstance(meta, dict) else None
    if not isinstance(email, dict) or not isinstance(email.get("subject", ""), str):
        problems.append(_problem("meta.email", "must be an object with a string subject"))
    if "scheduledFor" in body:
        try:
            datetime.fromisoformat(str(body["scheduledFor"]).replace("Z", "+00:00"))
        except ValueError:
            problems.append(_problem("scheduledFor", "must be an RFC 3339 date-time"))
    return problems


def _options(fake: ProviderFake) -> dict[str, Any]:
    assert isinstance(fake, BirdFake)
    return {
        "access_key": fake.access_key,
        "workspace_id": fake.workspace_id,
        "channel_id": fake.channel_id,
        "signing_key": fake.signing_key,
    }


CASE = ProviderCase(
    name="bird",
    provider=BirdProvider,
    fake=BirdFake,
    channel=Channel.SMS,
    recipient="+31612345678",
    options=_options,
    wrong_options=lambda fake: {**_options(fake), "access_key": "ak_wrong_" + secrets.token_hex(8)},
    # §2.6: a message resource whose status is rejected, with failure.description.
    refusal=lambda words: (
        202,
        {"id": str(uuid.uuid4()), "status": "rejected", "failure": {"description": words}},
    ),
    unsupported_channel=Channel.ZALO,
)
