"""`Herald`: the one core both front ends (Slack and the CLI) call.

It owns the store, one pooled ``httpx.AsyncClient`` and provider per connection,
the scheduler and the background work, and it runs the send pipeline:
validate → store → hand to the provider → record every status change → announce.
"""

from __future__ import annotations

import asyncio
import contextlib
import hmac
import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import httpx
from apscheduler.schedulers.asyncio import AsyncIOScheduler

from bot import __version__
from bot.announcing import Announcer, Directory, SilentAnnouncer
from bot.config.settings import Settings
from bot.delivery.background import Background
from bot.delivery.early import EarlyReceipts
from bot.delivery.handover import Delivery
from bot.delivery.progress import advances
from bot.delivery.retries import RetryPolicy
from bot.errors import MessageNotFoundError
from bot.logsafe import loggable
from bot.models import Message, MessageStatus, StatusEvent, normalize_message_id
from bot.scheduling import create_scheduler, scheduler_state
from bot.sending.requests import SendRequest, build_messages
from bot.storage.processes import Heartbeat
from bot.storage.store import BUSY_TIMEOUT_SECONDS, Store, Transaction
from bot.templating.library import Rendered, TemplateInfo, TemplateLibrary
from providers import (
    PROVIDERS,
    Provider,
    Receipt,
    WebhookAuthError,
    WebhookRequest,
    WebhookResult,
)
from providers.sandbox import SandboxProvider

log = logging.getLogger(__name__)

SHUTDOWN_GRACE_SECONDS = 10.0
RECOVER_EVERY = 15.0  # seconds; with STALE_AFTER, a dead process's work moves within a minute
INTERRUPTED_REASON = (
    "Herald stopped while handing this message to the provider, so it may or may not "
    "have gone out. Check with the recipient before sending it again."
)


@dataclass(frozen=True)
class MessageReport:
    message: Message
    history: list[StatusEvent]


