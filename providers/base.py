"""Normalized types every provider speaks, and the `Provider` base class.

A provider turns an `OutboundMessage` into its own HTTP request, sends it with the
injected ``httpx.AsyncClient`` and answers with a `SendResult`; it turns its
delivery callbacks into `Receipt`s, and where the provider can be asked (`lookup`), its
answer about a `SentRef` into the same `Receipt`s. It does no rendering, storage, retries or
policy: those live once, in the core (``bot``).
"""

from __future__ import annotations

import abc
import json
import re
from collections.abc import Callable, Coroutine, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import Any, ClassVar

import httpx

from providers.errors import (
    ProviderAuthError,
    ProviderError,
    ProviderOutcomeUnknownError,
    ProviderRateLimitedError,
    ProviderRejectedError,
    ProviderTimeoutError,
    ProviderUnavailableError,
    ProviderUnsupportedError,
    retry_after_seconds,
)
from providers.redaction import Redactor, redacting, scrub_error


class Channel(StrEnum):
    """How a message reaches the customer."""

    SMS = "sms"
    WHATSAPP = "whatsapp"
    EMAIL = "email"
    ZALO = "zalo"
    MMS = "mms"

    @property
    def uses_phone_numbers(self) -> bool:
        return self is not Channel.EMAIL


class DeliveryStatus(StrEnum):
    """Normalized delivery states, in the order a message moves through them."""

    ACCEPTED = "accepted"
    SENT = "sent"
    DELIVERED = "delivered"
    READ = "read"
    FAILED = "failed"


# Status lookups a polling connection may start in any one second: a small share of every
# provider's documented limit (Bird: 50 GETs/s per workspace; Callbell: 300 requests/s),
# so polling never crowds out sends.
DEFAULT_POLL_PER_SECOND = 5.0


@dataclass(frozen=True)
class ConnectionConfig:
    """One named way out: a provider, its account settings and a channel.

    ``options`` holds the provider's own keys (credentials among them), so it is
    left out of the repr; `describe()` is the safe view.
    """

    name: str
    provider: str
    channel: Channel
    base_url: str | None = None
    webhook_token: str | None = field(default=None, repr=False)
    options: Mapping[str, Any] = field(default_factory=dict, repr=False)
    # Delivery policy the core applies around the provider:
    fallback: str | None = None  # connection to try when this one cannot get a message accepted
    max_per_second: float | None = None
    max_concurrency: int = 8  # requests in flight at once, shared by every send
    connect_timeout: float = 5.0
    read_timeout: float = 15.0
    # Receipts by polling (`Provider.poll_enabled`); None: on when webhooks cannot verify.
    poll: bool | None = None
    poll_per_second: float = DEFAULT_POLL_PER_SECOND

    def option(self, key: str, default: Any = None) -> Any:
        return self.options.get(key, default)

    def describe(self) -> dict[str, str]:
        shown = {"provider": self.provider, "channel": str(self.channel)}
        if self.fallback:
            shown["fallback"] = self.fallback
        return shown


@dataclass(frozen=True)
class ProviderTemplate:
    """A template approved at the provider (WhatsApp outside the 24-hour window needs one).

    ``parameters`` keeps its order: providers that take named parameters use the keys
    (Bird, Sociocs); Callbell's placeholders are numbered, so its keys are the numbers
    (``1``, ``2``, …) and the values go out in that order, whatever order they were written.
    """

    id: str  # Bird projectId, Callbell template_uuid, Sociocs template id / Content SID
    parameters: Mapping[str, str] = field(default_factory=dict)
    version: str | None = None  # Bird: "latest" or a version id
    locale: str | None = None  # Bird: e.g. "en"


@dataclass(frozen=True)
class OutboundMessage:
    """What the core hands a provider: one rendered message to one recipient."""

    reference: str  # Herald's message id; echoed back by providers that support it
    channel: Channel
    to: str  # E.164 phone number, or an e-mail address for the email channel
    text: str
    subject: str | None = None
    media_urls: tuple[str, ...] = ()
    template: ProviderTemplate | None = None
    recipient_name: str | None = None  # when known (a template's ``name`` variable)
    sender_email: str | None = None  # the Slack user who sent it, where a provider can use it


