"""A strict local stand-in for Capillary's sendMessage v1.1 and its OAuth token endpoint.

It follows spec providers.md §1:

- ``POST /v3/oauth/token/generate`` with ``{"key", "secret"}`` issues a token with
  a TTL (``ttl_seconds``, on the fake's own injectable ``clock``); `expire_tokens`
  ends every token issued so far.
- ``POST /v1.1/communications/sendMessage?channel=…`` needs Basic auth in the md5
  form ``base64(user:md5_hex(password))`` (the plain password is refused) or a live
  ``X-CAP-API-OAUTH-TOKEN``, else 401; JSON ``Content-Type`` and ``Accept``, else
  415; a known ``channel`` (any case), else 400; the ``root``-wrapped array named
  for the channel, else 400. Each item is checked for its required fields; item
  problems come back as per-item ``errors``: HTTP 200 when every item went, 201
  when some did (§1.5), 400 when none did.

Where the doc is silent (UNKNOWN in §1 and §6) the fake picks one reading and lets
a test choose another:

- an item error is ``{"code", "message", "status": false}`` (§1.5's inference),
  with the legacy codes 4101 (SMS/WhatsApp/Zalo) and 4201/4208 (e-mail);
- ``channel`` missing is a 400, although the real API defaults to sms: Herald
  always names the channel, and the fake makes sure it does;
- phone numbers must be digits only, as in every example of the doc (no ``+``);
- unknown item fields are refused, so a misspelt key fails here, not in production;
- ``email_body_required`` (off): the doc's own e-mail example leaves ``body`` out;
- ``batch_limit`` (none): more items answer 400 with status code 1060;
- ``issue_ids`` (off): echo an ``nsAdminId`` and ``status`` per item, as the XML
  answer does; the JSON examples show none;
- ``refused``: recipients whose items fail with 4101 "Unable to send message";
- ``silently_refused``: recipients whose items fail with no item ``errors`` at all,
  counted only by the batch ``status`` block (``successCount``, ``success``), as seed
  000's block allows; whether the HTTP code then follows the block is UNKNOWN, so such
  an answer comes with ``silent_status`` (200).

It also serves the customer interaction lookup of §1.7,
``GET /v1.1/customer/interaction?format=json&identifierName=mobile|email&identifierValue=…&type=…``,
with the same auth: every item it accepted is an entry in its recipient's list
(``id`` = the item's ``nsAdminId``, ``receiver``, ``status``, ``sentDate`` as
``dd-mm-yyyy HH:MM:SS`` in UTC, ``deliveredTime`` once delivered), shaped as §1.7's
example. An entry starts ``Queued`` (the XML send answer's word, §1.5) until
`CapillaryFake.set_status` gives it one of §1.6's words (``DELIVERED``, ``NOT-DELIVERED``,
``SOFT_BOUNCED``; another word raises unless ``documented=False``). Whether a recipient
is a registered customer is up to Capillary (§1.7: "the number must belong to a
registered customer"); the fake registers everyone it sends to (``customers_on_send``),
and answers 404 "Customer not found" for anyone else, as what the real API answers is
UNKNOWN. `add_interaction` adds an entry for a message Herald did not send.
"""

from __future__ import annotations

import base64
import hashlib
import itertools
import re
import secrets
import threading
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

from providers import CapillaryProvider, Channel
from tests.fakes.provider_fake import ProviderFake, Recorded, Reply
from tests.providers.cases import ProviderCase

SEND_PATH = "/v1.1/communications/sendMessage"
TOKEN_PATH = "/v3/oauth/token/generate"
INTERACTION_PATH = "/v1.1/customer/interaction"
# §1.6: "DELIVERED, NOT-DELIVERED and SOFT_BOUNCED, with deliveredTime [CAP-INTERACT]".
DOCUMENTED_STATUSES = frozenset({"DELIVERED", "NOT-DELIVERED", "SOFT_BOUNCED"})
IDENTIFIERS = {"mobile": ("sms", "whatsapp", "zalo"), "email": ("email",)}
SENT_DATE = "%d-%m-%Y %H:%M:%S"  # §1.7's "sentDate": "02-06-2023 09:24:40"

