"""Delivery receipts by polling, for connections whose provider cannot call Herald back.

A connection polls (`providers.Provider.poll_enabled`: its ``poll`` key, by default on
when its provider has a status lookup and no callback of it could be verified) when
Herald runs where no webhook reaches it: Socket Mode, a laptop, a locked-down network;
and always for Capillary, which calls nobody back. When such a connection's provider
accepts a message, `Poller.watch` stores a *poll*: a row of the ``polls`` table
(`bot.storage.polls`), so a restarted server goes on where the last one stopped. Only
``herald serve`` runs the loop (`Poller.start`): one task, woken by the earliest due row
(or a new one), that reads due rows in batches and asks each message's provider
(`providers.Provider.lookup`) with bounded concurrency. What a lookup reports goes
through the same routing as a webhook's receipts (`bot.delivery.routing`), so a status
never moves backwards.

- accepted: a poll; the first lookup after ``delays[0]`` (10 s);
- a lookup says nothing final: the next after ``delays[1]``, ``delays[2]``, … (30 s,
  1 min, 2 min, 5 min, 10 min, then every 15 min);
- delivered, read or failed: the poll closes (its ``closed_reason`` says the status);
- a verified webhook reports on the message: the poll closes, as its receipts reach
  Herald that way (`Poller.heard`);
- no final status by the deadline (24 h): one last lookup, then the poll closes and the
  message keeps its last status;
- a lookup fails (5xx, timeout, 401, 429): that poll and its connection back off (10 s
  up to 5 min, or the Retry-After), logged once a minute per connection at most, without
  secrets or bodies.

Each polling connection has a budget (`LookupBudget`): at most ``poll_per_second``
lookups start in any one second (default `providers.base.DEFAULT_POLL_PER_SECOND`), so
polling never crowds out sends. A poll over budget waits, spread over the next seconds.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import math
import time
from collections import Counter, deque
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from bot.logsafe import loggable
from bot.models import Message
from bot.storage import Store, Transaction
from bot.storage.polls import Poll
from bot.waiting import nap
from providers import Provider, ProviderError, ProviderRateLimitedError, Receipt, SentRef

log = logging.getLogger(__name__)

POLL_DELAYS = (10.0, 30.0, 60.0, 120.0, 300.0, 600.0, 900.0)  # seconds; the last repeats
ERROR_DELAYS = (10.0, 30.0, 60.0, 120.0, 300.0)  # a failing connection's pause; the last repeats
POLL_FOR = 24 * 3600.0  # seconds after acceptance; most SMS reports come within 72 h (§2.6)
POLL_BATCH = 100  # due rows read at a time
POLL_CONCURRENCY = 8  # lookups in flight at once, across connections
IDLE_WAKE = 5.0  # seconds: polls another process stored (``herald send``) are seen this soon
LOG_EVERY = 60.0  # seconds between two log lines about one connection's failing lookups
WEBHOOK_REASON = "a webhook reported on it: its receipts come that way"


@dataclass(frozen=True)
class PollSchedule:
    """When to ask: ``delays[n]`` seconds before lookup n+1 (the last repeats), until
    ``deadline`` seconds after acceptance; ``error_delays[n]`` seconds of pause for a
    connection after its n+1st failed lookup in a row."""

    delays: tuple[float, ...] = POLL_DELAYS
    deadline: float = POLL_FOR
    error_delays: tuple[float, ...] = ERROR_DELAYS

    def delay(self, lookups: int) -> float:
        return self.delays[min(lookups, len(self.delays) - 1)]

    def error_delay(self, failures: int) -> float:
        return self.error_delays[min(max(failures - 1, 0), len(self.error_delays) - 1)]


class LookupBudget:
    """At most ``per_second`` lookups start in any one-second window (below 1: one every
    ``1 / per_second`` seconds), as `bot.delivery.throttling.RateLimiter` counts sends;
    but it never waits: `take` says how long until a lookup may start."""

    def __init__(self, per_second: float, *, clock: Callable[[], float] = time.time) -> None:
        if not (math.isfinite(per_second) and per_second > 0):
            raise ValueError("per_second must be a positive, finite number")
        self.capacity = max(1, math.floor(per_second))
        self.window = 1.0 if per_second >= 1 else 1.0 / per_second
        self.spacing = self.window / self.capacity  # between lookups kept waiting
        self._starts: deque[float] = deque()
        self._clock = clock

    def take(self) -> float:
        """0.0: a lookup may start now (and is counted); else the seconds until one may."""
        now = self._clock()
        while self._starts and now - self._starts[0] >= self.window:
            self._starts.popleft()
        if len(self._starts) < self.capacity:
            self._starts.append(now)
            return 0.0
        return self._starts[0] + self.window - now


Apply = Callable[[str, Sequence[Receipt]], Awaitable[int]]


class Poller:
    """Polls for the receipts of messages on connections that poll. `watch` and `heard`
    work in any process; `start` (``herald serve`` only) runs the loop."""

    def __init__(
        self,
        store: Callable[[], Store],
        providers: Mapping[str, Provider],
        apply: Apply,
        *,
        schedule: PollSchedule | None = None,
        clock: Callable[[], float] = time.time,
        concurrency: int = POLL_CONCURRENCY,
        batch: int = POLL_BATCH,
        idle: float = IDLE_WAKE,
    ) -> None:
        """``apply`` records receipts as a webhook's are (`Herald.apply_receipts`);
        ``clock`` is unix seconds (tests pass their own)."""
        self._store = store
        self.providers = providers
        self.apply = apply
        self.schedule = schedule or PollSchedule()
        self.clock = clock
        self.concurrency = concurrency
        self.batch = batch
        self.idle = idle
        self.budgets = {
            name: LookupBudget(provider.config.poll_per_second, clock=clock)
            for name, provider in providers.items()
            if provider.poll_enabled()
        }
        self._failing: Counter[str] = Counter()  # connection → failed lookups in a row
        self._held: dict[str, float] = {}  # connection → when its lookups may resume
        self._logged: dict[str, float] = {}  # connection → when its failures were last logged
        self._unlogged: Counter[str] = Counter()  # failures since, not logged
        self._wake = asyncio.Event()
        self._task: asyncio.Task[None] | None = None

    def polls(self, connection: str) -> bool:
        return connection in self.budgets

    # -- starting and stopping polls ---------------------------------------------------

    async def watch(self, message: Message) -> None:
        """Start polling ``message``, just accepted, if its connection polls and it has
        no final status yet."""
        provider = self.providers.get(message.connection)
        if provider is None or not self.polls(message.connection) or message.status.settled:
            return
        if provider.lookup_needs_id and not message.provider_message_id:
            log.info(
                "message %s: %s named no id for it, so its status cannot be asked",
                message.id,
                provider.name,
            )
            return
        now = self.clock()
        poll = Poll(
            message_id=message.id,
            connection=message.connection,
            provider_message_id=message.provider_message_id,
            started_at=_moment(now),
            deadline=_moment(now + self.schedule.deadline),
            next_at=_moment(now + self.schedule.delay(0)),
        )
        # grouped with the other writes of this turn (a send to many accepts many at once)
        if await self._store().write_soon(lambda tx: tx.add_poll(poll)):
            self._wake.set()

    async def heard(self, connection: str, receipts: Sequence[Receipt]) -> list[str]:
        """A verified callback for ``connection`` reported these receipts: its messages'
        receipts come by webhook, so stop polling them. Returns the message ids."""
        polling = [name for name in self._account(connection) if self.polls(name)]
        ours = [r.reference for r in receipts if r.reference]
        theirs = [r.provider_message_id for r in receipts if r.provider_message_id]
        if not polling or not (ours or theirs):
            return []
        return await self._store().write(
            lambda tx: tx.close_polls_for(polling, ours, theirs, WEBHOOK_REASON)
        )

    def _account(self, connection: str) -> list[str]:
        """The connections whose messages a callback verified for ``connection`` may
        report on: those verifying callbacks with the same credentials, as the receipt
        router shares them (one provider account)."""

        def credentials(name: str) -> tuple[str, str | None, str | None]:
            provider = self.providers[name]
            return provider.config.provider, provider.config.webhook_token, provider.webhook_key()

        own = credentials(connection)
        return [name for name in self.providers if credentials(name) == own]

    # -- the loop ------------------------------------------------------------------

    async def start(self) -> None:
        if self._task is None:
            self._task = asyncio.get_running_loop().create_task(self._run(), name="poller")

    async def stop(self) -> None:
        """Stop the loop; lookups in flight are abandoned (their polls are still due)."""
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None

    async def _run(self) -> None:
        while True:
            try:
                wait = await self.run_due()
            except Exception:  # the loop must outlive one bad pass (a locked database)
                log.exception("polling for receipts failed; trying again shortly")
                wait = self.idle
            if wait > 0:
                await nap(self._wake, wait)
            self._wake.clear()

    async def run_due(self) -> float:
        """Make the lookups due now (within each connection's budget); returns the
        seconds until the next pass should run."""
        now = self.clock()
        store = self._store()
        due = store.due_polls(_moment(now), self.batch)
        ready: list[Poll] = []
        later: dict[str, datetime] = {}
        waiting: Counter[str] = Counter()
        stale: list[Poll] = []
        for poll in due:
            budget = self.budgets.get(poll.connection)
            if budget is None:
                stale.append(poll)  # the connection stopped polling (a new config)
                continue
            held = self._held.get(poll.connection, 0.0) - now
            wait = held if held > 0 else budget.take()
            if wait <= 0:
                ready.append(poll)
                continue
            # Spread what waits over the budget, so the next batch holds other polls too.
            later[poll.message_id] = _moment(now + wait + budget.spacing * waiting[poll.connection])
            waiting[poll.connection] += 1
        if later or stale:
            await store.write(lambda tx: _defer_and_close(tx, later, stale))
        limit = asyncio.Semaphore(self.concurrency)

        async def one(poll: Poll) -> None:
            async with limit:
                await self._poll(poll)

        for poll, outcome in zip(
            ready, await asyncio.gather(*map(one, ready), return_exceptions=True), strict=True
        ):
            if isinstance(outcome, Exception):  # a locked database: the poll stays due
                log.error("polling message %s failed", poll.message_id, exc_info=outcome)
        if len(due) == self.batch:
            return 0.0
        soonest = store.next_poll_at()
        if soonest is None:
            return self.idle
        return min(self.idle, max(0.0, soonest.timestamp() - self.clock()))

    async def _poll(self, poll: Poll) -> None:
        store = self._store()
        message = store.get(poll.message_id)
        if message is None or message.status.settled:
            status = message.status if message is not None else "gone"
            await store.write(lambda tx: tx.close_poll(poll.message_id, f"it is {status}"))
            return
        provider = self.providers[poll.connection]
        sent = SentRef(
            reference=message.id,
            provider_message_id=message.provider_message_id or poll.provider_message_id,
            channel=message.channel,
            to=message.recipient,
            accepted_at=poll.started_at,
        )
        now = self.clock()
        try:
            receipts = await provider.lookup(sent)
        except Exception as exc:  # an adapter's bug must not end polling either
            await self._failed(poll, provider, exc, now)
            return
        self._failing.pop(poll.connection, None)
        self._held.pop(poll.connection, None)
        if receipts:
            await self.apply(poll.connection, receipts)
        current = store.get(poll.message_id)
        last = receipts[-1].status.value if receipts else poll.last_status
        if current is None or current.status.settled:
            status = current.status if current is not None else "gone"
            reason = f"it is {status}"
        elif now >= poll.deadline.timestamp():
            reason = self._expired(current)
        else:
            delay = self.schedule.delay(poll.lookups + 1)
            when = _moment(min(now + delay, poll.deadline.timestamp()))
            await store.write(
                lambda tx: tx.update_poll(
                    poll.message_id,
                    next_at=when,
                    lookups=poll.lookups + 1,
                    failures=0,
                    last_status=last,
                    last_error=None,
                )
            )
            return
        await store.write(
            lambda tx: _close(
                tx, poll.message_id, reason, lookups=poll.lookups + 1, last_status=last
            )
        )

    def _expired(self, message: Message) -> str:
        hours = self.schedule.deadline / 3600
        log.info(
            "message %s: no final status after %g hours of asking %s; it stays %s",
            message.id,
            hours,
            message.connection,
            message.status,
        )
        return f"no final status within {hours:g} hours; it stays {message.status}"

    async def _failed(self, poll: Poll, provider: Provider, exc: Exception, now: float) -> None:
        """A lookup failed: back off (this poll and its connection) and say so, once a
        minute per connection at most; never a secret or a body."""
        connection = poll.connection
        words = str(exc) if isinstance(exc, ProviderError) else _adapter_failure(provider, exc)
        self._failing[connection] += 1
        pause = self.schedule.error_delay(self._failing[connection])
        if isinstance(exc, ProviderRateLimitedError) and exc.retry_after:
            pause = max(pause, min(exc.retry_after, self.schedule.error_delays[-1]))
        self._held[connection] = now + pause
        self._report(connection, words, pause, now)
        failed: dict[str, Any] = {
            "lookups": poll.lookups + 1,
            "failures": poll.failures + 1,
            "last_error": loggable(words, 300),
        }
        store = self._store()
        if now >= poll.deadline.timestamp():
            message = store.get(poll.message_id)
            reason = self._expired(message) if message else "it is gone"
            await store.write(lambda tx: _close(tx, poll.message_id, reason, **failed))
            return
        delay = max(self.schedule.delay(poll.lookups + 1), pause)
        when = _moment(min(now + delay, poll.deadline.timestamp()))
        await store.write(lambda tx: tx.update_poll(poll.message_id, next_at=when, **failed))

    def _report(self, connection: str, words: str, pause: float, now: float) -> None:
        last = self._logged.get(connection)
        if last is not None and now - last < LOG_EVERY:
            self._unlogged[connection] += 1
            return
        more = self._unlogged.pop(connection, 0)
        self._logged[connection] = now
        log.warning(
            "status lookups on %s fail: %s; asking again in %gs%s",
            connection,
            loggable(words, 300),
            pause,
            f" ({more} more failed since the last report)" if more else "",
        )


def _adapter_failure(provider: Provider, exc: Exception) -> str:
    # Only the type: an unexpected error's text may quote anything, secrets included.
    return f"Herald's {provider.name} adapter failed ({type(exc).__name__})"


def _defer_and_close(tx: Transaction, later: dict[str, datetime], stale: list[Poll]) -> None:
    tx.defer_polls(later)
    for poll in stale:
        tx.close_poll(poll.message_id, f"connection {poll.connection} no longer polls")


def _close(tx: Transaction, message_id: str, reason: str, **fields: Any) -> None:
    tx.update_poll(message_id, **fields)
    tx.close_poll(message_id, reason)


def _moment(seconds: float) -> datetime:
    return datetime.fromtimestamp(seconds, UTC)
