"""The slash command's grammar, parsed into plain commands (no Slack objects).

    /send                                   open the compose form
    /send help | list | templates [NAME]
    /send status ID | cancel ID
    /send CONNECTION RECIPIENT[,RECIPIENT…] TEXT… [--template NAME] [--var K=V]…
          [--at WHEN] [--subject TEXT] [--media URL]

Recipients are read as ``herald send`` reads them (`bot.sending.recipients`):
separated by commas or semicolons, a space after one allowed.

Quoting is forgiving on purpose: ``"…"`` (straight or curly) groups words anywhere,
``'…'`` groups words at the start of a word or after ``=``, and an apostrophe
inside a word (``don't``) is just an apostrophe.
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

SUBCOMMANDS = ("help", "list", "templates", "status", "cancel")
VALUE_OPTIONS = tuple(option.removeprefix("--") for option in OPTIONS.values())
_DOUBLE = {'"': '"', "“": "”", "„": "“", "”": "”"}
_SINGLE = {"'": "'", "‘": "’", "’": "’"}
_SLACK_LINK = re.compile(r"<((?:mailto|tel):)?([^>|]+)(?:\|([^>]*))?>")


@dataclass(frozen=True)
class Compose:
    pass


@dataclass(frozen=True)
class Help:
    pass


@dataclass(frozen=True)
class ListScheduled:
    pass


@dataclass(frozen=True)
class Templates:
    name: str | None = None  # preview this one


@dataclass(frozen=True)
class Status:
    message_id: str


@dataclass(frozen=True)
class Cancel:
    message_id: str


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


Command = Compose | Help | ListScheduled | Templates | Status | Cancel | QuickSend


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
        _no_more(words, "list")
        return ListScheduled()
    if head == "templates":
        if len(words) > 2:
            raise InputError(
                "`templates` takes at most a template name, to preview it.", code="command_usage"
            )
        return Templates(words[1] if len(words) == 2 else None)
    if head in ("status", "cancel"):
        if len(words) != 2:
            raise InputError(
                f"Give one id: `{head} ID`, the #… code in a receipt (a message) or in the "
                "answer to a send to several (all of its messages).",
                code="command_usage",
            )
        return Status(words[1]) if head == "status" else Cancel(words[1])
    return _quick_send(typed, spans)


def is_send(body: Mapping[str, object]) -> bool:
    """Whether a slash command payload asked to send (rather than help, status, …)."""
    words = str(body.get("text") or "").split()
    return bool(words) and words[0].lower() not in (*SUBCOMMANDS, "-h", "--help", "?")


def _no_more(words: list[str], name: str) -> None:
    if len(words) > 1:
        raise InputError(f"`{name}` takes nothing after it.", code="command_usage")


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
        word = words[index]
        index += 1
        if not word.startswith("--") or word == "--" or spans[index - 1].quoted:
            text.append(spans[index - 1])
            continue
        name, has_value, value = word[2:].partition("=")
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
        if not has_value:
            if index >= len(words):
                raise InputError(
                    f"--{name} needs a value.", code="option_needs_value", fields=about
                )
            value = words[index]
            index += 1
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
