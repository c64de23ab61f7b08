"""What one attempt's answer does to a stored message, and what the provider is handed.

`guarded` turns whatever a provider call raised into an outcome; `record_acceptance` is
the write that stores an acceptance (never over a receipt that came first);
`failure_reason` is what a failed message says. ``handover.py`` decides when each runs.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from typing import TypeVar

from bot.delivery.progress import advances
from bot.models import Message, MessageStatus
from bot.storage.store import Transaction
from providers import (
    OutboundMessage,
    Provider,
    ProviderError,
    ProviderOutcomeUnknownError,
    SendResult,
)
from providers.base import CHECK_BEFORE_RESENDING

log = logging.getLogger(__name__)

T = TypeVar("T")


def record_acceptance(
    message: Message, result: SendResult, source: str
) -> Callable[[Transaction], Message]:
    """The write that stores ``result``, the provider's acceptance of ``message``."""
    # The answer may already say more than "accepted" (Bird: "sent"); never "failed",
    # which an adapter raises as an error instead.
    reported = MessageStatus.from_delivery(result.status)
    if reported is MessageStatus.FAILED:
        reported = MessageStatus.ACCEPTED

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

    return record


def failure_reason(error: ProviderError, tries: int, reason: str | None) -> str:
    reason = reason or str(error)
    if error.retryable:
        reason = f"{reason.rstrip('.')}. Gave up after {tries} attempt{'s' if tries != 1 else ''}."
    return reason


async def guarded(provider: Provider, call: Awaitable[T]) -> T | ProviderError:
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


def outbound(message: Message) -> OutboundMessage:
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
