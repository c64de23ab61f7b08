"""Scheduled and repeating sends: the answer to one, ``list [--all]`` (the agenda),
``cancel``, ``reschedule``, and the status of a repeating send with its latest times."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from zoneinfo import ZoneInfo

from bot.config.settings import DEFAULT_INDIVIDUAL_UP_TO
from bot.models import MessageStatus, Schedule, Send
from bot.options import rule_words, until_words
from bot.scheduling.plans import Agenda, AgendaSend, Cancelled, Rescheduled, Scheduled
from bot.scheduling.when import describe_delta
from bot.sending.recipients import mask_recipient
from bot.slack.blocks.mrkdwn import (
    STATUS_EMOJI,
    Block,
    context,
    esc,
    packed,
    plural,
    recipients_text,
    section,
    slack_date,
    slack_time,
    tally,
    what_text,
    zone_named,
)

AGENDA_LINES_LIMIT = 5000  # characters per group (waiting sends, repeating sends)


def _away(when: datetime, now: datetime) -> str:
    """``in 2 hours 5 minutes`` / ``3 minutes ago``."""
    return describe_delta(when - now)


def _by(sender: str, origin: str) -> str:
    return f"<@{sender}>" if origin == "slack" else esc(sender)


def scheduled_text(
    scheduled: Scheduled,
    command: str,
    *,
    now: datetime,
    zone_note: str | None = None,
    individual_up_to: int = DEFAULT_INDIVIDUAL_UP_TO,
) -> str:
    """The private answer to a scheduled send: its ``#ID``, when (in the sender's zone, and
    how far away), the rule for a repeating one, and what to do next. A send to more than
    ``individual_up_to`` recipients gets one summary receipt, not one per message."""
    zone = scheduled.zone
    sid = scheduled.id
    when = f"{slack_time(scheduled.due_at, zone)} ({_away(scheduled.due_at, now)})"
    schedule = scheduled.schedule
    if schedule is not None:
        until = f", {until_words(schedule.until, zone)}" if schedule.until else ""
        lines = [
            f":repeat: Repeating send *#{sid}*: {esc(rule_words(schedule.rule))} "
            f"({zone.key}){until}. First time: {when}.",
            "Each time, every recipient gets a message and a receipt of its own here."
            if len(schedule.recipients) <= individual_up_to
            else "Each time, every recipient gets a message, and one summary receipt here "
            "counts them.",
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
            f"{when}, "
            + (
                "with one summary receipt here that counts them."
                if len(scheduled.messages) > individual_up_to
                else "each with its receipt here."
            ),
            f"`{command} cancel {sid}` cancels them all · `{command} reschedule {sid} WHEN` "
            f"moves them · `{command} status {sid}` shows them",
        ]
    if zone_note:
        lines.append(f"_{esc(zone_note)}_")
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
                f"You have nothing scheduled. {plural(agenda.others, 'scheduled send')} "
                f"of other people: `{command} list --all` shows them."
            )
        else:
            text = "Nothing is scheduled." if everyone else "You have nothing scheduled."
        return text, [section(text)]
    blocks: list[Block] = [section(f"*Scheduled — {whose}*")]
    if agenda.sends:
        lines = [_agenda_send_line(a, mask, now, everyone) for a in agenda.sends]
        blocks.append(section("*Waiting to go out*"))
        blocks += [section(t) for t in packed(lines, None, AGENDA_LINES_LIMIT)]
    if agenda.schedules:
        lines = [_agenda_schedule_line(s, mask, now, everyone) for s in agenda.schedules]
        blocks.append(section("*Repeating*"))
        blocks += [section(t) for t in packed(lines, None, AGENDA_LINES_LIMIT)]
    notes = [
        f"`{command} cancel ID` cancels one · `{command} reschedule ID WHEN` moves it · "
        f"`{command} status ID` shows it"
    ]
    if not everyone and agenda.others:
        notes.append(f"{agenda.others} more by other people: `{command} list --all` shows them")
    blocks.append(context(*notes))
    text = f"{plural(count, 'scheduled send')} ({whose})"
    return text, blocks


def _agenda_send_line(waiting: AgendaSend, mask: bool, now: datetime, everyone: bool) -> str:
    send, messages = waiting.send, waiting.messages
    shown_id = messages[0].id if len(messages) == 1 else send.id  # as `Scheduled.id` says it
    due = waiting.due_at
    line = (
        f"{STATUS_EMOJI[MessageStatus.SCHEDULED]} *#{shown_id}* "
        f"{slack_time(due, zone_named(send.timezone))} ({_away(due, now)}) · "
        f"to {recipients_text([m.recipient for m in messages], mask)} via {esc(send.connection)} · "
        f"{what_text(send.template, send.text)}"
    )
    if everyone:
        line += f" · by {_by(send.sender, send.origin)}"
    return line


def _agenda_schedule_line(schedule: Schedule, mask: bool, now: datetime, everyone: bool) -> str:
    zone = zone_named(schedule.timezone)
    line = f":repeat: *#{schedule.id}* {esc(rule_words(schedule.rule))}"
    if schedule.next_due is not None:
        line += f" · next {slack_time(schedule.next_due, zone)} ({_away(schedule.next_due, now)})"
    line += (
        f" · to {recipients_text(schedule.recipients, mask)} via {esc(schedule.connection)} · "
        f"{what_text(schedule.template, schedule.text)}"
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
            f":no_entry_sign: Repeating send *#{key}* ({esc(rule)}) is cancelled: nothing "
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
        f":no_entry_sign: Cancelled {plural(done, 'message')} of *#{key}*: {they} will not go out."
    )
    if gone:
        were = "it was" if gone == 1 else "they were"
        text += f" {plural(gone, 'other message')} had gone out or ended already; {were} left."
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
            f"{esc(rule)} as before."
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
    return f"{text}\n_{esc(zone_note)}_" if zone_note else text


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
        section(
            f":repeat: *Repeating send #{schedule.id}* · {esc(rule_words(schedule.rule))} "
            f"({schedule.timezone})\n"
            f"*State:* {state}\n*Next:* {upcoming}\n*Ends:* {until}\n"
            f"*To:* {shown} via *{esc(schedule.connection)}*\n"
            f"*What:* {what_text(schedule.template, schedule.text)}"
        ),
        context(
            f"by {_by(schedule.sender, schedule.origin)}",
            f"{plural(schedule.occurrences, 'time')} so far",
            slack_date(schedule.created_at, "since {date_short}", "since %Y-%m-%d"),
        ),
    ]
    if occurrences:
        lines = [
            f"*#{send.id}* {slack_time(send.due_at or send.created_at, zone)} · "
            f"{tally(counts, emoji=True) or 'no messages'}"
            for send, counts in occurrences
        ]
        blocks.append(section("*Latest times*\n" + "\n".join(lines)))
        blocks.append(context(f"`{command} status ID` of one of them shows its messages."))
    return blocks
