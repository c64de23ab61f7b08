"""Several workers over one list: how a send to many streams.

A send's messages are not turned into a task each: a few workers take the next slice
(`chunks`) of the list in turn, so what runs at once is bounded by the number of workers,
whatever the number of recipients. `together` runs them and stops them all at the first
failure, or when the send is cancelled (a shutdown).
"""

from __future__ import annotations

import asyncio
from collections.abc import Coroutine, Iterable, Iterator
from typing import Any, TypeVar

T = TypeVar("T")


def chunks(items: list[T], size: int) -> Iterator[tuple[int, list[T]]]:
    """``items`` in slices of ``size``, each with where it starts: made one at a time, as
    the workers take them (the iterator is shared by the workers)."""
    for start in range(0, len(items), size):
        yield start, items[start : start + size]


async def together(works: Iterable[Coroutine[Any, Any, None]]) -> None:
    """Run ``works`` at once; the first that fails stops the others and its error is raised
    as it is. One runs here, without a task of its own."""
    coroutines = list(works)
    if len(coroutines) <= 1:
        for coroutine in coroutines:
            await coroutine
        return
    tasks = [asyncio.ensure_future(c) for c in coroutines]
    try:
        await asyncio.wait(tasks, return_when=asyncio.FIRST_EXCEPTION)
    finally:  # one failed, or this was cancelled (a shutdown): stop the rest
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
    for task in tasks:
        if not task.cancelled() and (error := task.exception()) is not None:
            raise error
