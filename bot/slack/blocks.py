"""Block Kit, built by pure functions: receipts, help, status, errors and App Home."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from datetime import datetime
from typing import Any

from bot.models import Message, MessageStatus, Send, StatusEvent
from bot.sending.recipients import mask_recipient
from bot.slack import ids
from bot.templating.library import Rendered, TemplateInfo
from bot.templating.sms import analyze_sms
from providers import Channel, ConnectionConfig

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
PREVIEW_LIMIT = 280
SECTION_LIMIT = 3000  # Slack refuses a section whose text is longer
REASON_LIMIT = 600
# A send's message lines: Slack takes 50 blocks per message and refuses a long one as a
# whole (msg_blocks_too_long, reported near 13,000 characters), so the lines stay well
# under both; the rest are counted, not shown.
SEND_LINES_LIMIT = 9000


def _esc(text: str) -> str:
    """Escape the three characters Slack's mrkdwn treats as control characters."""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def _clip(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _section(text: str, **extra: Any) -> Block:
    return {"type": "section", "text": {"type": "mrkdwn", "text": text}, **extra}


def _context(*texts: str) -> Block:
    return {"type": "context", "elements": [{"type": "mrkdwn", "text": t} for t in texts]}


def _slack_date(when: datetime, slack_format: str, fallback: str) -> str:
    """A time every reader sees in their own time zone (Slack's ``<!date>`` token)."""
    return f"<!date^{int(when.timestamp())}^{slack_format}|{when:{fallback}}>"


def shown_recipient(message: Message, mask: bool) -> str:
    return mask_recipient(message.recipient) if mask else message.recipient


def _sender(message: Message) -> str:
    return f"<@{message.sender}>" if message.origin == "slack" else _esc(message.sender)


def receipt_text(message: Message, mask: bool) -> str:
    """The notification fallback: always the current status word and ``#ID``."""
    channel = CHANNEL_LABEL[message.channel]
    return (
        f"{message.status.value} · #{message.id} · {channel} to "
        f"{shown_recipient(message, mask)} via {_route(message)}"
    )


def _route(message: Message, bold: str = "") -> str:
    """``sms``, or ``sms (failed over from wa)``."""
    route = f"{bold}{_esc(message.connection)}{bold}"
    if message.failover_from:
        route += f" (failed over from {bold}{_esc(message.failover_from)}{bold})"
    return route


def receipt_blocks(message: Message, mask: bool) -> list[Block]:
    status = message.status
    headline = (
        f"{STATUS_EMOJI[status]} *{status.value.capitalize()}* · "
        f"{CHANNEL_LABEL[message.channel]} to `{shown_recipient(message, mask)}` "
        f"via {_route(message, '*')}"
    )
    blocks: list[Block] = [_section(headline, block_id=ids.RECEIPT_BLOCK)]
    if message.confidential:
        blocks.append(
            _context(f":lock: Text not shown: `{_esc(message.template or '')}` is confidential.")
        )
    else:
        body = _esc(_clip(message.text, PREVIEW_LIMIT))
        if message.subject:
            body = f"*{_esc(_clip(message.subject, 150))}*\n{body}"
        blocks.append(_section("\n".join("> " + line for line in body.splitlines() or [""])))
    if status is MessageStatus.FAILED and message.error:
        blocks.append(_section(f":warning: {_esc(_clip(message.error, REASON_LIMIT))}"))
    details = [f"Herald *#{message.id}*"]
    if message.provider_message_id:  # none yet, or none ever (refused, Capillary)
        details.append(f"provider id `{_esc(message.provider_message_id)}`")
    details += [
        f"sent by {_sender(message)}",
        _slack_date(message.updated_at, "updated {time}", "updated %H:%M UTC"),
    ]
    if message.channel is Channel.SMS:
        details.append(analyze_sms(message.text).summary())
    blocks.append(_context(" · ".join(details)))
    return blocks


def failure_reply_text(message: Message, mask: bool) -> str:
    reason = _esc(_clip(message.error or "the provider gave no reason", REASON_LIMIT))
    who = f"<@{message.sender}> " if message.origin == "slack" else ""
    return (
        f"{who}:x: #{message.id} to {shown_recipient(message, mask)} failed: {reason}\n"
        "Once the reason is dealt with, send it again."
    )


