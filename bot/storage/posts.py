"""Where Herald's receipts are in Slack: the Slack layer's own tables.

The ``slack_receipts`` table (one row per posted receipt: its channel and ``ts``, and
whether the failure reply went out) and the ``slack_send_receipts`` table (one row per
send's summary receipt, `bot.storage.send_posts`) belong to the Slack layer: the core
never reads them to decide anything. They live in Herald's database, so a restart still
edits the same receipt, and the Slack layer reaches them only through the methods of
`ReceiptPosts` (which `ReceiptPostsView` implements over the store), never through the
store itself.
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Protocol

from bot.models import Message, MessageStatus

if TYPE_CHECKING:
    from bot.storage.send_posts import SendPost, SendTally
    from bot.storage.store import Store


@dataclass(frozen=True)
class ReceiptPost:
    """A message's receipt as posted: where (``channel``, ``ts``) and what followed."""

    message_id: str
    channel: str
    ts: str
    failure_announced: bool = False  # the failure reply went out in the receipt's thread
    posted_at: datetime | None = None  # None for receipts posted before this was kept


class ReceiptPosts(Protocol):
    """The store's methods for the Slack layer's tables, and nothing else."""

    def receipt_post(self, message_id: str) -> ReceiptPost | None:
        """Where ``message_id``'s receipt was posted, if it was."""

    def unposted(
        self, quiet: Collection[MessageStatus], individual_up_to: int | None = None
    ) -> list[Message]:
        """Messages with a Slack destination whose receipt, or failure reply, was never
        posted, oldest first; ``quiet`` statuses get no receipt, nor do the messages of a
        send to more than ``individual_up_to`` recipients."""

    async def record_receipt_post(self, message_id: str, channel: str, ts: str) -> ReceiptPost:
        """Record that ``message_id``'s receipt is the Slack message ``channel``/``ts``."""

    async def record_failure_reply(self, message_id: str) -> None:
        """Record that the failure reply went out in the receipt's thread."""

    # -- a send's summary receipt ---------------------------------------------------

    def send_post(self, send_id: str) -> SendPost | None:
        """Where ``send_id``'s summary receipt was posted, if it was."""

    def send_size(self, send_id: str) -> int:
        """How many messages the send has."""

    def send_tally(self, send_id: str, failures: int) -> SendTally | None:
        """What the summary shows: counts per status, the first ``failures`` failures, the
        earliest due time (aggregated reads, never every message)."""

    def unsettled_sends(self, individual_up_to: int, since: datetime) -> list[Message]:
        """The first message of each send (created or due since ``since``) with more than
        ``individual_up_to`` messages whose summary was never posted or not seen settled."""

    async def record_send_post(self, send_id: str, channel: str, ts: str) -> SendPost:
        """Record that ``send_id``'s summary receipt is the Slack message ``channel``/``ts``."""

    async def record_settled_reply(self, send_id: str) -> None:
        """Record that the send settled and its reply (if it had failures) went out."""


class ReceiptPostsView:
    """`ReceiptPosts` over a store, and nothing else of it: what the Slack layer is given."""

    def __init__(self, store: Store) -> None:
        self._store = store

    def receipt_post(self, message_id: str) -> ReceiptPost | None:
        return self._store.receipt_post(message_id)

    def unposted(
        self, quiet: Collection[MessageStatus], individual_up_to: int | None = None
    ) -> list[Message]:
        return self._store.unposted(quiet, individual_up_to)

    async def record_receipt_post(self, message_id: str, channel: str, ts: str) -> ReceiptPost:
        return await self._store.record_receipt_post(message_id, channel, ts)

    async def record_failure_reply(self, message_id: str) -> None:
        await self._store.record_failure_reply(message_id)

    def send_post(self, send_id: str) -> SendPost | None:
        return self._store.send_post(send_id)

    def send_size(self, send_id: str) -> int:
        return self._store.send_size(send_id)

    def send_tally(self, send_id: str, failures: int) -> SendTally | None:
        return self._store.send_tally(send_id, failures)

    def unsettled_sends(self, individual_up_to: int, since: datetime) -> list[Message]:
        return self._store.unsettled_sends(individual_up_to, since)

    async def record_send_post(self, send_id: str, channel: str, ts: str) -> SendPost:
        return await self._store.write(lambda tx: tx.record_send_post(send_id, channel, ts))

    async def record_settled_reply(self, send_id: str) -> None:
        await self._store.write(lambda tx: tx.record_settled_reply(send_id))
