"""The ``bird`` provider: Bird Channels API. (Being written; see the provider issue.)"""

from __future__ import annotations

from providers.base import Channel, OutboundMessage, Provider, SendResult
from providers.errors import ProviderUnsupportedError


class BirdProvider(Provider):
    name = "bird"
    channels = frozenset({Channel.SMS, Channel.MMS, Channel.EMAIL, Channel.WHATSAPP})
    required_keys = ("access_key", "workspace_id", "channel_id")
    optional_keys = ("signing_key",)
    default_base_url = "https://api.bird.com"

    async def send(self, message: OutboundMessage) -> SendResult:
        raise ProviderUnsupportedError("sending is not implemented yet", provider=self.name)
