"""Sign requests the way Slack does (v0 HMAC-SHA256 over ``v0:ts:body``)."""

from __future__ import annotations

import hashlib
import hmac
import secrets
import time
from urllib.parse import urlencode

SIGNING_SECRET = "test-signing-secret-8f14e45fceea167a"


def signature(body: bytes, timestamp: str, secret: str = SIGNING_SECRET) -> str:
    base = b"v0:" + timestamp.encode() + b":" + body
    return "v0=" + hmac.new(secret.encode(), base, hashlib.sha256).hexdigest()


def signed_headers(
    body: bytes,
    content_type: str,
    *,
    secret: str = SIGNING_SECRET,
    timestamp: int | None = None,
) -> dict[str, str]:
    ts = str(int(time.time()) if timestamp is None else timestamp)
    return {
        "content-type": content_type,
        "x-slack-request-timestamp": ts,
        "x-slack-signature": signature(body, ts, secret),
    }


def slash_body(
    text: str,
    *,
    command: str = "/send",
    user_id: str = "U2147483697",
    channel_id: str = "C2147483705",
    response_url: str = "",
    trigger_id: str | None = None,
) -> bytes:
    """A slash command's form body; a new ``trigger_id`` each call, as Slack's (Herald
    takes a second request with the same one for a redelivery of the first)."""
    return urlencode(
        {
            "token": "legacy",
            "team_id": "T111",
            "team_domain": "acme",
            "channel_id": channel_id,
            "channel_name": "support",
            "user_id": user_id,
            "user_name": "alice",
            "command": command,
            "text": text,
            "api_app_id": "A111",
            "is_enterprise_install": "false",
            "response_url": response_url,
            "trigger_id": trigger_id or f"{time.time_ns()}.{secrets.token_hex(10)}",
        }
    ).encode()
