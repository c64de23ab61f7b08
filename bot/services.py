"""`Herald`: the one core both front ends (Slack and the CLI) call.

It owns the store, one pooled ``httpx.AsyncClient`` and provider per connection,
the scheduler and the background work, and it runs the send pipeline:
validate → store → hand to the provider → record every status change → announce.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable, Sequence
from datetime import datetime

import httpx

from bot import __version__
from bot.announcing import Announcer, Directory, SilentAnnouncer
from bot.config.settings import Settings
from bot.delivery.background import Background
from bot.delivery.handover import Delivery
from bot.delivery.polling import Poller, PollSchedule
from bot.delivery.retries import RetryPolicy
from bot.delivery.routing import ReceiptRouter
from bot.errors import InputError
from bot.lookups import Lookups
from bot.models import Message, MessageStatus, Schedule
from bot.scheduling.edits import Draft, Edited, Editor, Replaced
from bot.scheduling.planner import Planner
from bot.scheduling.plans import Agenda, Cancelled, Released, Rescheduled, Scheduled
from bot.scheduling.steps import RELEASE_BATCH, connection_gone
from bot.scheduling.timer import Timer
from bot.sending.requests import SendRequest, build_messages, send_record
from bot.storage.processes import Heartbeat
from bot.storage.store import BUSY_TIMEOUT_SECONDS, Store, Transaction
from bot.templating.library import TemplateLibrary
from bot.waiting import nap
from bot.watching import Watched, Watchers
from providers import (
    PROVIDERS,
    Provider,
    Receipt,
    WebhookRequest,
    WebhookResult,
)
from providers.sandbox import SandboxProvider

log = logging.getLogger(__name__)

SHUTDOWN_GRACE_SECONDS = 10.0
RECOVER_EVERY = 15.0  # seconds; with STALE_AFTER, a dead process's work moves within a minute
SWEEP_EVERY = 5.0  # seconds: due messages are released at the latest this long after their time,
# should their timer be missing (it never should); the timer wakes the sweep on time
INTERRUPTED_REASON = (
    "Herald stopped while handing this message to the provider, so it may or may not "
    "have gone out. Check with the recipient before sending it again."
)


class Herald(Lookups):
    """The service layer. Create, `start`, use, `stop`."""

    def __init__(
        self,
        settings: Settings,
        announcer: Announcer | None = None,
        *,
        directory: Directory | None = None,
        transport: httpx.AsyncBaseTransport | None = None,
    ) -> None:
        """``announcer`` shows status changes (Slack, the CLI's printer; default: none);
        ``directory`` says who a sender is; ``transport`` carries every provider's HTTP
        requests (default: the network; tests pass an ``httpx.MockTransport``)."""
        self.settings = settings
        self.announcer: Announcer = announcer or SilentAnnouncer()
        self.directory = directory
        self.transport = transport
        self.templates = TemplateLibrary(settings.templates_dir)
        self.background = Background()
        self.watchers = Watchers()
        self._told: Announcer = Watched(lambda: self.announcer, self.watchers)
        self.store: Store | None = None
        self.timer: Timer | None = None  # runs in `herald serve` only
        self.providers: dict[str, Provider] = {}
        self._clients: list[httpx.AsyncClient] = []
        self._delivery: Delivery | None = None
        self.receipts = ReceiptRouter(
            settings, self.providers, lambda: self.db, lambda: self._told, self.background
        )
        self.heartbeat = Heartbeat(settings.db_path)
        self.planner = Planner(
            settings, self.templates, lambda: self.db, owner=self.heartbeat.token
        )
        self.editor = Editor(self.planner)
        self.recover_every = RECOVER_EVERY
        self.sweep_every = SWEEP_EVERY
        self.poll_schedule = PollSchedule()  # tests shorten it before `start`
        self.poller: Poller | None = None  # receipts by polling; its loop runs when serving
        self._recovery: asyncio.Task[None] | None = None
        self._sweeper: asyncio.Task[None] | None = None
        self._due = asyncio.Event()

    # -- lifecycle --------------------------------------------------------------

    async def start(self, *, serve: bool = False) -> None:
        """Open the store and the providers; with ``serve``, also run the scheduler
        and finish what a previous run, or a process that died, left unfinished."""
        self.store = Store(self.settings.db_path, owner=self.heartbeat.token)
        await self.heartbeat.start()  # before this process owns any message
        for name, config in self.settings.connections.items():
            client = httpx.AsyncClient(
                transport=self.transport,
                timeout=httpx.Timeout(config.read_timeout, connect=config.connect_timeout),
                headers={"User-Agent": f"herald/{__version__}"},
                follow_redirects=False,
            )
            self._clients.append(client)
            provider_class = PROVIDERS[config.provider]

            async def sink(receipts: Sequence[Receipt], connection: str = name) -> None:
                await self.apply_receipts(connection, receipts)

            self.providers[name] = provider_class(config, client, sink)
        self.poller = Poller(
            lambda: self.db, self.providers, self.apply_receipts, schedule=self.poll_schedule
        )
        delivery = self.settings.delivery
        self._delivery = Delivery(
            self.store,
            self.providers,
            self.settings.connections,
            lambda: self._told,
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
            self.timer = Timer(self.store, self._wake_sweeper, self._changed_elsewhere)
            await self.timer.start()  # AlreadyRunningError: one server per database
            await self._recover(starting=True)
            loop = asyncio.get_running_loop()
            self._recovery = loop.create_task(self._keep_recovering(), name="recovery")
            self._due.set()  # what fell due while no server ran goes first
            self._sweeper = loop.create_task(self._keep_sweeping(), name="sweeper")
            await self.poller.start()

    async def stop(self) -> None:
        """Finish (or, after the grace period, cancel) the work in progress, then close.

        The heartbeat goes last: until the work is over this process still owns messages
        that no other process may take over.
        """
        if self.timer is not None:
            await self.timer.stop()  # nothing falls due from here on; it waits in its row
        for task in (self._sweeper, self._recovery):
            if task is not None:
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await task
        if self.poller is not None:
            await self.poller.stop()  # its polls wait in their rows for the next start
        loop = asyncio.get_running_loop()
        deadline = loop.time() + SHUTDOWN_GRACE_SECONDS
        await self.background.drain(SHUTDOWN_GRACE_SECONDS)
        for provider in self.providers.values():
            await provider.aclose()
        # closing a provider may still report (the sandbox's receipts in flight): announce
        await self.background.drain(max(0.0, deadline - loop.time()))
        for client in self._clients:
            await client.aclose()
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
        scheduler = self.timer.state if self.timer is not None else "off"
        jobs: int | None = None
        if database == "ok" and self.timer is not None and scheduler == "running":
            jobs = self.timer.pending()
            if jobs is None:
                scheduler = "job table unreadable"
        ok = database == "ok" and scheduler in ("running", "off")
        return {
            "status": "ok" if ok else "degraded",
            "version": __version__,
            "database": database,
            "scheduler": scheduler,
            "pending_jobs": jobs,
            "connections": {
                name: config.describe() for name, config in self.settings.connections.items()
            },
        }

    # -- sending ----------------------------------------------------------------

    async def submit(
        self, request: SendRequest, *, lock_wait: float = BUSY_TIMEOUT_SECONDS
    ) -> list[Message]:
        """Validate and store a send and its messages (one per recipient, each carrying the
        send's id) in one transaction; raises `InputError` (storing nothing) if it cannot
        go, and `StoreBusyError` (storing nothing) if the database stays locked by another
        process for ``lock_wait`` seconds."""
        if request.is_scheduled:
            # never sent now by mistake: a front end must mean `schedule`
            raise ValueError("a request with a time or a rule goes to Herald.schedule")
        messages = build_messages(request, self.settings, self.templates)
        _send, stored = await self.db.add_send(
            send_record(request, messages),
            messages,
            actor=request.sender,
            action="send",
            request_key=request.request_key,
            lock_wait=lock_wait,
        )
        return stored

    async def schedule(
        self, request: SendRequest, *, lock_wait: float = BUSY_TIMEOUT_SECONDS
    ) -> Scheduled:
        """Validate and store a send to go out later (``request.at``), or a recurring
        schedule (``request.every``); raises `InputError` (storing nothing) if it cannot.
        The scheduled messages' receipts are shown (``scheduled``, with their time)."""
        scheduled = await self.planner.schedule(request, lock_wait=lock_wait)
        self._timers_changed()
        self._show(scheduled.messages, scheduled.schedule, "announce-scheduled", defer=True)
        return scheduled

    def _show(
        self,
        messages: Sequence[Message],
        schedule: Schedule | None,
        name: str,
        *,
        defer: bool = False,
    ) -> None:
        """Show what a change of scheduled work did: its messages' receipts, and for a
        schedule (no message to announce) the watchers are told."""
        if messages:
            self.background.spawn(self._announce_each(messages), name=name, defer=defer)
        if schedule is not None:
            self.watchers.changed(schedule.sender)

    async def cancel(
        self, some_id: str, *, actor: str, lock_wait: float = BUSY_TIMEOUT_SECONDS
    ) -> Cancelled:
        """Stop what has not gone out of a message, a send or a schedule (by its id)."""
        cancelled = await self.planner.cancel(some_id, actor=actor, lock_wait=lock_wait)
        self._timers_changed()
        self._show(cancelled.messages, cancelled.schedule, "announce-cancel")
        return cancelled

    async def reschedule(
        self,
        some_id: str,
        when: str,
        *,
        actor: str,
        timezone: str | None = None,
        lock_wait: float = BUSY_TIMEOUT_SECONDS,
    ) -> Rescheduled:
        """Move a waiting send, or a schedule's next occurrence, to ``when`` (read in
        ``timezone``, default the config's)."""
        moved = await self.planner.reschedule(
            some_id, when, actor=actor, timezone=timezone, lock_wait=lock_wait
        )
        self._timers_changed()
        self._show(moved.messages, moved.schedule, "announce-moved")
        return moved

    def agenda(self, sender: str | None = None) -> Agenda:
        """What waits to go out: ``sender``'s, or everyone's (None)."""
        return self.planner.agenda(sender)

    # -- editing what waits -------------------------------------------------------

    def draft(self, some_id: str) -> Draft:
        """What an Edit form is prefilled with for a waiting message, send or schedule;
        raises `MessageNotFoundError`, or `InputError` when nothing of it waits any more."""
        return self.editor.draft(some_id)

    async def replace(
        self,
        some_id: str,
        request: SendRequest,
        *,
        actor: str,
        lock_wait: float = BUSY_TIMEOUT_SECONDS,
    ) -> Replaced:
        """Store the edited ``request`` (scheduled or recurring) in place of the waiting
        message, send or schedule ``some_id``, in one transaction: the old is cancelled
        ("replaced by #NEW") and the new stored, or neither. Raises `InputError` (nothing
        stored, nothing cancelled) for a request that cannot go or an old that is not
        waiting any more, `MessageNotFoundError`, and `RepeatedRequestError` for a
        request key seen before. Both receipts are shown: the old ``cancelled``, the new
        ``scheduled``."""
        replaced = await self.editor.replace(some_id, request, actor=actor, lock_wait=lock_wait)
        self._timers_changed()
        self._show(replaced.old.messages, replaced.old.schedule, "announce-cancel")
        self._show(replaced.new.messages, replaced.new.schedule, "announce-scheduled", defer=True)
        return replaced

    async def edit(
        self,
        some_id: str,
        request: SendRequest,
        *,
        actor: str,
        lock_wait: float = BUSY_TIMEOUT_SECONDS,
    ) -> Edited:
        """Save an edit of the waiting message, send or schedule ``some_id``: when
        ``request`` asks for what it will send and only its time differs, it is moved
        (the same ``#ID``; a schedule's next time); any other change replaces it
        (`replace`). One message of a send to several is replaced to move it alone."""
        draft = self.draft(some_id)
        connection = self.settings.connections.get(draft.connection)
        try:
            info = self.templates.info(draft.template) if draft.template else None
        except InputError:  # gone or broken since: a move is still a move
            info = None
        variables = info.variable_order if info else ()
        decision = "replace"
        if connection is not None:
            decision = self.editor.decide(draft, request, connection.channel, variables)
        if decision == "same":
            return Edited()
        if decision == "replace":
            return Edited(
                replaced=await self.replace(some_id, request, actor=actor, lock_wait=lock_wait)
            )
        assert request.at is not None
        moved = await self.reschedule(
            draft.target, request.at, actor=actor, timezone=request.timezone, lock_wait=lock_wait
        )
        return Edited(moved=moved)

    async def send_now(self, request: SendRequest) -> list[Message]:
        """Store ``request`` and hand it over; its messages as they are afterwards."""
        return await self.dispatch(await self.submit(request))

    async def release_now(
        self,
        some_id: str,
        *,
        actor: str,
        expected_due: datetime | None = None,
        lock_wait: float = BUSY_TIMEOUT_SECONDS,
    ) -> Rescheduled:
        """What waits under ``some_id`` goes out now (by ``actor``): a scheduled message or
        send is released by the sweep like anything due, its receipt edited; of a
        schedule, its next occurrence goes out now and the one after follows the rule from
        the time this one had (only if that is still ``expected_due``, when given: what
        the person saw). Raises `MessageNotFoundError`, or `InputError` when nothing of it
        waits."""
        moved = await self.editor.send_now(
            some_id, actor=actor, expected_due=expected_due, lock_wait=lock_wait
        )
        self._timers_changed()
        self._due.set()  # this server's sweep releases it at once
        self._show(moved.messages, moved.schedule, "announce-moved")
        return moved

    # -- watching -------------------------------------------------------------------

    def watch(self, listener: Callable[[str], None]) -> Callable[[], None]:
        """Call ``listener`` with a sender's id (a Slack user id, ``cli:<login>``) soon
        after any of their sends, messages or schedules changed: scheduled, cancelled,
        moved, replaced, sent now, or a status change from delivery. Best effort, in
        memory: once per sender per turn of the event loop, on the loop; it must be cheap
        and its errors are logged, not raised. Returns what stops the calls."""
        return self.watchers.add(listener)

    def _timers_changed(self) -> None:
        if self.timer is not None:
            self.timer.changed()

    async def _changed_elsewhere(self, ids: list[str]) -> None:
        """Another process (``herald jobs cancel``, ``reschedule``) changed these sends or
        schedules: show their messages as they are now (a receipt still says
        ``scheduled``, at the old time, with its Cancel button)."""
        messages = [m for some_id in ids for m in self.db.messages_of(some_id)]
        for some_id in ids:
            schedule = self.db.schedule(some_id)
            if schedule is not None:
                self.watchers.changed(schedule.sender)
        changeable = (MessageStatus.SCHEDULED, MessageStatus.CANCELLED)
        shown = [m for m in messages if m.announce_to and m.status in changeable]
        if shown:
            self.background.spawn(self._announce_each(shown), name="announce-changed")

    async def _wake_sweeper(self, target_id: str) -> None:
        """A timer went off: release what is due (the sweep finds it by its row)."""
        log.debug("timer %s went off", target_id)
        self._due.set()

    async def _keep_sweeping(self) -> None:
        while True:
            await nap(self._due, self.sweep_every)
            self._due.clear()
            try:
                await self.release_due()
            except Exception:  # the sweep must outlive one bad pass (a locked database)
                log.exception("releasing due messages failed; trying again shortly")

    async def release_due(self) -> int:
        """Hand over every message due now (failing the ones missed by more than
        ``missed_grace``) and store each due occurrence of a schedule; returns how many
        messages moved. Safe to run any time: a message moves once."""
        moved = 0
        while True:
            released = await self.planner.release_batch()
            self._after_release(released)
            count = len(released.queued) + len(released.missed)
            moved += count
            if count < RELEASE_BATCH:
                break
        for schedule in self.planner.due_schedules():
            try:
                released = await self.planner.occur(schedule)
            except Exception:  # one broken schedule must not hold up the others
                log.exception("schedule %s could not occur; trying again next sweep", schedule.id)
                continue
            self._after_release(released)
            moved += len(released.queued) + len(released.missed)
        return moved

    def _after_release(self, released: Released) -> None:
        if released.queued:
            log.info("%d scheduled message(s) due: handing them over", len(released.queued))
            self.background.spawn(self.dispatch(released.queued), name="due")
        if released.missed:
            for message in released.missed:
                log.warning("scheduled message %s missed: %s", message.id, message.error)
            self.background.spawn(self._announce_each(released.missed), name="announce-missed")

    async def dispatch(self, messages: Sequence[Message]) -> list[Message]:
        """Hand stored messages to their providers; returns their state afterwards. A
        message whose connection left the configuration (it waited through a restart) fails
        saying so."""
        stranded = [m for m in messages if m.connection not in self.providers]
        for message in stranded:
            failed = await self.db.set_status(
                message.id,
                MessageStatus.FAILED,
                source="herald",
                reason=connection_gone(message.connection),
            )
            await self._told.message_changed(failed)
        going = [await self._with_sender_email(m) for m in messages if m not in stranded]
        done = {m.id: m for m in await self.delivery.deliver(going)} if going else {}
        return [done.get(m.id) or self.db.get(m.id) or m for m in messages]

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
            await self._told.message_changed(message)

    # -- receipts ---------------------------------------------------------------

    async def apply_receipts(self, connection: str, receipts: Sequence[Receipt]) -> int:
        """Record provider-reported statuses; returns how many matched a message."""
        return await self.receipts.apply(connection, receipts)

    async def handle_webhook(self, connection: str, request: WebhookRequest) -> WebhookResult:
        """Verify and apply a provider's delivery callback for ``connection``; polling
        stops for the messages it reports on."""
        result = await self.receipts.handle_webhook(connection, request)
        if self.poller is not None:
            await self.poller.heard(connection, result.receipts)
        return result

    async def _accepted(self, message: Message) -> bool:
        """The provider accepted ``message``: apply reports that beat its answer, and
        poll for its status if its connection polls. Whether a report changed it."""
        changed = await self.receipts.accepted(message)
        if self.poller is not None:
            await self.poller.watch(message)
        return changed
