"""A message's receipt (its status, text, timing, who sent it, and a **Cancel** button
while it waits), the reply when it fails or is missed, and its status with history."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import timedelta
from zoneinfo import ZoneInfo

from bot.models import Message, MessageStatus, StatusEvent
from bot.scheduling.when import describe_delta, local_time
from bot.sending.recipients import mask_recipient
from bot.slack import ids
from bot.slack.blocks.mrkdwn import (
    CHANNEL_LABEL,
    SECTION_LIMIT,
    STATUS_EMOJI,
    Block,
    clip,
    context,
    esc,
    section,
    slack_date,
    slack_time,
    waiting_actions,
)
from bot.templating.sms import analyze_sms
from providers import Channel

PREVIEW_LIMIT = 280
REASON_LIMIT = 600


def _late(seconds: float) -> str:
    """``12 minutes``: how late, without "in"."""
    return describe_delta(timedelta(seconds=seconds)).removeprefix("in ")


def is_missed(message: Message) -> bool:
    """Failed because it fell due while Herald was down, beyond ``missed_grace``."""
    return message.status is MessageStatus.FAILED and (message.error or "").startswith("missed")


def shown_recipient(message: Message, mask: bool) -> str:
    return mask_recipient(message.recipient) if mask else message.recipient


def _sender(message: Message) -> str:
    return f"<@{message.sender}>" if message.origin == "slack" else esc(message.sender)


def receipt_text(message: Message, mask: bool) -> str:
    """The notification fallback: always the current status word and ``#ID``."""
    channel = CHANNEL_LABEL[message.channel]
    text = (
        f"{message.status.value} · #{message.id} · {channel} to "
        f"{shown_recipient(message, mask)} via {_route(message)}"
    )
    if message.status is MessageStatus.SCHEDULED and message.due_at is not None:
        text += f" · goes out {local_time(message.due_at, ZoneInfo('UTC'))}"
    elif is_missed(message):
        text += " · missed: not sent"
    return text


def _route(message: Message, bold: str = "") -> str:
    """``sms``, or ``sms (failed over from wa)``."""
    route = f"{bold}{esc(message.connection)}{bold}"
    if message.failover_from:
        route += f" (failed over from {bold}{esc(message.failover_from)}{bold})"
    return route


def receipt_blocks(message: Message, mask: bool) -> list[Block]:
    """A message's receipt: its status, the text, when it goes (went) out, who sent it.

    A scheduled message's receipt has a **Cancel** button; one that went out late (Herald
    was down at its time) says so and by how much; one missed beyond ``missed_grace``
    reads as missed, not merely failed.
    """
    status = message.status
    word = "Missed" if is_missed(message) else status.value.capitalize()
    emoji = ":alarm_clock:" if is_missed(message) else STATUS_EMOJI[status]
    headline = (
        f"{emoji} *{word}* · "
        f"{CHANNEL_LABEL[message.channel]} to `{shown_recipient(message, mask)}` "
        f"via {_route(message, '*')}"
    )
    blocks: list[Block] = [section(headline, block_id=ids.RECEIPT_BLOCK)]
    if message.confidential:
        blocks.append(
            context(f":lock: Text not shown: `{esc(message.template or '')}` is confidential.")
        )
    else:
        body = esc(clip(message.text, PREVIEW_LIMIT))
        if message.subject:
            body = f"*{esc(clip(message.subject, 150))}*\n{body}"
        blocks.append(section("\n".join("> " + line for line in body.splitlines() or [""])))
    blocks += _timing_blocks(message)
    if status is MessageStatus.FAILED and message.error:
        reason = message.error
        if is_missed(message):
            reason = "Missed: " + reason.removeprefix("missed:").strip()
        blocks.append(section(f":warning: {esc(clip(reason, REASON_LIMIT))}"))
    details = [f"Herald *#{message.id}*"]
    if message.provider_message_id:  # none yet, or none ever (refused, Capillary)
        details.append(f"provider id `{esc(message.provider_message_id)}`")
    by = "scheduled" if message.due_at is not None else "sent"
    details += [
        f"{by} by {_sender(message)}",
        slack_date(message.updated_at, "updated {time}", "updated %H:%M UTC"),
    ]
    if message.channel is Channel.SMS and message.text:
        details.append(analyze_sms(message.text).summary())
    blocks.append(context(" · ".join(details)))
    if status is MessageStatus.SCHEDULED:
        blocks.append(_cancel_actions(message, mask))
    return blocks


def _timing_blocks(message: Message) -> list[Block]:
    """When a scheduled message goes out, or that it went out late."""
    due = message.due_at
    if due is None:
        return []
    if message.status is MessageStatus.SCHEDULED:
        return [section(f":clock3: Goes out {slack_time(due)}")]
    if message.late_by and not is_missed(message):
        return [
            context(
                f":hourglass: Went out late, {_late(message.late_by)} after its time "
                f"({slack_time(due)}): Herald was not running then."
            )
        ]
    if message.status is MessageStatus.CANCELLED:
        why = f"{message.error[:1].upper()}{message.error[1:]}" if message.error else "Cancelled"
        return [context(f"{esc(why)} before its time ({slack_time(due)}); it was not sent.")]
    if is_missed(message):
        return []  # the reason says it all
    return [context(f"Scheduled for {slack_time(due)}")]


def _cancel_actions(message: Message, mask: bool) -> Block:
    """The **Cancel** button of a scheduled message's receipt, with Slack's confirm dialog."""
    to = shown_recipient(message, mask)
    return waiting_actions(
        message.id,
        "Cancel this message?",
        f"#{message.id} to `{esc(to)}` will not go out.",
        "Cancel it",
        "Keep it",
    )


def failure_reply_text(message: Message, mask: bool) -> str:
    reason = esc(clip(message.error or "the provider gave no reason", REASON_LIMIT))
    who = f"<@{message.sender}> " if message.origin == "slack" else ""
    if is_missed(message):
        reason = reason.removeprefix("missed:").strip()
        return (
            f"{who}:alarm_clock: #{message.id} to {shown_recipient(message, mask)} was "
            f"missed: {reason}"
        )
    return (
        f"{who}:x: #{message.id} to {shown_recipient(message, mask)} failed: {reason}\n"
        "Once the reason is dealt with, send it again."
    )


def status_blocks(message: Message, history: Sequence[StatusEvent], mask: bool) -> list[Block]:
    blocks = receipt_blocks(message, mask)
    lines = []
    for event in history:
        when = slack_date(event.at, "{date_short} {time_secs}", "%Y-%m-%d %H:%M:%S UTC")
        reason = f" — {esc(clip(event.reason, 200))}" if event.reason else ""
        lines.append(f"{when} · *{event.status.value}* ({esc(event.source)}){reason}")
    shown: list[str] = []
    room = SECTION_LIMIT - len("*History*\n…\n")
    for line in reversed(lines):  # the newest fit; older ones give way
        if len(line) + 1 > room:
            shown.insert(0, "…")
            break
        shown.insert(0, line)
        room -= len(line) + 1
    blocks.append(section("*History*\n" + "\n".join(shown)))
    return blocks
