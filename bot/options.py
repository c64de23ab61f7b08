"""How the typed front ends word things: the ``herald`` CLI and the ``/send`` command.

Both are typed as a command line and say the same, so they share this module
(the core never imports it: it names no option, `bot.errors`). `OPTIONS` is the
one table from a field of a send to the option typed for it; `phrase` says an
error in those options, e.g. the core's "E-mail needs a subject." becomes
``E-mail needs a subject: add --subject "…".``; an error about a time, a rule or an
end date names its option (``--at: that time was 3 hours ago …``). An error without
typed words of its own here is said as the core says it. `rule_words` and
`until_words` say a repeating send's rule and end the same way in both.
"""

from __future__ import annotations

import shlex
from collections.abc import Callable, Mapping
from datetime import datetime, timedelta
from types import MappingProxyType
from zoneinfo import ZoneInfo

from bot.errors import Code, Field, InputError
from bot.scheduling.rules import parse_rule
from bot.scheduling.when import local_time
from bot.templating.errors import NO_VARIABLES, needs_variables

OPTIONS: Mapping[Field, str] = MappingProxyType(
    {
        "template": "--template",
        "variables": "--var",
        "at": "--at",
        "every": "--every",
        "until": "--until",
        "subject": "--subject",
        "media": "--media",
    }
)
FIELD_OF_OPTION: Mapping[str, Field] = MappingProxyType({o: f for f, o in OPTIONS.items()})

_TEMPLATE, _VAR, _AT = OPTIONS["template"], OPTIONS["variables"], OPTIONS["at"]
_EVERY, _UNTIL = OPTIONS["every"], OPTIONS["until"]
_SUBJECT, _MEDIA = OPTIONS["subject"], OPTIONS["media"]
# Errors about a time, a rule or an end date: said after the option they are about
# ("--at: that time was 3 hours ago …"), so a send with three of them says which.
_TIMING = frozenset({"when_invalid", "when_past", "when_too_far", "rule_invalid", "until_invalid"})
_TIMING_FIELDS: tuple[Field, ...] = ("at", "every", "until")
RUN_HINT_WORDS = 3  # "tomorrow 9am Hi": a time and a word of text, likely the message


def rule_words(rule: str) -> str:
    """A repeating send's rule in words (``every weekday at 09:00``)."""
    try:
        return parse_rule(rule).describe()
    except InputError:  # stored by a release that read more rules than this one does
        return f"every {rule}"


def until_words(until: datetime, zone: ZoneInfo) -> str:
    """The end of a repeating send in ``zone``: ``through Sun 31 Jan 2027`` when it ends
    with a day (``--until 2027-01-31``), else ``until Mon 1 Feb 2027 18:00 CET``."""
    local = until.astimezone(zone)
    if (local.hour, local.minute, local.second) == (0, 0, 0):
        day = local - timedelta(days=1)
        return f"through {local_time(day, zone).rsplit(' ', 2)[0]}"
    return f"until {local_time(until, zone)}"


def phrase(error: Exception, *, when_typed_bare: bool = False) -> str:
    """``error`` as the CLI and the slash command say it.

    ``when_typed_bare``: the time was typed without an option (``reschedule ID WHEN``),
    so an error about it names no ``--at``.
    """
    if isinstance(error, InputError):
        if error.code in _TIMING:
            return _timing(error, bare=when_typed_bare)
        typed = _TYPED.get(error.code)
        if typed is not None:
            return typed(error)
    return str(error)


def _timing(error: InputError, *, bare: bool) -> str:
    said = str(error)
    field = next((f for f in error.fields if f in _TIMING_FIELDS), None)
    if bare or field is None:
        return said
    option = OPTIONS[field]
    said = f"{option}: {said[:1].lower()}{said[1:]}"
    typed = error.value("typed")
    unreadable = error.code == "rule_invalid" or error.value("reason") == "unreadable"
    if unreadable and len(typed.split()) >= RUN_HINT_WORDS:
        # the value ran to the next option (`bot.slack.grammar`): text may have joined it
        said += (
            f" {option} takes every word up to the next option: if the message follows "
            f'it, write the message first, or quote the value ({option} "…").'
        )
    return said


def _missing_variables(error: InputError) -> str:
    missing, examples = error.names("missing"), error.names("examples")
    example = " ".join(
        f"{_VAR} {name}={shlex.quote(value) if value else '…'}"
        for name, value in zip(missing, examples, strict=True)
    )
    add = "it" if len(missing) == 1 else "them"
    return f"{needs_variables(error.value('template'), missing)} Add {add}, e.g. {example}"


def _list_columns_missing(error: InputError) -> str:
    missing, examples = error.names("missing"), error.names("examples")
    example = " ".join(
        f"{_VAR} {name}={shlex.quote(value) if value else '…'}"
        for name, value in zip(missing, examples, strict=True)
    )
    return str(error).replace("as a template variable.", f"with {example}.")


def _unknown_variables(error: InputError) -> str:
    return str(error).replace(NO_VARIABLES, f"It takes no variables; leave out {_VAR}.")


_TYPED: Mapping[Code, Callable[[InputError], str]] = {
    "template_and_text": lambda e: (
        f"Give either {_TEMPLATE} or the message text, not both: the template writes the text."
    ),
    "variables_without_template": lambda e: f"{_VAR} fills a template: add {_TEMPLATE} NAME.",
    "variable_not_pair": lambda e: f"{_VAR} takes KEY=VALUE, not {e.value('typed')!r}.",
    "text_missing": lambda e: (
        f"Write the message text after the recipient, or send a template with {_TEMPLATE} NAME."
    ),
    "subject_missing": lambda e: f'E-mail needs a subject: add {_SUBJECT} "…".',
    "subject_not_for_channel": lambda e: (
        f"{_SUBJECT} is for e-mail; '{e.value('connection')}' sends {e.value('channel')}. "
        f"Leave out {_SUBJECT}, or send through an e-mail connection."
    ),
    "media_not_for_channel": lambda e: (
        f"{_MEDIA} needs an MMS, WhatsApp or e-mail connection; "
        f"'{e.value('connection')}' sends {e.value('channel')}."
    ),
    "media_not_public": lambda e: f"{_MEDIA} must be a public http(s) URL, not {e.value('url')!r}.",
    "template_variables_missing": _missing_variables,
    "template_variables_unknown": _unknown_variables,
    "list_columns_missing": _list_columns_missing,
    "list_not_repeatable": lambda e: (
        f"{_EVERY} reads its list again each time, and --to-file {e.value('list')} is read "
        "once: copy the file into the lists directory as NAME.csv and send to @NAME."
    ),
    "until_without_every": lambda e: (
        f"{_UNTIL} ends a repeating send: add {_EVERY} RULE too "
        f"(e.g. {_EVERY} weekdays 09:00), or leave out {_UNTIL}."
    ),
}
