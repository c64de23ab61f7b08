"""The ``capillary`` provider: Capillary sendMessage v1.1 (being written)."""

from __future__ import annotations

from providers.base import Channel, OutboundMessage, Provider, SendResult
from providers.errors import ProviderUnsupportedError


class CapillaryProvider(Provider):
    name = "capillary"
    channels = frozenset({Channel.SMS, Channel.EMAIL, Channel.WHATSAPP, Channel.ZALO})
    required_keys = ()
    optional_keys = ("username", "password", "oauth_key", "oauth_secret", "sender", "from")
    default_base_url = None

    async def send(self, message: OutboundMessage) -> SendResult:
        raise ProviderUnsupportedError("sending is not implemented yet", provider=self.name)
