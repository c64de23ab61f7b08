"""Handing stored messages to providers: batching, rate limits, retries and failover.

The policy lives here once, for every provider: a provider makes one attempt and
says whether its failure is worth retrying; this module waits, retries, moves a
message to its connection's ``fallback`` when the primary could not get it
accepted, and records every step in the message's history. A message the
provider accepted is never handed over again.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Mapping, Sequence
from typing import Any, TypeVar

from bot.announcing import Announcer
from bot.delivery.progress import advances
from bot.delivery.retries import RetryPolicy
from bot.delivery.throttling import RateLimiter
from bot.errors import InputError
from bot.models import Message, MessageStatus
from bot.sending.requests import check_content, template_subject
from bot.storage.store import Store, Transaction, utcnow
from bot.templating.library import TemplateLibrary
from providers import (
    ConnectionConfig,
    OutboundMessage,
    Provider,
    ProviderError,
    ProviderOutcomeUnknownError,
    SendResult,
)
from providers.base import CHECK_BEFORE_RESENDING

log = logging.getLogger(__name__)

Outcome = SendResult | ProviderError
T = TypeVar("T")


class Delivery:
    def __init__(
        self,
        store: Store,
        providers: Mapping[str, Provider],
        connections: Mapping[str, ConnectionConfig],
        announcer: Callable[[], Announcer],
        policy: RetryPolicy,
        templates: TemplateLibrary,
        accepted: Callable[[Message], Awaitable[None]] | None = None,
        owner: str | None = None,
    ) -> None:
        self.templates = templates
        self.owner = owner  # the `bot.storage.processes` token of the process handing messages over
        self._after_acceptance = accepted
        self.store = store
        self.providers = providers
        self.connections = connections
        self._announcer = announcer
        self.policy = policy
        self.limiters = {
            name: RateLimiter(config.max_per_second)
            for name, config in connections.items()
            if config.max_per_second
        }

    async def deliver(self, messages: Sequence[Message]) -> list[Message]:
        """Hand ``messages`` over, connection by connection; returns their state afterwards."""
        done: dict[str, Message] = {}
        by_connection: dict[str, list[Message]] = {}
        for message in messages:
            by_connection.setdefault(message.connection, []).append(message)
        for connection, group in by_connection.items():
            for message in await self._deliver_group(connection, group, may_fail_over=True):
                done[message.id] = message
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
            for message, error in retry:
                if (settled := self._settled(message)) is not None:
                    finished[message.id] = settled  # a receipt says it went: never resend
                elif not gives_up:
                    # Queued while waiting: it was certainly not accepted, so a restart in
                    # the meantime sends it rather than marking it as possibly sent.
                    stored, queued = await self._move_unless_gone(
                        message,
                        MessageStatus.QUEUED,
                        source=error.provider,
                        reason=f"attempt {attempt} failed: {error}; retrying in {delay:.1f}s",
                    )
                    if queued:
                        pending.append(message)
                    else:
                        finished[message.id] = stored
                elif fallback:
                    moved = await self._fail_over(message, fallback, error, attempt)
                    if moved.status is MessageStatus.QUEUED:
                        failing_over.append(moved)
                    else:
                        finished[message.id] = moved
                else:
                    finished[message.id] = await self._failed(message, error, attempt)
            if pending:
                await self.policy.sleep(delay)
                waited += delay
        if failing_over and fallback:
            for message in await self._deliver_group(fallback, failing_over, may_fail_over=False):
                finished[message.id] = message
        return [finished[m.id] for m in messages]

    async def _attempt(
        self, connection: str, messages: list[Message], attempt: int
    ) -> list[tuple[Message, Message | ProviderError]]:
        """One try for each message: one request each, or one request for the batch.

        Each outcome is settled and announced as soon as it is known (accepted, or refused
        for good), not after the whole send: a stop midway must not leave an accepted
        message unannounced. What remains is a retryable error. A message a receipt has
        settled in the meantime (during a backoff or a rate-limit wait) is not sent
        again: its outcome is its stored state.
        """
        provider = self.providers[connection]
        limiter = self.limiters.get(connection)
        outcomes: list[tuple[Message, Message | ProviderError]] = []
        if provider.batches:
            if limiter is not None:
                await limiter.acquire(len(messages))
            batch = []
            for message in messages:
                if (gone := await self._sending(message, attempt)) is not None:
                    outcomes.append((message, gone))  # a receipt settled it: never resend
                else:
                    batch.append(message)
            if batch:
                results = await _guarded(
                    provider, provider.send_many([_outbound(m) for m in batch])
                )
                if isinstance(results, ProviderError):
                    results = [results] * len(batch)
                for message, result in zip(batch, results, strict=True):
                    outcomes.append((message, await self._settle(message, result, attempt)))
            return outcomes
        for message in messages:
            if limiter is not None:
                await limiter.acquire()  # just before each send, so the rate is the real one
            if (gone := await self._sending(message, attempt)) is not None:
                outcomes.append((message, gone))  # a receipt settled it: never resend
                continue
            outcome = await _guarded(provider, provider.send(_outbound(message)))
            # Stored (and announced) at once, before the next send: a receipt may quote
            # this id any moment, and a stop before the next recipient loses nothing.
            outcomes.append((message, await self._settle(message, outcome, attempt)))
        return outcomes

    async def _settle(
        self, message: Message, outcome: Outcome, attempt: int
    ) -> Message | ProviderError:
        if isinstance(outcome, SendResult):
            return await self._accepted(message, outcome)
        if not outcome.retryable:
            return await self._failed(message, outcome, attempt)
        return outcome

    def _settled(self, message: Message) -> Message | None:
        """The stored message if a receipt says it went (or it is final); never resend those."""
        current = self._current(message)
        return current if current.status.past_handover else None

    async def _sending(self, message: Message, attempt: int) -> Message | None:
        """Mark ``message`` as being handed over; None, or its stored state if a receipt
        settled it just now (then it must not be sent)."""
        fields: dict[str, Any] = {"owner": self.owner} if self.owner else {}
        current, moved = await self._move_unless_gone(
            message,
            MessageStatus.SENDING,
            source="herald",
            send_started_at=utcnow(),
            attempts=message.attempts + attempt,
            **fields,
        )
        return None if moved else current

    async def _move_unless_gone(
        self, message: Message, status: MessageStatus, **change: Any
    ) -> tuple[Message, bool]:
        """Set ``status`` unless the stored message was accepted or went further (a receipt
        may have come in meanwhile), checked in the same transaction as the write."""

        def move(tx: Transaction) -> tuple[Message, bool]:
            current = tx.get(message.id)
            assert current is not None
            if current.status.past_handover:
                return current, False
            return tx.set_status(message.id, status, **change), True

        return await self.store.write(move)

    def _current(self, message: Message) -> Message:
        current = self.store.get(message.id)
        assert current is not None
        return current

    async def _record_acceptance(self, message: Message, result: SendResult) -> Message:
        # The answer may already say more than "accepted" (Bird: "sent"); never "failed",
        # which an adapter raises as an error instead.
        reported = MessageStatus.from_delivery(result.status)
        if reported is MessageStatus.FAILED:
            reported = MessageStatus.ACCEPTED
        source = self.providers[message.connection].name

        def record(tx: Transaction) -> Message:
            current = tx.get(message.id)
            assert current is not None
            if current.provider_message_id == result.provider_message_id and (
                current.status.past_handover
            ):
                return current  # recorded already
            if advances(current.status, reported):
                return tx.set_status(
                    message.id,
                    reported,
                    source=source,
                    raw=result.raw,
                    provider_message_id=result.provider_message_id,
                )
            # a receipt that quoted our reference got here first
            return tx.update(message.id, provider_message_id=result.provider_message_id)

        return await self.store.write(record)

    async def _accepted(self, message: Message, result: SendResult) -> Message:
        updated = await self._record_acceptance(message, result)
        await self._announcer().message_changed(updated)
        if self._after_acceptance is not None:
            await self._after_acceptance(updated)
        return self._current(updated)

    async def _failed(
        self, message: Message, error: ProviderError, tries: int, reason: str | None = None
    ) -> Message:
        reason = reason or str(error)
        if error.retryable:
            reason = (
                f"{reason.rstrip('.')}. Gave up after {tries} attempt{'s' if tries != 1 else ''}."
            )
        updated, moved = await self._move_unless_gone(
            message, MessageStatus.FAILED, source=error.provider, reason=reason
        )
        if not moved:
            return updated  # a receipt says it went (or it is final already): keep that
        log.warning("message %s not accepted: %s", message.id, reason)
        await self._announcer().message_changed(updated)
        return updated

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


async def _guarded(provider: Provider, call: Awaitable[T]) -> T | ProviderError:
    """The outcome of one provider call, whatever it raised.

    A `ProviderError` is the provider's answer. Anything else is a bug in an adapter;
    the message must still end in a recorded state (a crash here would leave it
    'sending' with no receipt), and as the request may have gone out it is not retried.
    """
    try:
        return await call
    except ProviderError as exc:
        return exc
    except Exception as exc:
        log.exception("the %s adapter failed unexpectedly", provider.name)
        return ProviderOutcomeUnknownError(
            f"Herald's {provider.name} adapter failed ({type(exc).__name__}), so the message "
            "may or may not have gone out",
            provider=provider.name,
            hint=CHECK_BEFORE_RESENDING,
        )


def _outbound(message: Message) -> OutboundMessage:
    return OutboundMessage(
        reference=message.id,
        channel=message.channel,
        to=message.recipient,
        text=message.text,
        subject=message.subject,
        media_urls=message.media_urls,
        template=message.provider_template,
        recipient_name=message.variables.get("name"),
        sender_email=message.sender_email,
    )
