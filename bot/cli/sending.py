"""``herald send``: a message now (`PrintAnnouncer` prints its status changes, ``--wait``
follows them until settled) or later (``--at``/``--every``: stored for ``herald serve``),
and how the command line's words become recipients, text and option values.

``--to-file PATH.csv`` sends to each row of a CSV file, read as a list of the lists
directory is (`bot.sending.lists`); the words after the connection are then all text.
"""

from __future__ import annotations

import argparse
import asyncio
import getpass
import sys
import time
from collections.abc import Sequence
from datetime import datetime
from pathlib import Path

from bot.cli.output import EXIT_FAILED, message_line
from bot.config.settings import Settings
from bot.errors import InputError
from bot.models import Message, MessageStatus
from bot.options import rule_words, until_words
from bot.scheduling.lock import running_holder
from bot.scheduling.plans import Scheduled
from bot.scheduling.when import describe_delta, local_time
from bot.sending.lists import open_file
from bot.sending.recipients import take_recipients
from bot.sending.requests import Recipient, SendRequest, parse_variable
from bot.services import Herald
from bot.storage.store import utcnow
from bot.waiting import nap

WAIT_FOR = frozenset(status for status in MessageStatus if status.settled)


class PrintAnnouncer:
    """Prints each status change; tells `wait` when every expected message is settled."""

    def __init__(self) -> None:
        self.latest: dict[str, Message] = {}
        self.expected: set[str] = set()
        self.settled = asyncio.Event()

    def expect(self, message_ids: set[str]) -> None:
        self.expected = message_ids
        self._check()

    async def message_changed(self, message: Message) -> None:
        if message.status in (MessageStatus.QUEUED, MessageStatus.SENDING):
            return
        shown = self.latest.get(message.id)
        self.latest[message.id] = message
        if shown is None or shown.status is not message.status:
            # `--wait` reads the store as well: a change it saw first is not printed again
            print(message_line(message), flush=True)
        self._check()

    def unannounced(self) -> list[Message]:
        return []  # a terminal shows only what this run sends

    def _check(self) -> None:
        if self.expected and all(
            i in self.latest and self.latest[i].status in WAIT_FOR for i in self.expected
        ):
            self.settled.set()


def recipients_and_text(recipient: str, text: Sequence[str]) -> tuple[list[str], str]:
    """The recipients and the message text of ``herald send``, read as the slash command
    reads them: ``herald send sms +31612345678, +4915112345678 Hi`` is two recipients."""
    recipients, taken = take_recipients([recipient, *text])
    return recipients, " ".join(text[taken - 1 :])


def _words(typed: Sequence[str] | None, text: list[str]) -> str | None:
    """The value of an option that takes every word up to the next option (``--at
    tomorrow 9am``); a first word that holds a space was quoted (``--at "in 2h" Hi``): it
    is the whole value, and the words after it go back to the message ``text``."""
    if not typed:
        return None
    if len(typed) > 1 and any(c.isspace() for c in typed[0]):
        text.extend(typed[1:])
        return typed[0]
    return " ".join(typed)


def cli_sender() -> str:
    return f"cli:{getpass.getuser()}"