# channel= value → (request array key, response list key, required fields, optional fields)
SCHEDULING = frozenset({"scheduledTime", "scheduled_time"})  # §1.3: both spellings in JSON
CHANNELS: dict[str, tuple[str, str, tuple[str, ...], frozenset[str]]] = {
    "sms": ("sms", "smsList", ("to", "body"), frozenset({"sender"}) | SCHEDULING),
    "email": (
        "email",
        "emails",
        ("to", "from", "subject"),
        frozenset({"body", "cc", "bcc", "attachments"}) | SCHEDULING,
    ),
    "whatsapp": ("whatsappMessage", "whatsapp", ("receiver", "template"), SCHEDULING),
    "zalo": ("zaloMessage", "zalo", ("receiver", "template"), SCHEDULING),
}
PHONE = re.compile(r"\d{7,15}")
USERNAME, PASSWORD = "herald.till", "till-Pa55-7Qx"
OAUTH_KEY, OAUTH_SECRET = "herald-client-key", "herald-client-s3cret-9Zk"


def status_envelope(code: int, message: str, count: int = 0, succeeded: int = 0) -> dict[str, Any]:
    """The request-level ``status`` object of §1.5."""
    ok = code == 200
    return {
        "count": count,
        "statusCode": {"status": ok, "message": message, "code": code},
        "successCount": succeeded,
        "warnings": [],
        "warningsAsStatusCode": [],
        "message": message,
        "code": code,
        "success": ok,
    }


def _item_error(code: int, message: str) -> dict[str, Any]:
    return {"code": code, "message": message, "status": False}


