"""Provider reports to messages: `ReceiptRouter`.

A report (a webhook, or the sandbox's timers) names a message by Herald's reference or
by the provider's id. The router finds the message among those the verifying account
could have sent (a callback verified with one connection's credentials never changes
another account's message), keeps a report that beat its send's answer until the
answer brings the id (`bot.delivery.early`), and records the change it makes — in one
transaction, so a status never moves backwards (`bot.delivery.progress`) — before the
announcement runs in the background.
"""

from __future__ import annotations

import hmac
import logging
from collections.abc import Callable, Mapping, Sequence

from bot.announcing import Announcer
from bot.config import Settings
from bot.delivery.background import Background
from bot.delivery.early import EarlyReceipts
from bot.delivery.progress import advances
from bot.logsafe import loggable
from bot.models import Message, MessageStatus
from bot.storage import Store, Transaction
from providers import Provider, Receipt, WebhookAuthError, WebhookRequest, WebhookResult

log = logging.getLogger(__name__)


class ReceiptRouter:
    def __init__(
        self,
        settings: Settings,
        providers: Mapping[str, Provider],
        store: Callable[[], Store],
        announcer: Callable[[], Announcer],
        background: Background,
    ) -> None:
        self.settings = settings
        self.providers = providers
        self._store = store
        self._announcer = announcer
        self.background = background
        self._early = EarlyReceipts()

    async def apply(self, connection: str, receipts: Sequence[Receipt]) -> int:
        """Record provider-reported statuses; returns how many matched a message.

        The Slack (or CLI) announcement runs in the background, so a provider's callback
        is answered at once however slow Slack is. A report for a message whose send is
        still waiting for the provider's answer is kept for a while and applied when the
        answer brings the provider id.
        """
        matched = 0
        for receipt in receipts:
            message = self._match(connection, receipt)
            if message is None:
                self._keep_early(connection, receipt)
                continue
            matched += 1
            await self._apply(message, receipt, self.settings.connections[connection].provider)
        return matched

    async def _apply(self, message: Message, receipt: Receipt, source: str) -> None:
        reported = MessageStatus.from_delivery(receipt.status)

        def record(tx: Transaction) -> Message | None:
            # checked in the write's own transaction: a status never moves backwards
            current = tx.get(message.id)
            assert current is not None
            change = {"source": source, "reason": receipt.reason, "raw": receipt.raw}
            if advances(current.status, reported):
                return tx.set_status(message.id, reported, at=receipt.occurred_at, **change)
            if not tx.has_event(message.id, reported, source):
                # a late report is history worth keeping; a repeated one (a retry) is not
                tx.record_event(message.id, reported, at=receipt.occurred_at, **change)
            return None

        changed = await self._store().write(record)
        if changed is not None:
            self.background.spawn(
                self._announcer().message_changed(changed),
                name=f"announce-{message.id}",
                defer=True,
            )

    def _keep_early(self, connection: str, receipt: Receipt) -> None:
        pid = receipt.provider_message_id
        if not pid:
            log.info("receipt on %s names no message; ignored", connection)
            return
        foreign = self._store().find_by_provider_id(self._same_provider(connection), pid)
        if foreign is not None:
            # Not early: the message exists, but on a connection this callback's
            # credentials do not cover. Either a forgery or one account configured
            # with two different webhook_tokens (or secrets).
            log.warning(
                "receipt on %s names a message of connection %s, which verifies callbacks "
                "with other credentials; ignored (connections of one provider account need "
                "the same webhook_token or signing secret)",
                connection,
                foreign.connection,
            )
            return
        outcome = self._early.keep((self._account(connection), pid), receipt)
        log.info("receipt on %s for unknown message %s; %s", connection, loggable(pid), outcome)

    async def accepted(self, message: Message) -> bool:
        """Apply reports that arrived before the provider's answer to the send; whether
        there were any (else the message is as the acceptance stored it)."""
        if not self._early.size:
            return False  # the common case, and a send to many asks for each message
        provider = self.settings.connections[message.connection].provider
        key = (self._account(message.connection), message.provider_message_id or "")
        applied = False
        for receipt in self._early.take(key):
            current = self._store().get(message.id)
            if current is not None:
                await self._apply(current, receipt, provider)
                applied = True
        return applied

    def _match(self, connection: str, receipt: Receipt) -> Message | None:
        # Only messages the verifying account could have sent: see `_siblings`.
        siblings = self._siblings(connection)
        if receipt.reference:
            message = self._store().get(receipt.reference)
            if message is not None and message.connection in siblings:
                return message
        if receipt.provider_message_id:
            return self._store().find_by_provider_id(siblings, receipt.provider_message_id)
        return None

    def _siblings(self, connection: str) -> list[str]:
        """The connections whose messages a callback verified for ``connection`` may change.

        Callbell has a single webhook per account, so one URL receives the callbacks of
        every connection on that account: connections that verify callbacks with the same
        credentials (webhook_token and signing secret) are one account and share them.
        A connection whose callbacks verify with other credentials is another account, and
        one without any verifies nothing (its receipts come from the provider object,
        like the sandbox's timers), so neither is shared.
        """
        credentials = self._credentials(connection)
        if credentials is None:
            return [connection]
        return [
            name for name in self.settings.connections if self._credentials(name) == credentials
        ]

    def _same_provider(self, connection: str) -> list[str]:
        provider = self.settings.connections[connection].provider
        return [
            name
            for name, config in self.settings.connections.items()
            if config.provider == provider
        ]

    def _credentials(self, connection: str) -> tuple[str, str, str] | None:
        config = self.settings.connections[connection]
        key = self.providers[connection].webhook_key() if connection in self.providers else None
        if config.webhook_token is None and key is None:
            return None
        return (config.provider, config.webhook_token or "", key or "")

    def _account(self, connection: str) -> tuple[str, ...]:
        """One key for every connection of the account `_siblings` describes."""
        return tuple(self._siblings(connection))

    async def handle_webhook(self, connection: str, request: WebhookRequest) -> WebhookResult:
        """Verify and apply a provider's delivery callback for ``connection``."""
        config = self.settings.connections[connection]
        provider = self.providers[connection]
        if config.webhook_token is not None:
            given = request.query.get("token", "")
            if not hmac.compare_digest(given.encode(), config.webhook_token.encode()):
                raise WebhookAuthError("missing or wrong ?token=", provider=config.provider)
        elif provider.webhook_needs_token():
            raise WebhookAuthError(
                f"callbacks for '{connection}' cannot be verified: set webhook_token (and put "
                "?token=… in the callback URL) or the provider's signing key",
                provider=config.provider,
            )
        result = provider.parse_webhook(request)
        await self.apply(connection, result.receipts)
        return result
