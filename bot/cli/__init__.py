"""The ``herald`` command: a thin shell over `bot.services.Herald`.

``--at``, ``--every`` and ``--until`` take every word up to the next option, as the
slash command reads them (`bot.slack.grammar`): ``herald send sms +31612345678 Hi --at
tomorrow 9am`` needs no quotes; a quoted value is just that (``--at "in 2h" Hi``: the
words after it are the message). Local times are read in ``--tz``, else ``[scheduling]
timezone``, else the system's zone.

This module holds `main` (the ``herald`` console script and ``python -m bot``) and what it
dispatches to; each command lives in a module of its own:

- `bot.cli.parser`: the arguments of every command (`build_parser`, `CommandLine`)
- `bot.cli.serving`: ``herald serve`` and its access-log filters
- `bot.cli.sending`: ``herald send``, now (``--wait``) or later (``--at``/``--every``)
- `bot.cli.status`: ``herald status`` of a message, a send or a repeating send
- `bot.cli.jobs`: ``herald jobs list|cancel|reschedule``
- `bot.cli.templates`: ``herald templates list|render|check``
- `bot.cli.lists`: ``herald lists list|show``, the recipient lists
- `bot.cli.output`: the exit codes and the one-line forms several commands print
"""

from __future__ import annotations

import asyncio
import logging
import sys
from collections.abc import Sequence

from bot.cli.jobs import jobs_command
from bot.cli.lists import lists_command
from bot.cli.output import EXIT_FAILED, EXIT_USAGE, WHAT_WIDTH
from bot.cli.parser import CommandLine, build_parser
from bot.cli.sending import WAIT_FOR, PrintAnnouncer, recipients_and_text, send_command
from bot.cli.serving import one_line_per_refusal, redact_tokens, serve_command
from bot.cli.status import status_command
from bot.cli.templates import templates_command
from bot.config.settings import load_settings
from bot.errors import HeraldError, NotAvailableYetError
from bot.options import phrase

__all__ = [
    "EXIT_FAILED",
    "EXIT_USAGE",
    "WAIT_FOR",
    "WHAT_WIDTH",
    "CommandLine",
    "PrintAnnouncer",
    "build_parser",
    "main",
    "one_line_per_refusal",
    "recipients_and_text",
    "redact_tokens",
]


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args, extras = parser.parse_known_args(argv)
    if extras:
        parser.refuse_unknown(extras, args.command)
    _configure_logging(args.command)
    try:
        settings = load_settings(config_path=args.config)
        if args.command == "serve":
            return serve_command(settings, args.host, args.port)
        if args.command == "send":
            return asyncio.run(send_command(settings, args))
        if args.command == "status":
            return asyncio.run(status_command(settings, args.id, args.tz))
        if args.command == "templates":
            return templates_command(settings, args.action, args.name, args.var)
        if args.command == "jobs":
            return asyncio.run(jobs_command(settings, args))
        if args.command == "lists":
            return lists_command(settings, args.action, args.name)
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
