"""What every Block Kit view is built of: mrkdwn escaping and clipping, sections and
context blocks, Slack date tokens, status emoji and channel labels, counts and plurals, lines
packed into sections, and the size limits Slack sets.

Times are Slack date tokens (``<!date^…>``), which every reader sees in their own time
zone; the fallback text after ``|`` (notifications, old clients) is the time in the
zone it was read in (the sender's), or UTC where that is not known (a receipt).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from bot.models import MessageStatus
from bot.scheduling.when import local_time
from bot.sending.recipients import mask_recipient
from bot.slack import ids
from providers import Channel

Block = dict[str, Any]

STATUS_EMOJI = {
    MessageStatus.QUEUED: ":hourglass_flowing_sand:",
    MessageStatus.SCHEDULED: ":clock3:",
    MessageStatus.SENDING: ":hourglass_flowing_sand:",
    MessageStatus.ACCEPTED: ":outbox_tray:",
    MessageStatus.SENT: ":incoming_envelope:",
    MessageStatus.DELIVERED: ":white_check_mark:",
    MessageStatus.READ: ":eyes:",
    MessageStatus.FAILED: ":x:",
    MessageStatus.CANCELLED: ":no_entry_sign:",
}
CHANNEL_LABEL = {
    Channel.SMS: "SMS",
    Channel.MMS: "MMS",
    Channel.WHATSAPP: "WhatsApp",
    Channel.EMAIL: "E-mail",
    Channel.ZALO: "Zalo",
}
SECTION_LIMIT = 3000  # Slack refuses a section whose text is longer
# A send's message lines: Slack takes 50 blocks per message and refuses a long one as a
# whole (msg_blocks_too_long, reported near 13,000 characters), so the lines stay well
# under both; the rest are counted, not shown.
SEND_LINES_LIMIT = 9000


def esc(text: str) -> str:
    """Escape the three characters Slack's mrkdwn treats as control characters."""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def clip(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def section(text: str, **extra: Any) -> Block:
    return {"type": "section", "text": {"type": "mrkdwn", "text": text}, **extra}


def context(*texts: str) -> Block:
    return {"type": "context", "elements": [{"type": "mrkdwn", "text": t} for t in texts]}


def slack_date(when: datetime, slack_format: str, fallback: str) -> str:
    """A time every reader sees in their own time zone (Slack's ``<!date>`` token)."""
    return f"<!date^{int(when.timestamp())}^{slack_format}|{when:{fallback}}>"


def slack_time(when: datetime, zone: ZoneInfo | None = None) -> str:
    """``when`` as a Slack date token ("Tomorrow at 9:00 AM" in the reader's zone); its
    fallback is the clock time in ``zone`` (default UTC): ``Mon 7 Dec 2026 09:00 CET``."""
    fallback = local_time(when, zone or ZoneInfo("UTC"))
    return f"<!date^{int(when.timestamp())}^{{date_short_pretty}} at {{time}}|{fallback}>"


def packed(
    lines: Sequence[str],
    noun: str | None = "more message",
    limit: int = SEND_LINES_LIMIT,
    *,
    total: int | None = None,
) -> list[str]:
    """``lines`` in as few sections as fit, at most ``limit`` characters in all; the lines
    left out are counted on a last line ("… and 3 more messages."). ``total`` is how many
    lines there are when ``lines`` holds only the first of them."""
    everything = len(lines) if total is None else max(total, len(lines))
    sections: list[list[str]] = [[]]
    size = 0  # of the last section
    room = limit
    for index, line in enumerate(lines):
        if len(line) + 1 > room:
            left = everything - index
            sections[-1].append(f"… and {plural(left, noun) if noun else f'{left} more'}.")
            break
        if size + len(line) + 1 > SECTION_LIMIT - 100:  # room for the "… and N more"
            sections.append([])
            size = 0
        sections[-1].append(line)
        size += len(line) + 1
        room -= len(line) + 1
    else:  # every line given fits: count the ones not given
        if everything > len(lines):
            left = everything - len(lines)
            sections[-1].append(f"… and {plural(left, noun) if noun else f'{left} more'}.")
    return ["\n".join(section) for section in sections if section]


def tally(counts: Mapping[MessageStatus, int], *, emoji: bool = False) -> str:
    return ", ".join(
        f"{STATUS_EMOJI[status] + ' ' if emoji else ''}{count} {status.value}"
        for status, count in counts.items()
    )


def plural(count: int, noun: str) -> str:
    return f"{count} {noun}{'' if count == 1 else 's'}"


def waiting_actions(value: str, title: str, text: str, yes: str, no: str) -> Block:
    """A waiting receipt's **Edit** button (the compose form, prefilled) and its
    **Cancel** button behind Slack's confirm dialog; their value is what ``cancel``
    takes."""
    return {
        "type": "actions",
        "block_id": ids.RECEIPT_ACTIONS_BLOCK,
        "elements": [
            {
                "type": "button",
                "action_id": ids.EDIT_ACTION,
                "text": {"type": "plain_text", "text": "Edit"},
                "value": value,
            },
            {
                "type": "button",
                "action_id": ids.CANCEL_ACTION,
                "text": {"type": "plain_text", "text": "Cancel"},
                "style": "danger",
                "value": value,
                "confirm": {
                    "title": {"type": "plain_text", "text": title},
                    "text": {"type": "mrkdwn", "text": text},
                    "confirm": {"type": "plain_text", "text": yes},
                    "deny": {"type": "plain_text", "text": no},
                    "style": "danger",
                },
            },
        ],
    }


WHAT_LIMIT = 60  # characters of a text that say what a send is


def zone_named(name: str | None) -> ZoneInfo | None:
    """The zone a send or schedule was read in (None: none recorded)."""
    return ZoneInfo(name) if name else None


def what_text(template: str | None, text: str | None, *, labelled: bool = False) -> str:
    """What a send says, in a few words: its template, or its text clipped to one line
    (``labelled``: "Template …" / "Message …")."""
    if template:
        return f"{'Template ' if labelled else ''}`{esc(template)}`"
    flat = " ".join((text or "").split())
    return f"{'Message ' if labelled else ''}“{esc(clip(flat, WHAT_LIMIT))}”"


def recipients_text(recipients: Sequence[str], mask: bool) -> str:
    """One recipient (masked when ``mask``) or list (``@customers``), else how many."""
    if len(recipients) == 1:
        return f"`{esc(mask_recipient(recipients[0]) if mask else recipients[0])}`"
    return plural(len(recipients), "recipient")
