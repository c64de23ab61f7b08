"""Keeping a connection's credentials out of everything a provider shows.

Provider answers are not always documented (Bird's and Capillary's error bodies are
UNKNOWN, providers spec §2.5, §1.5), and one that echoes the request echoes its
credentials. `Redactor` replaces each secret value, in the forms an answer may quote it
(as sent, percent-encoded, JSON-escaped), and the user name and password of any URL
(``https://user:pass@host``), with ``[redacted]``. The `Provider` base class runs every
error an adapter raises or returns through it (`scrub_error`): the detail, the hint and
the raw answer kept for the history, and the errors it was raised from.
"""

from __future__ import annotations

import functools
import inspect
import json
import re
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from typing import Any, Protocol, TypeVar
from urllib.parse import quote, quote_plus

from providers.errors import ProviderError

REDACTED = "[redacted]"
# scheme://userinfo@ — the userinfo may hold anything but the characters that end it.
_USERINFO = re.compile(r"(?i)\b([a-z][a-z0-9+.-]*://)[^/?#@\s\"'<>]+@")


class Redactor:
    """Replaces the given secret values, and URL userinfo, with ``[redacted]``."""

    def __init__(self, secrets: Iterable[str]) -> None:
        forms: set[str] = set()
        for secret in secrets:
            if secret:
                forms.update((secret, quote(secret, safe=""), quote_plus(secret)))
                forms.add(" ".join(secret.split()))  # as an error detail folds white space
                for ascii_only in (True, False):  # as a JSON string spells it, "\/" too
                    escaped = json.dumps(secret, ensure_ascii=ascii_only)[1:-1]
                    forms.update((escaped, escaped.replace("/", "\\/")))
        # Longest first, so a secret that contains another is replaced whole.
        self._forms = sorted(filter(None, forms), key=len, reverse=True)

    def __repr__(self) -> str:
        return f"<Redactor of {len(self._forms)} forms>"

    def text(self, text: str) -> str:
        for form in self._forms:
            text = text.replace(form, REDACTED)
        return _USERINFO.sub(rf"\1{REDACTED}@", text)

    def value(self, value: Any) -> Any:
        """``value`` with every string in it redacted (dict keys too), as a copy."""
        if isinstance(value, str):
            return self.text(value)
        if isinstance(value, bytes):
            return self.text(value.decode("utf-8", "replace")).encode()
        if isinstance(value, dict):
            return {self.value(k): self.value(v) for k, v in value.items()}
        if isinstance(value, list | tuple):
            return type(value)(self.value(item) for item in value)
        return value


def scrub_error(error: ProviderError, redactor: Redactor) -> ProviderError:
    """Redact ``error`` in place (detail, hint, raw), and the provider errors it was raised
    from, which a logged traceback would show; returns it."""
    seen: set[int] = set()
    current: BaseException | None = error
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        if isinstance(current, ProviderError):
            current.redact(redactor.text)
            try:
                current.raw = redactor.value(current.raw)
            except RecursionError:  # nested past what can be walked: keep none of it
                current.raw = None
        current = current.__cause__ or current.__context__
    return error


class _Scrubs(Protocol):
    def scrub(self, error: ProviderError) -> ProviderError: ...


Method = TypeVar("Method", bound=Callable[..., Any])


def redacting(method: Method) -> Method:
    """``method`` (of a `_Scrubs`, sync or async) with every `ProviderError` it raises,
    or returns in a list (``send_many``), scrubbed by its object before it leaves."""
    if inspect.iscoroutinefunction(method):

        @functools.wraps(method)
        async def redacting_async(self: _Scrubs, *args: Any, **kwargs: Any) -> Any:
            with _scrubbing(self):
                return _scrubbed(self, await method(self, *args, **kwargs))

        return redacting_async  # type: ignore[return-value]

    @functools.wraps(method)
    def redacting_sync(self: _Scrubs, *args: Any, **kwargs: Any) -> Any:
        with _scrubbing(self):
            return _scrubbed(self, method(self, *args, **kwargs))

    return redacting_sync  # type: ignore[return-value]


@contextmanager
def _scrubbing(owner: _Scrubs) -> Iterator[None]:
    try:
        yield
    except ProviderError as exc:
        owner.scrub(exc)
        raise


def _scrubbed(owner: _Scrubs, result: Any) -> Any:
    if isinstance(result, list):
        for item in result:
            if isinstance(item, ProviderError):
                owner.scrub(item)
    return result
