"""Block Kit, built by pure functions: receipts, help, status, scheduling, errors and App
Home.

Times are Slack date tokens (``<!date^…>``), which every reader sees in their own time
zone; the fallback text after ``|`` (notifications, old clients) is the time in the
zone it was read in (the sender's), or UTC where that is not known (a receipt).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from bot.models import Message, MessageStatus, Schedule, Send, StatusEvent
from bot.options import rule_words, until_words
from bot.scheduling.planner import Agenda, AgendaSend, Cancelled, Rescheduled, Scheduled
from bot.scheduling.when import describe_delta, local_time
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


def slack_time(when: datetime, zone: ZoneInfo | None = None) -> str:
    """``when`` as a Slack date token ("Tomorrow at 9:00 AM" in the reader's zone); its
    fallback is the clock time in ``zone`` (default UTC): ``Mon 7 Dec 2026 09:00 CET``."""
    fallback = local_time(when, zone or ZoneInfo("UTC"))
    return f"<!date^{int(when.timestamp())}^{{date_short_pretty}} at {{time}}|{fallback}>"


def _zone(name: str | None) -> ZoneInfo | None:
    return ZoneInfo(name) if name else None


def _away(when: datetime, now: datetime) -> str:
    """``in 2 hours 5 minutes`` / ``3 minutes ago``."""
    return describe_delta(when - now)


def _late(seconds: float) -> str:
    """``12 minutes``: how late, without "in"."""
    return describe_delta(timedelta(seconds=seconds)).removeprefix("in ")


def is_missed(message: Message) -> bool:
    """Failed because it fell due while Herald was down, beyond ``missed_grace``."""
    return message.status is MessageStatus.FAILED and (message.error or "").startswith("missed")


def shown_recipient(message: Message, mask: bool) -> str:
    return mask_recipient(message.recipient) if mask else message.recipient


def _sender(message: Message) -> str:
    return f"<@{message.sender}>" if message.origin == "slack" else _esc(message.sender)


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
    route = f"{bold}{_esc(message.connection)}{bold}"
    if message.failover_from:
        route += f" (failed over from {bold}{_esc(message.failover_from)}{bold})"
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
    blocks += _timing_blocks(message)
    if status is MessageStatus.FAILED and message.error:
        reason = message.error
        if is_missed(message):
            reason = "Missed: " + reason.removeprefix("missed:").strip()
        blocks.append(_section(f":warning: {_esc(_clip(reason, REASON_LIMIT))}"))
    details = [f"Herald *#{message.id}*"]
    if message.provider_message_id:  # none yet, or none ever (refused, Capillary)
        details.append(f"provider id `{_esc(message.provider_message_id)}`")
    by = "scheduled" if message.due_at is not None else "sent"
    details += [
        f"{by} by {_sender(message)}",
        _slack_date(message.updated_at, "updated {time}", "updated %H:%M UTC"),
    ]
    if message.channel is Channel.SMS and message.text:
        details.append(analyze_sms(message.text).summary())
    blocks.append(_context(" · ".join(details)))
    if status is MessageStatus.SCHEDULED:
        blocks.append(_cancel_actions(message, mask))
    return blocks


def _timing_blocks(message: Message) -> list[Block]:
    """When a scheduled message goes out, or that it went out late."""
    due = message.due_at
    if due is None:
        return []
    if message.status is MessageStatus.SCHEDULED:
        return [_section(f":clock3: Goes out {slack_time(due)}")]
    if message.late_by and not is_missed(message):
        return [
            _context(
                f":hourglass: Went out late, {_late(message.late_by)} after its time "
                f"({slack_time(due)}): Herald was not running then."
            )
        ]
    if message.status is MessageStatus.CANCELLED:
        return [_context(f"Cancelled before its time ({slack_time(due)}); it was not sent.")]
    if is_missed(message):
        return []  # the reason says it all
    return [_context(f"Scheduled for {slack_time(due)}")]


def _cancel_actions(message: Message, mask: bool) -> Block:
    """The **Cancel** button of a scheduled message's receipt, with Slack's confirm dialog."""
    to = shown_recipient(message, mask)
    return {
        "type": "actions",
        "block_id": ids.RECEIPT_ACTIONS_BLOCK,
        "elements": [
            {
                "type": "button",
                "action_id": ids.CANCEL_ACTION,
                "text": {"type": "plain_text", "text": "Cancel"},
                "style": "danger",
                "value": message.id,
                "confirm": {
                    "title": {"type": "plain_text", "text": "Cancel this message?"},
                    "text": {
                        "type": "mrkdwn",
                        "text": f"#{message.id} to `{_esc(to)}` will not go out.",
                    },
                    "confirm": {"type": "plain_text", "text": "Cancel it"},
                    "deny": {"type": "plain_text", "text": "Keep it"},
                    "style": "danger",
                },
            }
        ],
    }


def failure_reply_text(message: Message, mask: bool) -> str:
    reason = _esc(_clip(message.error or "the provider gave no reason", REASON_LIMIT))
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


def _packed(
    lines: Sequence[str], noun: str | None = "more message", limit: int = SEND_LINES_LIMIT
) -> list[str]:
    """``lines`` in as few sections as fit, at most ``limit`` characters in all; the lines
    left out are counted on a last line ("… and 3 more messages.")."""
    sections: list[list[str]] = [[]]
    size = 0  # of the last section
    room = limit
    for index, line in enumerate(lines):
        if len(line) + 1 > room:
            left = len(lines) - index
            sections[-1].append(f"… and {_plural(left, noun) if noun else f'{left} more'}.")
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
            "`--subject TEXT` (e-mail), `--media URL` (MMS, WhatsApp, e-mail).",
            "",
            "*Send later, or again and again*",
            f"`{command} {example} +31612345678 Doors open at 10 --at tomorrow 9am` — send later",
            f"`{command} {example} +31612345678 Standup in 5 --every weekdays 08:55 "
            "--until 2026-12-31` — repeat (each time gets its own receipt)",
            "`--at WHEN`: `in 10m`, `in 2h`, `tomorrow 9am`, `monday 09:00`, "
            "`2026-12-01 09:00` (in your Slack time zone) or ISO 8601 with an offset.",
            "`--every RULE`: `daily 09:00`, `weekdays 09:00`, `mon,thu 09:00`, "
            "`monthly 1 09:00` (day of the month) or a cron expression such as "
            '`"0 9 * * 1-5"`; with `--at`, not before then. `--until DATE` ends it.',
            "`--at`, `--every` and `--until` take every word up to the next option: write "
            'the message before them, or quote the time (`--at "tomorrow 9am" Doors open`).',
            "",
            "*Follow up*",
            f"`{command} list` — what you scheduled; `{command} list --all` — everyone's",
            f"`{command} cancel ID` — a scheduled message, every waiting message of a send, "
            "or a repeating send (no further times)",
            f"`{command} reschedule ID WHEN` — move it (a repeating send: its next time)",
            f"`{command} status ID` — status and history of a message (the #… in its "
            "receipt), of every message of a send to several recipients, or of a repeating "
            "send",
            f"`{command} templates` — the templates and their variables; "
            f"`{command} templates NAME` previews one",
            f"`{command} help` — this help",
            "",
            f"*Connections*: {names}",
            "Phone numbers need the country code (+31…). Receipts appear in this channel and "
            "update as the message moves: scheduled → accepted → sent → delivered.",
        ]
    )


# -- scheduling -------------------------------------------------------------------

AGENDA_LINES_LIMIT = 5000  # characters per group (waiting sends, repeating sends)
WHAT_LIMIT = 60


def _what(template: str | None, text: str | None) -> str:
    """What a send says, in a few words: its template, or its text clipped to one line."""
    if template:
        return f"`{_esc(template)}`"
    flat = " ".join((text or "").split())
    return f"“{_esc(_clip(flat, WHAT_LIMIT))}”"


def _to(recipients: Sequence[str], mask: bool) -> str:
    if len(recipients) == 1:
        return f"`{mask_recipient(recipients[0]) if mask else recipients[0]}`"
    return f"{len(recipients)} recipients"


def _by(sender: str, origin: str) -> str:
    return f"<@{sender}>" if origin == "slack" else _esc(sender)


def scheduled_text(
    scheduled: Scheduled, command: str, *, now: datetime, zone_note: str | None = None
) -> str:
    """The private answer to a scheduled send: its ``#ID``, when (in the sender's zone, and
    how far away), the rule for a repeating one, and what to do next."""
    zone = scheduled.zone
    sid = scheduled.id
    when = f"{slack_time(scheduled.due_at, zone)} ({_away(scheduled.due_at, now)})"
    schedule = scheduled.schedule
    if schedule is not None:
        until = f", {until_words(schedule.until, zone)}" if schedule.until else ""
        lines = [
            f":repeat: Repeating send *#{sid}*: {_esc(rule_words(schedule.rule))} "
            f"({zone.key}){until}. First time: {when}.",
            "Each time, every recipient gets a message and a receipt of its own here.",
            f"`{command} status {sid}` shows it · `{command} cancel {sid}` stops it · "
            f"`{command} reschedule {sid} WHEN` moves its next time",
        ]
    elif len(scheduled.messages) == 1:
        lines = [
            f":clock3: Scheduled *#{sid}* for {when}. Its receipt is here and updates when "
            "it goes out.",
            f"`{command} cancel {sid}` cancels it · `{command} reschedule {sid} WHEN` moves it",
        ]
    else:
        lines = [
            f":clock3: Scheduled {len(scheduled.messages)} messages as send *#{sid}* for "
            f"{when}, each with its receipt here.",
            f"`{command} cancel {sid}` cancels them all · `{command} reschedule {sid} WHEN` "
            f"moves them · `{command} status {sid}` shows them",
        ]
    if zone_note:
        lines.append(f"_{_esc(zone_note)}_")
    return "\n".join(lines)


def agenda_view(
    agenda: Agenda, command: str, *, everyone: bool, mask: bool, now: datetime
) -> tuple[str, list[Block]]:
    """``list [--all]``: the waiting sends and the repeating ones, soonest first, within
    Slack's limits (the rest counted: "… and 12 more")."""
    whose = "everyone's" if everyone else "yours"
    count = len(agenda.sends) + len(agenda.schedules)
    if count == 0:
        if not everyone and agenda.others:
            text = (
                f"You have nothing scheduled. {_plural(agenda.others, 'scheduled send')} "
                f"of other people: `{command} list --all` shows them."
            )
        else:
            text = "Nothing is scheduled." if everyone else "You have nothing scheduled."
        return text, [_section(text)]
    blocks: list[Block] = [_section(f"*Scheduled — {whose}*")]
    if agenda.sends:
        lines = [_agenda_send_line(a, mask, now, everyone) for a in agenda.sends]
        blocks.append(_section("*Waiting to go out*"))
        blocks += [_section(t) for t in _packed(lines, None, AGENDA_LINES_LIMIT)]
    if agenda.schedules:
        lines = [_agenda_schedule_line(s, mask, now, everyone) for s in agenda.schedules]
        blocks.append(_section("*Repeating*"))
        blocks += [_section(t) for t in _packed(lines, None, AGENDA_LINES_LIMIT)]
    notes = [
        f"`{command} cancel ID` cancels one · `{command} reschedule ID WHEN` moves it · "
        f"`{command} status ID` shows it"
    ]
    if not everyone and agenda.others:
        notes.append(f"{agenda.others} more by other people: `{command} list --all` shows them")
    blocks.append(_context(*notes))
    text = f"{_plural(count, 'scheduled send')} ({whose})"
    return text, blocks


