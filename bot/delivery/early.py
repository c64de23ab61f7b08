"""`EarlyReceipts`: provider reports that beat the answer to their send, held until it comes.

A provider may call back about a message before it has answered the request that sent
it, so the report names a provider id Herald does not know yet. The core keeps such a
report here and applies it once the answer brings the id (`take`).

Only callbacks that verified reach this store, but what a verified (or misconfigured)
sender posts is not Herald's to choose, and an id that never turns up is the normal
fate of a report for another system's message. So the store is bounded: each report
for at most `ttl` seconds, at most `max_per_id` reports and `max_bytes_per_id` bytes per
provider id, at most `max_bytes` in all. A report's raw payload is held as compact JSON,
so the byte counts are what it really occupies, near enough; a payload too large for
one id's share is dropped and the report kept without it (its status, reason and time
are what matter). When the whole store is full the oldest ids go first: a report worth
keeping is minutes old at most, since the send it waits for times out.
"""

from __future__ import annotations

import json
import time
from collections import OrderedDict
from collections.abc import Callable, Hashable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from providers import DeliveryStatus, Receipt

EARLY_RECEIPT_TTL = 600.0
EARLY_RECEIPT_BYTES = 4_000_000
EARLY_RECEIPT_BYTES_PER_ID = 32_000
EARLY_RECEIPTS_PER_ID = 8
# What a kept report costs besides its strings: the tuple, the datetime, the dict slot.
_OVERHEAD = 200


@dataclass(frozen=True)
class _Held:
    status: DeliveryStatus
    provider_message_id: str | None
    reference: str | None
    reason: str | None
    occurred_at: datetime | None
    raw_json: str | None

    @property
    def size(self) -> int:
        texts = (self.provider_message_id, self.reference, self.reason, self.raw_json)
        return _OVERHEAD + sum(len(text) for text in texts if text)

    def receipt(self) -> Receipt:
        raw = json.loads(self.raw_json) if self.raw_json is not None else None
        return Receipt(
            self.status,
            provider_message_id=self.provider_message_id,
            reference=self.reference,
            reason=self.reason,
            occurred_at=self.occurred_at,
            raw=raw,
        )


@dataclass
class _Entry:
    since: float
    held: list[_Held] = field(default_factory=list)
    size: int = 0


class EarlyReceipts:
    """Reports waiting for their provider id, bounded in time, count and bytes."""

    def __init__(
        self,
        *,
        ttl: float = EARLY_RECEIPT_TTL,
        max_bytes: int = EARLY_RECEIPT_BYTES,
        max_bytes_per_id: int = EARLY_RECEIPT_BYTES_PER_ID,
        max_per_id: int = EARLY_RECEIPTS_PER_ID,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.ttl = ttl
        self.max_bytes = max_bytes
        self.max_bytes_per_id = max_bytes_per_id
        self.max_per_id = max_per_id
        self._clock = clock
        self._entries: OrderedDict[Hashable, _Entry] = OrderedDict()  # oldest first
        self.size = 0  # bytes held, as counted by `_Held.size`

    def __len__(self) -> int:
        return sum(len(entry.held) for entry in self._entries.values())

    def keep(self, key: Hashable, receipt: Receipt) -> str:
        """Hold ``receipt`` under ``key``; returns what happened, for the log line."""
        self._expire()
        held, note = _hold(receipt), ""
        if held.size > self.max_bytes_per_id:
            held = _hold(receipt, with_raw=False)
            note = " (its raw payload was too large and is not kept)"
        if held.size > self.max_bytes_per_id:
            return "ignored: too large to keep"
        entry = self._entries.get(key)
        if entry is not None and (
            len(entry.held) >= self.max_per_id or entry.size + held.size > self.max_bytes_per_id
        ):
            # The first reports for an id are the likeliest to be the real, racing ones.
            return "ignored: enough reports for this id are already waiting"
        if entry is None:
            entry = self._entries[key] = _Entry(self._clock())
        entry.held.append(held)
        entry.size += held.size
        self.size += held.size
        evicted = self._shrink(keep=key)
        if evicted:
            note += f"; {evicted} older waiting id(s) dropped to stay within {self.max_bytes} bytes"
        return "kept in case its send is still in flight" + note

    def take(self, key: Hashable) -> list[Receipt]:
        """The reports held under ``key``, oldest first, removed from the store."""
        self._expire()
        entry = self._entries.pop(key, None)
        if entry is None:
            return []
        self.size -= entry.size
        return [held.receipt() for held in entry.held]

    def _expire(self) -> None:
        deadline = self._clock() - self.ttl
        while self._entries:
            key, entry = next(iter(self._entries.items()))
            if entry.since > deadline:
                break
            self._drop(key)

    def _shrink(self, *, keep: Hashable) -> int:
        evicted = 0
        for oldest in list(self._entries):
            if self.size <= self.max_bytes:
                break
            if oldest != keep:  # one id alone never passes the total: it has its own cap
                self._drop(oldest)
                evicted += 1
        return evicted

    def _drop(self, key: Hashable) -> None:
        entry = self._entries.pop(key)
        self.size -= entry.size


def _hold(receipt: Receipt, *, with_raw: bool = True) -> _Held:
    return _Held(
        receipt.status,
        receipt.provider_message_id,
        receipt.reference,
        receipt.reason,
        receipt.occurred_at,
        _compact(receipt.raw) if with_raw else None,
    )


def _compact(raw: Any) -> str | None:
    # The same serialization the store uses for a receipt's raw payload (default=str).
    return None if raw is None else json.dumps(raw, default=str, separators=(",", ":"))
