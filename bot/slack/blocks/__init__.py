"""Block Kit, built by pure functions: receipts, help, status, scheduling, errors and App
Home.

Times are Slack date tokens (``<!date^…>``), which every reader sees in their own time
zone; the fallback text after ``|`` (notifications, old clients) is the time in the
zone it was read in (the sender's), or UTC where that is not known (a receipt).

The views live in modules of their own and are all exported here
(``blocks.receipt_blocks(...)``):

- `bot.slack.blocks.mrkdwn`: what every view is built of (escaping, clipping, sections,
  date tokens, status emoji and channel labels, counts) and Slack's size limits
- `bot.slack.blocks.receipts`: a message's receipt, its failure reply and its status
- `bot.slack.blocks.sends`: a send to several recipients and its status
- `bot.slack.blocks.summaries`: a send to many recipients' summary receipt and its one
  reply when it settles with failures
- `bot.slack.blocks.scheduling`: scheduled and repeating sends: the answer to one,
  ``list``, ``cancel``, ``reschedule`` and a repeating send's status
- `bot.slack.blocks.help`: help, templates and their previews, and error answers
- `bot.slack.blocks.home`: the App Home view
"""

from __future__ import annotations

from bot.slack.blocks.help import (
    action_error_text,
    error_text,
    help_text,
    template_preview_text,
    templates_text,
)
from bot.slack.blocks.home import home_view, sent_now_text
from bot.slack.blocks.mrkdwn import (
    CHANNEL_LABEL,
    SECTION_LIMIT,
    SEND_LINES_LIMIT,
    STATUS_EMOJI,
    WHAT_LIMIT,
    Block,
    slack_time,
)
from bot.slack.blocks.receipts import (
    PREVIEW_LIMIT,
    REASON_LIMIT,
    failure_reply_text,
    is_missed,
    receipt_blocks,
    receipt_text,
    shown_recipient,
    status_blocks,
)
from bot.slack.blocks.scheduling import (
    AGENDA_LINES_LIMIT,
    agenda_view,
    cancelled_text,
    rescheduled_text,
    schedule_status_blocks,
    schedule_status_text,
    scheduled_text,
)
from bot.slack.blocks.sends import send_status_blocks, send_status_text, sending_text
from bot.slack.blocks.summaries import (
    REPLY_FAILURES,
    SUMMARY_FAILURES,
    settled_reply_text,
    summary_blocks,
    summary_text,
)

__all__ = [
    "AGENDA_LINES_LIMIT",
    "CHANNEL_LABEL",
    "PREVIEW_LIMIT",
    "REASON_LIMIT",
    "REPLY_FAILURES",
    "SECTION_LIMIT",
    "SEND_LINES_LIMIT",
    "STATUS_EMOJI",
    "SUMMARY_FAILURES",
    "WHAT_LIMIT",
    "Block",
    "action_error_text",
    "agenda_view",
    "cancelled_text",
    "error_text",
    "failure_reply_text",
    "help_text",
    "home_view",
    "is_missed",
    "receipt_blocks",
    "receipt_text",
    "rescheduled_text",
    "schedule_status_blocks",
    "schedule_status_text",
    "scheduled_text",
    "send_status_blocks",
    "send_status_text",
    "sending_text",
    "sent_now_text",
    "settled_reply_text",
    "shown_recipient",
    "slack_time",
    "status_blocks",
    "summary_blocks",
    "summary_text",
    "template_preview_text",
    "templates_text",
]
