"""Work that continues after Slack has its answer: tracked, logged, drained at shutdown."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Coroutine
from typing import Any

log = logging.getLogger(__name__)

CANCEL_ROUNDS = 3


class Background:
    """A set of asyncio tasks that are kept alive, logged when they fail and awaited on stop."""

    def __init__(self) -> None:
        self._tasks: set[asyncio.Task[Any]] = set()

    def spawn(self, work: Coroutine[Any, Any, Any], *, name: str) -> asyncio.Task[Any]:
        task = asyncio.get_running_loop().create_task(work, name=name)
        self._tasks.add(task)
        task.add_done_callback(self._finished)
        return task

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
