"""Normalized types every provider speaks, and the `Provider` base class.

A provider turns an `OutboundMessage` into its own HTTP request, sends it with the
injected ``httpx.AsyncClient`` and answers with a `SendResult`; it turns its
delivery callbacks into `Receipt`s. It does no rendering, storage, retries or
policy: those live once, in the core (``bot``).
"""

from __future__ import annotations

import abc
import json
from collections.abc import Callable, Coroutine, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import Any, ClassVar

import httpx

from providers.errors import ProviderError, ProviderUnsupportedError


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

    def option(self, key: str, default: Any = None) -> Any:
        return self.options.get(key, default)

    def describe(self) -> dict[str, str]:
        return {"provider": self.provider, "channel": str(self.channel)}


@dataclass(frozen=True)
class OutboundMessage:
    """What the core hands a provider: one rendered message to one recipient."""

    reference: str  # Herald's message id; echoed back by providers that support it
    channel: Channel
    to: str  # E.164 phone number, or an e-mail address for the email channel
    text: str
    subject: str | None = None
    media_urls: tuple[str, ...] = ()
    sender_email: str | None = None  # the person who sent it, where a provider can use it


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


ReceiptSink = Callable[[Sequence[Receipt]], Coroutine[Any, Any, None]]
"""Where a provider reports receipts that arrive outside a webhook (the sandbox)."""


class Provider(abc.ABC):
    """Base class of every provider adapter.

    Subclasses set the class attributes and implement `send`; those whose
    provider calls back implement `parse_webhook`.
    """

    name: ClassVar[str]
    channels: ClassVar[frozenset[Channel]]
    required_keys: ClassVar[tuple[str, ...]] = ()
    optional_keys: ClassVar[tuple[str, ...]] = ()
    default_base_url: ClassVar[str | None] = None

    def __init__(
        self,
        config: ConnectionConfig,
        client: httpx.AsyncClient,
        receipts: ReceiptSink,
    ) -> None:
        self.config = config
        self.client = client
        self.receipts = receipts

    def __repr__(self) -> str:
        return f"<{type(self).__name__} connection={self.config.name!r}>"

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

    def parse_webhook(self, request: WebhookRequest) -> WebhookResult:
        """Verify and read a delivery callback."""
        raise ProviderUnsupportedError("does not send delivery callbacks", provider=self.name)

    async def aclose(self) -> None:  # noqa: B027 - optional hook, most providers hold nothing
        """Release what the provider holds beyond the shared client."""
