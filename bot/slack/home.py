"""App Home: published when someone opens it, and again when their things change.

`HomePublisher` renders a viewer's Home (`bot.slack.blocks.home`) from what they have
scheduled (`Herald.agenda`) and their recent sends (`Herald.recent_sends`), and
publishes it with ``views.publish``:

- when they open the Home tab (``app_home_opened`` with ``tab: home``), at once;
- when one of their sends, messages or schedules changes (`Herald.watch`), if they
  opened Home during this process's life. Those viewers are remembered in a bounded
  LRU (`VIEWERS_LIMIT`); someone who never opened it gets no publishes.

Coalescing follows `bot.slack.summaries`: a change only marks the viewer (no Slack
call, no database read); one task per marked viewer publishes at once if nothing was
published for them for `PUBLISH_EVERY` seconds, else when that interval is over, with
the Home as it is then. So a send to thousands of recipients republishes its sender's
Home every few seconds, not once per message, and the last state is always published
(a change during a publish marks the viewer again). A publish that would show exactly
what the last one showed is skipped, except when the viewer opens the tab.

Slack's limits: ``views.publish`` is Tier 4 (100+ a minute per workspace). At most
`IN_FLIGHT` publishes run at once; a 429 holds every publish back for its
``Retry-After`` (the client here does not retry a 429 itself, as in summaries: the
publish made afterwards shows the Home as it is by then).

A button clicked in Home has no ``response_url``, so what it did, or why it could not,
is a *notice* at the top of the viewer's next Home (`tell`), shown for
`NOTICE_SECONDS` or until they open the tab again.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import logging
import re
import time
from collections import OrderedDict
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from aiohttp import ClientError
from slack_bolt.async_app import AsyncApp
from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient

from bot.expiring import ExpiringMap
from bot.logsafe import loggable
from bot.services import Herald
from bot.slack import actions, blocks
from bot.slack.blocks.home import RECENT_LIMIT
from bot.slack.receipts import why
from bot.slack.summaries import Unretried, _rate_limited

log = logging.getLogger(__name__)
_USER = re.compile(r"[UW][A-Z0-9]{2,30}")  # a Slack user id; nothing else is kept

PUBLISH_EVERY = 2.0  # seconds between two publishes of one viewer's Home, at least
IN_FLIGHT = 4  # publishes waiting for Slack at once, at most
VIEWERS_LIMIT = 5_000  # viewers whose Home follows their changes (the most recent openers)
NOTICE_SECONDS = 60.0  # how long what a click did stays at the top of Home
NETWORK_TRIES = 3  # publishes in a row that fail on the network before one is given up

Sleep = Callable[[float], Awaitable[None]]


@dataclass
class Viewer:
    """Someone who opened their Home during this process's life."""

    published_at: float | None = None  # the clock's time of their last publish
    digest: str | None = None  # of the Home last published for them


@dataclass
class Pending:
    """A viewer whose Home has changes to publish."""

    dirty: bool = True  # something changed since the last publish
    force: bool = False  # publish even if it looks as the last one (they opened the tab)
    network_failures: int = 0


