"""`SlackReceipts`: the Slack layer's own state, where each message's receipt is in Slack.

One row per posted receipt (its channel and ``ts``, whether the failure reply went out)
in the ``slack_receipts`` table, reached through the core's narrow `ReceiptPosts`
methods (`Herald.receipt_posts`): the core's message record knows nothing of Slack.
"""

from __future__ import annotations

from bot.models import Message, MessageStatus
from bot.services import Herald
from bot.storage.posts import ReceiptPost

# Statuses that get no receipt: the message has not reached the provider yet.
QUIET_STATUSES = frozenset({MessageStatus.QUEUED, MessageStatus.SENDING})


class SlackReceipts:
    """Where each receipt was posted, and what never was."""

    def __init__(self, herald: Herald) -> None:
        self.herald = herald  # read when used: the store opens at `Herald.start`

    def of(self, message_id: str) -> ReceiptPost | None:
        """Where ``message_id``'s receipt is, if it was posted."""
        return self.herald.receipt_posts.receipt_post(message_id)

    def unposted(self) -> list[Message]:
        """Messages for Slack whose receipt, or failure reply, was never posted."""
        return self.herald.receipt_posts.unposted(QUIET_STATUSES)

    async def posted(self, message_id: str, channel: str, ts: str) -> ReceiptPost:
        """The receipt of ``message_id`` is now the Slack message ``channel``/``ts``."""
        return await self.herald.receipt_posts.record_receipt_post(message_id, channel, ts)

    async def failure_replied(self, message_id: str) -> None:
        """The failure reply of ``message_id`` went out in its receipt's thread."""
        await self.herald.receipt_posts.record_failure_reply(message_id)
