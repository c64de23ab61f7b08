"""A send to several recipients: the answer while it goes out, and its status (counts per
status, then its messages, failures first, as many as Slack takes)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from bot.config.settings import DEFAULT_INDIVIDUAL_UP_TO
from bot.models import Message, MessageStatus, Send
from bot.slack.blocks.mrkdwn import (
    STATUS_EMOJI,
    Block,
    clip,
    context,
    esc,
    packed,
    plural,
    section,
    slack_date,
    tally,
)
from bot.slack.blocks.receipts import shown_recipient

# No line is shorter than ~30 characters, so no more than this many fit in
# `SEND_LINES_LIMIT`: the rest are counted, never written.
SEND_LINES_SHOWN = 400


def sending_text(
    count: int, send_id: str, command: str, individual_up_to: int = DEFAULT_INDIVIDUAL_UP_TO
) -> str:
    """The private answer to a send to several recipients: where to follow them all (one
    receipt each, or one summary receipt for more than ``individual_up_to``)."""
    if count > individual_up_to:
        return (
            f":outbox_tray: Sending {count} messages as send #{send_id}: one summary receipt "
            f"follows here and counts them as they go. `{command} status {send_id}` shows "
            "the messages."
        )
    return (
        f":outbox_tray: Sending {count} messages as send #{send_id}: each gets its receipt "
        f"here. `{command} status {send_id}` shows them all."
    )


def send_status_text(send: Send, counts: Mapping[MessageStatus, int]) -> str:
    """The fallback of a send's status: its ``#ID`` and counts per status."""
    total = sum(counts.values())
    return f"#{send.id} · {plural(total, 'message')} via {send.connection} · {tally(counts)}"


def send_status_blocks(
    send: Send, messages: Sequence[Message], counts: Mapping[MessageStatus, int], mask: bool
) -> list[Block]:
    """A send's status: its counts per status, then each message (failures first, with
    their reasons, so they stay in view when not every message fits)."""
    who = f"<@{send.sender}>" if send.origin == "slack" else esc(send.sender)
    what = f"`{esc(send.template)}`" if send.template else "a text"
    blocks: list[Block] = [
        section(
            f"*Send #{send.id}* · {plural(len(messages), 'message')} via "
            f"*{esc(send.connection)}*\n{tally(counts, emoji=True)}"
        ),
        context(
            f"{what} sent by {who}",
            slack_date(send.created_at, "{date_short} {time}", "%Y-%m-%d %H:%M UTC"),
        ),
    ]
    failed = [m for m in messages if m.status is MessageStatus.FAILED]
    ordered = failed + [m for m in messages if m.status is not MessageStatus.FAILED]
    # only the lines that can fit are written (a send of 10,000 shows a few hundred)
    lines = [_send_line(m, mask) for m in ordered[:SEND_LINES_SHOWN]]
    blocks += [section(text) for text in packed(lines, total=len(ordered))]
    blocks.append(context("The status of one message's #ID shows its history."))
    return blocks


def _send_line(message: Message, mask: bool) -> str:
    line = (
        f"{STATUS_EMOJI[message.status]} *#{message.id}* {message.status.value} · "
        f"`{shown_recipient(message, mask)}`"
    )
    if message.status is MessageStatus.FAILED and message.error:
        line += f" — {esc(clip(message.error, 200))}"
    return line
