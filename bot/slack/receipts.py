"""`SlackReceipts`: the Slack layer's own state, where each receipt is in Slack.

One row per posted receipt (its channel and ``ts``, whether the failure reply went out)
in the ``slack_receipts`` table, and one per send's summary receipt (its channel and
``ts``, whether the settled reply went out) in ``slack_send_receipts``, reached through
the core's narrow `ReceiptPosts` methods (`Herald.receipt_posts`): the core's records
know nothing of Slack.
"""

from __future__ import annotations

import logging
from datetime import datetime

from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient
from slack_sdk.web.async_slack_response import AsyncSlackResponse

from bot.models import Message, MessageStatus
from bot.services import Herald
from bot.slack.blocks.mrkdwn import Block
from bot.storage.posts import ReceiptPost
from bot.storage.send_posts import SendPost, SendTally

# Statuses that get no receipt: the message has not reached the provider yet.
QUIET_STATUSES = frozenset({MessageStatus.QUEUED, MessageStatus.SENDING})
# Slack's answers when Herald cannot post in a channel: the receipt goes to the sender's DM.
log = logging.getLogger(__name__)

UNPOSTABLE = frozenset({"not_in_channel", "channel_not_found", "is_archived", "restricted_action"})


class SlackReceipts:
    """Where each receipt was posted, and what never was."""

    def __init__(self, herald: Herald) -> None:
        self.herald = herald  # read when used: the store opens at `Herald.start`
        self.individual_up_to = herald.settings.receipts.individual_up_to

    def of(self, message_id: str) -> ReceiptPost | None:
        """Where ``message_id``'s receipt is, if it was posted."""
        return self.herald.receipt_posts.receipt_post(message_id)

    def unposted(self) -> list[Message]:
        """Messages for Slack whose receipt, or failure reply, was never posted (messages
        of a send with a summary receipt have none of their own)."""
        return self.herald.receipt_posts.unposted(QUIET_STATUSES, self.individual_up_to)

    async def posted(self, message_id: str, channel: str, ts: str) -> ReceiptPost:
        """The receipt of ``message_id`` is now the Slack message ``channel``/``ts``."""
        return await self.herald.receipt_posts.record_receipt_post(message_id, channel, ts)

    async def failure_replied(self, message_id: str) -> None:
        """The failure reply of ``message_id`` went out in its receipt's thread."""
        await self.herald.receipt_posts.record_failure_reply(message_id)

    # -- a send's summary receipt ---------------------------------------------------

    def summary_of(self, send_id: str) -> SendPost | None:
        """Where ``send_id``'s summary receipt is, if it was posted."""
        return self.herald.receipt_posts.send_post(send_id)

    def size_of(self, send_id: str) -> int:
        return self.herald.receipt_posts.send_size(send_id)

    def tally(self, send_id: str, failures: int) -> SendTally | None:
        """What ``send_id``'s summary shows now, with its first ``failures`` failures."""
        return self.herald.receipt_posts.send_tally(send_id, failures)

    def unsettled_summaries(self, since: datetime) -> list[Message]:
        """The first message of each send with a summary (created or due since ``since``)
        that was never posted, or whose settling was never shown."""
        return self.herald.receipt_posts.unsettled_sends(self.individual_up_to, since)

    async def summary_posted(self, send_id: str, channel: str, ts: str) -> SendPost:
        """The summary receipt of ``send_id`` is now the Slack message ``channel``/``ts``."""
        return await self.herald.receipt_posts.record_send_post(send_id, channel, ts)

    async def summary_settled(self, send_id: str) -> None:
        """``send_id`` settled and its reply (if it had failures) went out."""
        await self.herald.receipt_posts.record_settled_reply(send_id)


def slack_error(exc: SlackApiError) -> str:
    """Slack's error code (``not_in_channel``, ``ratelimited``, …)."""
    return str(exc.response.get("error", "unknown_error"))


def why(exc: Exception) -> str:
    """A failed Slack call in a word, for the log."""
    return slack_error(exc) if isinstance(exc, SlackApiError) else type(exc).__name__


async def post_or_dm(
    client: AsyncWebClient, channel: str, sender: str, text: str, shown: list[Block]
) -> tuple[AsyncSlackResponse, str | None]:
    """Post a receipt in ``channel``, or, where Herald may not post (`UNPOSTABLE`), in
    ``sender``'s DM with Herald; Slack's answer, and why it went to the DM (None: it did
    not)."""
    try:
        answer = await client.chat_postMessage(
            channel=channel, text=text, blocks=shown, unfurl_links=False
        )
    except SlackApiError as exc:
        refused = slack_error(exc)
        if refused not in UNPOSTABLE:
            raise
        log.info("cannot post in %s (%s); posting in the sender's DM", channel, refused)
        answer = await client.chat_postMessage(
            channel=sender, text=text, blocks=shown, unfurl_links=False
        )
        return answer, refused
    return answer, None


def in_dm_note(channel: str, refused: str, what: str) -> str:
    """What the sender is told when ``what`` (a receipt) went to their DM instead."""
    return (
        f":information_source: I can't post in <#{channel}> ({refused}), so {what} is in your "
        "DM with me. Invite me to the channel (`/invite @Herald`) to get receipts here."
    )