@dataclass(frozen=True)
class SendResult:
    """A provider's answer to an accepted message."""

    provider_message_id: str | None
    status: DeliveryStatus = DeliveryStatus.ACCEPTED
    raw: Any = field(default=None, repr=False)


@dataclass(frozen=True)
class Receipt:
    """A delivery-status change reported by a provider."""

    status: DeliveryStatus
    provider_message_id: str | None = None
    reference: str | None = None
    reason: str | None = None
    occurred_at: datetime | None = None
    raw: Any = field(default=None, repr=False)


@dataclass(frozen=True)
class SentRef:
    """What a status lookup knows of a message the provider accepted."""

    reference: str  # Herald's message id
    provider_message_id: str | None
    channel: Channel
    to: str
    accepted_at: datetime | None = None  # when Herald recorded the provider's acceptance


@dataclass(frozen=True)
class WebhookRequest:
    """A delivery callback as it reached Herald (headers lower-cased)."""

    url: str
    headers: Mapping[str, str]
    body: bytes
    query: Mapping[str, str] = field(default_factory=dict)

    def json(self) -> Any:
        """The body as JSON; raises ``ValueError`` if it is not."""
        return json.loads(self.body)


@dataclass(frozen=True)
class WebhookResult:
    """What a callback carried, and what to answer the provider."""

    receipts: Sequence[Receipt] = ()
    reply: Mapping[str, Any] = field(default_factory=lambda: {"ok": True})


CHECK_BEFORE_RESENDING = "Check with the recipient before sending it again."
# 502 Bad Gateway and 504 Gateway Timeout come from a proxy that forwarded the request
# and lost the API's answer; 500 and 503 are the API's own "not done" (retryable).
GATEWAY_FAILURES = frozenset({502, 504})
WHATSAPP_WINDOW_HINT = (
    "Outside WhatsApp's 24-hour window only approved templates can be sent: use --template."
)
# No provider documents the wording of its refusal of a free-form WhatsApp message
# outside the 24-hour customer-service window, so match the phrases such refusals use
# and the codes behind them (Twilio 63016, Meta 131047).
_WINDOW_REFUSAL = re.compile(
    r"24[\s-]*h(ou)?rs?\b|24-hour|\bwindow\b|re-?engag|customer[\s-]*service|session"
    r"|\b63016\b|\b131047\b",
    re.IGNORECASE,
)


def require_content(message: OutboundMessage, provider: str) -> None:
    """Refuse, before any request, a message with no text, no media and no template:
    providers either refuse it or deliver an empty message."""
    if message.template is None and not message.media_urls and not message.text.strip():
        raise ProviderRejectedError(
            "the message is empty: it has no text, media or template", provider=provider
        )


def is_whatsapp_window_refusal(text: str) -> bool:
    """Whether a provider's error text says the 24-hour window is closed."""
    return bool(_WINDOW_REFUSAL.search(text))


ReceiptSink = Callable[[Sequence[Receipt]], Coroutine[Any, Any, None]]
"""Where a provider reports receipts that arrive outside a webhook (the sandbox)."""


