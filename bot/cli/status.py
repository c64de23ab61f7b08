"""``herald status ID``: a message and its history, each message of a send, or a
repeating send and its latest times."""

from __future__ import annotations

from zoneinfo import ZoneInfo

from bot.cli.output import EXIT_FAILED, message_line, what
from bot.config.settings import Settings
from bot.lookups import ScheduleReport, SendReport
from bot.models import MessageStatus
from bot.options import rule_words, until_words
from bot.scheduling.when import describe_delta, local_time
from bot.services import Herald
from bot.storage.store import utcnow


async def status_command(settings: Settings, some_id: str, tz: str | None = None) -> int:
    herald = Herald(settings)
    try:
        await herald.start()
        report = herald.report(some_id)
    finally:
        await herald.stop()
    if isinstance(report, ScheduleReport):
        return _schedule_status(report, report.counts, ZoneInfo(tz) if tz else None)
    if isinstance(report, SendReport):
        return _send_status(report)
    print(message_line(report.message))
    for event in report.history:
        reason = f" — {event.reason}" if event.reason else ""
        print(
            f"  {event.at:%Y-%m-%d %H:%M:%S} UTC  {event.status.value:<9} ({event.source}){reason}"
        )
    return EXIT_FAILED if report.message.status is MessageStatus.FAILED else 0


def _schedule_status(
    report: ScheduleReport,
    counts: dict[str, dict[MessageStatus, int]],
    zone: ZoneInfo | None,
) -> int:
    """A repeating send: its rule, zone, next time, end, state, then its latest times."""
    schedule, now = report.schedule, utcnow()
    shown = zone or ZoneInfo(schedule.timezone)
    print(
        f"schedule {schedule.id}  {schedule.state.value}  {rule_words(schedule.rule)} "
        f"({schedule.timezone}) via {schedule.connection}"
    )
    upcoming = (
        f"{local_time(schedule.next_due, shown)} ({describe_delta(schedule.next_due - now)})"
        if schedule.next_due
        else "none"
    )
    rows = [
        ("next", upcoming),
        ("ends", until_words(schedule.until, shown) if schedule.until else "no end date"),
        ("to", ", ".join(schedule.recipients)),
        ("what", what(schedule.template, schedule.text)),
        ("by", f"{schedule.sender}, {schedule.occurrences} time(s) so far"),
    ]
    for name, value in rows:
        print(f"  {name:<6} {value}")
    if report.occurrences:
        print("  latest times (herald status ID shows one):")
    for send in report.occurrences:
        summary = ", ".join(f"{n} {status.value}" for status, n in counts[send.id].items())
        when = local_time(send.due_at or send.created_at, shown)
        print(f"    send {send.id}  {when}  {summary or 'no messages'}")
    return 0


def _send_status(report: SendReport) -> int:
    """A send: its counts per status, then one line per message (exit 1 if one failed)."""
    send, counts = report.send, report.counts
    total = f"{len(report.messages)} message{'' if len(report.messages) == 1 else 's'}"
    summary = ", ".join(f"{count} {status.value}" for status, count in counts.items())
    print(f"send {send.id}  {total} via {send.connection}  {summary}")
    for message in report.messages:
        print(f"  {message_line(message)}")
    return EXIT_FAILED if MessageStatus.FAILED in counts else 0