class Herald:
    """The service layer. Create, `start`, use, `stop`."""

    def __init__(self, settings: Settings, announcer: Announcer | None = None) -> None:
        self.settings = settings
        self.announcer: Announcer = announcer or SilentAnnouncer()
        self.directory: Directory | None = None
        self.templates = TemplateLibrary(settings.templates_dir)
        self.background = Background()
        self.store: Store | None = None
        self.scheduler: AsyncIOScheduler | None = None
        self.providers: dict[str, Provider] = {}
        self._clients: list[httpx.AsyncClient] = []
        self._delivery: Delivery | None = None
        self._early = EarlyReceipts()
        self.heartbeat = Heartbeat(settings.db_path)
        self.recover_every = RECOVER_EVERY
        self._recovery: asyncio.Task[None] | None = None

    # -- lifecycle --------------------------------------------------------------

    async def start(self, *, serve: bool = False) -> None:
        """Open the store and the providers; with ``serve``, also run the scheduler
        and finish what a previous run, or a process that died, left unfinished."""
        self.store = Store(self.settings.db_path, owner=self.heartbeat.token)
        await self.heartbeat.start()  # before this process owns any message
        for name, config in self.settings.connections.items():
            client = httpx.AsyncClient(
                timeout=httpx.Timeout(config.read_timeout, connect=config.connect_timeout),
                headers={"User-Agent": f"herald/{__version__}"},
                follow_redirects=False,
            )
            self._clients.append(client)
            provider_class = PROVIDERS[config.provider]

            async def sink(receipts: Sequence[Receipt], connection: str = name) -> None:
                await self.apply_receipts(connection, receipts)

            self.providers[name] = provider_class(config, client, sink)
        delivery = self.settings.delivery
        self._delivery = Delivery(
            self.store,
            self.providers,
            self.settings.connections,
            lambda: self.announcer,
            RetryPolicy(
                attempts=delivery.retry_attempts,
                backoff=delivery.retry_backoff,
                max_wait=delivery.retry_max_wait,
            ),
            self.templates,
            accepted=self._accepted,
            owner=self.heartbeat.token,
        )
        if serve:
            self.scheduler = create_scheduler(self.settings.db_path)
            self.scheduler.start()
            await self._recover(starting=True)
            self._recovery = asyncio.get_running_loop().create_task(
                self._keep_recovering(), name="recovery"
            )

    async def stop(self) -> None:
        """Finish (or, after the grace period, cancel) the work in progress, then close.

        The heartbeat goes last: until the work is over this process still owns messages
        that no other process may take over.
        """
        if self._recovery is not None:
            self._recovery.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._recovery
        loop = asyncio.get_running_loop()
        deadline = loop.time() + SHUTDOWN_GRACE_SECONDS
        await self.background.drain(SHUTDOWN_GRACE_SECONDS)
        for provider in self.providers.values():
            await provider.aclose()
        # closing a provider may still report (the sandbox's receipts in flight): announce
        await self.background.drain(max(0.0, deadline - loop.time()))
        for client in self._clients:
            await client.aclose()
        if self.scheduler is not None and self.scheduler.running:
            self.scheduler.shutdown(wait=False)
        await self.heartbeat.stop()
        if self.store is not None:
            self.store.close()

    @property
    def delivery(self) -> Delivery:
        if self._delivery is None:
            raise RuntimeError("Herald.start() has not run")
        return self._delivery

    @property
    def db(self) -> Store:
        if self.store is None:
            raise RuntimeError("Herald.start() has not run")
        return self.store

    def health(self) -> dict[str, object]:
        database = "ok" if self.store is not None and self.store.ping() else "unavailable"
        scheduler = scheduler_state(self.scheduler)
        ok = database == "ok" and scheduler in ("running", "off")
        return {
            "status": "ok" if ok else "degraded",
            "version": __version__,
            "database": database,
            "scheduler": scheduler,
            "connections": {
                name: config.describe() for name, config in self.settings.connections.items()
            },
        }

    # -- sending ----------------------------------------------------------------

    async def submit(
        self, request: SendRequest, *, lock_wait: float = BUSY_TIMEOUT_SECONDS
    ) -> list[Message]:
        """Validate and store a send; raises `InputError` (storing nothing) if it cannot go,
        and `StoreBusyError` (storing nothing) if the database stays locked by another
        process for ``lock_wait`` seconds."""
        messages = build_messages(request, self.settings, self.templates)
        return await self.db.add_messages(
            messages,
            actor=request.sender,
            action="send",
            request_key=request.request_key,
            lock_wait=lock_wait,
        )

    async def dispatch(self, messages: Sequence[Message]) -> list[Message]:
        """Hand stored messages to their providers; returns their state afterwards."""
        return await self.delivery.deliver([await self._with_sender_email(m) for m in messages])

    async def _with_sender_email(self, message: Message) -> Message:
        if (
            message.sender_email is None
            and self.directory is not None
            and self.providers[message.connection].wants_sender_email()
        ):
            email = await self.directory.email_of(message.sender)
            if email:
                return await self.db.update(message.id, sender_email=email)
        return message

    async def send_now(self, request: SendRequest) -> list[Message]:
        return await self.dispatch(await self.submit(request))

    async def _recover(self, *, starting: bool = False) -> None:
        """Take over what a dead process left unfinished, without ever sending twice.

        Runs at start and every `recover_every` seconds while serving. A message stays
        with its owner while the owner's heartbeat is fresh (a ``herald send`` in
        progress, this process's own sends). Of a dead owner's work, an interrupted
        hand-over is failed (it may or may not have gone out), a queued message is sent
        and a sandbox message's scripted receipts are re-armed. At start, every receipt
        Slack never got (a stop between a change and its announcement) is posted.
        """
        live = await self.heartbeat.live()
        owner = self.heartbeat.token

        def fail_interrupted(tx: Transaction) -> list[Message]:
            return [
                tx.set_status(
                    message.id, MessageStatus.FAILED, source="herald", reason=INTERRUPTED_REASON
                )
                for message in tx.claim_orphans([MessageStatus.SENDING], live, owner)
            ]

        failed = await self.db.write(fail_interrupted)
        for message in failed:
            log.warning("message %s was interrupted mid-send; marked it failed", message.id)
        queued = await self.db.claim_orphans([MessageStatus.QUEUED], live, owner)
        if queued:
            log.info("sending %d message(s) a stopped process left queued", len(queued))
            self.background.spawn(self.dispatch(queued), name="recover-queued")
        await self._resume_sandboxes(live)
        await self.db.write(lambda tx: tx.forget_requests())
        unannounced = self.announcer.unannounced() if starting else failed
        if unannounced:
            self.background.spawn(self._announce_each(unannounced), name="recover-announce")

    async def _keep_recovering(self) -> None:
        while True:
            await asyncio.sleep(self.recover_every)
            try:
                await self._recover()
            except Exception:  # the loop must outlive one bad pass (a locked database)
                log.exception("recovering unfinished work failed; trying again later")

    async def _resume_sandboxes(self, live: set[str]) -> None:
        """Re-arm the scripted receipts of sandbox messages a stopped process accepted:
        its timers died with it, but the acceptance time is stored."""
        sandboxes = {n: p for n, p in self.providers.items() if isinstance(p, SandboxProvider)}
        if not sandboxes:
            return
        resumable = [MessageStatus.ACCEPTED, MessageStatus.SENT]
        owner = self.heartbeat.token
        for message in await self.db.claim_orphans(resumable, live, owner, list(sandboxes)):
            if message.provider_message_id is None:
                continue
            accepted_at = next(
                (e.at for e in self.db.history(message.id) if e.status is MessageStatus.ACCEPTED),
                message.send_started_at or message.updated_at,
            )
            sandboxes[message.connection].resume(
                message.provider_message_id, message.recipient, accepted_at
            )

    async def _announce_each(self, messages: Sequence[Message]) -> None:
        # one at a time: a restart after a long outage must not burst past Slack's limits
        for message in messages:
            await self.announcer.message_changed(message)

    # -- templates --------------------------------------------------------------

    def template_list(self) -> list[TemplateInfo]:
        """Every template with what it needs; a broken one raises its error."""
        return [self.templates.info(name) for name in self.templates.names()]

    def template_preview(
        self, name: str, variables: Mapping[str, str] | None = None
    ) -> tuple[TemplateInfo, Rendered]:
        """Render ``name`` with ``variables`` (default: its samples) for a preview."""
        info = self.templates.info(name)
        return info, self.templates.render(name, info.samples if variables is None else variables)

    # -- looking up -------------------------------------------------------------

    def report(self, message_id: str) -> MessageReport:
        key = normalize_message_id(message_id)
        message = self.db.get(key)
        if message is None:
            raise MessageNotFoundError(
                f"There is no message #{key}. Message ids are the #… codes in each receipt."
            )
        return MessageReport(message, self.db.history(key))

    # -- receipts ---------------------------------------------------------------

    async def apply_receipts(self, connection: str, receipts: Sequence[Receipt]) -> int:
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

        changed = await self.db.write(record)
        if changed is not None:
            self.background.spawn(
                self.announcer.message_changed(changed), name=f"announce-{message.id}", defer=True
            )

    def _keep_early(self, connection: str, receipt: Receipt) -> None:
        pid = receipt.provider_message_id
        if not pid:
            log.info("receipt on %s names no message; ignored", connection)
            return
        foreign = self.db.find_by_provider_id(self._same_provider(connection), pid)
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

    async def _accepted(self, message: Message) -> None:
        """Apply reports that arrived before the provider's answer to the send."""
        provider = self.settings.connections[message.connection].provider
        key = (self._account(message.connection), message.provider_message_id or "")
        for receipt in self._early.take(key):
            current = self.db.get(message.id)
            if current is not None:
                await self._apply(current, receipt, provider)

    def _match(self, connection: str, receipt: Receipt) -> Message | None:
        # Only messages the verifying account could have sent: see `_siblings`.
        siblings = self._siblings(connection)
        if receipt.reference:
            message = self.db.get(receipt.reference)
            if message is not None and message.connection in siblings:
                return message
        if receipt.provider_message_id:
            return self.db.find_by_provider_id(siblings, receipt.provider_message_id)
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
        await self.apply_receipts(connection, result.receipts)
        return result
