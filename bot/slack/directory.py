"""`SlackDirectory`: who a Slack user is, for providers that route replies to the sender."""

from __future__ import annotations

import logging

from aiohttp import ClientError
from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient

log = logging.getLogger(__name__)


class SlackDirectory:
    def __init__(self, client: AsyncWebClient) -> None:
        self.client = client
        self._emails: dict[str, str | None] = {}

    async def email_of(self, sender: str) -> str | None:
        if not sender.startswith(("U", "W")):
            return None
        if sender not in self._emails:
            try:
                answer = await self.client.users_info(user=sender)
            except (SlackApiError, ClientError, TimeoutError) as exc:
                # Sending matters more than routing the reply: go on without the e-mail.
                log.warning("cannot look up the e-mail of %s: %s", sender, type(exc).__name__)
                return None
            profile = (answer.get("user") or {}).get("profile") or {}
            self._emails[sender] = profile.get("email") or None
        return self._emails[sender]