def status_blocks(message: Message, history: Sequence[StatusEvent], mask: bool) -> list[Block]:
    blocks = receipt_blocks(message, mask)
    lines = []
    for event in history:
        when = _slack_date(event.at, "{date_short} {time_secs}", "%Y-%m-%d %H:%M:%S UTC")
        reason = f" — {_esc(_clip(event.reason, 200))}" if event.reason else ""
        lines.append(f"{when} · *{event.status.value}* ({_esc(event.source)}){reason}")
    shown: list[str] = []
    room = SECTION_LIMIT - len("*History*\n…\n")
    for line in reversed(lines):  # the newest fit; older ones give way
        if len(line) + 1 > room:
            shown.insert(0, "…")
            break
        shown.insert(0, line)
        room -= len(line) + 1
    blocks.append(_section("*History*\n" + "\n".join(shown)))
    return blocks


def send_status_text(send: Send, counts: Mapping[MessageStatus, int]) -> str:
    """The fallback of a send's status: its ``#ID`` and counts per status."""
    total = sum(counts.values())
    return f"#{send.id} · {_plural(total, 'message')} via {send.connection} · {_counts(counts)}"


def send_status_blocks(
    send: Send, messages: Sequence[Message], counts: Mapping[MessageStatus, int], mask: bool
) -> list[Block]:
    """A send's status: its counts per status, then each message (failures first, with
    their reasons, so they stay in view when not every message fits)."""
    who = f"<@{send.sender}>" if send.origin == "slack" else _esc(send.sender)
    what = f"`{_esc(send.template)}`" if send.template else "a text"
    blocks: list[Block] = [
        _section(
            f"*Send #{send.id}* · {_plural(len(messages), 'message')} via "
            f"*{_esc(send.connection)}*\n{_counts(counts, emoji=True)}"
        ),
        _context(
            f"{what} sent by {who}",
            _slack_date(send.created_at, "{date_short} {time}", "%Y-%m-%d %H:%M UTC"),
        ),
    ]
    failed = [m for m in messages if m.status is MessageStatus.FAILED]
    ordered = failed + [m for m in messages if m.status is not MessageStatus.FAILED]
    blocks += [_section(text) for text in _packed([_send_line(m, mask) for m in ordered])]
    blocks.append(_context("The status of one message's #ID shows its history."))
    return blocks


def _packed(lines: Sequence[str]) -> list[str]:
    """``lines`` in as few sections as fit, at most `SEND_LINES_LIMIT` characters in all;
    the lines left out are counted on a last line."""
    sections: list[list[str]] = [[]]
    size = 0  # of the last section
    room = SEND_LINES_LIMIT
    for index, line in enumerate(lines):
        if len(line) + 1 > room:
            sections[-1].append(f"… and {_plural(len(lines) - index, 'more message')}.")
            break
        if size + len(line) + 1 > SECTION_LIMIT - 100:  # room for the "… and N more"
            sections.append([])
            size = 0
        sections[-1].append(line)
        size += len(line) + 1
        room -= len(line) + 1
    return ["\n".join(section) for section in sections if section]


def _send_line(message: Message, mask: bool) -> str:
    line = (
        f"{STATUS_EMOJI[message.status]} *#{message.id}* {message.status.value} · "
        f"`{shown_recipient(message, mask)}`"
    )
    if message.status is MessageStatus.FAILED and message.error:
        line += f" — {_esc(_clip(message.error, 200))}"
    return line


def _counts(counts: Mapping[MessageStatus, int], *, emoji: bool = False) -> str:
    return ", ".join(
        f"{STATUS_EMOJI[status] + ' ' if emoji else ''}{count} {status.value}"
        for status, count in counts.items()
    )


def _plural(count: int, noun: str) -> str:
    return f"{count} {noun}{'' if count == 1 else 's'}"


