"""Waiting for an event, at most so long, in a way a cancel always reaches.

Python 3.11's ``asyncio.wait_for`` drops a cancellation that arrives just as the awaited
event is set (fixed in 3.12): a loop that naps with it may then never stop, and
``Herald.stop`` would wait for it forever. `nap` waits with ``asyncio.wait``, which
never swallows the caller's cancellation.
"""

from __future__ import annotations

import asyncio


async def nap(event: asyncio.Event, seconds: float) -> bool:
    """Wait until ``event`` is set or ``seconds`` pass; True if it was set."""
    if event.is_set():
        return True
    waiter = asyncio.ensure_future(event.wait())
    try:
        await asyncio.wait({waiter}, timeout=seconds)
    finally:
        waiter.cancel()
    return event.is_set()
