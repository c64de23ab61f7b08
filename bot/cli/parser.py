"""The arguments of every ``herald`` command: `build_parser`, `CommandLine` (argparse
that says "did you mean" for a typo) and the types of ``--wait``, ``--port`` and ``--tz``."""

from __future__ import annotations

import argparse
from collections.abc import Sequence

from bot import __version__
from bot.config.settings import DEFAULT_PORT
from bot.config.values import port
from bot.errors import ConfigError
from bot.scheduling.zones import zone_names
from bot.suggest import closest


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
    zones = zone_names()
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
        nargs="?",
        help="phone number(s) in +E.164 or e-mail address(es), separated by commas or "
        "semicolons (a space after one is fine); @NAME for the list NAME.csv in the lists "
        "directory (left out with --to-file)",
    )
    send.add_argument("text", nargs="*", help="message text")
    send.add_argument(
        "--to-file",
        metavar="PATH",
        help="send to each row of this CSV file: a 'to' column and one column per template "
        "variable (the words after CONNECTION are then the message text)",
    )
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

    lists = commands.add_parser(
        "lists",
        help="recipient lists: list them, or show one",
        description="Recipient lists are NAME.csv files in [lists] dir, sent to as @NAME. "
        "list: each list, its rows and columns. show NAME (or PATH.csv): its rows, columns, "
        "first rows (recipients masked) and problems; exits 1 when it has problems.",
    )
    lists.add_argument("action", choices=["list", "show"])
    lists.add_argument("name", nargs="?", help="a list's NAME (or @NAME), or a PATH.csv")
    return parser
