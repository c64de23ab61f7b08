"""Waiting for work another thread or task does: poll a condition until it holds, with a
deadline (never a bare sleep standing in for the work)."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from typing import Any

POLL = 0.01  # seconds between two looks: the poll interval of a deadline


def eventually(check: Callable[[], Any], what: str = "it", timeout: float = 5.0) -> Any:
    """``check()`` once it is truthy, asked again until ``timeout`` seconds have passed."""
    deadline = time.monotonic() + timeout
    while not (found := check()):
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(POLL)
    return found


async def until(check: Callable[[], Any], what: str = "it", timeout: float = 5.0) -> Any:
    """`eventually`, on the event loop (the work runs on it meanwhile)."""
    deadline = time.monotonic() + timeout
    while not (found := check()):
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        await asyncio.sleep(POLL / 2)
    return found