def _agenda_send_line(waiting: AgendaSend, mask: bool, now: datetime, everyone: bool) -> str:
    send, messages = waiting.send, waiting.messages
    shown_id = messages[0].id if len(messages) == 1 else send.id  # as `Scheduled.id` says it
    due = waiting.due_at
    line = (
        f"{STATUS_EMOJI[MessageStatus.SCHEDULED]} *#{shown_id}* "
        f"{slack_time(due, _zone(send.timezone))} ({_away(due, now)}) · "
        f"to {_to([m.recipient for m in messages], mask)} via {_esc(send.connection)} · "
        f"{_what(send.template, send.text)}"
    )
    if everyone:
        line += f" · by {_by(send.sender, send.origin)}"
    return line


def _agenda_schedule_line(schedule: Schedule, mask: bool, now: datetime, everyone: bool) -> str:
    zone = _zone(schedule.timezone)
    line = f":repeat: *#{schedule.id}* {_esc(rule_words(schedule.rule))}"
    if schedule.next_due is not None:
        line += f" · next {slack_time(schedule.next_due, zone)} ({_away(schedule.next_due, now)})"
    line += (
        f" · to {_to(schedule.recipients, mask)} via {_esc(schedule.connection)} · "
        f"{_what(schedule.template, schedule.text)}"
    )
    if schedule.until is not None:
        line += f" · {until_words(schedule.until, zone or ZoneInfo('UTC'))}"
    if everyone:
        line += f" · by {_by(schedule.sender, schedule.origin)}"
    return line


