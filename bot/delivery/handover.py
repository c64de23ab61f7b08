"""Handing stored messages to providers: concurrency, rate limits, retries and failover.

The policy lives here once, for every provider: a provider makes one attempt and
says whether its failure is worth retrying; this module waits, retries, moves a
message to its connection's ``fallback`` when the primary could not get it
accepted, and records every step in the message's history. A message the
provider accepted is never handed over again.

A send to many streams: a few workers per send (the connection's ``max_concurrency``)
take the next message — or the next batch, for a provider with a batch request — from
the list, so the work in memory does not grow with the number of recipients. The
connection's lanes (at most ``max_concurrency`` requests at once) and its rate limit are
shared by every send on it. Each message is marked "sending" in the store just before its
request and its outcome is stored as soon as it is known, through the store's group
commit (`Store.write_soon`): a crash leaves each message queued (never handed over: the
restart sends it) or sending (it may have gone out: the restart says so). Its
announcement is handed to `Announcements`, which never holds up the next request.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from bot.announcing import Announcer
from bot.delivery.announcements import Announcements
from bot.delivery.outcomes import failure_reason, guarded, outbound, record_acceptance
from bot.delivery.retries import RetryPolicy
from bot.delivery.throttling import RateLimiter
from bot.delivery.workers import chunks, together
from bot.errors import InputError
from bot.models import Message, MessageStatus
from bot.sending.requests import check_content, template_subject
from bot.storage.store import Store, Transaction, utcnow
from bot.templating.library import TemplateLibrary
from providers import ConnectionConfig, Provider, ProviderError, SendResult

log = logging.getLogger(__name__)

Outcome = SendResult | ProviderError
Settled = Message | ProviderError  # stored for good, or a retryable error


@dataclass
class _Storing:
    """A request's outcomes on their way to the store. Their writes are queued to go in
    one group commit with the worker's next "sending" mark: one wait for both."""

    start: int  # where its messages are in the attempt's list
    chunk: list[Message]
    settled: dict[str, Settled]  # known without a write: a receipt came first, or retry
    accepted: list[asyncio.Future[Message]] = field(default_factory=list)
    refused: list[tuple[Message, ProviderError, asyncio.Future[tuple[Message, bool]]]] = field(
        default_factory=list
    )

    def settle(self, outcomes: list[tuple[Message, Settled] | None]) -> None:
        """Put each settled outcome where its message is in ``outcomes``."""
        for offset, message in enumerate(self.chunk):
            if message.id in self.settled:
                outcomes[self.start + offset] = (message, self.settled[message.id])


