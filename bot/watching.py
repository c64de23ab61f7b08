"""Telling who listens that a sender's things changed (`Herald.watch`): App Home redraws
from it. Best effort and in memory: what listens rebuilds from the rows anyway."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable

from bot.announcing import Announcer
from bot.models import Message

log = logging.getLogger(__name__)

WATCH_PENDING = 10_000  # senders with a change not yet told to the watchers, at most


class Watchers:
    """Who wants to hear that a sender's sends, messages or schedules changed
    (`Herald.watch`): best effort and in memory. A listener is called with the sender's
    id on the event loop soon after the change, once per sender however many changes
    came in that turn of the loop; it must be cheap, and what it raises is logged, never
    raised into Herald. At most `WATCH_PENDING` senders wait; beyond, changes are
    dropped (what listens rebuilds from the rows anyway)."""

    def __init__(self, limit: int = WATCH_PENDING) -> None:
        self.limit = limit
        self._listeners: list[Callable[[str], None]] = []
        self._pending: dict[str, None] = {}
        self._flushing = False

    def add(self, listener: Callable[[str], None]) -> Callable[[], None]:
        """Call ``listener`` from now on; returns what stops it."""
        self._listeners.append(listener)
        return lambda: self._listeners.remove(listener) if listener in self._listeners else None

    def changed(self, sender: str) -> None:
        """Something of ``sender``'s changed: tell the listeners soon (once per turn)."""
        if not self._listeners:
            return
        if sender not in self._pending and len(self._pending) >= self.limit:
            log.debug("too many changes waiting for the watchers; dropped one of %s", sender)
            return
        self._pending[sender] = None
        if self._flushing:
            return
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:  # no loop (a synchronous caller): tell them now
            self._flush()
            return
        self._flushing = True
        loop.call_soon(self._flush)

    def _flush(self) -> None:
        self._flushing = False
        senders = list(self._pending)
        self._pending.clear()
        for sender in senders:
            for listener in list(self._listeners):
                try:
                    listener(sender)
                except Exception:
                    log.exception("a watcher of %s's changes failed", sender)


class Watched:
    """The announcer as the core uses it: every change shown is also told to the
    watchers, with its sender. Every status change the core announces goes through
    here (the send pipeline, receipts, the planner's changes)."""

    def __init__(self, announcer: Callable[[], Announcer], watchers: Watchers) -> None:
        self._announcer = announcer
        self._watchers = watchers

    async def message_changed(self, message: Message) -> None:
        """Tell the watchers, then show the change as the announcer does."""
        self._watchers.changed(message.sender)
        await self._announcer().message_changed(message)

    def unannounced(self) -> list[Message]:
        """The announcer's messages never shown."""
        return self._announcer().unannounced()
