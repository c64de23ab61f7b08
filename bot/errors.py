"""The one error tree of the core.

    HeraldError                     base; ``str(exc)`` is safe to show a user
    ├── ConfigError                 bad or missing configuration; stops startup
    ├── InputError                  the user's input: ``code``, ``fields``, ``details``
    │   ├── UnknownConnectionError  no such connection (suggests one, lists the valid ones)
    │   ├── InvalidRecipientError   a phone number or e-mail address that cannot be used
    │   ├── RecipientListError      a recipient list (``@NAME``, a CSV file) that cannot be
    │   │                           used: no such list, not CSV, bad rows (each named)
    │   ├── NotAvailableYetError    a recognised option whose feature has not landed
    │   └── RenderingError          a message template cannot be used (its own tree is
    │                               drawn in `bot.templating.errors`)
    ├── MessageNotFoundError        no message with that id (also a LookupError)
    ├── RepeatedRequestError        a request acted on before (a retry or a replay)
    ├── StoreBusyError              the database stayed locked by another process too long
    └── AlreadyRunningError         another ``herald serve`` runs this database's scheduler

An `InputError` is structured so that each front end can phrase it in its own
words: ``code`` says which problem it is (a stable name from `Code`), ``fields``
which parts of the request it is about (from `Field`), and ``details`` the values
needed to phrase it (the bad number, the missing variables, the close match).
``str(exc)`` is a plain-language sentence that names no command-line option; the
CLI and the slash command speak in options (`bot.options`), the compose modal will
put the error on the block of each field.

Provider failures are `providers.ProviderError`s; the core records them on the
message rather than raising them to the user.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from types import MappingProxyType
from typing import Literal, get_args

from bot.suggest import closest

# The parts of a send an input error can be about: the CLI and the slash command name
# them by their options, the compose modal (later) by its blocks.
Field = Literal[
    "connection",
    "recipients",
    "text",
    "subject",
    "media",
    "template",
    "variables",
    "at",
    "every",
    "until",
]
FIELDS: tuple[Field, ...] = get_args(Field)

Code = Literal[
    # the send as a whole (bot.sending)
    "unknown_connection",
    "not_available_yet",
    "recipient_missing",
    "too_many_recipients",
    "invalid_recipient",
    "text_missing",
    "text_too_long",
    "invisible_character",
    "template_and_text",
    "variables_without_template",
    "variable_not_pair",
    "subject_missing",
    "subject_not_for_channel",
    "media_not_for_channel",
    "media_not_public",
    # recipient lists, @NAME or a file (bot.sending.lists)
    "list_name_invalid",
    "list_not_found",
    "list_invalid",
    "list_too_large",
    "list_rows_invalid",
    "list_columns_missing",
    "list_not_repeatable",
    # message templates (bot.templating)
    "template_not_found",
    "template_header_invalid",
    "template_syntax_invalid",
    "template_unsafe",
    "template_channel_mismatch",
    "template_variables_missing",
    "template_variables_unknown",
    "template_value_invalid",
    "template_render_failed",
    # what was typed, before it is a request (the CLI and the slash command)
    "connection_missing",
    "unknown_option",
    "option_needs_value",
    "option_repeated",
    "command_usage",
    # scheduling (bot.scheduling)
    "duration_invalid",
    "when_invalid",
    "when_past",
    "when_too_far",
    "rule_invalid",
    "until_invalid",
    # scheduled sends and schedules (bot.scheduling.planner)
    "until_without_every",
    "not_cancellable",
    "not_reschedulable",
]
CODES: tuple[Code, ...] = get_args(Code)

# A value needed to phrase an error: a name, a count, or several names.
Detail = str | int | tuple[str, ...]


class HeraldError(Exception):
    """Base of every error Herald raises on purpose."""


class ConfigError(HeraldError):
    """The configuration cannot be used; the message names the key or variable."""


class InputError(HeraldError):
    """Something the user typed cannot be used; nothing was sent.

    ``code`` and ``fields`` are stable: front ends and tests key on them, never on the
    sentence.
    """

    def __init__(
        self, message: str, *, code: Code, fields: Iterable[Field] = (), **details: Detail
    ) -> None:
        super().__init__(message)
        self.code: Code = code
        self.fields: tuple[Field, ...] = tuple(fields)
        self.details: Mapping[str, Detail] = MappingProxyType(details)

    def value(self, key: str) -> str:
        """The detail ``key`` as text ("" when the error does not carry it)."""
        found = self.details.get(key, "")
        return ", ".join(found) if isinstance(found, tuple) else str(found)

    def names(self, key: str) -> tuple[str, ...]:
        """The detail ``key`` as names (() when the error does not carry it)."""
        found = self.details.get(key, ())
        return found if isinstance(found, tuple) else (str(found),)


class UnknownConnectionError(InputError):
    """The named connection does not exist."""

    @classmethod
    def naming(cls, name: str, connections: Sequence[str]) -> UnknownConnectionError:
        """The error for ``name``, suggesting the closest of ``connections`` and listing them."""
        close = closest(name, connections)
        hint = f" Did you mean '{close}'?" if close else ""
        return cls(
            f"There is no connection '{name}'.{hint} Connections: {', '.join(connections)}.",
            code="unknown_connection",
            fields=("connection",),
            connection=name,
            suggestion=close or "",
            choices=tuple(connections),
        )


class InvalidRecipientError(InputError):
    """A recipient that is not a usable phone number or e-mail address."""


class RecipientListError(InputError):
    """A recipient list that cannot be used; ``rows`` (a detail) names its bad rows."""


class NotAvailableYetError(InputError):
    """A recognised command or option whose feature is not available yet."""

    def __init__(self, message: str, *, fields: Iterable[Field] = (), **details: Detail) -> None:
        super().__init__(message, code="not_available_yet", fields=fields, **details)


class MessageNotFoundError(HeraldError, LookupError):
    """No message has the given id."""


class RepeatedRequestError(HeraldError):
    """The same request (a Slack retry, a replayed signed request) was acted on before."""


class StoreBusyError(HeraldError):
    """The database's write lock could not be had in time; nothing was written."""


class AlreadyRunningError(HeraldError):
    """Another ``herald serve`` runs the scheduler of this database; this one may not start."""
