"""What arrives at ``POST /slack/events``, before Bolt sees it: capped, verified, parsed once.

Bolt's own HTTP path reads a body of any size, logs the bodies it cannot verify
(customers' numbers and texts among them) and guesses the format from the text:
any form body containing the word ``payload`` is taken for interactivity, so a
slash command such as "your payload is on its way" reached no listener. Here
the body is capped before it is read, the signature is checked before anything
else looks at it, and it is parsed by its declared content type; Bolt then gets
the parsed request (it still re-checks the signature).
"""

from __future__ import annotations

import hashlib
import hmac
import json
import time
from collections.abc import Callable, Mapping
from typing import Any
from urllib.parse import parse_qsl

from slack_bolt.async_app import AsyncBoltRequest
from slack_bolt.context.async_context import AsyncBoltContext
from slack_bolt.request.async_internals import build_async_context

# A view_submission carries the whole view (Slack caps views at 250 kB of JSON), URL-encoded
# (up to 3x); nothing Slack sends is bigger.
MAX_BODY_BYTES = 1_000_000
REPLAY_WINDOW_SECONDS = 300  # Slack's "more than five minutes from local time"
FORM = "application/x-www-form-urlencoded"
JSON = "application/json"


class RejectedRequest(Exception):
    """A request Herald will not act on: answered with ``status`` and a short reason."""

    def __init__(self, status: int, reason: str) -> None:
        super().__init__(reason)
        self.status = status
        self.reason = reason


def verify(
    headers: Mapping[str, str],
    body: bytes,
    secret: str,
    *,
    clock: Callable[[], float] = time.time,
) -> None:
    """Raise `RejectedRequest` (401) unless Slack signed ``body`` within the replay window."""
    timestamp = headers.get("x-slack-request-timestamp", "")
    signature = headers.get("x-slack-signature", "")
    if not timestamp or not signature:
        raise RejectedRequest(401, "no Slack signature")
    if not (timestamp.isascii() and timestamp.isdecimal()) or len(timestamp) > 12:
        raise RejectedRequest(401, "malformed Slack request timestamp")
    if abs(clock() - int(timestamp)) > REPLAY_WINDOW_SECONDS:
        raise RejectedRequest(401, "Slack request timestamp outside the five-minute window")
    base = b"v0:" + timestamp.encode() + b":" + body
    expected = "v0=" + hmac.new(secret.encode(), base, hashlib.sha256).hexdigest()
    if not hmac.compare_digest(expected.encode(), signature.encode("utf-8", "replace")):
        raise RejectedRequest(401, "wrong Slack signature")


def is_ssl_check(body: bytes) -> bool:
    """Slack's certificate check (``ssl_check=1``), which Bolt answers before verifying."""
    return body.startswith(b"ssl_check=1") or b"&ssl_check=1" in body


def parse(body: bytes, content_type: str) -> dict[str, Any]:
    """The payload, read by its declared type; `RejectedRequest` (400) when it is not one.

    - ``application/json``: an Events API envelope;
    - a form with exactly one field ``payload``: interactivity (JSON inside);
    - any other form: a slash command, whatever its text says.
    """
    kind = content_type.split(";", 1)[0].strip().lower()
    try:
        text = body.decode("utf-8")
        if kind == JSON:
            return _envelope(_json_object(text))
        if kind == FORM:
            fields = parse_qsl(text, keep_blank_values=True, errors="strict")
            if len(fields) == 1 and fields[0][0] == "payload":
                return _interaction(_json_object(fields[0][1]))
            return dict(fields)
    except (UnicodeDecodeError, ValueError, RecursionError) as exc:
        raise RejectedRequest(400, f"unreadable body ({type(exc).__name__})") from None
    raise RejectedRequest(415, "unsupported content type")


def _envelope(payload: dict[str, Any]) -> dict[str, Any]:
    """An Events API envelope whose event Bolt can read: an object, and a string id."""
    if payload.get("type") == "event_callback" and not (
        isinstance(payload.get("event"), dict) and isinstance(payload.get("event_id"), str)
    ):
        raise ValueError("an event_callback needs an event object and an event_id")
    return payload


MAX_ACTION_VALUE = 2000  # Slack's own limit on a button's value


def _interaction(payload: dict[str, Any]) -> dict[str, Any]:
    """An interactivity payload Bolt and Herald's listeners can read: a clicking user with
    an id and, for ``block_actions``, a list of action objects whose ids and values are
    strings (Bolt's matchers index ``actions[0]`` before any listener runs)."""
    user = payload.get("user")
    if not isinstance(payload.get("type"), str) or not (
        isinstance(user, dict) and isinstance(user.get("id"), str) and user["id"]
    ):
        raise ValueError("an interaction needs a type and a user with an id")
    if payload["type"] == "block_actions":
        actions = payload.get("actions")
        if not (isinstance(actions, list) and actions) or not all(
            isinstance(a, dict)
            and isinstance(a.get("action_id"), str)
            and isinstance(a.get("value", ""), str)
            and len(a.get("value", "")) <= MAX_ACTION_VALUE
            for a in actions
        ):
            raise ValueError("block_actions needs a list of actions with string ids")
    return payload


def _json_object(text: str) -> dict[str, Any]:
    value = json.loads(text)
    if not isinstance(value, dict):
        raise ValueError("not a JSON object")
    return value


class ParsedRequest(AsyncBoltRequest):
    """An `AsyncBoltRequest` built from a body this module already parsed.

    Bolt's constructor would re-parse the raw text with its guessing parser; this keeps
    the raw text (Bolt verifies the signature over it) and the payload parsed here.
    """

    def __init__(
        self,
        *,
        raw_body: str,
        payload: dict[str, Any],
        headers: Mapping[str, str],
        query: Mapping[str, str],
    ) -> None:
        super().__init__(body="", headers=dict(headers), query=dict(query))
        self.raw_body = raw_body
        self.body = payload
        self.context = build_async_context(AsyncBoltContext({}), payload)

    def to_copyable(self) -> ParsedRequest:
        return ParsedRequest(
            raw_body=self.raw_body,
            payload=self.body,
            headers={k: v[0] for k, v in self.headers.items() if v},
            query={k: v[0] for k, v in self.query.items() if v},
        )
