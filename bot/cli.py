"""The ``herald`` command: a thin shell over `bot.services.Herald`.

``--at``, ``--every`` and ``--until`` take every word up to the next option, as the
slash command reads them (`bot.slack.grammar`): ``herald send sms +31612345678 Hi --at
tomorrow 9am`` needs no quotes; a quoted value is just that (``--at "in 2h" Hi``: the
words after it are the message). Local times are read in ``--tz``, else ``[scheduling]
timezone``, else the system's zone.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import getpass
import logging
import re
import sys
import time
from collections.abc import Sequence
from datetime import datetime, timedelta
from urllib.parse import unquote_plus
from zoneinfo import ZoneInfo, available_timezones

from bot import __version__
from bot.config.settings import DEFAULT_PORT, Settings, load_settings
from bot.config.values import port
from bot.errors import ConfigError, HeraldError, InputError, NotAvailableYetError
from bot.models import Message, MessageStatus, Schedule
from bot.options import phrase, rule_words, until_words
from bot.scheduling.lock import running_holder
from bot.scheduling.planner import Agenda, AgendaSend, Cancelled, Scheduled
from bot.scheduling.when import describe_delta, local_time
from bot.sending.recipients import take_recipients
from bot.sending.requests import SendRequest, parse_variable
from bot.services import Herald, ScheduleReport, SendReport
from bot.storage.store import utcnow
from bot.suggest import closest
from bot.templating.library import TemplateLibrary

EXIT_FAILED = 1
EXIT_USAGE = 2
WAIT_FOR = frozenset(status for status in MessageStatus if status.settled)


class CommandLine(argparse.ArgumentParser):
    """argparse, saying "did you mean" for a mistyped command, choice or option."""

    def _check_value(self, action: argparse.Action, value: object) -> None:
        choices = action.choices
        if choices is not None and isinstance(value, str) and value not in choices:
            close = closest(value, [str(choice) for choice in choices])
            if close is not None:
                valid = ", ".join(str(choice) for choice in choices)
                raise argparse.ArgumentError(
                    action,
                    f"invalid choice: {value!r}; did you mean {close!r}? (choose from {valid})",
                )
        super()._check_value(action, value)

    def refuse_unknown(self, extras: Sequence[str], command: str | None) -> None:
        """Stop on the arguments no option took, suggesting an option for a mistyped one."""
        known = [*self._option_string_actions]
        reporter: argparse.ArgumentParser = self
        for action in self._actions:
            if isinstance(action, argparse._SubParsersAction) and command in action.choices:
                reporter = action.choices[command]  # its usage line is the one that helps
                known += [*reporter._option_string_actions]
        words = [
            f"{word} (did you mean {close}?)"
            if word.startswith("-") and (close := closest(word.partition("=")[0], known))
            else word
            for word in extras
        ]
        reporter.error(f"unrecognized arguments: {' '.join(words)}")


def _seconds(text: str) -> float:
    """A number of seconds to wait: 0 to an hour (nan and inf are not waits)."""
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number of seconds") from None
    if not 0 <= value <= 3600:  # also false for nan
        raise argparse.ArgumentTypeError(f"{text!r}: give 0 to 3600 seconds")
    return value


def _port(text: str) -> int:
    """A TCP port, read as ``PORT`` is; 0 lets the system pick a free one."""
    try:
        return port(text, DEFAULT_PORT)
    except ConfigError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a port (0 to 65535)") from None


def _zone(text: str) -> str:
    """An IANA time zone name (``Europe/Amsterdam``), suggesting the closest for a typo."""
    zones = available_timezones()
    if text in zones:
        return text
    close = closest(text, zones)
    hint = f"; did you mean {close!r}?" if close else " (a name like 'Europe/Amsterdam')"
    raise argparse.ArgumentTypeError(f"{text!r} is not a time zone{hint}")


def build_parser() -> CommandLine:
    parser = CommandLine(
        prog="herald",
        description="Send SMS, WhatsApp, e-mail, Zalo and MMS through Herald's connections, "
        "and run the Slack app.",
        epilog="Configuration: herald.toml or $HERALD_CONFIG (none = one 'sandbox' connection). "
        "Database: $HERALD_DB or [storage] path.",
    )
    parser.add_argument("--version", action="version", version=f"herald {__version__}")
    parser.add_argument("--config", metavar="PATH", help="config file (default: ./herald.toml)")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)

    serve = commands.add_parser("serve", help="run the Slack app and webhook server")
    serve.add_argument("--host", default="0.0.0.0", help="interface to bind (default 0.0.0.0)")  # noqa: S104
    serve.add_argument("--port", type=_port, help="port (default $PORT or 3000)")

    send = commands.add_parser(
        "send",
        help="send a message now or later, through the same pipeline as Slack",
        description="Send a message now, or later with --at, or again and again with "
        "--every. Prints the message id (the same id Slack's '/send status' takes) and its "
        "status; exits 1 if it failed. --at, --every and --until take every word up to the "
        "next option (write the message text before them): --at tomorrow 9am.",
    )
    send.add_argument("connection", help="connection name, e.g. sandbox")
    send.add_argument(
        "recipient",
        help="phone number(s) in +E.164 or e-mail address(es), separated by commas or "
        "semicolons (a space after one is fine)",
    )
    send.add_argument("text", nargs="*", help="message text")
    send.add_argument("--template", metavar="NAME", help="write the message from this template")
    send.add_argument(
        "--var", metavar="K=V", action="append", default=[], help="template variable (repeatable)"
    )
    send.add_argument(
        "--at",
        metavar="WHEN",
        nargs="+",
        help="send later: 'in 10m', 'in 2h', 'tomorrow 9am', 'monday 09:00', "
        "'2026-12-01 09:00' or ISO 8601 with an offset (with --every: not before then)",
    )
    send.add_argument(
        "--every",
        metavar="RULE",
        nargs="+",
        help="send again and again: 'daily 09:00', 'weekdays 09:00', 'mon,thu 09:00', "
        "'monthly 1 09:00' or a cron expression like '0 9 * * 1-5'",
    )
    send.add_argument("--until", metavar="DATE", nargs="+", help="the last day of an --every send")
    send.add_argument(
        "--tz",
        metavar="ZONE",
        type=_zone,
        help="read local times in this zone (default: [scheduling] timezone, else the "
        "system's), e.g. Europe/Amsterdam",
    )
    send.add_argument("--subject", metavar="S", help="e-mail subject")
    send.add_argument("--media", metavar="URL", action="append", default=[], help="media URL")
    send.add_argument(
        "--wait",
        metavar="SECONDS",
        type=_seconds,
        default=0,
        help="stay and print status changes until delivered or failed, at most SECONDS "
        "(a send now only)",
    )

    status = commands.add_parser(
        "status",
        help="show a message's status and history, each message of a send, or a "
        "repeating send and its latest times",
    )
    status.add_argument("id", help="message, send or schedule id, e.g. k3x9p2ab")
    status.add_argument("--tz", metavar="ZONE", type=_zone, help="show times in this zone")

    jobs = commands.add_parser(
        "jobs",
        help="scheduled messages and repeating sends: list, cancel, reschedule",
        description="What waits to go out (herald send --at/--every). Sent by you means "
        "sent from the command line by this login (cli:LOGIN).",
    )
    actions = jobs.add_subparsers(dest="action", metavar="ACTION", required=True)
    listing = actions.add_parser("list", help="yours, or everyone's with --all")
    listing.add_argument("--all", action="store_true", help="everyone's, Slack's too")
    listing.add_argument("--tz", metavar="ZONE", type=_zone, help="show times in this zone")
    cancel = actions.add_parser(
        "cancel", help="a scheduled message, every waiting message of a send, or a schedule"
    )
    cancel.add_argument("id", help="the id herald send or herald jobs list printed")
    move = actions.add_parser(
        "reschedule", help="move a scheduled send, or a schedule's next time, to WHEN"
    )
    move.add_argument("id", help="the id herald send or herald jobs list printed")
    move.add_argument("when", nargs="+", metavar="WHEN", help="e.g. tomorrow 9am, in 2h")
    move.add_argument("--tz", metavar="ZONE", type=_zone, help="read WHEN in this zone")

    templates = commands.add_parser(
        "templates",
        help="list, render or check message templates",
        description="list: the templates and their variables. render NAME: the text a "
        "template gives (its samples fill what --var leaves out) and its SMS cost. check: "
        "render every template with its samples; exits 1 on any problem.",
    )
    templates.add_argument("action", choices=["list", "render", "check"])
    templates.add_argument("name", nargs="?", help="template name (for render)")
    templates.add_argument(
        "--var", metavar="K=V", action="append", default=[], help="template variable (repeatable)"
    )
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args, extras = parser.parse_known_args(argv)
    if extras:
        parser.refuse_unknown(extras, args.command)
    _configure_logging(args.command)
    try:
        settings = load_settings(config_path=args.config)
        if args.command == "serve":
            return _serve(settings, args.host, args.port)
        if args.command == "send":
            return asyncio.run(_send(settings, args))
        if args.command == "status":
            return asyncio.run(_status(settings, args.id, args.tz))
        if args.command == "templates":
            return _templates(settings, args.action, args.name, args.var)
        if args.command == "jobs":
            return asyncio.run(_jobs(settings, args))
        raise NotAvailableYetError(f"The '{args.command}' command is not available yet.")
    except HeraldError as exc:
        bare = args.command == "jobs" and args.action == "reschedule"
        print(f"herald: {phrase(exc, when_typed_bare=bare)}", file=sys.stderr)
        return EXIT_USAGE


def _configure_logging(command: str) -> None:
    logging.basicConfig(
        level=logging.INFO if command == "serve" else logging.ERROR,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    # httpx logs every request's full URL at INFO (httpcore: connection details at DEBUG).
    # Herald logs each send's outcome itself; a URL is no place for a secret, but if one
    # ever carries one (an account id, a key in a query), it stays out of the log.
    for name in ("httpx", "httpcore"):
        logging.getLogger(name).setLevel(logging.WARNING)


def _serve(settings: Settings, host: str, port: int | None) -> int:
    import uvicorn

    from bot.scheduling.lock import refuse_if_running
    from bot.storage.store import Store
    from bot.web.server import check_socket_mode, create_app

    Store(settings.db_path).close()  # a database that cannot be opened stops here, in one line
    refuse_if_running(settings.db_path)  # so does a second server on it (the lock decides)
    app = create_app(settings)
    asyncio.run(check_socket_mode(settings))
    access = logging.getLogger("uvicorn.access")
    access.addFilter(redact_tokens)
    access.addFilter(one_line_per_refusal)
    uvicorn.run(
        app,
        host=host,
        port=settings.port if port is None else port,
        log_level="info",
        timeout_graceful_shutdown=15,
    )
    return 0


_QUERY_PAIR = re.compile(r"(^|[?&])([^=&?\s]*)=([^&\s]*)")


def redact_tokens(record: logging.LogRecord) -> bool:
    """Keep ``?token=<webhook_token>`` out of the access log.

    The log shows the query as it came; the server reads it decoded, so ``%74oken=``
    is a token too.
    """
    if isinstance(record.args, tuple):
        record.args = tuple(
            _QUERY_PAIR.sub(_hide_token, arg) if isinstance(arg, str) else arg
            for arg in record.args
        )
    return True


def one_line_per_refusal(record: logging.LogRecord) -> bool:
    """Leave out the access line of a request Herald refused on its two public routes:
    Herald logged that refusal itself, with its reason, on one line."""
    args = record.args
    if isinstance(args, tuple) and len(args) == 5:
        path, status = str(args[2]), args[4]
        refused = isinstance(status, int) and 400 <= status < 500
        if refused and path.startswith(("/slack/events", "/webhooks/")):
            return False
    return True


def _hide_token(pair: re.Match[str]) -> str:
    if unquote_plus(pair.group(2)).strip().lower() != "token":
        return pair.group(0)
    return f"{pair.group(1)}{pair.group(2)}=[redacted]"


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
            print(_line(message), flush=True)
        self._check()

    def unannounced(self) -> list[Message]:
        return []  # a terminal shows only what this run sends

    def _check(self) -> None:
        if self.expected and all(
            i in self.latest and self.latest[i].status in WAIT_FOR for i in self.expected
        ):
            self.settled.set()


def _line(message: Message) -> str:
    parts = [message.id, message.status.value, message.recipient, f"via {message.connection}"]
    if message.status is MessageStatus.SCHEDULED and message.due_at is not None:
        parts.append(f"due {message.due_at:%Y-%m-%d %H:%M:%S} UTC")
    if message.late_by and message.status is not MessageStatus.FAILED:
        late = describe_delta(timedelta(seconds=message.late_by)).removeprefix("in ")
        parts.append(f"(went out {late} late: Herald was not running at its time)")
    if message.provider_message_id:
        parts.append(f"provider id {message.provider_message_id}")
    if message.status is MessageStatus.FAILED and message.error:
        parts.append(f"— {message.error}")
    return "  ".join(parts)


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


def _cli_sender() -> str:
    return f"cli:{getpass.getuser()}"


async def _send(settings: Settings, args: argparse.Namespace) -> int:
    variables = dict(parse_variable(v) for v in args.var)
    words = list(args.text)
    at, every, until = (_words(v, words) for v in (args.at, args.every, args.until))
    recipients, text = recipients_and_text(args.recipient, words)
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
        sender=_cli_sender(),
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
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(announcer.settled.wait(), timeout=min(1.0, left))
        for message_id in announcer.expected:
            stored = herald.message(message_id)
            seen = announcer.latest.get(message_id)
            if stored is not None and (seen is None or seen.status is not stored.status):
                await announcer.message_changed(stored)
    return True


async def _status(settings: Settings, some_id: str, tz: str | None = None) -> int:
    herald = Herald(settings)
    try:
        await herald.start()
        report = herald.report(some_id)
        if isinstance(report, ScheduleReport):
            counts = {send.id: herald.send_report(send.id).counts for send in report.occurrences}
    finally:
        await herald.stop()
    if isinstance(report, ScheduleReport):
        return _schedule_status(report, counts, ZoneInfo(tz) if tz else None)
    if isinstance(report, SendReport):
        return _send_status(report)
    print(_line(report.message))
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
        ("what", _what(schedule.template, schedule.text)),
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
        print(f"  {_line(message)}")
    return EXIT_FAILED if MessageStatus.FAILED in counts else 0


WHAT_WIDTH = 40


def _what(template: str | None, text: str | None) -> str:
    """What a send says, on one line: its template, or its text clipped."""
    if template:
        return f"template {template}"
    flat = " ".join((text or "").split())
    return repr(flat if len(flat) <= WHAT_WIDTH else flat[: WHAT_WIDTH - 1] + "…")


async def _jobs(settings: Settings, args: argparse.Namespace) -> int:
    """``herald jobs list|cancel|reschedule``: what waits to go out, from the command line."""
    herald = Herald(settings)
    try:
        await herald.start()
        if args.action == "list":
            mine = None if args.all else _cli_sender()
            return _agenda(herald.agenda(mine), args.all, args.tz, herald.settings)
        if args.action == "cancel":
            cancelled = await herald.cancel(args.id, actor=_cli_sender())
            print(_cancelled_line(cancelled))
            return 0
        moved = await herald.reschedule(
            args.id, " ".join(args.when), actor=_cli_sender(), timezone=args.tz
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
                f"You ({_cli_sender()}) have nothing scheduled; {agenda.others} more by "
                "others (Slack users, other logins): herald jobs list --all shows them."
            )
        else:
            print(
                "Nothing is scheduled."
                if everyone
                else f"You ({_cli_sender()}) have nothing scheduled."
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
        _what(send.template, send.text),
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
        _what(schedule.template, schedule.text),
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


def _templates(settings: Settings, action: str, name: str | None, pairs: list[str]) -> int:
    library = TemplateLibrary(settings.templates_dir)
    if action == "check":
        names = library.names()
        problems = library.check()
        for problem in problems:
            print(problem, file=sys.stderr)
        print(f"{len(names)} template(s) in {settings.templates_dir}: {len(problems)} problem(s)")
        return EXIT_FAILED if problems else 0
    if action == "list":
        for info in (library.info(n) for n in library.names()):
            needs = ", ".join(v for v in info.variable_order if v in info.variables)
            channels = ",".join(sorted(c.value for c in info.channels))
            print(f"{info.name:<24} {channels:<22} needs: {needs or '-'}")
            if info.description:
                print(f"{'':<24} {info.description}")
        return 0
    if not name:
        raise InputError(
            "herald templates render needs a template name",
            code="command_usage",
            fields=("template",),
        )
    info = library.info(name)
    rendered = library.render(name, {**info.samples, **dict(parse_variable(v) for v in pairs)})
    if rendered.subject:
        print(f"Subject: {rendered.subject}")
    print(rendered.text)
    print(f"-- SMS: {rendered.sms.summary()}", file=sys.stderr)
    return 0
