"""The one error tree of the core.

    HeraldError                     base; ``str(exc)`` is safe to show a user
    ├── ConfigError                 bad or missing configuration; stops startup
    ├── InputError                  the user's input; the message says what to fix
    │   ├── UnknownConnectionError  no such connection (lists the valid ones)
    │   ├── InvalidRecipientError   a phone number or e-mail address that cannot be used
    │   └── NotAvailableYetError    a recognised option whose feature has not landed
    ├── MessageNotFoundError        no message with that id (also a LookupError)
    ├── RepeatedRequestError        a request acted on before (a retry or a replay)
    └── StoreBusyError              the database stayed locked by another process too long

Provider failures are `providers.ProviderError`s; the core records them on the
message rather than raising them to the user.
"""

from __future__ import annotations


class HeraldError(Exception):
    """Base of every error Herald raises on purpose."""


class ConfigError(HeraldError):
    """The configuration cannot be used; the message names the key or variable."""


class InputError(HeraldError):
    """Something the user typed cannot be used; nothing was sent."""

    def __init__(self, message: str, *, field: str | None = None) -> None:
        super().__init__(message)
        self.field = field


class UnknownConnectionError(InputError):
    """The named connection does not exist."""


class InvalidRecipientError(InputError):
    """A recipient that is not a usable phone number or e-mail address."""


class NotAvailableYetError(InputError):
    """A recognised command or option whose feature is not available yet."""


class MessageNotFoundError(HeraldError, LookupError):
    """No message has the given id."""


class RepeatedRequestError(HeraldError):
    """The same request (a Slack retry, a replayed signed request) was acted on before."""


class StoreBusyError(HeraldError):
    """The database's write lock could not be had in time; nothing was written."""
