"""``herald jobs list|cancel|reschedule``: what waits to go out, as tables of waiting
sends and repeating ones, and what a cancel did."""

from __future__ import annotations

import argparse
from datetime import datetime
from zoneinfo import ZoneInfo

from bot.cli.output import what
from bot.cli.sending import cli_sender
from bot.config.settings import Settings
from bot.models import Schedule
from bot.options import rule_words
from bot.scheduling.plans import Agenda, AgendaSend, Cancelled
from bot.scheduling.when import describe_delta, local_time
from bot.services import Herald
from bot.storage.store import utcnow


async def jobs_command(settings: Settings, args: argparse.Namespace) -> int:
    """``herald jobs list|cancel|reschedule``: what waits to go out, from the command line."""
    herald = Herald(settings)
    try:
        await herald.start()
        if args.action == "list":
            mine = None if args.all else cli_sender()
            return _agenda(herald.agenda(mine), args.all, args.tz, herald.settings)
        if args.action == "cancel":
            cancelled = await herald.cancel(args.id, actor=cli_sender())
            print(_cancelled_line(cancelled))
            return 0
        moved = await herald.reschedule(
            args.id, " ".join(args.when), actor=cli_sender(), timezone=args.tz
        )
    finally:
        await herald.stop()
    now = utcnow()
    when = f"{local_time(moved.due_at, moved.zone)} ({describe_delta(moved.due_at - now)})"
    key = args.id.strip().lstrip("#").lower()
    if moved.schedule is not None:
        print(
            f"{key}  next time moved to {when}; after it, "
            f"{rule_words(moved.schedule.rule)} as before"
        )
    else:
        print(f"{key}  moved to {when} ({len(moved.messages)} message(s))")
    return 0


def _agenda(agenda: Agenda, everyone: bool, tz: str | None, settings: Settings) -> int:
    zone = ZoneInfo(tz) if tz else settings.scheduling.zone()
    now = utcnow()
    if not agenda.sends and not agenda.schedules:
        if not everyone and agenda.others:
            print(
                f"You ({cli_sender()}) have nothing scheduled; {agenda.others} more by "
                "others (Slack users, other logins): herald jobs list --all shows them."
            )
        else:
            print(
                "Nothing is scheduled."
                if everyone
                else f"You ({cli_sender()}) have nothing scheduled."
            )
        return 0
    by = ["BY"] if everyone else []
    if agenda.sends:
        print(f"Waiting to go out ({len(agenda.sends)}), times in {zone.key}:")
        _table(
            ["ID", "DUE", "", "VIA", "TO", "WHAT", *by],
            [_send_row(a, zone, now, everyone) for a in agenda.sends],
        )
    if agenda.schedules:
        if agenda.sends:
            print()
        print(f"Repeating ({len(agenda.schedules)}), times in {zone.key}:")
        _table(
            ["ID", "NEXT", "", "VIA", "TO", "RULE", "WHAT", *by],
            [_schedule_row(s, zone, now, everyone) for s in agenda.schedules],
        )
    if not everyone and agenda.others:
        print(f"\n{agenda.others} more by others: herald jobs list --all")
    return 0


def _send_row(waiting: AgendaSend, zone: ZoneInfo, now: datetime, everyone: bool) -> list[str]:
    send, messages = waiting.send, waiting.messages
    shown_id = messages[0].id if len(messages) == 1 else send.id
    to = messages[0].recipient if len(messages) == 1 else f"{len(messages)} recipients"
    due = waiting.due_at
    row = [
        shown_id,
        local_time(due, zone),
        describe_delta(due - now),
        send.connection,
        to,
        what(send.template, send.text),
    ]
    return row + ([send.sender] if everyone else [])


def _schedule_row(schedule: Schedule, zone: ZoneInfo, now: datetime, everyone: bool) -> list[str]:
    due = schedule.next_due
    recipients = schedule.recipients
    to = recipients[0] if len(recipients) == 1 else f"{len(recipients)} recipients"
    row = [
        schedule.id,
        local_time(due, zone) if due else "-",
        describe_delta(due - now) if due else "",
        schedule.connection,
        to,
        f"{rule_words(schedule.rule)} ({schedule.timezone})",
        what(schedule.template, schedule.text),
    ]
    return row + ([schedule.sender] if everyone else [])


def _table(header: list[str], rows: list[list[str]]) -> None:
    widths = [max(len(row[i]) for row in [header, *rows]) for i in range(len(header))]
    for row in [header, *rows]:
        print(
            "  "
            + "  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True)).rstrip()
        )


def _cancelled_line(cancelled: Cancelled) -> str:
    key = cancelled.target
    if cancelled.schedule is not None:
        return f"{key}  cancelled: {rule_words(cancelled.schedule.rule)}; nothing more goes out"
    done = len(cancelled.messages)
    if done == 0:
        return f"{key}  nothing cancelled: it went out meanwhile"
    if done == 1 and cancelled.messages[0].id == key and not cancelled.already_gone:
        return f"{key}  cancelled: it will not go out"
    line = f"{key}  cancelled {done} message(s): they will not go out"
    if cancelled.already_gone:
        line += f"; {cancelled.already_gone} had gone out or ended already"
    return line