def cancelled_text(cancelled: Cancelled) -> str:
    """What ``cancel ID`` did, in plain words."""
    key = cancelled.target
    if cancelled.schedule is not None:
        rule = rule_words(cancelled.schedule.rule)
        return (
            f":no_entry_sign: Repeating send *#{key}* ({_esc(rule)}) is cancelled: nothing "
            "more goes out. What went out before stays as it is."
        )
    done = len(cancelled.messages)
    gone = cancelled.already_gone
    if done == 0:
        return f"Nothing of #{key} could be cancelled: it went out meanwhile."
    if done == 1 and gone == 0 and cancelled.messages[0].id == key:
        return f":no_entry_sign: Cancelled *#{key}*: it will not go out. Its receipt says so."
    they = "it" if done == 1 else "they"
    text = (
        f":no_entry_sign: Cancelled {_plural(done, 'message')} of *#{key}*: {they} will not go out."
    )
    if gone:
        were = "it was" if gone == 1 else "they were"
        text += f" {_plural(gone, 'other message')} had gone out or ended already; {were} left."
    return text


def rescheduled_text(
    moved: Rescheduled,
    target: str,
    command: str,
    *,
    now: datetime,
    zone_note: str | None = None,
) -> str:
    """What ``reschedule ID WHEN`` did, in plain words."""
    when = f"{slack_time(moved.due_at, moved.zone)} ({_away(moved.due_at, now)})"
    if moved.schedule is not None:
        rule = rule_words(moved.schedule.rule)
        text = (
            f":repeat: The next time of repeating send *#{target}* is now {when}; after it, "
            f"{_esc(rule)} as before."
        )
    elif len(moved.messages) == 1:
        text = (
            f":clock3: *#{target}* now goes out {when}; its receipt shows the new time. "
            f"`{command} cancel {target}` cancels it."
        )
    else:
        text = (
            f":clock3: The {len(moved.messages)} waiting messages of *#{target}* now go out {when}."
        )
    return f"{text}\n_{_esc(zone_note)}_" if zone_note else text