class Delivery:
    def __init__(
        self,
        store: Store,
        providers: Mapping[str, Provider],
        connections: Mapping[str, ConnectionConfig],
        announcer: Callable[[], Announcer],
        policy: RetryPolicy,
        templates: TemplateLibrary,
        accepted: Callable[[Message], Awaitable[bool | None]] | None = None,
        owner: str | None = None,
    ) -> None:
        self.templates = templates
        self.owner = owner  # the `bot.storage.processes` token of the process handing messages over
        self._after_acceptance = accepted
        self.store = store
        self.providers = providers
        self.connections = connections
        self.policy = policy
        self.limiters = {
            name: RateLimiter(config.max_per_second)
            for name, config in connections.items()
            if config.max_per_second
        }
        # requests in flight per connection, whichever send they belong to
        self.lanes = {
            name: asyncio.Semaphore(config.max_concurrency) for name, config in connections.items()
        }
        self.announcements = Announcements(announcer, store.get)

    async def deliver(self, messages: Sequence[Message]) -> list[Message]:
        """Hand ``messages`` over (each connection's at once); returns their state afterwards,
        once their changes have been announced too."""
        by_connection: dict[str, list[Message]] = {}
        for message in messages:
            by_connection.setdefault(message.connection, []).append(message)
        done: dict[str, Message] = {}

        async def deliver_group(connection: str, group: list[Message]) -> None:
            for message in await self._deliver_group(connection, group, may_fail_over=True):
                done[message.id] = message

        await together(deliver_group(c, group) for c, group in by_connection.items())
        await self.announcements.shown(m.id for m in messages)
        return [done[m.id] for m in messages]

    async def _deliver_group(
        self, connection: str, messages: list[Message], *, may_fail_over: bool
    ) -> list[Message]:
        """Try until every message is accepted or failed (or moved to the fallback)."""
        finished: dict[str, Message] = {}
        failing_over: list[Message] = []
        fallback = self.connections[connection].fallback if may_fail_over else None
        pending = messages
        waited = 0.0
        attempt = 0
        while pending:
            attempt += 1
            retry: list[tuple[Message, ProviderError]] = []
            for message, outcome in await self._attempt(connection, pending, attempt):
                if isinstance(outcome, Message):
                    finished[message.id] = outcome
                else:
                    retry.append((message, outcome))
            if not retry:
                break
            delay = self.policy.delay(attempt, [error for _, error in retry])
            gives_up = self.policy.gives_up(attempt, waited, delay)
            pending = []
            if not gives_up:
                # Queued while waiting: it was certainly not accepted, so a restart in the
                # meantime sends it rather than marking it as possibly sent. A receipt that
                # says it went (during the attempt) keeps it from being sent again.
                requeued = await asyncio.gather(
                    *(
                        self._move_unless_gone(
                            message,
                            MessageStatus.QUEUED,
                            source=error.provider,
                            reason=f"attempt {attempt} failed: {error}; retrying in {delay:.1f}s",
                        )
                        for message, error in retry
                    )
                )
                for (message, _), (stored, queued) in zip(retry, requeued, strict=True):
                    if queued:
                        pending.append(message)
                    else:
                        finished[message.id] = stored
            elif fallback:
                for message, error in retry:
                    if (settled := self._settled(message)) is not None:
                        finished[message.id] = settled  # a receipt says it went: never resend
                        continue
                    moved = await self._fail_over(message, fallback, error, attempt)
                    if moved.status is MessageStatus.QUEUED:
                        failing_over.append(moved)
                    else:
                        finished[message.id] = moved
            else:
                for message, failed in zip(
                    (m for m, _ in retry),
                    await self._fail_all(retry, attempt),
                    strict=True,
                ):
                    finished[message.id] = failed
            if pending:
                await self.policy.sleep(delay)
                waited += delay
        if failing_over and fallback:
            for message in await self._deliver_group(fallback, failing_over, may_fail_over=False):
                finished[message.id] = message
        return [finished[m.id] for m in messages]

    async def _attempt(
        self, connection: str, messages: list[Message], attempt: int
    ) -> list[tuple[Message, Settled]]:
        """One try for each message, by up to ``max_concurrency`` workers, each taking the
        next message (or batch) from the list: one request each, or one for the batch.

        Each outcome is settled and announced as soon as it is known (accepted, or refused
        for good), not after the whole send: a stop midway must not leave an accepted
        message unannounced. What remains is a retryable error. A message a receipt has
        settled in the meantime (during a backoff or a rate-limit wait) is not sent
        again: its outcome is its stored state. Outcomes come back in the list's order.
        """
        provider = self.providers[connection]
        size = max(1, provider.batch_size) if provider.batches else 1
        slices = chunks(messages, size)
        outcomes: list[tuple[Message, Settled] | None] = [None] * len(messages)

        async def work() -> None:
            previous: _Storing | None = None
            for start, chunk in slices:  # shared: each worker takes the next one
                storing = await self._hand_over(connection, start, chunk, attempt, previous)
                for done in (previous, storing):  # `storing`: what needed no write
                    if done is not None:
                        done.settle(outcomes)
                previous = storing
            if previous is not None:
                await self._stored(previous, attempt)
                previous.settle(outcomes)

        workers = min(self.connections[connection].max_concurrency, -(-len(messages) // size))
        await together(work() for _ in range(workers))
        return [outcome for outcome in outcomes if outcome is not None]

    async def _hand_over(
        self,
        connection: str,
        start: int,
        chunk: list[Message],
        attempt: int,
        previous: _Storing | None,
    ) -> _Storing:
        """One request for ``chunk`` (one message, or a provider's batch) in one of the
        connection's lanes, within its rate limit. Its outcomes' writes are queued, to go
        with the worker's next "sending" mark in one group commit; the ``previous``
        request's, which went with this one's, are settled now."""
        provider = self.providers[connection]
        limiter = self.limiters.get(connection)
        async with self.lanes[connection]:
            if limiter is None:
                marks = await self._mark_sending(chunk, attempt)
            else:
                async with limiter.starting(len(chunk)):  # counted as its request goes
                    marks = await self._mark_sending(chunk, attempt)
            if previous is not None:  # its writes were committed with these marks
                await self._stored(previous, attempt)
            # a receipt settled these first: never resend
            gone = {m.id: s for m, s in zip(chunk, marks, strict=True) if s is not None}
            batch = [m for m in chunk if m.id not in gone]
            results: list[Outcome] = []
            if batch and provider.batches:
                answered = await guarded(provider, provider.send_many([outbound(m) for m in batch]))
                if isinstance(answered, ProviderError):
                    answered = [answered] * len(batch)
                results = answered
            elif batch:
                results = [await guarded(provider, provider.send(outbound(batch[0])))]
        return self._store(start, chunk, gone, zip(batch, results, strict=True), attempt)

    def _store(
        self,
        start: int,
        chunk: list[Message],
        gone: dict[str, Message],
        answers: Iterable[tuple[Message, Outcome]],
        attempt: int,
    ) -> _Storing:
        """Queue the write of each outcome: an acceptance, or a refusal for good; a
        retryable error stays one, to be retried."""
        storing = _Storing(start, chunk, dict(gone))
        for message, outcome in answers:
            if isinstance(outcome, SendResult):
                write = record_acceptance(message, outcome, self._source(message))
                storing.accepted.append(self.store.write_soon(write))
            elif not outcome.retryable:
                storing.refused.append((message, outcome, self._failing(message, outcome, attempt)))
            else:
                storing.settled[message.id] = outcome
        return storing

    async def _stored(self, storing: _Storing, attempt: int) -> None:
        """Once its writes are committed: each outcome as stored, each change announced."""
        for record in storing.accepted:
            updated = await record
            storing.settled[updated.id] = await self._accepted(updated)
        for message, error, failure in storing.refused:
            storing.settled[message.id] = self._failed_now(message, error, attempt, await failure)
        storing.accepted, storing.refused = [], []

    def _source(self, message: Message) -> str:
        return self.providers[message.connection].name

    def _settled(self, message: Message) -> Message | None:
        """The stored message if a receipt says it went (or it is final); never resend those."""
        current = self._current(message)
        return current if current.status.past_handover else None

    async def _sending(self, message: Message, attempt: int) -> Message | None:
        """Mark ``message`` as being handed over; None, or its stored state if a receipt
        settled it just now (then it must not be sent)."""
        (mark,) = await self._mark_sending([message], attempt)
        return mark

    async def _mark_sending(self, chunk: list[Message], attempt: int) -> list[Message | None]:
        """`_sending` for each of ``chunk``, in one group commit, committed before the
        request goes."""
        fields: dict[str, Any] = {"owner": self.owner} if self.owner else {}
        marks = [
            self._move_unless_gone(
                message,
                MessageStatus.SENDING,
                optional=True,  # a worker stopped before its request leaves it queued
                now=index == len(chunk) - 1,  # the request waits for it: commit the group
                source="herald",
                send_started_at=utcnow(),
                attempts=message.attempts + attempt,
                **fields,
            )
            for index, message in enumerate(chunk)
        ]
        try:
            stored = [await mark for mark in marks]  # one group commit: one wait in all
        except BaseException:
            for mark in marks:
                mark.cancel()
            raise
        return [None if moved else current for current, moved in stored]

    def _move_unless_gone(
        self,
        message: Message,
        status: MessageStatus,
        *,
        optional: bool = False,
        now: bool = False,
        **change: Any,
    ) -> asyncio.Future[tuple[Message, bool]]:
        """Set ``status`` unless the stored message was accepted or went further (a receipt
        may have come in meanwhile), checked in the same transaction as the write."""

        def move(tx: Transaction) -> tuple[Message, bool]:
            current = tx.get(message.id)
            assert current is not None
            if current.status.past_handover:
                return current, False
            return tx.set_status(message.id, status, **change), True

        return self.store.write_soon(move, optional=optional, now=now)

    def _current(self, message: Message) -> Message:
        current = self.store.get(message.id)
        assert current is not None
        return current

    async def _accepted(self, updated: Message) -> Message:
        self.announcements.post(updated)
        if self._after_acceptance is None:
            return updated
        # reports that beat the answer, applied now; False: there were none
        if await self._after_acceptance(updated) is False:
            return updated
        return self._current(updated)

    def _failing(
        self, message: Message, error: ProviderError, tries: int, reason: str | None = None
    ) -> asyncio.Future[tuple[Message, bool]]:
        return self._move_unless_gone(
            message,
            MessageStatus.FAILED,
            source=error.provider,
            reason=failure_reason(error, tries, reason),
        )

    def _failed_now(
        self, message: Message, error: ProviderError, tries: int, stored: tuple[Message, bool]
    ) -> Message:
        updated, moved = stored
        if not moved:
            return updated  # a receipt says it went (or it is final already): keep that
        log.warning("message %s not accepted: %s", message.id, updated.error)
        self.announcements.post(updated)
        return updated

    async def _failed(
        self, message: Message, error: ProviderError, tries: int, reason: str | None = None
    ) -> Message:
        stored = await self._failing(message, error, tries, reason)
        return self._failed_now(message, error, tries, stored)

    async def _fail_all(
        self, failures: list[tuple[Message, ProviderError]], tries: int
    ) -> list[Message]:
        stored = await asyncio.gather(*(self._failing(m, e, tries) for m, e in failures))
        return [
            self._failed_now(m, e, tries, s) for (m, e), s in zip(failures, stored, strict=True)
        ]

    async def _fail_over(
        self, message: Message, fallback: str, error: ProviderError, tries: int
    ) -> Message:
        """Queue ``message`` on ``fallback``, re-rendered for it; or fail it, saying why not."""
        target = self.connections[fallback]
        current = self._current(message)
        rewritten: dict[str, Any] = {}
        try:
            if current.template:
                rendered = self.templates.render(
                    current.template,
                    current.variables,
                    channel=target.channel,
                    provider=target.provider,
                )
                rewritten = {
                    "text": rendered.text,
                    # the template's e-mail subject only if the fallback sends e-mail
                    "subject": current.subject or template_subject(target.channel, rendered),
                    "provider_template": rendered.provider_template,
                }
            check_content(target, rewritten.get("subject", current.subject), current.media_urls)
        except InputError as exc:
            reason = f"{error}; could not fail over to {fallback}: {exc}"
            return await self._failed(message, error, tries, reason)
        log.warning(
            "message %s fails over from %s to %s: %s",
            message.id,
            message.connection,
            fallback,
            error,
        )
        moved, _ = await self._move_unless_gone(
            message,
            MessageStatus.QUEUED,
            source="herald",
            reason=f"failing over to {fallback}: {error}",
            connection=fallback,
            channel=target.channel.value,
            failover_from=message.connection,
            **rewritten,
        )
        return moved
