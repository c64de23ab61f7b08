"""The slash command's grammar, parsed into plain commands (no Slack objects).

    /send                                   open the compose form
    /send help | templates [NAME]
    /send list [--all]                      what waits to go out: yours, or everyone's
    /send status ID | cancel ID             a message, a send or a schedule, by its #ID
    /send reschedule ID WHEN…               move it (a schedule: its next occurrence)
    /send CONNECTION RECIPIENT[,RECIPIENT…] TEXT… [--template NAME] [--var K=V]…
          [--at WHEN] [--every RULE] [--until DATE] [--subject TEXT] [--media URL]

Recipients are read as ``herald send`` reads them (`bot.sending.recipients`):
separated by commas or semicolons, a space after one allowed. ``@NAME`` is the
recipient list ``NAME.csv`` (`bot.sending.lists`), alone or among typed recipients
(``@vip, +31612345678``); the list is read when the send is built.

A time or a rule is often several words (``--at tomorrow 9am``, ``--every weekdays
09:00``, ``--every 0 9 * * 1-5``), so the value of `MULTIWORD` options (``--at``,
``--every``, ``--until``) is **every word up to the next option**, or to the end:
``/send sms +31612345678 Running late --at in 2h`` schedules "Running late". The
message text therefore goes before these options (or between options). A quoted
value is exactly what is inside the quotes, and the text may follow it:
``--at "tomorrow 9am" Running late``. Nothing is guessed, so a mistyped time is an
error that names the option (``--at: cannot read 'tomorow 9am Running late' …``),
never message text sent at the wrong time. ``herald send`` reads these options the
same way. Every other option takes one word (quote it for more).

Quoting is forgiving on purpose: ``"…"`` (straight or curly) groups words anywhere,
``'…'`` groups words at the start of a word or after ``=``, and an apostrophe
inside a word (``don't``) is just an apostrophe. A quoted word is never an option
(``Type "--help" to see the options`` is text); ``--at="in 2h"`` is the option
with a quoted value.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field

from bot.errors import InputError
from bot.options import FIELD_OF_OPTION, OPTIONS
from bot.sending.recipients import take_recipients
from bot.sending.requests import parse_variable
from bot.suggest import closest

SUBCOMMANDS = ("help", "list", "templates", "status", "cancel", "reschedule")
VALUE_OPTIONS = tuple(option.removeprefix("--") for option in OPTIONS.values())
MULTIWORD = frozenset({"at", "every", "until"})  # their value runs to the next option
_DOUBLE = {'"': '"', "“": "”", "„": "“", "”": "”"}
_SINGLE = {"'": "'", "‘": "’", "’": "’"}
_QUOTES = frozenset({*_DOUBLE, *_DOUBLE.values(), *_SINGLE, *_SINGLE.values()})
_SLACK_LINK = re.compile(r"<((?:mailto|tel):)?([^>|]+)(?:\|([^>]*))?>")


@dataclass(frozen=True)
class Compose:
    pass


@dataclass(frozen=True)
class Help:
    pass


@dataclass(frozen=True)
class ListScheduled:
    everyone: bool = False  # ``--all``: everyone's, not only the sender's


@dataclass(frozen=True)
class Templates:
    name: str | None = None  # preview this one


@dataclass(frozen=True)
class Status:
    target: str  # a message, send or schedule id, as typed


@dataclass(frozen=True)
class Cancel:
    target: str


@dataclass(frozen=True)
class Reschedule:
    target: str
    when: str


@dataclass(frozen=True)
class QuickSend:
    connection: str
    recipients: list[str]
    text: str
    template: str | None = None
    variables: dict[str, str] = field(default_factory=dict)
    at: str | None = None
    subject: str | None = None
    media: list[str] = field(default_factory=list)
    every: str | None = None
    until: str | None = None

    @property
    def is_scheduled(self) -> bool:
        """Whether it goes out later or repeats, rather than now."""
        return self.at is not None or self.every is not None or self.until is not None


Command = Compose | Help | ListScheduled | Templates | Status | Cancel | Reschedule | QuickSend

_ID_USAGE = (
    "the #… code in a receipt (a message), in the answer to a send to several (all of "
    "its messages) or to a repeating send (the schedule)"
)


def parse(text: str) -> Command:
    """Parse the text after the slash command; raises `InputError` saying what to fix."""
    typed = unwrap_slack_markup(text)
    spans = words_of(typed)
    words = [word.value for word in spans]
    if not words:
        return Compose()
    head = words[0].lower()
    if head in ("help", "-h", "--help", "?"):
        return Help()
    if head == "list":
        rest = [word.lower() for word in words[1:]]
        if rest not in ([], ["--all"], ["all"]):
            raise InputError(
                "`list` shows what you scheduled; `list --all` shows everyone's. "
                "It takes nothing else.",
                code="command_usage",
            )
        return ListScheduled(everyone=bool(rest))
    if head == "templates":
        if len(words) > 2:
            raise InputError(
                "`templates` takes at most a template name, to preview it.", code="command_usage"
            )
        return Templates(words[1] if len(words) == 2 else None)
    if head in ("status", "cancel"):
        if len(words) != 2:
            raise InputError(f"Give one id: `{head} ID`, {_ID_USAGE}.", code="command_usage")
        return Status(words[1]) if head == "status" else Cancel(words[1])
    if head == "reschedule":
        if len(words) < 3:
            raise InputError(
                "Give the id and the new time: `reschedule ID WHEN`, e.g. "
                "`reschedule k3x9p2ab tomorrow 9am`; the id is " + _ID_USAGE + ".",
                code="command_usage",
            )
        return Reschedule(words[1], " ".join(words[2:]))
    return _quick_send(typed, spans)


def is_send(body: Mapping[str, object]) -> bool:
    """Whether a slash command payload asked to send, now or later (rather than help,
    status, …)."""
    words = str(body.get("text") or "").split()
    return bool(words) and words[0].lower() not in (*SUBCOMMANDS, "-h", "--help", "?")


def _is_option(typed: str, word: Word) -> bool:
    """Whether ``word`` is an option: ``--name`` or ``--name=value``, unquoted up to the
    value (``"--help"`` is text; ``--at="in 2h"`` is an option)."""
    raw = typed[word.start : word.end]
    return (
        raw.startswith("--")
        and raw != "--"
        and not any(c in _QUOTES for c in raw.partition("=")[0])
    )


def _quick_send(typed: str, spans: list[Word]) -> QuickSend:
    """The message text keeps what was typed — line breaks, quotes, spacing — except the
    options and their values, which are cut out of it."""
    words = [word.value for word in spans]
    connection = words[0]
    if connection.startswith("-"):
        raise InputError(
            "Start with the connection and the recipient, then the options.",
            code="connection_missing",
            fields=("connection",),
        )
    if len(words) < 2 or words[1].startswith("--"):
        raise InputError(
            f"Add a recipient after '{connection}', e.g. +31612345678.",
            code="recipient_missing",
            fields=("recipients",),
            connection=connection,
        )
    recipients, taken = take_recipients(words[1:])
    options: dict[str, str] = {}
    variables: dict[str, str] = {}
    media: list[str] = []
    text: list[Word] = []
    index = 1 + taken
    while index < len(words):
        span = spans[index]
        index += 1
        if not _is_option(typed, span):
            text.append(span)
            continue
        name, has_value, value = span.value[2:].partition("=")
        name = name.lower()
        if name not in VALUE_OPTIONS:
            close = closest(name, VALUE_OPTIONS)
            hint = f" Did you mean --{close}?" if close else ""
            raise InputError(
                f"Unknown option --{name}.{hint} Options: {', '.join(OPTIONS.values())}.",
                code="unknown_option",
                option=f"--{name}",
                suggestion=f"--{close}" if close else "",
            )
        about = (FIELD_OF_OPTION[f"--{name}"],)
        raw = typed[span.start : span.end]
        quoted = has_value and raw.partition("=")[2][:1] in _QUOTES
        if not has_value:
            if index >= len(words) or _is_option(typed, spans[index]):
                raise InputError(
                    f"--{name} needs a value.", code="option_needs_value", fields=about
                )
            value = words[index]
            quoted = spans[index].quoted and typed[spans[index].start] in _QUOTES
            index += 1
        if name in MULTIWORD and not quoted:
            run = [value] if value else []
            while index < len(words) and not _is_option(typed, spans[index]):
                run.append(words[index])
                index += 1
            value = " ".join(run)
            if not value:
                raise InputError(
                    f"--{name} needs a value.", code="option_needs_value", fields=about
                )
        if name == "var":
            key, val = parse_variable(value)
            variables[key] = val
        elif name == "media":
            media.append(value)
        else:
            if name in options:
                raise InputError(f"--{name} is given twice.", code="option_repeated", fields=about)
            options[name] = value
    return QuickSend(
        connection=connection,
        recipients=recipients,
        text=_message_text(typed, text),
        template=options.get("template"),
        variables=variables,
        at=options.get("at"),
        subject=options.get("subject"),
        media=media,
        every=options.get("every"),
        until=options.get("until"),
    )


def _message_text(typed: str, words: list[Word]) -> str:
    """Runs of adjacent text words as typed, joined by a space where options stood between.

    A text that is one quoted word loses its quotes (``"Hello there"`` → ``Hello there``);
    quotes inside a word (``Code:"1234"``, ``{"a":1}``) are the customer's text and stay.
    """
    if len(words) == 1 and _is_quoted(typed[words[0].start : words[0].end]):
        return words[0].value
    runs: list[str] = []
    run_start: int | None = None
    previous: Word | None = None
    for word in words:
        if previous is None or typed[previous.end : word.start].strip():  # an option between
            if previous is not None and run_start is not None:
                runs.append(typed[run_start : previous.end])
            run_start = word.start
        previous = word
    if previous is not None and run_start is not None:
        runs.append(typed[run_start : previous.end])
    return " ".join(runs)


def _is_quoted(raw: str) -> bool:
    """Whether ``raw`` is one whole quoted string, ``"…"`` or ``'…'`` (or Slack's “…”)."""
    return len(raw) >= 2 and {**_DOUBLE, **_SINGLE}.get(raw[0]) == raw[-1]


def unwrap_slack_markup(text: str) -> str:
    """Undo what Slack does to typed text: ``<mailto:…|…>`` links, and the three escapes
    it writes (``&amp;``, ``&lt;``, ``&gt;``), and no other entity: a customer's ``&copy``
    or ``&gt`` stays as typed."""
    unlinked = _SLACK_LINK.sub(lambda match: match.group(2), text)
    return unlinked.replace("&lt;", "<").replace("&gt;", ">").replace("&amp;", "&")


@dataclass(frozen=True)
class Word:
    value: str  # with grouping quotes removed
    start: int  # where it stands in the text, quotes included
    end: int
    quoted: bool = False  # quotes grouped some of it: never an option


def tokenize(text: str) -> list[str]:
    return [word.value for word in words_of(text)]


def words_of(text: str) -> list[Word]:
    words: list[Word] = []
    i, n = 0, len(text)
    while i < n:
        if text[i].isspace():
            i += 1
            continue
        start = i
        quoted = False
        chars: list[str] = []
        while i < n and not text[i].isspace():
            c = text[i]
            closers = _DOUBLE.get(c)
            if closers is None and c in _SINGLE and (not chars or chars[-1] == "="):
                closers = _SINGLE[c]
            if closers is not None:
                end = _find_closer(text, i + 1, c, closers)
                if end != -1:
                    chars.append(text[i + 1 : end])
                    i = end + 1
                    quoted = True
                    continue
            chars.append(c)
            i += 1
        words.append(Word("".join(chars), start, i, quoted))
    return words


def _find_closer(text: str, start: int, opener: str, closer: str) -> int:
    for j in range(start, len(text)):
        if text[j] in (opener, closer):
            return j
    return -1
