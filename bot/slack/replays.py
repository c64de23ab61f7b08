"""Each Slack request is acted on once: event retries and replayed signed requests are not.

Slack retries an event (same ``event_id``, ``X-Slack-Retry-Num``) when it did not get a
200 within 3 s, and a captured signed request can be posted again for five minutes.
A request's key is its event id, or else its signature (unique per timestamp and
body). Keys live in a bounded in-memory map, for retries racing the original, and
in the store, so a restart does not forget them; a slash command that sends records
its key in the same transaction as its messages.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Awaitable, Callable, Mapping
from typing import Any

from slack_bolt.async_app import AsyncBoltRequest
from slack_bolt.middleware.async_middleware import AsyncMiddleware
from slack_bolt.response import BoltResponse

from bot.expiring import ExpiringMap
from bot.services import Herald
from bot.slack import grammar

log = logging.getLogger(__name__)

MEMORY_SECONDS = 3600.0
MEMORY_LIMIT = 50_000  # keys; about 5 MB at the limit
CONTEXT_KEY = "request_key"


def request_key(body: Mapping[str, Any], signature: str | None) -> str | None:
    """The key that identifies a request across retries and replays, if it has one: its
    event id; else the trigger id Slack gives every slash command and interaction (the
    same one however often the request is re-signed or redelivered); else its signature
    (None over Socket Mode, where nothing is signed)."""
    event_id = body.get("event_id")
    if body.get("type") == "event_callback" and isinstance(event_id, str) and event_id:
        return f"event:{event_id[:64]}"
    trigger_id = body.get("trigger_id")
    if isinstance(trigger_id, str) and trigger_id:
        return f"trigger:{trigger_id[:80]}"
    if signature:
        return f"sig:{signature[:80]}"
    return None


class RequestLedger:
    """Keys of the requests acted on: the recent ones in memory (bounded), all in the store."""

    def __init__(
        self,
        herald: Herald,
        *,
        limit: int = MEMORY_LIMIT,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.herald = herald
        self._recent: ExpiringMap[str, None] = ExpiringMap(MEMORY_SECONDS, limit, clock)

    def __len__(self) -> int:
        return len(self._recent)

    def seen(self, key: str) -> bool:
        return key in self._recent or self.herald.request_seen(key)

    def remember(self, key: str) -> None:
        self._recent.put(key, None)

    def middleware(self) -> AsyncMiddleware:
        """The Bolt global middleware: a repeated request is answered 200, unprocessed."""
        return _Once(self)

    def admit(
        self, body: Mapping[str, Any], signature: str | None, retry: str | None = None
    ) -> tuple[bool, str | None]:
        """Whether a request is new, and its key (None if it has none); a new request's
        key is remembered from now on."""
        key = request_key(body, signature)
        if key is None:
            return True, None
        if self.seen(key):
            log.info("ignored a repeated Slack request (retry %s)", (retry or "0")[:4])
            return False, key
        self.remember(key)
        if not (body.get("command") and grammar.is_send(body)):
            # A send records its key with its messages; anything else records it now.
            self.herald.background.spawn(self._record(key), name="remember-request")
        return True, key

    async def _record(self, key: str) -> None:
        await self.herald.remember_request(key)


class _Once(AsyncMiddleware):
    # A class rather than a function middleware: Bolt builds no keyword arguments for it,
    # which is a good share of an acknowledgement's time.
    def __init__(self, ledger: RequestLedger) -> None:
        self.ledger = ledger

    async def async_process(
        self,
        *,
        req: AsyncBoltRequest,
        resp: BoltResponse,
        next: Callable[[], Awaitable[BoltResponse]],  # Bolt's name for it
    ) -> BoltResponse:
        signature = req.headers.get("x-slack-signature", [""])[0] if req.mode == "http" else None
        retry = req.headers.get("x-slack-retry-num", [None])[0]
        new, key = self.ledger.admit(req.body, signature, retry)
        if not new:
            return BoltResponse(status=200, body="")
        req.context[CONTEXT_KEY] = key
        await next()
        return resp
