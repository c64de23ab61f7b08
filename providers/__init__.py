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
    Receipt,
    ReceiptSink,
    SendResult,
    WebhookRequest,
    WebhookResult,
)
from providers.errors import (
    ProviderAuthError,
    ProviderError,
    ProviderRateLimitedError,
    ProviderRejectedError,
    ProviderTimeoutError,
    ProviderUnavailableError,
    ProviderUnsupportedError,
    WebhookAuthError,
    WebhookError,
)
from providers.sandbox import SandboxProvider

PROVIDERS: dict[str, type[Provider]] = {
    "sandbox": SandboxProvider,
}

__all__ = [
    "PROVIDERS",
    "Channel",
    "ConnectionConfig",
    "DeliveryStatus",
    "OutboundMessage",
    "Provider",
    "ProviderAuthError",
    "ProviderError",
    "ProviderRateLimitedError",
    "ProviderRejectedError",
    "ProviderTimeoutError",
    "ProviderUnavailableError",
    "ProviderUnsupportedError",
    "Receipt",
    "ReceiptSink",
    "SandboxProvider",
    "SendResult",
    "WebhookAuthError",
    "WebhookError",
    "WebhookRequest",
    "WebhookResult",
]