class HomePublisher:
    """Every viewer's App Home, kept current (see the module's docstring)."""

    def __init__(
        self,
        client: AsyncWebClient,
        herald: Herald,
        *,
        interval: float = PUBLISH_EVERY,
        in_flight: int = IN_FLIGHT,
        viewers_limit: int = VIEWERS_LIMIT,
        clock: Callable[[], float] = time.monotonic,
        sleep: Sleep = asyncio.sleep,
    ) -> None:
        self._unretried = Unretried(client)
        self.herald = herald
        self.interval = interval
        self.clock = clock
        self.sleep = sleep
        self.viewers_limit = viewers_limit
        self.viewers: OrderedDict[str, Viewer] = OrderedDict()  # least recently opened first
        self.pending: dict[str, Pending] = {}
        self.not_before = 0.0  # Slack said 429: no publish before this
        self.slots = asyncio.Semaphore(in_flight)
        self.notices: ExpiringMap[str, str] = ExpiringMap(NOTICE_SECONDS, viewers_limit, clock)

    # -- what happens ------------------------------------------------------------

    def opened(self, user: str) -> None:
        """``user`` opened their Home tab: publish it now, and follow their changes."""
        self._remember(user)
        self.notices.pop(user)  # they saw it; a fresh look starts without it
        self._mark(user, force=True)

    def changed(self, user: str) -> None:
        """Something of ``user`` changed (`Herald.watch`): republish their Home soon, if
        they opened it."""
        if user in self.viewers:
            self._mark(user)

    def tell(self, user: str, notice: str) -> None:
        """Show ``notice`` (mrkdwn) at the top of ``user``'s Home: what a button they
        clicked there did, or why it could not."""
        if not _USER.fullmatch(user):
            return
        self.notices.put(user, notice)
        self._remember(user)  # a click from Home: they have it open
        self._mark(user, force=True)

    def render(self, user: str) -> dict[str, Any]:
        """``user``'s Home as it is now."""
        herald = self.herald
        settings = herald.settings
        agenda = herald.agenda(user)
        recent = herald.recent_sends(user, RECENT_LIMIT + len(agenda.sends))
        return blocks.home_view(
            agenda,
            recent,
            command=settings.slack.command,
            channels={name: c.channel for name, c in settings.connections.items()},
            mask=settings.mask_recipients,
            notice=self.notices.get(user),
        )

    # -- publishing --------------------------------------------------------------

    @property
    def client(self) -> AsyncWebClient:
        """The app's client without slack-sdk's own 429 retries (`Unretried`)."""
        return self._unretried()

    def _remember(self, user: str) -> Viewer:
        viewer = self.viewers.get(user) or Viewer()
        self.viewers[user] = viewer
        self.viewers.move_to_end(user)
        while len(self.viewers) > self.viewers_limit:
            self.viewers.popitem(last=False)
        return viewer

    def _mark(self, user: str, *, force: bool = False) -> None:
        pending = self.pending.get(user)
        if pending is not None:
            pending.dirty = True
            pending.force = pending.force or force
            return
        self.pending[user] = pending = Pending(force=force)
        self.herald.background.spawn(self._keep_published(user, pending), name="home-publish")

    async def _keep_published(self, user: str, pending: Pending) -> None:
        """Publish ``user``'s Home, then again while changes keep coming, at most once
        every `interval` seconds; the task ends with the publish that shows the last
        change (nothing waits once all is shown)."""
        try:
            while pending.dirty:
                viewer = self.viewers.get(user) or Viewer()
                last = viewer.published_at
                due = (
                    self.not_before if last is None else max(last + self.interval, self.not_before)
                )
                wait = due - self.clock()
                if wait > 0:
                    await self.sleep(wait)
                    continue  # a 429 meanwhile may have moved `not_before`
                async with self.slots:
                    if self.not_before > self.clock():
                        continue  # a 429 came while this waited for a slot
                    pending.dirty = False
                    force, pending.force = pending.force, False
                    viewer.published_at = self.clock()
                    await self._publish_once(user, viewer, pending, force)
        finally:
            if self.pending.get(user) is pending:
                del self.pending[user]

    async def _publish_once(self, user: str, viewer: Viewer, pending: Pending, force: bool) -> None:
        try:
            await self._publish(user, viewer, force)
        except SlackApiError as exc:
            retry_after = _rate_limited(exc)
            if retry_after is None:
                log.error("could not publish the App Home of %s: %s", loggable(user, 40), why(exc))
                return
            log.info("Slack is rate limiting App Home publishes: waiting %.0f s", retry_after)
            self.not_before = max(self.not_before, self.clock() + retry_after)
            pending.dirty = True  # published when Slack allows, as it is by then
            pending.force = pending.force or force
        except (ClientError, TimeoutError) as exc:
            pending.network_failures += 1
            if pending.network_failures < NETWORK_TRIES:
                pending.dirty = True
                pending.force = pending.force or force
            log.error("could not publish the App Home of %s: %s", loggable(user, 40), why(exc))
        else:
            pending.network_failures = 0

    async def _publish(self, user: str, viewer: Viewer, force: bool) -> None:
        view = self.render(user)
        digest = hashlib.sha256(json.dumps(view, sort_keys=True).encode()).hexdigest()
        if not force and viewer.digest == digest:
            return  # Slack shows exactly this already
        await self.client.views_publish(user_id=user, view=view)
        viewer.digest = digest


def register(app: AsyncApp, herald: Herald) -> HomePublisher:
    """Publish Home on ``app_home_opened`` and when a viewer's things change; its
    **Send now** and **Cancel** buttons (`bot.slack.actions.register_home`)."""
    home = HomePublisher(app.client, herald)
    herald.watch(home.changed)
    actions.register_home(app, herald, home)

    @app.event("app_home_opened")
    async def home_opened(event: dict[str, Any]) -> None:
        if event.get("tab") != "home":
            return  # the Messages tab: nothing to publish
        user = event.get("user")
        if not isinstance(user, str) or not _USER.fullmatch(user):
            # Slack always names who opened it: say so (the error handler logs it, and
            # Slack is answered 200, so it does not retry)
            raise ValueError(f"app_home_opened names no user: {loggable(repr(user), 40)}")
        home.opened(user)

    return home
