"""How the slash command says what went wrong.

The slash command is typed like the CLI, so it speaks in the same options
(`bot.options.phrase`). What only Slack can add: ``/send stauts k3x9p2ab`` reads as
a send through a connection named ``stauts``, so a first word that is neither a
connection nor a sub-command is answered as an unknown name, suggesting the
closest connection or sub-command (``Did you mean `/send status`?``). A time typed
after ``reschedule ID`` has no option, so an error about it names none.
"""

from __future__ import annotations

from collections.abc import Sequence

from bot.errors import InputError, UnknownConnectionError
from bot.options import phrase
from bot.slack.grammar import SUBCOMMANDS
from bot.suggest import closest


def problem_text(
    error: Exception, command: str, connections: Sequence[str], typed: str = ""
) -> str:
    """What ``command`` (``/send``) answers about ``error``, in plain text (not yet
    escaped); ``typed`` is the command's text."""
    if isinstance(error, InputError) and error.code in ("unknown_connection", "recipient_missing"):
        name = error.value("connection")
        if name and name not in connections:
            return _unknown_name(name, command, connections)
    first = [word.lower() for word in typed.split()[:1]]
    return phrase(error, when_typed_bare=first == ["reschedule"])


def _unknown_name(name: str, command: str, connections: Sequence[str]) -> str:
    unknown = str(UnknownConnectionError.naming(name, connections))
    if closest(name, connections) is not None:
        return unknown
    sub = closest(name, SUBCOMMANDS)
    if sub is None:
        return unknown
    return (
        f"There is no connection or command '{name}'. Did you mean `{command} {sub}`? "
        f"Connections: {', '.join(connections)}."
    )
