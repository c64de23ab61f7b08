"""When and how long to wait before trying a provider again.

Retry 5xx, 429 and transport errors (``ProviderError.retryable``) with
exponential backoff and jitter, honouring ``Retry-After``, within a bounded
number of attempts and a bounded total wait. A 4xx is never retried, and a
message the provider accepted is never sent again: only errors reach here.
"""

from __future__ import annotations

import asyncio
import random
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field

from providers import ProviderError, ProviderRateLimitedError

Sleep = Callable[[float], Awaitable[None]]


@dataclass(frozen=True)
class RetryPolicy:
    attempts: int = 4  # tries in all, the first one included
    backoff: float = 0.5  # seconds before the second try; doubles each time
    max_delay: float = 8.0  # no single wait is longer
    max_wait: float = 30.0  # total seconds spent waiting before giving up
    sleep: Sleep = field(default=asyncio.sleep, repr=False, compare=False)
    random: Callable[[], float] = field(default=random.random, repr=False, compare=False)

    def delay(self, attempt: int, errors: list[ProviderError]) -> float:
        """Seconds to wait after failed try number ``attempt`` (1-based)."""
        ceiling = min(self.max_delay, self.backoff * 2 ** (attempt - 1))
        wait = ceiling / 2 + self.random() * ceiling / 2  # "equal jitter"
        asked = [
            e.retry_after
            for e in errors
            if isinstance(e, ProviderRateLimitedError) and e.retry_after is not None
        ]
        return float(max([wait, *asked]))

    def gives_up(self, attempt: int, waited: float, next_delay: float) -> bool:
        return attempt >= self.attempts or waited + next_delay > self.max_wait
