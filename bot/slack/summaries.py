"""`SummaryReceipts`: one Slack receipt for a send to many recipients, edited as its
counts change, a few Slack calls whatever the number of messages.

A send to more than ``[receipts] individual_up_to`` recipients gets one summary receipt
(`bot.slack.blocks.summaries`) instead of one per message. A change of one of its
messages only marks the send as changed (no Slack call, no database read); one task per
send with changes shows them: at once if nothing was shown for `UPDATE_EVERY` seconds,
else when that interval is over, with whatever the send looks like then, read in a few
aggregated queries. So however many changes come, a summary is edited at most once every
`UPDATE_EVERY` seconds, and the last change is always shown (a change during an edit
marks the send again, and the task edits once more after the interval).

Slack's rate limit: when Slack answers 429, every summary waits its ``Retry-After``
before the next call, and the call then made shows the state of that moment. The Web
API client of the rest of the Slack layer retries a 429 itself (slack-sdk's
``AsyncRateLimitErrorRetryHandler``: it sleeps ``Retry-After`` and resends the same,
by then stale, edit); summaries use a copy of the client without that handler, since
coalescing does the retry better.

Once every message of the send has settled (reached the recipient, failed or was
cancelled), one reply in the summary's thread lists the failures and mentions the
sender. Both facts (where the summary is, whether the reply went out) are a row of the
Slack layer's ``slack_send_receipts`` table, so a restart edits the same summary and
never replies twice; at start, each recent send whose summary was never posted or whose
settling was never shown is shown once (`unsettled`).

Memory: a task and a few numbers per send with a change in the last `UPDATE_EVERY`
seconds (or waiting out a 429), and bounded caches of send sizes and of what each recent
summary shows (an edit that would change nothing is not made); nothing per message.
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import timedelta

from aiohttp import ClientError
from slack_sdk.errors import SlackApiError
from slack_sdk.http_retry.builtin_async_handlers import AsyncRateLimitErrorRetryHandler
from slack_sdk.web.async_client import AsyncWebClient

from bot.expiring import ExpiringMap
from bot.models import Message
from bot.services import Herald
from bot.slack import blocks
from bot.slack.receipts import SlackReceipts, in_dm_note, post_or_dm, slack_error, why
from bot.storage import utcnow
from bot.storage.send_posts import SendPost, SendTally

log = logging.getLogger(__name__)

UPDATE_EVERY = 3.0  # seconds between two Slack calls for one summary, at least
RETRY_AFTER_DEFAULT = 1.0  # seconds, when a 429 says no Retry-After
NETWORK_TRIES = 3  # calls in a row that fail on the network before a change is given up
RECOVER_WITHIN = timedelta(days=7)  # at start, sends created (or due) this recently
SIZE_MEMORY = 24 * 3600.0  # seconds a send's size is remembered
SIZE_LIMIT = 10_000  # sends whose size is remembered
SHOWN_MEMORY = 3600.0  # seconds what a summary shows is remembered (an edit of nothing
SHOWN_LIMIT = 1_000  # is skipped), for at most this many summaries

Sleep = Callable[[float], Awaitable[None]]
Tell = Callable[[str, str], Awaitable[None]]


@dataclass
class Pending:
    """A send whose summary has changes to show, or was shown less than an interval ago."""

    dirty: bool = True  # something changed since the last call
    next_at: float = 0.0  # no call before this (the clock's time)
    network_failures: int = 0


class SummaryReceipts:
    """The summary receipts of sends to many recipients (see the module's docstring)."""

    def __init__(
        self,
        client: AsyncWebClient,
        herald: Herald,
        receipts: SlackReceipts,
        tell: Tell,
        *,
        interval: float = UPDATE_EVERY,
        clock: Callable[[], float] = time.monotonic,
        sleep: Sleep = asyncio.sleep,
    ) -> None:
        self._unretried = Unretried(client)
        self.herald = herald
        self.receipts = receipts
        self.tell = tell  # tell a sender privately (their response_url), by send id
        self.interval = interval
        self.clock = clock
        self.sleep = sleep
        self.individual_up_to = herald.settings.receipts.individual_up_to
        self.mask = herald.settings.mask_recipients
        self.command = herald.settings.slack.command
        self.pending: dict[str, Pending] = {}
        self.not_before = 0.0  # Slack said 429: no summary call before this
        self.sizes: ExpiringMap[str, int] = ExpiringMap(SIZE_MEMORY, SIZE_LIMIT, clock)
        self.shown: ExpiringMap[str, str] = ExpiringMap(SHOWN_MEMORY, SHOWN_LIMIT, clock)

    @property
    def client(self) -> AsyncWebClient:
        """The app's client without slack-sdk's own 429 retries (`Unretried`)."""
        return self._unretried()

    def summarizes(self, message: Message) -> bool:
        """Whether ``message``'s send gets a summary receipt rather than one per message."""
        return message.send_id is not None and self.size_of(message.send_id) > (
            self.individual_up_to
        )

    def size_of(self, send_id: str) -> int:
        size = self.sizes.get(send_id)
        if size is None:
            size = self.receipts.size_of(send_id)  # a send's size never changes
            self.sizes.put(send_id, size)
        return size

    def changed(self, message: Message) -> None:
        """A message of a summarized send changed: show it soon (no Slack call here)."""
        send_id = message.send_id
        if send_id is None:
            return
        pending = self.pending.get(send_id)
        if pending is not None:
            pending.dirty = True
            return
        self.pending[send_id] = pending = Pending()
        self.herald.background.spawn(self._keep_shown(send_id, pending), name=f"summary-{send_id}")

    def unsettled(self) -> list[Message]:
        """One message of each recent send whose summary was never posted or whose settling
        was never shown: announcing it shows the summary once."""
        return self.receipts.unsettled_summaries(utcnow() - RECOVER_WITHIN)

    async def _keep_shown(self, send_id: str, pending: Pending) -> None:
        """Show ``send_id``'s changes, at most one call every `interval` seconds, until an
        interval passes with no change."""
        try:
            while True:
                wait = max(pending.next_at, self.not_before) - self.clock()
                if wait > 0:
                    await self.sleep(wait)
                    continue  # a 429 meanwhile may have moved `not_before`
                if not pending.dirty:
                    return
                pending.dirty = False
                pending.next_at = self.clock() + self.interval
                await self._show_once(send_id, pending)
        finally:
            if self.pending.get(send_id) is pending:
                del self.pending[send_id]

    async def _show_once(self, send_id: str, pending: Pending) -> None:
        try:
            await self._show(send_id)
        except SlackApiError as exc:
            retry_after = _rate_limited(exc)
            if retry_after is None:
                log.error("could not show the summary of %s in Slack: %s", send_id, why(exc))
                return
            log.info("Slack is rate limiting summaries: waiting %.0f s", retry_after)
            self.not_before = max(self.not_before, self.clock() + retry_after)
            pending.dirty = True  # shown when Slack allows, as it is by then
        except (ClientError, TimeoutError) as exc:
            pending.network_failures += 1
            if pending.network_failures < NETWORK_TRIES:
                pending.dirty = True
            log.error("could not show the summary of %s in Slack: %s", send_id, why(exc))
        else:
            pending.network_failures = 0

    async def _show(self, send_id: str) -> None:
        tally = self.receipts.tally(send_id, blocks.REPLY_FAILURES)
        if tally is None or not tally.send.announce_to:
            return
        text = blocks.summary_text(tally)
        shown = blocks.summary_blocks(tally, self.mask, self.command)
        looks = json.dumps([text, shown])
        post = self.receipts.summary_of(send_id)
        if post is None:
            post = await self._post(tally, text, shown)
        elif looks != self.shown.get(send_id):  # else it would edit nothing
            await self.client.chat_update(channel=post.channel, ts=post.ts, text=text, blocks=shown)
        self.shown.put(send_id, looks)
        if tally.settled and not post.settled_announced:
            if tally.failed:
                await self.client.chat_postMessage(
                    channel=post.channel,
                    thread_ts=post.ts,
                    text=blocks.settled_reply_text(tally, self.mask, self.command),
                )
            await self.receipts.summary_settled(send_id)

    async def _post(self, tally: SendTally, text: str, shown: list[blocks.Block]) -> SendPost:
        send = tally.send
        assert send.announce_to
        answer, refused = await post_or_dm(self.client, send.announce_to, send.sender, text, shown)
        posted = await self.receipts.summary_posted(send.id, answer["channel"], answer["ts"])
        if refused:
            what = f"the summary receipt of send #{send.id}"
            await self.tell(send.id, in_dm_note(send.announce_to, refused, what))
        return posted


class Unretried:
    """The app's client without slack-sdk's own 429 retries, made at first use: by then
    the server has given the app's client its pooled session, which this one shares (a
    copy made earlier would open a connection per call)."""

    def __init__(self, source: AsyncWebClient) -> None:
        self.source = source
        self._client: AsyncWebClient | None = None

    def __call__(self) -> AsyncWebClient:
        if self._client is None:
            self._client = without_rate_limit_retries(self.source)
        return self._client


def without_rate_limit_retries(client: AsyncWebClient) -> AsyncWebClient:
    """``client`` without slack-sdk's own 429 retries (summaries wait and show what is
    current instead); the same token, URL, timeout and other retry handlers."""
    handlers = [
        handler
        for handler in client.retry_handlers
        if not isinstance(handler, AsyncRateLimitErrorRetryHandler)
    ]
    return AsyncWebClient(
        token=client.token,
        base_url=client.base_url,
        timeout=client.timeout,
        ssl=client.ssl,
        proxy=client.proxy,
        session=client.session,
        headers={k: v for k, v in client.headers.items() if k.lower() != "user-agent"},
        logger=client.logger,
        retry_handlers=handlers,
    )


def _rate_limited(exc: SlackApiError) -> float | None:
    """Seconds Slack asked to wait if ``exc`` is its rate limit (HTTP 429 with
    ``Retry-After``), else None."""
    response = exc.response
    status = getattr(response, "status_code", None)
    if status != 429 and slack_error(exc) not in ("ratelimited", "rate_limited"):
        return None
    headers = getattr(response, "headers", None) or {}
    for key, value in headers.items():
        if str(key).lower() == "retry-after":
            first = value[0] if isinstance(value, list | tuple) else value
            try:
                return max(0.0, float(first))
            except (TypeError, ValueError):
                break
    return RETRY_AFTER_DEFAULT
