"""A send's summary receipt (one Slack message for a send to many recipients: its counts
per status, the first failures, when it goes out) and the one reply in its thread when the
send has settled with failures.

Everything here is drawn from a `SendTally` (aggregated reads), so its size does not
depend on how many messages the send has: a few blocks, the first failures, counts.
"""

from __future__ import annotations

from collections.abc import Mapping
from zoneinfo import ZoneInfo

from bot.models import Message, MessageStatus
from bot.scheduling.when import local_time
from bot.slack import ids
from bot.slack.blocks.mrkdwn import (
    CHANNEL_LABEL,
    SECTION_LIMIT,
    STATUS_EMOJI,
    Block,
    clip,
    context,
    esc,
    plural,
    section,
    slack_time,
    waiting_actions,
)
from bot.slack.blocks.receipts import PREVIEW_LIMIT, shown_recipient
from bot.storage.send_posts import SendTally

SUMMARY_FAILURES = 5  # failures a summary lists; the rest are counted
REPLY_FAILURES = 20  # failures the settled reply lists
FAILURE_REASON_LIMIT = 200
REPLY_LIMIT = 3500  # characters of the reply's list: well inside one message
# The order a summary counts in. `sending` (handed over, no answer yet) counts as queued:
# both mean "not accepted yet".
SHOWN_ORDER = (
    MessageStatus.SCHEDULED,
    MessageStatus.QUEUED,
    MessageStatus.ACCEPTED,
    MessageStatus.SENT,
    MessageStatus.DELIVERED,
    MessageStatus.READ,
    MessageStatus.FAILED,
    MessageStatus.CANCELLED,
)


def shown_counts(counts: Mapping[MessageStatus, int]) -> dict[MessageStatus, int]:
    """``counts`` in `SHOWN_ORDER`, ``sending`` counted as ``queued``."""
    folded: dict[MessageStatus, int] = {}
    for status, count in counts.items():
        key = MessageStatus.QUEUED if status is MessageStatus.SENDING else status
        folded[key] = folded.get(key, 0) + count
    return {status: folded[status] for status in SHOWN_ORDER if folded.get(status)}


def _state(tally: SendTally) -> tuple[str, str]:
    """The send as a whole: (emoji, word)."""
    counts = tally.counts
    cancelled = counts.get(MessageStatus.CANCELLED, 0)
    if tally.total and cancelled == tally.total:
        return STATUS_EMOJI[MessageStatus.CANCELLED], "Cancelled"
    if counts.get(MessageStatus.SCHEDULED, 0) + cancelled == tally.total:
        return STATUS_EMOJI[MessageStatus.SCHEDULED], "Scheduled"
    if tally.settled:
        if tally.failed == 0:
            return STATUS_EMOJI[MessageStatus.DELIVERED], "Done"
        if tally.failed + cancelled == tally.total:
            return STATUS_EMOJI[MessageStatus.FAILED], "Failed"
        return ":warning:", "Done"
    return STATUS_EMOJI[MessageStatus.ACCEPTED], "Sending"


def _words(tally: SendTally, *, emoji: bool) -> str:
    return " · ".join(
        f"{STATUS_EMOJI[status] + ' ' if emoji else ''}{count} {status.value}"
        for status, count in shown_counts(tally.counts).items()
    )


def summary_text(tally: SendTally) -> str:
    """The notification fallback: the send's state, ``#ID`` and its current counts."""
    send = tally.send
    _, word = _state(tally)
    text = (
        f"{word.lower()} · #{send.id} · {plural(tally.total, 'message')} via "
        f"{send.connection} · {_words(tally, emoji=False).replace(' · ', ', ')}"
    )
    if tally.due_at is not None:
        text += f" · goes out {local_time(tally.due_at, ZoneInfo('UTC'))}"
    return text


def summary_blocks(tally: SendTally, mask: bool, command: str) -> list[Block]:
    """A send's summary receipt: its state and counts per status, what it says, when it
    goes out (with a **Cancel** button while it waits), the first failures, who sent it."""
    send = tally.send
    emoji, word = _state(tally)
    headline = (
        f"{emoji} *{word}* · {CHANNEL_LABEL[tally.channel]} to "
        f"{plural(tally.total, 'recipient')} via *{esc(send.connection)}*\n"
        f"{_words(tally, emoji=True)}"
    )
    blocks: list[Block] = [section(headline, block_id=ids.RECEIPT_BLOCK)]
    if send.template:
        blocks.append(context(f":page_facing_up: Template `{esc(send.template)}`"))
    else:
        body = esc(clip(send.text or "", PREVIEW_LIMIT))
        if send.subject:
            body = f"*{esc(clip(send.subject, 150))}*\n{body}"
        blocks.append(section("\n".join("> " + line for line in body.splitlines() or [""])))
    if tally.due_at is not None:
        blocks.append(section(f":clock3: Goes out {slack_time(tally.due_at)}"))
    if tally.failed:
        blocks.append(section(_failures(tally, mask, command)))
    who = f"<@{send.sender}>" if send.origin == "slack" else esc(send.sender)
    by = "scheduled" if send.due_at is not None else "sent"
    blocks.append(
        context(
            f"Herald *#{send.id}* · {by} by {who} · `{command} status {send.id}` "
            "shows every message"
        )
    )
    waiting = tally.counts.get(MessageStatus.SCHEDULED, 0)
    if waiting:
        blocks.append(_cancel_actions(send.id, waiting))
    return blocks


def _failures(tally: SendTally, mask: bool, command: str) -> str:
    shown = tally.failures[:SUMMARY_FAILURES]
    head = f":warning: *{tally.failed} failed*" + (
        f", the first {len(shown)}:" if tally.failed > len(shown) else ":"
    )
    lines = [head] + [f"• #{m.id} `{shown_recipient(m, mask)}`: {_reason(m)}" for m in shown]
    if tally.failed > len(shown):
        lines.append(
            f"… and {tally.failed - len(shown)} more: `{command} status {tally.send.id}` "
            "shows them, failures first"
        )
    return clip("\n".join(lines), SECTION_LIMIT)


def _reason(message: Message) -> str:
    return esc(clip(message.error or "the provider gave no reason", FAILURE_REASON_LIMIT))


def _cancel_actions(send_id: str, waiting: int) -> Block:
    """The **Cancel** button of a waiting send's summary: it cancels every message of the
    send still waiting (the button's value is the send's id, which ``cancel`` takes)."""
    return waiting_actions(
        send_id,
        "Cancel this send?",
        f"The {plural(waiting, 'waiting message')} of #{send_id} will not go out.",
        "Cancel them",
        "Keep them",
    )


def settled_reply_text(tally: SendTally, mask: bool, command: str) -> str:
    """The one reply in a summary's thread once the send has settled with failures: each
    failure (the first `REPLY_FAILURES`) with its reason, mentioning the sender."""
    send = tally.send
    who = f"<@{send.sender}> " if send.origin == "slack" else ""
    lines = [
        f"{who}:x: {tally.failed} of {plural(tally.total, 'message')} of send #{send.id} failed:"
    ]
    room = REPLY_LIMIT
    listed = 0
    for message in tally.failures[:REPLY_FAILURES]:
        line = f"• #{message.id} to `{shown_recipient(message, mask)}`: {_reason(message)}"
        if len(line) + 1 > room:
            break
        lines.append(line)
        room -= len(line) + 1
        listed += 1
    if tally.failed > listed:
        lines.append(
            f"… and {tally.failed - listed} more: `{command} status {send.id}` shows "
            "them, failures first."
        )
    lines.append("Once the reasons are dealt with, send to them again.")
    return "\n".join(lines)
