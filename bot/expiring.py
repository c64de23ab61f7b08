"""`ExpiringMap`: a bounded memory of recent things, for what must not grow without end.

Entries are forgotten ``ttl`` seconds after they were put, and past ``limit`` the oldest
go first. Insertion order is time order, so expiring looks only at the front.
"""

from __future__ import annotations

import time
from collections import OrderedDict
from collections.abc import Callable
from typing import Generic, TypeVar

K = TypeVar("K")
V = TypeVar("V")


class ExpiringMap(Generic[K, V]):
    def __init__(self, ttl: float, limit: int, clock: Callable[[], float] = time.monotonic) -> None:
        self.ttl, self.limit, self.clock = ttl, limit, clock
        self._items: OrderedDict[K, tuple[float, V]] = OrderedDict()

    def __len__(self) -> int:
        self._expire()
        return len(self._items)

    def __contains__(self, key: object) -> bool:
        self._expire()
        return key in self._items

    def put(self, key: K, value: V) -> None:
        self._expire()
        self._items[key] = (self.clock(), value)
        self._items.move_to_end(key)
        while len(self._items) > self.limit:
            self._items.popitem(last=False)

    def get(self, key: K) -> V | None:
        self._expire()
        kept = self._items.get(key)
        return kept[1] if kept else None

    def pop(self, key: K) -> None:
        self._items.pop(key, None)

    def _expire(self) -> None:
        cutoff = self.clock() - self.ttl
        while self._items and next(iter(self._items.values()))[0] <= cutoff:
            self._items.popitem(last=False)