class CapillaryFake(ProviderFake):
    def __init__(
        self,
        *,
        username: str = USERNAME,
        password: str = PASSWORD,
        oauth_key: str = OAUTH_KEY,
        oauth_secret: str = OAUTH_SECRET,
        ttl_seconds: float = 300,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        super().__init__()
        self.username = username
        self.password = password
        self.oauth_key = oauth_key
        self.oauth_secret = oauth_secret
        self.ttl_seconds = ttl_seconds
        self.clock = clock
        self.refused: set[str] = set()
        self.silently_refused: set[str] = set()
        self.silent_status = 200
        self.batch_limit: int | None = None
        self.email_body_required = False
        self.issue_ids = False
        self.customers_on_send = True
        self.customers: set[str] = set()  # identifier values: digits, or a lower-case e-mail
        self.interactions: list[dict[str, Any]] = []  # entries, each with its type and owner
        self.tokens: dict[str, float] = {}  # token → expiry on `clock`
        self._lock = threading.Lock()
        self._ids = itertools.count(1706734307814)

    # -- what tests look at -----------------------------------------------------

    @property
    def sends(self) -> list[Recorded]:
        return [r for r in self.requests if r.path == SEND_PATH]

    @property
    def token_requests(self) -> list[Recorded]:
        return [r for r in self.requests if r.path == TOKEN_PATH]

    @property
    def lookups(self) -> list[Recorded]:
        return [r for r in self.requests if r.path == INTERACTION_PATH]

    def expire_tokens(self) -> None:
        with self._lock:
            self.tokens = dict.fromkeys(self.tokens, float("-inf"))

    def set_status(self, message_id: int | str, status: str, *, documented: bool = True) -> None:
        """Give the entry ``message_id`` (its ``nsAdminId``) a status word of §1.6."""
        if documented and status not in DOCUMENTED_STATUSES:
            raise ValueError(f"{status!r} is not one of §1.6's documented statuses")
        entry = next(e for e in self.interactions if str(e["id"]) == str(message_id))
        entry["status"] = status
        if status == "DELIVERED":
            entry["deliveredTime"] = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")

    def entries_of(self, recipient: str) -> list[dict[str, Any]]:
        """The entries of a recipient (digits, or an e-mail address), oldest first."""
        key = _identifier(recipient)
        return [e for e in self.interactions if e["_owner"] == key]

    def add_interaction(
        self, recipient: str, kind: str, status: str, *, sent_ago: float = 0.0
    ) -> dict[str, Any]:
        """An entry in ``recipient``'s list that Herald did not send (a campaign, say)."""
        when = datetime.now(UTC) - timedelta(seconds=sent_ago)
        with self._lock:
            entry = self._entry(recipient, kind, next(self._ids), when)
        entry["status"] = status
        return entry

    def _entry(self, recipient: str, kind: str, message_id: int, when: datetime) -> dict[str, Any]:
        entry: dict[str, Any] = {
            "id": message_id,
            "receiver": recipient,
            "campaignId": -1,
            "status": "Queued",
            "sentDate": when.strftime(SENT_DATE),
            "userId": 177269954,
            "_owner": _identifier(recipient),
            "_type": kind,
        }
        self.interactions.append(entry)
        if self.customers_on_send:
            self.customers.add(entry["_owner"])
        return entry

    def _interactions(self, request: Recorded) -> Reply:
        if request.method != "GET":
            return Reply(405, {"status": status_envelope(405, "Method not allowed")})
        if not self._authorized(request.headers):
            return Reply(401, {"status": status_envelope(401, "Invalid authentication details")})
        if request.headers.get("accept") != "application/json":
            return Reply(415, {"status": status_envelope(415, "Accept must be application/json")})
        query = {key: values[-1] for key, values in request.query.items()}
        name, value, kind = (
            query.get("identifierName"),
            query.get("identifierValue", ""),
            query.get("type", "").lower(),
        )
        if query.get("format", "json") != "json":
            return Reply(400, {"status": status_envelope(400, "format must be json")})
        if name not in IDENTIFIERS or not value:
            detail = "identifierName (mobile or email) and identifierValue are required"
            return Reply(400, {"status": status_envelope(400, detail)})
        if kind not in IDENTIFIERS[name]:
            return Reply(400, {"status": status_envelope(400, f"Invalid type '{kind}'")})
        owner = _identifier(value)
        if owner not in self.customers:
            return Reply(404, {"status": status_envelope(404, "Customer not found")})
        listed = [
            {k: v for k, v in e.items() if not k.startswith("_")}
            for e in self.interactions
            if e["_owner"] == owner and e["_type"] == kind
        ]
        group = {"count": len(listed), "name": kind, "messageList": listed}
        return Reply(200, {"name": "capillary", "interaction": [group], "warnings": []})

    # -- the API ----------------------------------------------------------------

    def handle(self, request: Recorded) -> Reply:
        if request.path == INTERACTION_PATH:
            return self._interactions(request)
        if request.path not in (SEND_PATH, TOKEN_PATH):
            return Reply(404, {"status": status_envelope(404, "Resource not found")})
        if request.method != "POST":
            return Reply(405, {"status": status_envelope(405, "Method not allowed")})
        if not request.headers.get("content-type", "").startswith("application/json"):
            return Reply(415, {"status": status_envelope(415, "Unsupported media type")})
        if request.path == TOKEN_PATH:
            return self._issue_token(request.json())
        if not self._authorized(request.headers):
            return Reply(401, {"status": status_envelope(401, "Invalid authentication details")})
        if request.headers.get("accept") != "application/json":
            return Reply(415, {"status": status_envelope(415, "Accept must be application/json")})
        return self._send(request)

    def _issue_token(self, body: Any) -> Reply:
        # §1.2: this call needs no authentication, only the client's key and secret.
        given = (body.get("key"), body.get("secret")) if isinstance(body, dict) else None
        if given != (self.oauth_key, self.oauth_secret):
            return Reply(401, {"data": None, "errors": [_item_error(401, "Invalid key/secret")]})
        token = secrets.token_urlsafe(24)
        with self._lock:
            self.tokens[token] = self.clock() + self.ttl_seconds
        return Reply(
            200, {"data": {"accessToken": token, "ttlSeconds": self.ttl_seconds}, "errors": None}
        )

    def _authorized(self, headers: dict[str, str]) -> bool:
        token = headers.get("x-cap-api-oauth-token")
        if token is not None:
            with self._lock:
                return self.clock() < self.tokens.get(token, float("-inf"))
        digest = hashlib.md5(self.password.encode(), usedforsecurity=False).hexdigest()
        expected = base64.b64encode(f"{self.username}:{digest}".encode()).decode()
        return headers.get("authorization") == f"Basic {expected}"

    def _send(self, request: Recorded) -> Reply:
        channel = request.query.get("channel", [""])[0].lower()
        if channel not in CHANNELS:
            detail = f"Invalid channel '{channel}'" if channel else "channel is required"
            return Reply(400, {"status": status_envelope(400, detail)})
        array, listing, required, optional = CHANNELS[channel]
        body = request.json()
        root = body.get("root") if isinstance(body, dict) else None
        if not isinstance(root, dict):
            return Reply(400, {"status": status_envelope(400, "root is missing")})
        items = root.get(array)
        if not isinstance(items, list) or not items:
            found = ", ".join(root) or "nothing"
            detail = f"channel={channel} needs root.{array}; found {found}"
            return Reply(400, {"status": status_envelope(400, detail)})
        if self.batch_limit is not None and len(items) > self.batch_limit:
            detail = "Batch limit size exceeded"
            return Reply(400, {"status": status_envelope(1060, detail, len(items))})
        entries = []
        succeeded = silenced = 0
        for item in items:
            errors = self._item_errors(channel, item, required, optional)
            silent = not errors and _recipient(item) in self.silently_refused
            succeeded += not errors and not silent
            silenced += silent
            echo = self._echo(channel, item, [{"silent": True}] if silent else errors)
            entries.append({array: echo, "errors": errors, "warnings": []})
            if not errors and not silent:
                self._sent(channel, item, echo)
        if succeeded == len(entries):
            code, message = 200, "Success"
        elif succeeded:
            code, message = 201, "One or more requests have failed due to errors"
        else:
            code, message = 400, "All requests have failed due to errors"
        status = status_envelope(code, message, len(entries), succeeded)
        return Reply(self.silent_status if silenced else code, {"status": status, listing: entries})

    def _item_errors(
        self, channel: str, item: Any, required: tuple[str, ...], optional: frozenset[str]
    ) -> list[dict[str, Any]]:
        failed = 4201 if channel == "email" else 4101
        if not isinstance(item, dict):
            return [_item_error(failed, "Each message must be an object")]
        errors = [
            _item_error(failed, f"Unknown field '{key}'")
            for key in item
            if key not in required and key not in optional
        ]
        needed = required + (("body",) if channel == "email" and self.email_body_required else ())
        errors += [
            _item_error(failed, f"'{key}' is required")
            for key in needed
            if not isinstance(item.get(key), str) or not item[key]
        ]
        for key in SCHEDULING & item.keys():
            try:
                datetime.fromisoformat(str(item[key]))
            except ValueError:
                errors.append(_item_error(failed, f"'{key}' is not an ISO-8601 date-time"))
        if errors:
            return errors
        recipient = item["to"] if "to" in item else item["receiver"]
        if channel == "email" and "@" not in recipient:
            return [_item_error(4208, "Invalid email ID")]
        if channel != "email" and not PHONE.fullmatch(recipient):
            return [_item_error(failed, f"Invalid mobile number '{recipient}'")]
        if recipient in self.refused:
            return [_item_error(failed, "Unable to send message")]
        return []

    def _echo(self, channel: str, item: Any, errors: list[dict[str, Any]]) -> Any:
        if not isinstance(item, dict):
            return item
        echo = {k: v for k, v in item.items() if k not in SCHEDULING}
        if SCHEDULING & item.keys():
            echo["scheduledTime"] = item.get("scheduledTime", item.get("scheduled_time"))
        if channel == "sms":
            echo.setdefault("sender", "")
        if channel == "email":
            echo = {"body": "", "cc": "", "bcc": "", **echo, "fileHandler": [], "attachments": []}
        if self.issue_ids and not errors:
            echo |= {"status": "Queued", "nsAdminId": next(self._ids)}
        return echo

    def _sent(self, channel: str, item: dict[str, Any], echo: Any) -> None:
        """Record an accepted item in its recipient's interactions, under the id its echo
        shows (or a fresh one, as the JSON answer shows none)."""
        with self._lock:
            shown = echo.get("nsAdminId") if isinstance(echo, dict) else None
            message_id = shown if shown is not None else next(self._ids)
            entry = self._entry(_recipient(item), channel, message_id, datetime.now(UTC))
        if channel == "email":
            entry["subject"] = item.get("subject", "")


def _recipient(item: Any) -> Any:
    return item.get("to", item.get("receiver")) if isinstance(item, dict) else None


def _identifier(value: str) -> str:
    """A customer's key: an e-mail lower-cased, a number's digits."""
    return value.strip().lower() if "@" in value else re.sub(r"\D", "", value)


def _fake(fake: ProviderFake) -> CapillaryFake:
    assert isinstance(fake, CapillaryFake)
    return fake


CASE = ProviderCase(
    name="capillary",
    provider=CapillaryProvider,
    fake=CapillaryFake,
    channel=Channel.SMS,
    recipient="+919591471711",
    options=lambda fake: {"username": _fake(fake).username, "password": _fake(fake).password},
    wrong_options=lambda fake: {"username": _fake(fake).username, "password": "wrong-password"},
    # §1.5: HTTP 201 and the item's own errors (seed 000's smsList entry shape).
    refusal=lambda words: (
        201,
        {
            "status": {"success": False, "count": 1, "successCount": 0},
            "smsList": [{"sms": {}, "errors": [{"code": 4101, "message": words}]}],
        },
    ),
    secret_options=lambda fake: [
        {"username": _fake(fake).username, "password": _fake(fake).password},
        {"oauth_key": _fake(fake).oauth_key, "oauth_secret": _fake(fake).oauth_secret},
    ],
    unsupported_channel=Channel.MMS,
)
