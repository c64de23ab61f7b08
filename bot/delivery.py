"""Handing stored messages to providers: batching, rate limits, retries and failover.

The policy lives here once, for every provider: a provider makes one attempt and
says whether its failure is worth retrying; this module waits, retries, moves a
message to its connection's ``fallback`` when the primary could not get it
accepted, and records every step in the message's history. A message the
provider accepted is never handed over again.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from bot.announcing import Announcer
from bot.errors import InputError
from bot.models import Message, MessageStatus
from bot.receipts import advances
from bot.rendering import TemplateLibrary
from bot.retries import RetryPolicy
from bot.storage import Store, utcnow
from bot.throttling import RateLimiter
from providers import ConnectionConfig, OutboundMessage, Provider, ProviderError, SendResult

log = logging.getLogger(__name__)

Outcome = SendResult | ProviderError


class Delivery:
    def __init__(
        self,
        store: Store,
        providers: Mapping[str, Provider],
        connections: Mapping[str, ConnectionConfig],
        announcer: Callable[[], Announcer],
        policy: RetryPolicy,
        templates: TemplateLibrary,
    ) -> None:
        self.templates = templates
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
        """Hand ``messages`` over, one batch per connection; returns their state afterwards."""
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
        outcomes, tries = await self._attempts(connection, messages)
        finished: list[Message] = []
        failing_over: list[Message] = []
        fallback = self.connections[connection].fallback
        for message in messages:
            outcome = outcomes[message.id]
            if isinstance(outcome, SendResult):
                finished.append(await self._accepted(message, outcome))
            elif outcome.retryable and fallback and may_fail_over:
                try:
                    failing_over.append(self._fail_over(message, fallback, outcome))
                except InputError as exc:  # its template does not fit the fallback
                    reason = f"{outcome}; could not fail over to {fallback}: {exc}"
                    finished.append(await self._failed(message, outcome, tries[message.id], reason))
            else:
                finished.append(await self._failed(message, outcome, tries[message.id]))
        if failing_over:
            finished += await self._deliver_group(fallback or "", failing_over, may_fail_over=False)
        order = {m.id: i for i, m in enumerate(messages)}
        return sorted(finished, key=lambda m: order[m.id])

    async def _attempts(
        self, connection: str, messages: list[Message]
    ) -> tuple[dict[str, Outcome], dict[str, int]]:
        """Try until every message has a final outcome, within the retry policy.

        Returns each message's outcome and how many tries it took on this connection.
        """
        provider = self.providers[connection]
        limiter = self.limiters.get(connection)
        outcomes: dict[str, Outcome] = {}
        tries: dict[str, int] = {}
        pending = messages
        waited = 0.0
        attempt = 0
        while pending:
            attempt += 1
            for message in pending:
                tries[message.id] = attempt
                self.store.set_status(
                    message.id,
                    MessageStatus.SENDING,
                    source="herald",
                    send_started_at=utcnow(),
                    attempts=message.attempts + attempt,
                )
            if limiter is not None:
                await limiter.acquire(len(pending))
            results = await provider.send_many([_outbound(m) for m in pending])
            retry: list[tuple[Message, ProviderError]] = []
            for message, result in zip(pending, results, strict=True):
                if isinstance(result, ProviderError) and result.retryable:
                    retry.append((message, result))
                else:
                    outcomes[message.id] = result
            if not retry:
                break
            errors = [error for _, error in retry]
            delay = self.policy.delay(attempt, errors)
            if self.policy.gives_up(attempt, waited, delay):
                for message, error in retry:
                    outcomes[message.id] = error
                    log.warning("giving up on %s after %d attempts: %s", message.id, attempt, error)
                break
            # Back to queued while waiting: it was certainly not accepted, so a restart
            # in the meantime sends it rather than marking it as possibly sent.
            for message, error in retry:
                self.store.set_status(
                    message.id,
                    MessageStatus.QUEUED,
                    source=provider.name,
                    reason=f"attempt {attempt} failed: {error}; retrying in {delay:.1f}s",
                )
            await self.policy.sleep(delay)
            waited += delay
            pending = [message for message, _ in retry]
        return outcomes, tries

    async def _accepted(self, message: Message, result: SendResult) -> Message:
        current = self.store.get(message.id)
        assert current is not None
        provider = self.providers[current.connection]
        if advances(current.status, MessageStatus.ACCEPTED):
            updated = self.store.set_status(
                message.id,
                MessageStatus.ACCEPTED,
                source=provider.name,
                raw=result.raw,
                provider_message_id=result.provider_message_id,
            )
        else:  # a receipt that quoted our reference got here first
            updated = self.store.update(message.id, provider_message_id=result.provider_message_id)
        await self._announcer().message_changed(updated)
        return updated

    async def _failed(
        self, message: Message, error: ProviderError, tries: int, reason: str | None = None
    ) -> Message:
        reason = reason or str(error)
        if error.retryable:
            reason = (
                f"{reason.rstrip('.')}. Gave up after {tries} attempt{'s' if tries != 1 else ''}."
            )
        log.warning("message %s not accepted: %s", message.id, reason)
        updated = self.store.set_status(
            message.id, MessageStatus.FAILED, source=error.provider, reason=reason
        )
        await self._announcer().message_changed(updated)
        return updated

    def _fail_over(self, message: Message, fallback: str, error: ProviderError) -> Message:
        target = self.connections[fallback]
        rewritten: dict[str, Any] = {}
        if message.template:
            rendered = self.templates.render(
                message.template,
                message.variables,
                channel=target.channel,
                provider=target.provider,
            )
            rewritten = {
                "text": rendered.text,
                "subject": message.subject if message.subject else rendered.subject,
                "provider_template": rendered.provider_template,
            }
        log.warning(
            "message %s fails over from %s to %s: %s",
            message.id,
            message.connection,
            fallback,
            error,
        )
        return self.store.set_status(
            message.id,
            MessageStatus.QUEUED,
            source="herald",
            reason=f"failing over to {fallback}: {error}",
            connection=fallback,
            channel=target.channel.value,
            failover_from=message.connection,
            **rewritten,
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
