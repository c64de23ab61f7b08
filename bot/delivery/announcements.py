"""Status changes on their way to the `Announcer`, without holding up the hand-over.

Delivery records a change and moves on to the next message; `Announcements` shows the
change soon after, through the announcer (Slack posts and edits receipts, the CLI
prints). However slow the announcer, hand-over never waits for it, and what waits is
small and bounded: one entry per message with a change not yet shown — never a task or a
coroutine per change — holding the stored message for at most `HELD_MESSAGES` of them and
only the id beyond that (read from the store when its turn comes). A few workers
(`ANNOUNCERS`) show them, oldest first, one message at a time per message: a change made
while an earlier one of the same message waits takes that one's place, so a message is
never shown older than it was shown before, and a change made while one is being shown
waits for it to finish.
"""

from __future__ import annotations

import asyncio
import logging
from collections import OrderedDict
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

from bot.announcing import Announcer
from bot.models import Message

log = logging.getLogger(__name__)

ANNOUNCERS = 4  # messages shown at once
HELD_MESSAGES = 1000  # messages held in memory while they wait; beyond, only their ids


@dataclass
class _Waiter:
    left: set[str]
    done: asyncio.Event = field(default_factory=asyncio.Event)


class Announcements:
    """Changes waiting to be shown: `post` one (never waits), `shown` waits for some."""

    def __init__(
        self,
        announcer: Callable[[], Announcer],
        current: Callable[[str], Message | None],
        *,
        workers: int = ANNOUNCERS,
        held: int = HELD_MESSAGES,
    ) -> None:
        self._announcer = announcer
        self._current = current  # the stored message, for one waiting by its id alone
        self.workers = workers
        self.held = held
        self._waiting: OrderedDict[str, Message | None] = OrderedDict()
        self._held = 0  # entries of `_waiting` that hold their message
        self._showing: set[str] = set()
        self._tasks: set[asyncio.Task[None]] = set()  # kept referenced while they run
        self._working = 0  # workers that may still take a change (counted down as they stop)
        self._waiters: list[_Waiter] = []

    def __len__(self) -> int:
        """Messages with a change not yet shown."""
        return len(self._waiting) + len(self._showing - self._waiting.keys())

    def post(self, message: Message) -> None:
        """Show ``message`` (its state right after a change) soon."""
        if message.id in self._waiting:
            if self._waiting[message.id] is not None:
                self._waiting[message.id] = message  # the newer state, in the older's place
        else:
            keep = self._held < self.held
            self._waiting[message.id] = message if keep else None
            self._held += keep
        self._start_workers()

    async def shown(self, message_ids: Iterable[str]) -> None:
        """Wait until every change posted so far for ``message_ids`` has been shown (or
        failed to be: the announcer's errors are logged, not raised)."""
        left = {i for i in message_ids if i in self._waiting or i in self._showing}
        if not left:
            return
        waiter = _Waiter(left)
        self._waiters.append(waiter)
        try:
            await waiter.done.wait()
        finally:
            self._waiters.remove(waiter)

    def _start_workers(self) -> None:
        loop = asyncio.get_running_loop()
        while self._working < min(self.workers, len(self._waiting)):
            self._working += 1
            task = loop.create_task(self._work(), name="announce")
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)

    async def _work(self) -> None:
        try:
            await self._work_through()
        finally:
            # Counted down here, not when the task is reaped: a change posted in between
            # must find it gone and start another worker.
            self._working -= 1

    async def _work_through(self) -> None:
        while (taken := self._take()) is not None:
            message_id, message = taken
            self._showing.add(message_id)
            try:
                message = message or self._current(message_id)
                if message is not None:
                    await self._announcer().message_changed(message)
            except Exception:
                # The change is stored; a receipt Slack never got is posted at the next start.
                log.exception("could not announce the change of message %s", message_id)
            finally:
                self._showing.discard(message_id)
                self._finished(message_id)

    def _take(self) -> tuple[str, Message | None] | None:
        """The oldest waiting change of a message not being shown right now."""
        for message_id in self._waiting:
            if message_id not in self._showing:
                message = self._waiting.pop(message_id)
                self._held -= message is not None
                return message_id, message
        return None

    def _finished(self, message_id: str) -> None:
        if message_id in self._waiting:
            return  # it changed again meanwhile: that change is still to be shown
        for waiter in self._waiters:
            waiter.left.discard(message_id)
            if not waiter.left:
                waiter.done.set()
