"""The rate limit: at most N sends start in EVERY one-second window, in arrival order.

The clock is injected: ``sleep`` advances it, so no test waits in real time.
"""

from __future__ import annotations

import asyncio
import math

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bot.delivery.throttling import RateLimiter


class FakeClock:
    def __init__(self, start: float = 0.0) -> None:
        self.now = start

    def __call__(self) -> float:
        return self.now

    async def sleep(self, seconds: float) -> None:
        assert seconds > 0  # a wait of nothing would spin
        self.now += seconds


def _limiter(rate: float, clock: FakeClock) -> RateLimiter:
    return RateLimiter(rate, clock=clock, sleep=clock.sleep)


def _crowded_windows(starts: list[float], most: int, window: float) -> list[list[float]]:
    """Every run of ``most + 1`` starts that fits in less than ``window`` seconds."""
    ordered = sorted(starts)
    return [
        ordered[i : i + most + 1]
        for i in range(len(ordered) - most)
        if ordered[i + most] - ordered[i] < window
    ]


def test_the_issue_case_six_starts_at_five_per_second_span_a_second() -> None:
    clock = FakeClock()
    limiter = _limiter(5, clock)
    starts: list[float] = []

    async def six() -> None:
        for _ in range(6):
            await limiter.acquire()
            starts.append(clock.now)

    asyncio.run(six())

    # a token bucket started all six within 0.2 s: its full second of burst, then a refill
    assert starts[5] - starts[0] >= 1.0
    assert _crowded_windows(starts, 5, 1.0) == []


def test_a_burst_after_idle_time_still_holds_in_every_window() -> None:
    clock = FakeClock(100.0)
    limiter = _limiter(2, clock)
    starts: list[float] = []

    async def run() -> None:
        for gap in (0, 0, 0.9, 0, 0, 0, 5.0, 0, 0, 0):
            clock.now += gap
            await limiter.acquire()
            starts.append(clock.now)

    asyncio.run(run())

    assert starts == pytest.approx([100, 100, 101, 101, 102, 102, 107, 107, 108, 108])
    assert _crowded_windows(starts, 2, 1.0) == []


@settings(max_examples=300, deadline=None)
@given(
    rate=st.one_of(st.integers(1, 12), st.floats(0.2, 12, allow_nan=False)),
    start=st.floats(0, 1e6, allow_nan=False),
    steps=st.lists(st.tuples(st.floats(0, 2.5, allow_nan=False), st.integers(1, 4)), max_size=40),
)
def test_no_window_holds_more_starts_than_the_rate_allows(
    rate: float, start: float, steps: list[tuple[float, int]]
) -> None:
    clock = FakeClock(start)
    limiter = _limiter(rate, clock)
    starts: list[float] = []

    async def run() -> None:
        for gap, count in steps:
            clock.now += gap
            count = min(count, limiter.capacity)
            await limiter.acquire(count)
            starts.extend([clock.now] * count)

    asyncio.run(run())

    if rate >= 1:  # at most N (rounded down) in any one second
        assert limiter.capacity == math.floor(rate)
        assert _crowded_windows(starts, math.floor(rate), 1.0) == []
    else:  # one start per 1/rate seconds
        assert _crowded_windows(starts, 1, 1.0 / rate) == []


def test_waiters_start_in_the_order_they_arrived() -> None:
    clock = FakeClock()
    limiter = _limiter(1, clock)
    order: list[int] = []

    async def one(i: int) -> None:
        await limiter.acquire()
        order.append(i)

    async def many() -> None:
        await asyncio.gather(*(one(i) for i in range(6)))

    asyncio.run(many())

    assert order == list(range(6))
    assert clock.now == pytest.approx(5.0)


def test_a_batch_larger_than_the_rate_waits_for_an_empty_window() -> None:
    clock = FakeClock()
    limiter = _limiter(3, clock)
    starts: list[float] = []

    async def run() -> None:
        await limiter.acquire()
        starts.append(clock.now)
        await limiter.acquire(5)  # one request carrying five messages
        starts.append(clock.now)
        await limiter.acquire()
        starts.append(clock.now)

    asyncio.run(run())

    assert starts == pytest.approx([0.0, 1.0, 2.0])


@pytest.mark.parametrize("rate", [0, -1, math.nan, math.inf])
def test_a_rate_that_is_not_positive_and_finite_is_refused(rate: float) -> None:
    with pytest.raises(ValueError, match="positive, finite"):
        RateLimiter(rate)
