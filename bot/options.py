"""How the typed front ends word things: the ``herald`` CLI and the ``/send`` command.

Both are typed as a command line and say the same, so they share this module
(the core never imports it: it names no option, `bot.errors`). `OPTIONS` is the
one table from a field of a send to the option typed for it; `phrase` says an
error in those options, e.g. the core's "E-mail needs a subject." becomes
``E-mail needs a subject: add --subject "…".``. An error without typed words of
its own here is said as the core says it.
"""

from __future__ import annotations

import shlex
from collections.abc import Callable, Mapping
from types import MappingProxyType

from bot.errors import Code, Field, InputError
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
_SUBJECT, _MEDIA = OPTIONS["subject"], OPTIONS["media"]


def phrase(error: Exception) -> str:
    """``error`` as the CLI and the slash command say it."""
    if isinstance(error, InputError):
        typed = _TYPED.get(error.code)
        if typed is not None:
            return typed(error)
    return str(error)


def _not_available(error: InputError) -> str:
    if error.fields == ("at",):
        return f"Scheduling ({_AT}) is not available yet; leave it out to send now."
    return str(error)


def _missing_variables(error: InputError) -> str:
    missing, examples = error.names("missing"), error.names("examples")
    example = " ".join(
        f"{_VAR} {name}={shlex.quote(value) if value else '…'}"
        for name, value in zip(missing, examples, strict=True)
    )
    add = "it" if len(missing) == 1 else "them"
    return f"{needs_variables(error.value('template'), missing)} Add {add}, e.g. {example}"


def _unknown_variables(error: InputError) -> str:
    return str(error).replace(NO_VARIABLES, f"It takes no variables; leave out {_VAR}.")


_TYPED: Mapping[Code, Callable[[InputError], str]] = {
    "not_available_yet": _not_available,
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
}
