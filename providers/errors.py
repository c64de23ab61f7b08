"""The one error tree of the providers package.

    ProviderError                      base; carries provider, status_code, retryable
    ├── ProviderAuthError              credentials refused (401/403); not retryable
    ├── ProviderRejectedError          the provider refused this message (4xx); not retryable
    ├── ProviderRateLimitedError       429; retryable, honours retry_after
    ├── ProviderUnavailableError       500/503, or the API could not be reached; retryable
    ├── ProviderOutcomeUnknownError    the request went out but its answer was lost (or was
    │   │                              a gateway's 502/504, or made no sense), so the
    │   │                              message may have gone: NOT retryable (no duplicates)
    │   └── ProviderTimeoutError       … because no answer came in time
    ├── ProviderUnsupportedError       channel or feature the provider cannot carry
    └── WebhookError                   a delivery callback that cannot be trusted or read
        └── WebhookAuthError           signature or token check failed

``str(exc)`` is safe to show a Slack user: it names the provider, says what went
wrong in a short trimmed detail, adds a ``hint`` (the next step) for known cases
and never contains credentials: every error a provider lets out has passed through
`ProviderError.redact` (``providers.redaction``, applied by the ``Provider`` base class).
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from email.utils import parsedate_to_datetime
from typing import TypeVar

DETAIL_LIMIT = 300
_Error = TypeVar("_Error", bound="ProviderError")


def clip(text: str, limit: int = DETAIL_LIMIT) -> str:
    """``text`` on one line (white space folded), cut to ``limit`` characters with "…"."""
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 1] + "…"


class ProviderError(Exception):
    """A provider could not do what was asked."""

    retryable: bool = False

    def __init__(
        self,
        detail: str,
        *,
        provider: str,
        status_code: int | None = None,
        raw: object = None,
        hint: str | None = None,
    ) -> None:
        # Kept whole, so `redact` sees a secret the trim would cut in two.
        self._words = " ".join(detail.split())
        self.detail = clip(self._words)
        self.provider = provider
        self.status_code = status_code
        self.raw = raw
        self.hint = hint
        super().__init__(self.detail)

    def redact(self, clean: Callable[[str], str]) -> None:
        """Pass the detail (before it is trimmed) and the hint through ``clean``."""
        self._words = clean(self._words)
        self.detail = clip(self._words)
        self.hint = clean(self.hint) if self.hint is not None else None
        self.args = (self.detail,)

    def recast(
        self, kind: type[_Error], detail: str | None = None, *, hint: str | None = None
    ) -> _Error:
        """This failure, for the same provider and HTTP status, as a ``kind`` (with a new
        ``detail`` if given, and ``hint``)."""
        return kind(
            self.detail if detail is None else detail,
            provider=self.provider,
            status_code=self.status_code,
            hint=hint,
        )

    def __str__(self) -> str:
        text = f"{self.provider}: {self.detail.rstrip('.')}"
        if self.status_code:
            text += f" (HTTP {self.status_code})"
        return f"{text}. {self.hint}" if self.hint else text

    def __repr__(self) -> str:
        return (
            f"{type(self).__name__}(provider={self.provider!r}, "
            f"status_code={self.status_code!r}, detail={self.detail!r})"
        )


class ProviderAuthError(ProviderError):
    """The provider refused the credentials of the connection."""


class ProviderRejectedError(ProviderError):
    """The provider refused this message; sending it again will not help."""


class ProviderRateLimitedError(ProviderError):
    """Too many requests; try again after ``retry_after`` seconds."""

    retryable = True

    def __init__(
        self,
        detail: str,
        *,
        provider: str,
        retry_after: float | None = None,
        status_code: int | None = 429,
        raw: object = None,
        hint: str | None = None,
    ) -> None:
        super().__init__(detail, provider=provider, status_code=status_code, raw=raw, hint=hint)
        self.retry_after = retry_after


class ProviderUnavailableError(ProviderError):
    """The provider is down or unreachable; the message was not accepted."""

    retryable = True


class ProviderOutcomeUnknownError(ProviderError):
    """The request went out but its answer was lost (connection broke, a gateway's 502 or
    504) or says neither yes nor no (an answer the provider does not document).

    The provider may have accepted the message, so Herald neither retries nor fails
    over: sending again could reach the customer twice.
    """


class ProviderTimeoutError(ProviderOutcomeUnknownError):
    """The request went out but no answer came in time."""


class ProviderUnsupportedError(ProviderError):
    """The provider cannot carry this channel or feature."""


class WebhookError(ProviderError):
    """A delivery callback that cannot be read."""


class WebhookAuthError(WebhookError):
    """A delivery callback whose signature or token does not verify."""


def retry_after_seconds(value: str | None) -> float | None:
    """Seconds from a ``Retry-After`` header (delta-seconds or an HTTP date); None when
    it is neither. RFC 9110 delta-seconds are digits only: ``nan``, ``inf`` or ``1e400``
    would otherwise read as "retry at once" or "never"."""
    if not value:
        return None
    text = value.strip()
    if text.isascii() and text.isdecimal():
        return float(min(int(text[:12]), 10**9))
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return max(0.0, (when - datetime.now(when.tzinfo)).total_seconds())
