"""`SlackAnnouncer`: posts each message's receipt once and edits it as the status moves.

Every change re-renders the receipt from the stored message under a per-message
lock, so receipts that arrive while the first post is in flight, or out of
order, still end with Slack showing the current status.
"""

from __future__ import annotations

import asyncio
import logging

from aiohttp import ClientError
from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient
from slack_sdk.webhook.async_client import AsyncWebhookClient

from bot.models import Message, MessageStatus
from bot.services import Herald
from bot.slack import blocks
from bot.storage import Store

log = logging.getLogger(__name__)

UNPOSTABLE = frozenset({"not_in_channel", "channel_not_found", "is_archived", "restricted_action"})
QUIET_STATUSES = frozenset({MessageStatus.QUEUED, MessageStatus.SENDING})


class SlackAnnouncer:
    def __init__(self, client: AsyncWebClient, herald: Herald) -> None:
        self.client = client
        self.herald = herald
        self.mask = herald.settings.mask_recipients
        self._locks: dict[str, asyncio.Lock] = {}
        self._response_urls: dict[str, str] = {}

    @property
    def _store(self) -> Store:
        return self.herald.db

    def remember_response_url(self, message_ids: list[str], url: str | None) -> None:
        """Where to tell the sender privately if the channel cannot take the receipt."""
        if url:
            for message_id in message_ids:
                self._response_urls[message_id] = url

    async def message_changed(self, message: Message) -> None:
        if message.status in QUIET_STATUSES or not message.announce_to:
            return
        lock = self._locks.setdefault(message.id, asyncio.Lock())
        async with lock:
            current = self._store.get(message.id)
            if current is None:
                return
            try:
                if current.receipt_ts is None:
                    current = await self._post(current)
                else:
                    await self._update(current)
                if current.status is MessageStatus.FAILED and not current.failure_announced:
                    await self._reply_failure(current)
            except (SlackApiError, ClientError, TimeoutError) as exc:
                log.error("could not show the receipt of %s in Slack: %s", message.id, _why(exc))
        if current.status.is_final or current.status is MessageStatus.DELIVERED:
            # Most messages end at delivered; a later 'read' simply takes a new lock.
            self._locks.pop(message.id, None)
            self._response_urls.pop(message.id, None)

    async def _post(self, message: Message) -> Message:
        assert message.announce_to
        text = blocks.receipt_text(message, self.mask)
        receipt = blocks.receipt_blocks(message, self.mask)
        try:
            answer = await self.client.chat_postMessage(
                channel=message.announce_to, text=text, blocks=receipt, unfurl_links=False
            )
        except SlackApiError as exc:
            if _error(exc) not in UNPOSTABLE:
                raise
            log.info(
                "cannot post in %s (%s); sending the receipt by DM",
                message.announce_to,
                _error(exc),
            )
            answer = await self.client.chat_postMessage(
                channel=message.sender, text=text, blocks=receipt, unfurl_links=False
            )
            posted = self._store.update(
                message.id, receipt_channel=answer["channel"], receipt_ts=answer["ts"]
            )
            try:
                await self._tell_privately(
                    message,
                    f":information_source: I can't post in <#{message.announce_to}> "
                    f"({_error(exc)}), so the receipt of #{message.id} is in your DM with me. "
                    "Invite me to the channel (`/invite @Herald`) to get receipts here.",
                )
            except (ClientError, TimeoutError) as note_error:
                log.info("could not tell %s why: %s", message.sender, type(note_error).__name__)
            return posted
        return self._store.update(
            message.id, receipt_channel=answer["channel"], receipt_ts=answer["ts"]
        )

    async def _update(self, message: Message) -> None:
        assert message.receipt_channel and message.receipt_ts
        await self.client.chat_update(
            channel=message.receipt_channel,
            ts=message.receipt_ts,
            text=blocks.receipt_text(message, self.mask),
            blocks=blocks.receipt_blocks(message, self.mask),
        )

    async def _reply_failure(self, message: Message) -> None:
        assert message.receipt_channel and message.receipt_ts
        await self.client.chat_postMessage(
            channel=message.receipt_channel,
            thread_ts=message.receipt_ts,
            text=blocks.failure_reply_text(message, self.mask),
        )
        self._store.update(message.id, failure_announced=True)

    async def _tell_privately(self, message: Message, text: str) -> None:
        url = self._response_urls.get(message.id)
        if url is None:
            return
        response = await AsyncWebhookClient(url).send(text=text, response_type="ephemeral")
        if response.status_code != 200:
            log.info("response_url answered %s for %s", response.status_code, message.id)


def _error(exc: SlackApiError) -> str:
    return str(exc.response.get("error", "unknown_error"))


def _why(exc: Exception) -> str:
    return _error(exc) if isinstance(exc, SlackApiError) else type(exc).__name__
