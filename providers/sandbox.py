"""The built-in ``sandbox`` provider: no account, no network, scripted outcomes.

It accepts a message, answers with a provider id and later reports ``sent`` and
``delivered`` through the same receipt path real providers' webhooks use. The
recipient's last four digits script a failure, so every outcome can be tried
from Slack:

| ends in | outcome |
| --- | --- |
| ``0000`` | refused at once (``ProviderRejectedError``) |
| ``0503`` | provider outage (``ProviderUnavailableError``, retryable) |
| ``0429`` | rate limited (``ProviderRateLimitedError``, retry after 1 s) |
| ``0408`` | no answer in time (``ProviderTimeoutError``) |
| ``0013`` | accepted and sent, then ``failed``: unknown subscriber |

Connection keys (both optional): ``sent_after`` and ``delivered_after``, the
seconds after acceptance at which the receipts arrive (defaults 1 and 2).
Callbacks to ``/webhooks/{connection}`` are JSON ``{"id", "status", "reason"}`` and,
like any unsigned provider's, need the connection's ``webhook_token``.
"""

from __future__ import annotations

import asyncio
import re
import secrets
from collections import deque
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta

from providers.base import (
    Channel,
    ConnectionConfig,
    DeliveryStatus,
    OutboundMessage,
    Provider,
    Receipt,
    SendResult,
    WebhookRequest,
    WebhookResult,
)
from providers.callback_json import CallbackJSONError, load_object
from providers.errors import (
    ProviderRateLimitedError,
    ProviderRejectedError,
    ProviderTimeoutError,
    ProviderUnavailableError,
    ProviderUnsupportedError,
    WebhookError,
)

DEFAULT_SENT_AFTER = 1.0
DEFAULT_DELIVERED_AFTER = 2.0
OUTBOX_LIMIT = 1000  # the latest messages, for tests to look at: a server runs for months


class SandboxProvider(Provider):
    name = "sandbox"
    channels = frozenset(Channel)
    optional_keys = ("sent_after", "delivered_after")
    no_lookup = "the sandbox reports its receipts by itself"

    def __init__(self, *args: object, **kwargs: object) -> None:
        super().__init__(*args, **kwargs)  # type: ignore[arg-type]
        self.outbox: deque[OutboundMessage] = deque(maxlen=OUTBOX_LIMIT)
        self._timers: set[asyncio.TimerHandle] = set()
        self._tasks: set[asyncio.Task[None]] = set()
        self.sent_after = float(self.config.option("sent_after", DEFAULT_SENT_AFTER))
        self.delivered_after = float(self.config.option("delivered_after", DEFAULT_DELIVERED_AFTER))

    @classmethod
    def check_config(cls, config: ConnectionConfig) -> None:
        super().check_config(config)
        for key in cls.optional_keys:
            value = config.option(key, 0)
            if isinstance(value, bool) or not isinstance(value, int | float) or value < 0:
                raise ProviderUnsupportedError(
                    f"'{key}' must be a number of seconds (0 or more), not {value!r}",
                    provider=cls.name,
                )

    async def send(self, message: OutboundMessage) -> SendResult:
        script = re.sub(r"\D", "", message.to)[-4:]
        if script == "0000":
            raise ProviderRejectedError(
                "recipient is unreachable (numbers ending 0000 are scripted to be refused)",
                provider=self.name,
                status_code=400,
            )
        if script == "0503":
            raise ProviderUnavailableError(
                "service unavailable (numbers ending 0503 are scripted as an outage)",
                provider=self.name,
                status_code=503,
            )
        if script == "0429":
            raise ProviderRateLimitedError(
                "too many requests (numbers ending 0429 are scripted as rate limited)",
                provider=self.name,
                status_code=429,
                retry_after=1.0,
            )
        if script == "0408":
            raise ProviderTimeoutError(
                "no answer in time (numbers ending 0408 are scripted to time out)",
                provider=self.name,
            )
        self.outbox.append(message)
        provider_id = "sbx_" + secrets.token_hex(6)
        self.resume(provider_id, message.to, datetime.now(UTC))
        return SendResult(provider_id, DeliveryStatus.ACCEPTED, raw={"id": provider_id})

    def resume(self, provider_id: str, to: str, accepted_at: datetime) -> None:
        """Report the scripted receipts of a message accepted at ``accepted_at``.

        Those due by now are reported at once, stamped with the time they were due; the
        rest are scheduled. The timers live in memory, so after a restart Herald calls
        this for every sandbox message still waiting for its receipts.
        """
        script = re.sub(r"\D", "", to)[-4:]
        last = (
            Receipt(
                DeliveryStatus.FAILED,
                provider_message_id=provider_id,
                reason="unknown subscriber (numbers ending 0013 are scripted to fail after sent)",
            )
            if script == "0013"
            else Receipt(DeliveryStatus.DELIVERED, provider_message_id=provider_id)
        )
        sent = Receipt(DeliveryStatus.SENT, provider_message_id=provider_id)
        for after, receipt in ((self.sent_after, sent), (self.delivered_after, last)):
            self._later(accepted_at + timedelta(seconds=after), receipt)

    # webhook_needs_token stays True: the sandbox signs nothing, and an open webhook would
    # let anyone move receipts in Slack and fill the early-receipt store.

    def parse_webhook(self, request: WebhookRequest) -> WebhookResult:
        try:
            body = load_object(request.body)
        except CallbackJSONError as exc:
            raise self._unreadable(str(exc)) from None
        message_id, status, reason = body.get("id"), body.get("status"), body.get("reason")
        if isinstance(message_id, bool) or not isinstance(message_id, str | int):
            raise self._unreadable("'id' must be the provider id (a string)")
        if not str(message_id).strip():
            raise self._unreadable("'id' is empty")
        if not isinstance(status, str) or status not in set(DeliveryStatus):
            raise self._unreadable("'status' must be sent, delivered, read or failed")
        if reason is not None and not isinstance(reason, str):
            raise self._unreadable("'reason' must be a string")
        receipt = Receipt(
            DeliveryStatus(status),
            provider_message_id=str(message_id).strip(),
            reason=reason.strip() or None if reason is not None else None,
            raw=body,
        )
        return WebhookResult([receipt])

    def _unreadable(self, problem: str) -> WebhookError:
        return WebhookError(
            f'{problem}; expected JSON {{"id": ..., "status": "sent|delivered|read|failed"}}',
            provider=self.name,
            status_code=400,
        )

    def _later(self, due: datetime, receipt: Receipt) -> None:
        loop = asyncio.get_running_loop()
        delay = max(0.0, (due - datetime.now(UTC)).total_seconds())
        handle: asyncio.TimerHandle

        def fire() -> None:
            self._timers.discard(handle)
            stamped = Receipt(
                receipt.status,
                provider_message_id=receipt.provider_message_id,
                reason=receipt.reason,
                occurred_at=due,
            )
            task: asyncio.Task[None] = loop.create_task(self.receipts([stamped]))
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)

        handle = loop.call_later(delay, fire)
        self._timers.add(handle)

    async def aclose(self) -> None:
        for handle in self._timers:
            handle.cancel()
        self._timers.clear()
        pending: Sequence[asyncio.Task[None]] = list(self._tasks)
        if pending:
            await asyncio.gather(*pending, return_exceptions=True)