class Provider(abc.ABC):
    """Base class of every provider adapter.

    Subclasses set the class attributes and implement `send`; those whose
    provider calls back implement `parse_webhook`. Every `ProviderError` their
    `send`, `send_many` or `parse_webhook` raises or returns leaves scrubbed of the
    values of `secret_keys`, the connection's ``webhook_token`` and URL userinfo
    (`providers.redaction`): an adapter never redacts on its own.
    """

    name: ClassVar[str]
    channels: ClassVar[frozenset[Channel]]
    required_keys: ClassVar[tuple[str, ...]] = ()
    optional_keys: ClassVar[tuple[str, ...]] = ()
    secret_keys: ClassVar[tuple[str, ...]] = ()  # keys whose values are never shown
    default_base_url: ClassVar[str | None] = None
    batches: ClassVar[bool] = False  # True: `send_many` sends several messages in one request
    batch_size: ClassVar[int] = 1  # with `batches`: the most messages one request may carry
    supports_lookup: ClassVar[bool] = False  # True: `lookup` asks the provider for a status
    lookup_needs_id: ClassVar[bool] = True  # False: `lookup` finds a message without its id
    no_lookup: ClassVar[str] = "it has no status lookup"  # why ``poll = true`` is refused

    def __init__(
        self,
        config: ConnectionConfig,
        client: httpx.AsyncClient,
        receipts: ReceiptSink,
    ) -> None:
        self.config = config
        self.client = client
        self.receipts = receipts

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        # Each adapter's own send, send_many, parse_webhook and lookup is wrapped as the class is
        # made, so no error path of any adapter, present or future, can skip redaction.
        for name in ("send", "send_many", "parse_webhook", "lookup"):
            method = cls.__dict__.get(name)
            if callable(method):
                setattr(cls, name, redacting(method))

    def __repr__(self) -> str:
        return f"<{type(self).__name__} connection={self.config.name!r}>"

    def secret_values(self) -> list[str]:
        """The values never to show: those of `secret_keys` and the ``webhook_token``;
        adapters that derive credentials from them (a hash, a token) add those."""
        values = [self.config.option(key) for key in self.secret_keys]
        values.append(self.config.webhook_token)
        return [str(v) for v in values if isinstance(v, str | int) and not isinstance(v, bool)]

    def redact(self, text: str) -> str:
        """``text`` with the connection's secrets and URL userinfo replaced: for anything
        an adapter puts in a log line or an error beyond what the base scrubs."""
        return Redactor(self.secret_values()).text(text)

    def scrub(self, error: ProviderError) -> ProviderError:
        """``error`` with the connection's secrets redacted (in place)."""
        return scrub_error(error, Redactor(self.secret_values()))

    @property
    def base_url(self) -> str:
        return (self.config.base_url or self.default_base_url or "").rstrip("/")

    @classmethod
    def check_config(cls, config: ConnectionConfig) -> None:
        """Raise `ProviderUnsupportedError` if this provider cannot serve the config."""
        if config.channel not in cls.channels:
            carried = ", ".join(sorted(str(c) for c in cls.channels))
            raise ProviderUnsupportedError(
                f"cannot carry channel {config.channel!s} (it carries: {carried})",
                provider=cls.name,
            )
        if config.poll and not cls.supports_lookup:
            raise ProviderUnsupportedError(
                f"cannot be polled for receipts ('poll = true'): {cls.no_lookup}",
                provider=cls.name,
            )

    def wants_sender_email(self) -> bool:
        """Whether `send` uses ``OutboundMessage.sender_email`` (the core then looks it up)."""
        return False

    async def request(self, method: str, url: str, **kwargs: Any) -> httpx.Response:
        """Make one HTTP call; transport failures and non-2xx answers become `ProviderError`s.

        Adapters shape the error text by overriding `error_detail` and `error_hint`; the
        error is scrubbed of secrets as it is built, before an adapter quotes it elsewhere.
        """
        try:
            response = await self.client.request(method, url, **kwargs)
        except (httpx.ConnectError, httpx.ConnectTimeout, httpx.PoolTimeout) as exc:
            # Nothing was sent yet, so trying again cannot send twice.
            raise ProviderUnavailableError(
                f"cannot reach the API ({type(exc).__name__})", provider=self.name
            ) from exc
        except httpx.TimeoutException as exc:
            raise ProviderTimeoutError(
                "sent, but no answer within the timeout, so it may or may not have gone out",
                provider=self.name,
                hint=CHECK_BEFORE_RESENDING,
            ) from exc
        except (httpx.UnsupportedProtocol, httpx.InvalidURL) as exc:
            raise ProviderUnsupportedError(
                f"the API address is not a usable http(s) URL ({type(exc).__name__}); "
                "check base_url",
                provider=self.name,
            ) from exc
        except httpx.HTTPError as exc:  # the connection broke or the answer was unreadable
            raise ProviderOutcomeUnknownError(
                f"sent, but the answer was lost ({type(exc).__name__}), so it may or may not "
                "have gone out",
                provider=self.name,
                hint=CHECK_BEFORE_RESENDING,
            ) from exc
        if response.is_success:
            return response
        status = response.status_code
        detail = self.error_detail(response) or response.reason_phrase or "request failed"
        hint = self.error_hint(response)
        error: ProviderError
        if status in (401, 403):
            error = ProviderAuthError(detail, provider=self.name, status_code=status, hint=hint)
        elif status == 429:
            error = ProviderRateLimitedError(
                detail,
                provider=self.name,
                status_code=status,
                retry_after=retry_after_seconds(response.headers.get("retry-after")),
                hint=hint,
            )
        elif status in GATEWAY_FAILURES:
            # A gateway in front of the API gave up waiting for it (502) or timed out (504):
            # the request went through, so the API may have taken the message. Like a lost
            # answer, never retried blindly (issue: a 504 retried reached the customer twice).
            # Its body is the gateway's page, not the provider's words: name the failure.
            error = ProviderOutcomeUnknownError(
                f"the API's gateway answered {status} {response.reason_phrase} after the "
                "request went out, so it may or may not have gone out",
                provider=self.name,
                status_code=status,
                hint=CHECK_BEFORE_RESENDING,
            )
        elif status >= 500:
            error = ProviderUnavailableError(detail, provider=self.name, status_code=status)
        else:
            error = ProviderRejectedError(
                detail, provider=self.name, status_code=status, raw=json_body(response), hint=hint
            )
        raise self.scrub(error)

    def error_detail(self, response: httpx.Response) -> str:
        """The provider's own words for a failed call (override to read its error shape)."""
        body = json_body(response)
        if isinstance(body, dict):
            for key in ("message", "error", "detail", "description"):
                value = body.get(key)
                if isinstance(value, str) and value:
                    return value
        return response.text[:200] if response.text else ""

    def error_hint(self, response: httpx.Response) -> str | None:
        """A next step for a known failure (override per provider)."""
        return None

    @abc.abstractmethod
    async def send(self, message: OutboundMessage) -> SendResult:
        """Send one message; raise a `ProviderError` if it was not accepted."""

    async def send_many(
        self, messages: Sequence[OutboundMessage]
    ) -> list[SendResult | ProviderError]:
        """Send several messages; providers with a batch API override this."""
        results: list[SendResult | ProviderError] = []
        for message in messages:
            try:
                results.append(await self.send(message))
            except ProviderError as exc:
                results.append(exc)
        return results

    async def lookup(self, message: SentRef) -> list[Receipt]:
        """Ask the provider where ``message`` is: the receipts its status gives (none
        while it says nothing new). Adapters with a lookup set `supports_lookup`."""
        raise ProviderUnsupportedError(self.no_lookup, provider=self.name)

    async def fetch(self, url: str, **kwargs: Any) -> httpx.Response:
        """A lookup's ``GET``: like `request`, but a lost answer sent nothing, so it is
        the API being unavailable (retryable), never "may have gone out"."""
        try:
            return await self.request("GET", url, **kwargs)
        except ProviderOutcomeUnknownError as exc:
            lost = "the status lookup's answer was lost"
            if isinstance(exc, ProviderTimeoutError):
                lost = "the status lookup got no answer in time"
            elif exc.status_code:
                lost = f"the status lookup got the API's gateway error {exc.status_code}"
            raise exc.recast(ProviderUnavailableError, lost) from exc

    def webhooks_verified(self) -> bool:
        """Whether this connection's callbacks can be verified (a ``webhook_token`` or the
        provider's signing key), so receipts may come by webhook."""
        return self.config.webhook_token is not None or self.webhook_key() is not None

    def poll_enabled(self) -> bool:
        """Whether Herald polls this connection's messages for their status: its ``poll``
        key; by default, when the provider has a lookup and no callback could be verified."""
        if not self.supports_lookup:
            return False
        if self.config.poll is not None:
            return self.config.poll
        return not self.webhooks_verified()

    def webhook_needs_token(self) -> bool:
        """Whether callbacks must carry the connection's ``webhook_token``: true unless the
        provider signs its callbacks and this connection has the key to check them."""
        return True

    def webhook_key(self) -> str | None:
        """The secret this connection checks its callbacks' signatures with; None when
        they are unsigned. The core lets a callback change only messages of connections
        that verify with the same credentials (the same provider account)."""
        return None

    def parse_webhook(self, request: WebhookRequest) -> WebhookResult:
        """Verify and read a delivery callback; `WebhookAuthError` if it does not verify."""
        raise ProviderUnsupportedError("does not send delivery callbacks", provider=self.name)

    async def aclose(self) -> None:  # noqa: B027 - optional hook, most providers hold nothing
        """Release what the provider holds beyond the shared client."""


def json_body(response: httpx.Response) -> Any:
    """The answer's body as JSON; None when it is not JSON."""
    try:
        return response.json()
    except ValueError:
        return None
