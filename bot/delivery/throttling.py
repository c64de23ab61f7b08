"""A per-connection send rate limit, so a bulk send cannot trip a provider's limits."""

from __future__ import annotations

import asyncio
import contextlib
import math
import time
from collections import deque
from collections.abc import AsyncIterator, Awaitable, Callable

# Waking a hair early (asyncio may run a timer up to its clock resolution early, and a
# float sum can land one ulp short) would otherwise mean sleeping for ~0 s, which an
# injected clock may never advance past; this floor ends such a wait.
MIN_WAIT = 0.001


class RateLimiter:
    """Lets at most ``per_second`` sends start in ANY one-second window, waiting as long as
    needed; fair in arrival order.

    It remembers the start times of the last sends (a sliding window): N sends may start
    at once, the next when the oldest of them is a second old. (A token bucket holding a
    second's worth lets 2N start within a second: its burst, then the refill.) A rate
    below 1 lets one send start every ``1 / per_second`` seconds; a fractional rate above
    1 is rounded down (2.5 → 2 a second), so the promise holds in every window.
    """

    def __init__(
        self,
        per_second: float,
        *,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
    ) -> None:
        if not (math.isfinite(per_second) and per_second > 0):
            raise ValueError("per_second must be a positive, finite number")
        self.rate = per_second
        self.capacity = max(1, math.floor(per_second))
        self.window = 1.0 if per_second >= 1 else 1.0 / per_second
        self._starts: deque[float] = deque(maxlen=self.capacity)
        self._clock = clock
        self._sleep = sleep
        self._lock = asyncio.Lock()  # FIFO: waiters go in the order they arrived

    async def acquire(self, count: int = 1) -> None:
        """Wait until ``count`` sends may start together, and count them as started now.

        A batch larger than the capacity waits for an empty window and then goes as one
        request (it cannot be spread out without splitting it).
        """
        async with self.starting(count):
            pass

    @contextlib.asynccontextmanager
    async def starting(self, count: int = 1) -> AsyncIterator[None]:
        """`acquire`, with the sends readied inside the block (their "sending" mark stored)
        while later callers wait: they count as started when the block ends, just before
        their requests go, so the window holds the real start times however long the
        readying took. A block that raises counts nothing."""
        need = min(max(count, 1), self.capacity)
        async with self._lock:
            while True:
                now = self._clock()
                while self._starts and now - self._starts[0] >= self.window:
                    self._starts.popleft()
                over = len(self._starts) + need - self.capacity
                if over <= 0:
                    break
                # the start that must leave the window before these may begin
                leaving = self._starts[over - 1]
                await self._sleep(max(leaving + self.window - now, MIN_WAIT))
            yield
            now = max(now, self._clock())
            for _ in range(count):
                self._starts.append(now)