async def send_command(settings: Settings, args: argparse.Namespace) -> int:
    variables = dict(parse_variable(v) for v in args.var)
    from_file = args.to_file is not None
    words = ([args.recipient] if from_file and args.recipient else []) + list(args.text)
    at, every, until = (_words(v, words) for v in (args.at, args.every, args.until))
    recipients: list[Recipient]
    if from_file:
        limit = settings.limits.max_recipients
        recipients, text = [open_file(Path(args.to_file), max_rows=limit)], " ".join(words)
    elif args.recipient is None:
        raise InputError(
            "Add a recipient after the connection, e.g. +31612345678, a list (@NAME) or "
            "--to-file PATH.csv.",
            code="recipient_missing",
            fields=("recipients",),
        )
    else:
        typed, text = recipients_and_text(args.recipient, words)
        recipients = list(typed)
    request = SendRequest(
        connection=args.connection,
        recipients=recipients,
        text=text,
        subject=args.subject,
        media_urls=args.media,
        template=args.template,
        variables=variables,
        at=at,
        every=every,
        until=until,
        timezone=args.tz,
        sender=cli_sender(),
        origin="cli",
    )
    if request.is_scheduled:
        if args.wait > 0:
            raise InputError(
                "--wait follows a message sent now, and this one goes out later: leave out "
                "--wait, and follow it with herald status ID (or herald jobs list).",
                code="command_usage",
            )
        return await _schedule(settings, request)
    if args.tz is not None:
        raise InputError(
            "--tz says how to read the times of --at, --every and --until; this send has "
            "none. Leave out --tz to send now.",
            code="command_usage",
        )
    announcer = PrintAnnouncer()
    herald = Herald(settings, announcer)
    try:
        await herald.start()
        messages = await herald.send_now(request)
        announcer.expect({m.id for m in messages})
        if len(messages) > 1 and messages[0].send_id:
            print(f"send {messages[0].send_id}: {len(messages)} messages", file=sys.stderr)
        if args.wait > 0 and not await _wait(herald, announcer, args.wait):
            print(f"(stopped waiting after {args.wait:g}s)", file=sys.stderr)
        elif args.wait <= 0 and any(m.status is not MessageStatus.FAILED for m in messages):
            sandbox = settings.connections[messages[0].connection].provider == "sandbox"
            print(
                "The sandbox reports sent/delivered only while Herald runs: add --wait 5."
                if sandbox
                else f"Follow up: herald status {_follow_up_id(messages)}",
                file=sys.stderr,
            )
    finally:
        await herald.stop()
    final = [announcer.latest.get(m.id, m) for m in messages]
    return EXIT_FAILED if any(m.status is MessageStatus.FAILED for m in final) else 0


async def _schedule(settings: Settings, request: SendRequest) -> int:
    """``herald send … --at/--every``: store it for ``herald serve`` to send; print its id,
    when (in the zone its times were read in) and how far away that is."""
    herald = Herald(settings)
    try:
        await herald.start()
        scheduled = await herald.schedule(request)
    finally:
        await herald.stop()
    print(_scheduled_line(scheduled, utcnow()))
    sid = scheduled.id
    print(f"Follow up: herald status {sid} · herald jobs cancel {sid}", file=sys.stderr)
    if running_holder(settings.db_path) is None:
        grace = settings.scheduling.missed_grace
        late = (
            f"up to {describe_delta(grace).removeprefix('in ')} late "
            "(scheduling.missed_grace); later than that it fails as missed and is not sent"
            if grace.total_seconds() > 0
            else "never late (scheduling.missed_grace is 0): it fails as missed"
        )
        print(
            f"herald: note: no herald serve is running for {settings.db_path} now. Scheduled "
            "messages go out only while it runs; if it is down at their time, they go out "
            f"when it starts again, {late}.",
            file=sys.stderr,
        )
    return 0


def _scheduled_line(scheduled: Scheduled, now: datetime) -> str:
    due = scheduled.due_at
    when = f"{local_time(due, scheduled.zone)} ({describe_delta(due - now)})"
    schedule = scheduled.schedule
    if schedule is not None:
        until = f", {until_words(schedule.until, scheduled.zone)}" if schedule.until else ""
        return (
            f"{scheduled.id}  scheduled  {rule_words(schedule.rule)} ({scheduled.zone.key})"
            f"{until}; first {when}"
        )
    count = len(scheduled.messages)
    to = scheduled.messages[0].recipient if count == 1 else f"{count} messages"
    connection = scheduled.messages[0].connection
    return f"{scheduled.id}  scheduled  {when}  {to} via {connection}"


def _follow_up_id(messages: Sequence[Message]) -> str:
    """What `herald status` takes to show all of them: the send's id for several."""
    if len(messages) > 1 and messages[0].send_id:
        return messages[0].send_id
    return messages[0].id


async def _wait(herald: Herald, announcer: PrintAnnouncer, seconds: float) -> bool:
    """Follow the messages until all are settled; False if ``seconds`` ran out first.

    Receipts reach this process only for the sandbox; a real provider's callbacks reach
    ``herald serve``, so the store is read again every second to see what it recorded.
    """
    deadline = time.monotonic() + seconds
    while not announcer.settled.is_set():
        left = deadline - time.monotonic()
        if left <= 0:
            return False
        await nap(announcer.settled, min(1.0, left))
        for message_id in announcer.expected:
            stored = herald.message(message_id)
            seen = announcer.latest.get(message_id)
            if stored is not None and (seen is None or seen.status is not stored.status):
                await announcer.message_changed(stored)
    return True