def help_text(command: str, connections: Mapping[str, ConnectionConfig]) -> str:
    names = ", ".join(
        f"`{name}` ({CHANNEL_LABEL[config.channel]})" for name, config in connections.items()
    )
    example = next(iter(connections), "sandbox")
    return "\n".join(
        [
            "*Send a message*",
            f"`{command} {example} +31612345678 Running 10 min late` — send now",
            f"`{command} {example} +31612345678,+4915112345678 Hello` — several recipients",
            f"`{command} {example} +31612345678 --template order_delayed --var order=A-1042 …` "
            "— send a template",
            "Options after the recipient: `--template NAME` with `--var KEY=VALUE` (repeat), "
            "`--subject TEXT` (e-mail), `--media URL` (MMS, WhatsApp, e-mail). "
            "Coming soon: `--at WHEN`.",
            "",
            "*Follow up*",
            f"`{command} status ID` — status and history of a message (the #… in its receipt), "
            "or of every message of a send to several recipients",
            f"`{command} templates` — the templates and their variables; "
            f"`{command} templates NAME` previews one",
            f"`{command} help` — this help",
            "",
            f"*Connections*: {names}",
            "Phone numbers need the country code (+31…). Receipts appear in this channel and "
            "update as the message moves: accepted → sent → delivered.",
        ]
    )


def sending_text(count: int, send_id: str, command: str) -> str:
    """The private answer to a send to several recipients: where to follow them all."""
    return (
        f":outbox_tray: Sending {count} messages as send #{send_id}: each gets its receipt "
        f"here. `{command} status {send_id}` shows them all."
    )


def templates_text(templates: Sequence[TemplateInfo], command: str) -> str:
    if not templates:
        return "There are no templates yet. Add `NAME.j2` files to the templates directory."
    usage = f"{command} CONNECTION RECIPIENT --template NAME --var KEY=VALUE …"
    lines = [f"*Templates* — send one with `{usage}`"]
    for info in templates:
        channels = ", ".join(sorted(c.value for c in info.channels))
        needs = " ".join(f"`{v}`" for v in info.variable_order if v in info.variables)
        about = f" — {_esc(info.description)}" if info.description else ""
        lines.append(f"• `{info.name}`{about}\n      {channels} · needs {needs or 'nothing'}")
    lines.append(f"`{command} templates NAME` shows a preview with sample values.")
    return "\n".join(lines)


def template_preview_text(info: TemplateInfo, rendered: Rendered, command: str) -> str:
    example = " ".join(f"--var {k}={_quote(v)}" for k, v in info.samples.items())
    lines = [f"*{info.name}*" + (f" — {_esc(info.description)}" if info.description else "")]
    if rendered.subject:
        lines.append(f"Subject: *{_esc(rendered.subject)}*")
    lines += ["> " + _esc(line) for line in rendered.text.splitlines() or [""]]
    lines.append(f"SMS: {rendered.sms.summary()}")
    lines.append(f"`{command} CONNECTION RECIPIENT --template {info.name} {example}`".rstrip())
    return "\n".join(lines)


def _quote(value: str) -> str:
    return f'"{value}"' if any(c.isspace() for c in value) or not value else value


def error_text(problem: str, command: str, *, was_send: bool) -> str:
    """The ephemeral answer to a command that could not be done; ``problem`` is plain text
    (a typed value such as ``<!here>`` or ``+<country>`` is shown, never read as markup)."""
    nothing = "Nothing was sent. " if was_send else ""
    return f":warning: {_esc(problem)}\n{nothing}`{command} help` shows the commands."


def home_view(messages: Iterable[Message], command: str, mask: bool) -> dict[str, Any]:
    blocks: list[Block] = [
        {"type": "header", "text": {"type": "plain_text", "text": "Herald"}},
        _section(
            "Send SMS, WhatsApp, e-mail, Zalo and MMS to customers from any channel with "
            f"`{command}`. Receipts appear where you send from and update as the message moves."
        ),
        _context(f"`{command} help` lists the commands."),
        {"type": "divider"},
        _section("*Your recent messages*", block_id=ids.HOME_RECENT_BLOCK),
    ]
    rows = [
        f"{STATUS_EMOJI[m.status]} *#{m.id}* {m.status.value} · "
        f"{CHANNEL_LABEL[m.channel]} to `{shown_recipient(m, mask)}` via {_esc(m.connection)}"
        for m in messages
    ]
    blocks.append(_section("\n".join(rows) if rows else "_Nothing sent yet._"))
    return {"type": "home", "blocks": blocks}