def schedule_status_text(schedule: Schedule) -> str:
    return (
        f"#{schedule.id} · repeating send {schedule.state.value} · {rule_words(schedule.rule)} "
        f"({schedule.timezone}) via {schedule.connection}"
    )


def schedule_status_blocks(
    schedule: Schedule,
    occurrences: Sequence[tuple[Send, Mapping[MessageStatus, int]]],
    command: str,
    *,
    mask: bool,
    now: datetime,
) -> list[Block]:
    """``status ID`` of a repeating send: its rule in words, zone, next time, end, state,
    and its latest occurrences (each a send with its own ``#ID``) with their counts."""
    zone = ZoneInfo(schedule.timezone)
    state = {
        "active": "active",
        "cancelled": "cancelled: nothing more goes out",
        "ended": "ended: its last time has passed",
    }[schedule.state.value]
    if schedule.next_due is not None:
        upcoming = f"{slack_time(schedule.next_due, zone)} ({_away(schedule.next_due, now)})"
    else:
        upcoming = "none"
    until = until_words(schedule.until, zone) if schedule.until else "no end date"
    recipients = [mask_recipient(r) if mask else r for r in schedule.recipients]
    shown = ", ".join(f"`{r}`" for r in recipients[:5])
    if len(recipients) > 5:
        shown += f" and {len(recipients) - 5} more"
    blocks: list[Block] = [
        _section(
            f":repeat: *Repeating send #{schedule.id}* · {_esc(rule_words(schedule.rule))} "
            f"({schedule.timezone})\n"
            f"*State:* {state}\n*Next:* {upcoming}\n*Ends:* {until}\n"
            f"*To:* {shown} via *{_esc(schedule.connection)}*\n"
            f"*What:* {_what(schedule.template, schedule.text)}"
        ),
        _context(
            f"by {_by(schedule.sender, schedule.origin)}",
            f"{_plural(schedule.occurrences, 'time')} so far",
            _slack_date(schedule.created_at, "since {date_short}", "since %Y-%m-%d"),
        ),
    ]
    if occurrences:
        lines = [
            f"*#{send.id}* {slack_time(send.due_at or send.created_at, zone)} · "
            f"{_counts(counts, emoji=True) or 'no messages'}"
            for send, counts in occurrences
        ]
        blocks.append(_section("*Latest times*\n" + "\n".join(lines)))
        blocks.append(_context(f"`{command} status ID` of one of them shows its messages."))
    return blocks


def action_error_text(problem: str) -> str:
    """The private answer to a button that could not do what it says."""
    return f":warning: {_esc(problem)}"


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
