"""`SlackDirectory`: who a Slack user is — their e-mail address, for providers that route
replies to the sender, and their time zone, for reading the times they type.

One ``users.info`` answer serves both, kept for an hour in a bounded map (`USER_LIMIT`
users), so a busy sender costs one call an hour. The time zone is asked for while Slack
waits for the command's answer, so that call has a short timeout (`ZONE_TIMEOUT`): when
Slack is slow or refuses, the caller falls back to Herald's own zone and says so.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass

from aiohttp import ClientError
from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient

from bot.expiring import ExpiringMap
from bot.logsafe import loggable
from bot.scheduling.zones import known_zone
from bot.slack.receipts import why

log = logging.getLogger(__name__)

USER_TTL = 3600.0  # seconds: a user who moves zone is read again within the hour
USER_LIMIT = 10_000
ZONE_TIMEOUT = 0.8  # seconds: Slack waits 3 s for the whole answer
EMAIL_TIMEOUT = 10.0


@dataclass(frozen=True)
class Person:
    """What Herald keeps of a Slack user: only what it uses."""

    email: str | None
    timezone: str | None  # an IANA name Herald knows


class SlackDirectory:
    def __init__(
        self, client: AsyncWebClient, *, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self.client = client
        self._people: ExpiringMap[str, Person] = ExpiringMap(USER_TTL, USER_LIMIT, clock)

    async def email_of(self, sender: str) -> str | None:
        person = await self._person(sender, EMAIL_TIMEOUT)
        return person.email if person else None

    async def timezone_of(self, user_id: str, *, timeout: float = ZONE_TIMEOUT) -> str | None:
        """The IANA zone ``user_id`` set in Slack (``users.info`` → ``tz``), or None when
        Slack does not say within ``timeout`` seconds or names a zone Herald does not know."""
        person = await self._person(user_id, timeout)
        return person.timezone if person else None

    async def _person(self, user_id: str, timeout: float) -> Person | None:
        if not user_id.startswith(("U", "W")):
            return None  # ``cli:<login>``
        known = self._people.get(user_id)
        if known is not None:
            return known
        try:
            answer = await asyncio.wait_for(self.client.users_info(user=user_id), timeout)
        except (SlackApiError, ClientError, TimeoutError) as exc:
            # Sending matters more than what this would add: go on without it.
            log.warning("cannot look up Slack user %s: %s", user_id, why(exc))
            return None
        user = answer.get("user")
        if not isinstance(user, dict):
            return None
        profile = user.get("profile")
        email = profile.get("email") if isinstance(profile, dict) else None
        person = Person(
            email if isinstance(email, str) and email else None, _known_zone(user.get("tz"))
        )
        self._people.put(user_id, person)
        return person


def _known_zone(zone: object) -> str | None:
    if zone is None or zone == "":
        return None
    if known_zone(zone) is None:
        log.warning("Slack gave an unknown time zone %s", loggable(repr(zone), 80))
        return None
    assert isinstance(zone, str)
    return zone
