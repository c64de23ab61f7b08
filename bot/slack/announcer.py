"""`SlackAnnouncer`: posts each message's receipt once and edits it as the status moves.

A send to more than ``[receipts] individual_up_to`` recipients gets one summary receipt
instead (`bot.slack.summaries`): its messages' changes go there, coalesced, and a failure
among them gets no reply of its own.

Where each receipt is lives in the Slack layer's own table (`bot.slack.receipts`).
Every change re-renders the receipt from the stored message under a per-message
lock, so receipts that arrive while the first post is in flight, or out of
order, still end with Slack showing the current status. What it keeps in memory
is bounded: a lock exists only while a change is being shown, and a sender's
``response_url`` only until the receipt is posted (at most 30 minutes, at most
`RESPONSE_URL_LIMIT` of them), so messages that never reach a final state
(Capillary's stay ``accepted``) leave nothing behind.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import AsyncIterator, Awaitable, Callable

from aiohttp import ClientError
from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient

from bot.expiring import ExpiringMap
from bot.models import Message, MessageStatus
from bot.services import Herald
from bot.slack import blocks
from bot.slack.receipts import QUIET_STATUSES, SlackReceipts, in_dm_note, post_or_dm, why
from bot.slack.responses import tell_privately
from bot.slack.summaries import UPDATE_EVERY, SummaryReceipts
from bot.storage.posts import ReceiptPost

log = logging.getLogger(__name__)

RESPONSE_URL_TTL = 30 * 60.0  # Slack takes a response_url for 30 minutes
RESPONSE_URL_LIMIT = 10_000


class SlackAnnouncer:
    def __init__(
        self,
        client: AsyncWebClient,
        herald: Herald,
        *,
        clock: Callable[[], float] = time.monotonic,
        summary_every: float = UPDATE_EVERY,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
    ) -> None:
        """``summary_every``: seconds between two edits of a summary receipt; ``clock`` and
        ``sleep`` are the time summaries are coalesced in (tests drive their own)."""
        self.client = client
        self.herald = herald
        self.mask = herald.settings.mask_recipients
        self.locks = MessageLocks()
        self.response_urls = ResponseUrls(clock)
        self.receipts = SlackReceipts(herald)
        self.summaries = SummaryReceipts(
            client,
            herald,
            self.receipts,
            self._tell_privately,
            interval=summary_every,
            clock=clock,
            sleep=sleep,
        )

    def remember_response_url(self, message_ids: list[str], url: str | None) -> None:
        """Where to tell the sender privately if the channel cannot take the receipt (for
        a send with a summary receipt: one entry, the send's)."""
        if not url or not message_ids:
            return
        if len(message_ids) > self.receipts.individual_up_to:
            first = self.herald.message(message_ids[0])
            if first is not None and first.send_id and self.summaries.summarizes(first):
                self.response_urls.remember([first.send_id], url)
                return
        self.response_urls.remember(message_ids, url)

    def unannounced(self) -> list[Message]:
        """Messages for Slack whose receipt, or failure reply, was never posted, and one
        message of each send whose summary was never posted or never shown settled."""
        return self.receipts.unposted() + self.summaries.unsettled()

    async def message_changed(self, message: Message) -> None:
        if not message.announce_to:
            return
        if self.summaries.summarizes(message):
            self.summaries.changed(message)  # shown soon, with the send's other changes
            return
        if message.status in QUIET_STATUSES:
            return
        async with self.locks.hold(message.id):
            current = self.herald.message(message.id)
            if current is None:
                return
            try:
                post = self.receipts.of(message.id)
                if post is None:
                    post = await self._post(current)
                    self.response_urls.forget(message.id)  # only a first post needs it
                else:
                    await self._update(current, post)
                if current.status is MessageStatus.FAILED and not post.failure_announced:
                    await self._reply_failure(current, post)
            except (SlackApiError, ClientError, TimeoutError) as exc:
                log.error("could not show the receipt of %s in Slack: %s", message.id, why(exc))

    async def _post(self, message: Message) -> ReceiptPost:
        assert message.announce_to
        text = blocks.receipt_text(message, self.mask)
        receipt = blocks.receipt_blocks(message, self.mask)
        answer, refused = await post_or_dm(
            self.client, message.announce_to, message.sender, text, receipt
        )
        posted = await self.receipts.posted(message.id, answer["channel"], answer["ts"])
        if refused:
            what = f"the receipt of #{message.id}"
            await self._tell_privately(message.id, in_dm_note(message.announce_to, refused, what))
        return posted

    async def _update(self, message: Message, post: ReceiptPost) -> None:
        await self.client.chat_update(
            channel=post.channel,
            ts=post.ts,
            text=blocks.receipt_text(message, self.mask),
            blocks=blocks.receipt_blocks(message, self.mask),
        )

    async def _reply_failure(self, message: Message, post: ReceiptPost) -> None:
        await self.client.chat_postMessage(
            channel=post.channel,
            thread_ts=post.ts,
            text=blocks.failure_reply_text(message, self.mask),
        )
        await self.receipts.failure_replied(message.id)

    async def _tell_privately(self, key: str, text: str) -> None:
        """Tell the sender of ``key`` (a message's id, or a summarized send's) privately,
        through the ``response_url`` of their command, if it is still known."""
        url = self.response_urls.get(key)
        if url is None:
            return
        self.response_urls.forget(key)  # only a first post needs it
        await tell_privately(url, text, about=f"why the receipt of {key} is in a DM")


class MessageLocks:
    """One lock per message, kept only while a change of it is shown or waits to be."""

    def __init__(self) -> None:
        self._held: dict[str, tuple[asyncio.Lock, int]] = {}

    def __len__(self) -> int:
        return len(self._held)

    @contextlib.asynccontextmanager
    async def hold(self, key: str) -> AsyncIterator[None]:
        lock, users = self._held.get(key, (asyncio.Lock(), 0))
        self._held[key] = (lock, users + 1)
        try:
            async with lock:
                yield
        finally:
            lock, users = self._held[key]
            if users == 1:
                del self._held[key]
            else:
                self._held[key] = (lock, users - 1)


class ResponseUrls(ExpiringMap[str, str]):
    """Each message's ``response_url``, for at most ``ttl`` seconds and ``limit`` messages
    (the oldest go first)."""

    def __init__(
        self,
        clock: Callable[[], float],
        ttl: float = RESPONSE_URL_TTL,
        limit: int = RESPONSE_URL_LIMIT,
    ) -> None:
        super().__init__(ttl, limit, clock)

    def remember(self, message_ids: list[str], url: str) -> None:
        for message_id in message_ids:
            self.put(message_id, url)

    def forget(self, message_id: str) -> None:
        self.pop(message_id)
