"""The ``sociocs`` provider: Sociocs. (Being written; see the provider issue.)"""

from __future__ import annotations

from providers.base import Channel, OutboundMessage, Provider, SendResult
from providers.errors import ProviderUnsupportedError


class SociocsProvider(Provider):
    name = "sociocs"
    channels = frozenset({Channel.SMS, Channel.WHATSAPP})
    required_keys = ("api_key", "channel_key", "sociocs_provider")
    optional_keys = ("webhook_secret",)
    default_base_url = "https://api.sociocs.com"

    async def send(self, message: OutboundMessage) -> SendResult:
        raise ProviderUnsupportedError("sending is not implemented yet", provider=self.name)
