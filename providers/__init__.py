"""Messaging providers behind one normalized API.

The registry is an explicit dict: adding a provider means writing its module,
importing its class here and adding one line to `PROVIDERS`.
"""

from providers.base import (
    Channel,
    ConnectionConfig,
    DeliveryStatus,
    OutboundMessage,
    Provider,
    ProviderTemplate,
    Receipt,
    ReceiptSink,
    SendResult,
    SentRef,
    WebhookRequest,
    WebhookResult,
)
from providers.bird import BirdProvider
from providers.callbell import CallbellProvider
from providers.capillary import CapillaryProvider
from providers.errors import (
    ProviderAuthError,
    ProviderError,
    ProviderOutcomeUnknownError,
    ProviderRateLimitedError,
    ProviderRejectedError,
    ProviderTimeoutError,
    ProviderUnavailableError,
    ProviderUnsupportedError,
    WebhookAuthError,
    WebhookError,
)
from providers.sandbox import SandboxProvider
from providers.sociocs import SociocsProvider

PROVIDERS: dict[str, type[Provider]] = {
    "bird": BirdProvider,
    "callbell": CallbellProvider,
    "sociocs": SociocsProvider,
    "capillary": CapillaryProvider,
    "sandbox": SandboxProvider,
}

__all__ = [
    "PROVIDERS",
    "BirdProvider",
    "CallbellProvider",
    "CapillaryProvider",
    "Channel",
    "ConnectionConfig",
    "DeliveryStatus",
    "OutboundMessage",
    "Provider",
    "ProviderAuthError",
    "ProviderError",
    "ProviderOutcomeUnknownError",
    "ProviderRateLimitedError",
    "ProviderRejectedError",
    "ProviderTemplate",
    "ProviderTimeoutError",
    "ProviderUnavailableError",
    "ProviderUnsupportedError",
    "Receipt",
    "ReceiptSink",
    "SandboxProvider",
    "SendResult",
    "SentRef",
    "SociocsProvider",
    "WebhookAuthError",
    "WebhookError",
    "WebhookRequest",
    "WebhookResult",
]
