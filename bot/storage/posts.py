"""Where a message's receipt was posted in Slack: the Slack layer's own table.

The ``slack_receipts`` table (one row per posted receipt: its channel and ``ts``, and
whether the failure reply went out) belongs to the Slack layer: the core never reads it
to decide anything. It lives in Herald's database, so a restart still edits the same
receipt, and the Slack layer reaches it only through the four methods of
`ReceiptPosts` (which `bot.storage.store.Store` implements), never through the store
itself.
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass
from datetime import datetime
from typing import Protocol

from bot.models import Message, MessageStatus


@dataclass(frozen=True)
class ReceiptPost:
    """A message's receipt as posted: where (``channel``, ``ts``) and what followed."""

    message_id: str
    channel: str
    ts: str
    failure_announced: bool = False  # the failure reply went out in the receipt's thread
    posted_at: datetime | None = None  # None for receipts posted before this was kept


class ReceiptPosts(Protocol):
    """The store's methods for the ``slack_receipts`` table, and nothing else."""

    def receipt_post(self, message_id: str) -> ReceiptPost | None:
        """Where ``message_id``'s receipt was posted, if it was."""

    def unposted(self, quiet: Collection[MessageStatus]) -> list[Message]:
        """Messages with a Slack destination whose receipt, or failure reply, was never
        posted, oldest first; ``quiet`` statuses get no receipt."""

    async def record_receipt_post(self, message_id: str, channel: str, ts: str) -> ReceiptPost:
        """Record that ``message_id``'s receipt is the Slack message ``channel``/``ts``."""

    async def record_failure_reply(self, message_id: str) -> None:
        """Record that the failure reply went out in the receipt's thread."""


class ReceiptPostsView:
    """`ReceiptPosts` over a store, and nothing else of it: what the Slack layer is given."""

    def __init__(self, store: ReceiptPosts) -> None:
        self._store = store

    def receipt_post(self, message_id: str) -> ReceiptPost | None:
        return self._store.receipt_post(message_id)

    def unposted(self, quiet: Collection[MessageStatus]) -> list[Message]:
        return self._store.unposted(quiet)

    async def record_receipt_post(self, message_id: str, channel: str, ts: str) -> ReceiptPost:
        return await self._store.record_receipt_post(message_id, channel, ts)

    async def record_failure_reply(self, message_id: str) -> None:
        await self._store.record_failure_reply(message_id)
