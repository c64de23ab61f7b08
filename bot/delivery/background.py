"""Work that continues after Slack has its answer: tracked, logged, drained at shutdown.

Work that can wait (handing a send to its provider) waits while people are waiting
(requests in flight): under a burst of slash commands, each one's acknowledgement
comes before the previous ones' provider calls and receipts, never behind them.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Coroutine, Iterator
from typing import Any

from bot.waiting import nap

log = logging.getLogger(__name__)

CANCEL_ROUNDS = 3
MAX_DEFER_SECONDS = 2.0  # deferred work starts after this even if requests keep coming


class Background:
    """A set of asyncio tasks that are kept alive, logged when they fail and awaited on stop."""

    def __init__(self, *, max_defer: float = MAX_DEFER_SECONDS) -> None:
        self._tasks: set[asyncio.Task[Any]] = set()
        self.max_defer = max_defer
        self._requests = 0
        self._quiet = asyncio.Event()
        self._quiet.set()

    @contextlib.contextmanager
    def request(self) -> Iterator[None]:
        """Mark a request someone is waiting for, while it is being answered."""
        self._requests += 1
        self._quiet.clear()
        try:
            yield
        finally:
            self._requests -= 1
            if self._requests == 0:
                self._quiet.set()

    def spawn(
        self, work: Coroutine[Any, Any, Any], *, name: str, defer: bool = False
    ) -> asyncio.Task[Any]:
        """Run ``work`` in the background; with ``defer``, only once no request is being
        answered (or `max_defer` seconds have passed)."""
        task = asyncio.get_running_loop().create_task(
            self._deferred(work) if defer else work, name=name
        )
        if defer:
            # cancelled before it started, ``work`` never will: close it (no-op otherwise)
            task.add_done_callback(lambda _: work.close())
        self._tasks.add(task)
        task.add_done_callback(self._finished)
        return task

    async def _deferred(self, work: Coroutine[Any, Any, Any]) -> Any:
        await nap(self._quiet, self.max_defer)
        return await work

    def __len__(self) -> int:
        return len(self._tasks)

    def _finished(self, task: asyncio.Task[Any]) -> None:
        self._tasks.discard(task)
        if not task.cancelled() and task.exception() is not None:
            log.error("background work %s failed", task.get_name(), exc_info=task.exception())

    async def drain(self, timeout: float) -> None:
        """Wait up to ``timeout`` seconds for the work, then cancel what is left.

        Work spawned while draining (an announcement after a send finishes, a receipt's
        follow-up) is waited for too: only when the set is empty may the store and the
        providers close under it.
        """
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while self._tasks and (left := deadline - loop.time()) > 0:
            await asyncio.wait(set(self._tasks), timeout=left)
        # Cancelled work may spawn more on its way out (a finally that announces): cancel
        # that too, a few rounds at most, so a task that respawns forever cannot hang stop.
        for _ in range(CANCEL_ROUNDS):
            if not self._tasks:
                return
            pending = set(self._tasks)
            for task in pending:
                log.warning("cancelling %s at shutdown", task.get_name())
                task.cancel()
            await asyncio.gather(*pending, return_exceptions=True)
        if self._tasks:
            log.error("%d background task(s) still running after shutdown", len(self._tasks))
