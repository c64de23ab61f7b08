"""The ``callbell`` provider: Callbell. (Being written; see the provider issue.)"""

from __future__ import annotations

from providers.base import Channel, OutboundMessage, Provider, SendResult
from providers.errors import ProviderUnsupportedError


class CallbellProvider(Provider):
    name = "callbell"
    channels = frozenset({Channel.WHATSAPP})
    required_keys = ("token", "channel_uuid")
    optional_keys = ()
    default_base_url = "https://api.callbell.eu/v1"

    async def send(self, message: OutboundMessage) -> SendResult:
        raise ProviderUnsupportedError("sending is not implemented yet", provider=self.name)
