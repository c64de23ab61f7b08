"""`Planner`: sends that wait for their time — scheduling, cancelling, moving, listing,
and releasing them when they fall due.

Herald's rows are the truth (`bot.storage.timetable`); the timer only wakes the process
(`bot.scheduling.timer`). Releasing is a sweep, safe to run any time and as often as
wanted: each due message moves from ``scheduled`` to ``queued`` (or to ``failed`` as
missed) in a transaction that finds it still ``scheduled``, so it goes out once however
many timers, sweeps and processes see it due. A schedule's occurrence is stored in the
transaction that moves the schedule's ``next_due`` on, so it happens once too.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import replace
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from bot.config.settings import Settings
from bot.errors import InputError
from bot.models import (
    MessageStatus,
    Schedule,
    ScheduleState,
    new_message_id,
    normalize_message_id,
)
from bot.scheduling.plans import (
    Agenda,
    AgendaSend,
    Cancelled,
    Plan,
    Released,
    Rescheduled,
    Scheduled,
    Timing,
)
from bot.scheduling.rules import parse_rule, parse_until
from bot.scheduling.steps import (
    LATE_NOTICE,
    RELEASE_BATCH,
    connection_gone,
    following_time,
    missed_reason,
    occurrence_of,
    request_of,
    span,
    state_words,
    stop,
    to_ms,
    unwritten_message,
    waiting_of,
)
from bot.scheduling.when import check_window, describe_delta, exact_amount, local_time, parse_when
from bot.sending.requests import (
    SendRequest,
    build_messages_off_loop,
    send_record,
    stored_recipients,
)
from bot.storage.rows import utcnow
from bot.storage.store import BUSY_TIMEOUT_SECONDS, Store, Transaction
from bot.templating.library import TemplateLibrary
from providers import Channel

log = logging.getLogger(__name__)


class Planner:
    def __init__(
        self,
        settings: Settings,
        templates: TemplateLibrary,
        store: Callable[[], Store],
        *,
        owner: str | None = None,
        clock: Callable[[], datetime] = utcnow,
    ) -> None:
        self.settings = settings
        self.templates = templates
        self._store = store
        self.owner = owner
        self.clock = clock
        self.started_at = clock()

    @property
    def store(self) -> Store:
        return self._store()

    def zone_of(self, request: SendRequest) -> ZoneInfo:
        if request.timezone:
            return ZoneInfo(request.timezone)
        return self.settings.scheduling.zone()

    # -- scheduling --------------------------------------------------------------

    async def schedule(self, request: SendRequest, *, lock_wait: float) -> Scheduled:
        """Validate and store ``request`` to go out later (``at``) or again and again
        (``every``); raises `InputError` (storing nothing) if it cannot."""
        plan = await self.plan(request)
        return await self.store.write(plan.store, lock_wait=lock_wait)

    async def plan(self, request: SendRequest) -> Plan:
        """Check ``request`` (to go out at ``at``, or by its rule ``every``) and build what
        it stores, storing nothing; raises `InputError` if it cannot go."""
        zone = self.zone_of(request)
        now = self.clock()
        horizon = self.settings.scheduling.horizon
        if request.every is None:
            if request.until is not None:
                raise InputError(
                    "An end date is for a repeating send: say how it repeats too.",
                    code="until_without_every",
                    fields=("until", "every"),
                )
            if request.at is None:
                raise ValueError("a request with neither a time nor a rule goes out now")
            due = to_ms(parse_when(request.at, now=now, zone=zone))
            check_window(due, now=now, horizon=horizon, zone=zone)
            built = await build_messages_off_loop(request, self.settings, self.templates)
            messages = [replace(m, status=MessageStatus.SCHEDULED, due_at=due) for m in built]
            send = send_record(request, messages, due_at=due, timezone=zone.key)
            return Plan(due, zone, request.sender, request.request_key, send, messages)
        rule = parse_rule(request.every)
        start = now
        if request.at is not None:
            start = to_ms(parse_when(request.at, now=now, zone=zone))
            check_window(start, now=now, horizon=horizon, zone=zone)
        until = parse_until(request.until, now=now, zone=zone) if request.until else None
        first = rule.next_after(start - timedelta(milliseconds=1), zone)
        if first is None or (until is not None and first > until):
            raise InputError(
                f"'{rule.describe()}' has no time before the end date: move the end date "
                "later, or leave it out.",
                code="until_invalid",
                fields=("until",),
            )
        if first - now > horizon:
            raise InputError(
                f"'{rule.describe()}' first comes {describe_delta(first - now)} "
                f"({local_time(first, zone)}), and sends can be scheduled at most "
                f"{exact_amount(horizon)} ahead.",
                code="when_too_far",
                fields=("every",),
            )
        # checks it all; a list is read again at each occurrence, but checked now too
        messages = await build_messages_off_loop(request, self.settings, self.templates)
        created = Schedule(
            id=new_message_id(),
            sender=request.sender,
            origin=request.origin,
            connection=messages[0].connection,
            recipients=stored_recipients(request, messages),  # a list as @NAME
            rule=rule.text,
            timezone=zone.key,
            state=ScheduleState.ACTIVE,
            created_at=now,
            updated_at=now,
            next_due=to_ms(first),
            until=until,
            text=None if request.template else messages[0].text,
            template=request.template,
            variables=dict(request.variables),
            subject=request.subject,
            media_urls=tuple(request.media_urls),
            announce_to=request.announce_to,
        )
        return Plan(first, zone, request.sender, request.request_key, schedule=created)

    # -- cancelling and moving ------------------------------------------------------

    async def cancel(
        self, some_id: str, *, actor: str, lock_wait: float = BUSY_TIMEOUT_SECONDS
    ) -> Cancelled:
        """Stop what has not gone out: a waiting message, every waiting message of a send,
        or a schedule's further occurrences. Raises `MessageNotFoundError`, or
        `InputError` when nothing of it can be stopped any more."""
        key = normalize_message_id(some_id)
        return await self.store.write(lambda tx: stop(tx, key, actor), lock_wait=lock_wait)

    async def reschedule(
        self,
        some_id: str,
        when: str,
        *,
        actor: str,
        timezone: str | None = None,
        lock_wait: float = BUSY_TIMEOUT_SECONDS,
    ) -> Rescheduled:
        """Move a waiting send (by its id, or by its one message's id) or a schedule's next
        occurrence to ``when``; raises `MessageNotFoundError` or `InputError`."""
        key = normalize_message_id(some_id)
        zone = ZoneInfo(timezone) if timezone else self.settings.scheduling.zone()
        now = self.clock()
        due = to_ms(parse_when(when, now=now, zone=zone))
        check_window(due, now=now, horizon=self.settings.scheduling.horizon, zone=zone)

        def move(tx: Transaction) -> Rescheduled:
            schedule = tx.schedule(key)
            if schedule is not None:
                if schedule.state is not ScheduleState.ACTIVE:
                    raise InputError(
                        f"Schedule #{key} {state_words(schedule.state)}: nothing is left to move.",
                        code="not_reschedulable",
                        target=key,
                    )
                if schedule.until is not None and due > schedule.until:
                    raise InputError(
                        f"Schedule #{key} ends before then; pick a time before its end.",
                        code="not_reschedulable",
                        fields=("at",),
                        target=key,
                    )
                moved = tx.update_schedule(key, next_due=due)
                tx.record_schedule_audit(actor, "reschedule", moved)
                return Rescheduled(due, zone, schedule=moved)
            message, send_id, waiting, of_send = waiting_of(tx, key, "moved")
            if message is not None and len(of_send) > 1:
                raise InputError(
                    f"#{key} is one of the messages of send #{send_id}, which go out together: "
                    f"move them all with #{send_id}, or cancel #{key} alone.",
                    code="not_reschedulable",
                    target=key,
                    send=send_id or "",
                )
            updated = []
            for m in waiting:
                updated.append(tx.update(m.id, due_at=due))
                tx.audit(actor, "reschedule", m, {"due_at": due.isoformat()})
            tx.set_send_due(send_id, due)
            return Rescheduled(due, zone, messages=updated)

        return await self.store.write(move, lock_wait=lock_wait)

    def agenda(self, sender: str | None = None, limit: int = 200) -> Agenda:
        """What waits to go out: ``sender``'s (None: everyone's), soonest first; at most
        ``limit`` sends (each whole) and ``limit`` schedules."""
        store = self.store
        sends = [
            AgendaSend(send, messages) for send, messages in store.scheduled_sends(sender, limit)
        ]
        schedules = store.active_schedules(sender, limit)
        others = 0
        if sender is not None:
            others = store.count_waiting() - len(sends) - len(schedules)
        return Agenda(sends, schedules, max(0, others))

    # -- releasing ----------------------------------------------------------------

    async def release_batch(self) -> Released:
        """Move up to `RELEASE_BATCH` due messages on: queued to go now, or failed as
        missed when they are more than ``missed_grace`` late."""
        now = self.clock()
        owner = self.owner

        def release(tx: Transaction) -> Released:
            queued, missed = [], []
            for message in tx.due_messages(now, RELEASE_BATCH):
                assert message.due_at is not None
                timing = self.timing(message.due_at, now)
                gone = message.connection not in self.settings.connections
                if timing.missed or gone:
                    reason = timing.missed or connection_gone(message.connection)
                    missed.append(
                        tx.set_status(
                            message.id,
                            MessageStatus.FAILED,
                            source="herald",
                            reason=reason,
                            late_by=timing.late_by,
                        )
                    )
                    continue
                queued.append(
                    tx.set_status(
                        message.id,
                        MessageStatus.QUEUED,
                        source="herald",
                        reason=timing.note,
                        late_by=timing.late_by,
                        owner=owner,
                    )
                )
            return Released(queued, missed)

        return await self.store.write(release)

    def timing(self, due: datetime, now: datetime) -> Timing:
        """How a message due at ``due`` goes out at ``now``.

        Only a time that fell due while no server ran (before this one started) can be
        missed: a running server sends what is due however long a backlog keeps it, so a
        ``missed_grace`` of 0 means "never send after a restart", not "fail everything".
        """
        late = now - due
        if due < self.started_at:  # Herald was not running at its time
            if late > self.settings.scheduling.missed_grace:
                return Timing(
                    missed_reason(due, late, self.settings.scheduling.missed_grace),
                    late.total_seconds(),
                )
            if late >= timedelta(seconds=1):
                return Timing(
                    None,
                    late.total_seconds(),
                    f"went out {span(late)} late: Herald was not running at its time",
                )
            return Timing()
        if late > LATE_NOTICE:
            return Timing(
                None, late.total_seconds(), f"went out {span(late)} late: Herald was behind"
            )
        return Timing()

    def due_schedules(self, limit: int = RELEASE_BATCH) -> list[Schedule]:
        return self.store.due_schedules(self.clock(), limit)

    async def occur(self, schedule: Schedule) -> Released:
        """Store ``schedule``'s due occurrence as a send of its own and move the schedule
        on to its next time; the occurrence's messages are queued (or failed: missed by
        more than ``missed_grace``, or no longer valid — a template that changed)."""
        now = self.clock()
        assert schedule.next_due is not None
        due = schedule.next_due
        timing = self.timing(due, now)
        problem = timing.missed
        try:
            zone = ZoneInfo(schedule.timezone)
            following = following_time(parse_rule(schedule.rule), due, now, zone, schedule.until)
        except (InputError, ValueError, KeyError):  # ZoneInfoNotFoundError is a KeyError
            # stored by a release (or on a system) that read it otherwise: it cannot go on,
            # and its sender is told by this occurrence's failure, not by a log line a sweep
            problem = problem or (
                f"Schedule #{schedule.id} cannot be read any more (rule '{schedule.rule}', "
                f"time zone {schedule.timezone}), so it ends here."
            )
            following = None
        try:
            if schedule.connection not in self.settings.connections:
                raise InputError(connection_gone(schedule.connection), code="unknown_connection")
            built = await build_messages_off_loop(
                request_of(schedule), self.settings, self.templates
            )
        except InputError as exc:
            problem = problem or (
                f"This occurrence of schedule #{schedule.id} could not be written: {exc}"
            )
            known = self.settings.connections.get(schedule.connection)
            channel = known.channel if known is not None else Channel.SMS
            built = [unwritten_message(schedule, r, now, channel) for r in schedule.recipients]
        late_by = timing.late_by
        messages = [
            replace(
                m,
                status=MessageStatus.FAILED if problem else MessageStatus.QUEUED,
                error=problem,
                due_at=due,
                late_by=late_by,
            )
            for m in built
        ]
        send = occurrence_of(schedule, due, now)

        def store(tx: Transaction) -> Released:
            current = tx.schedule(schedule.id)
            if (
                current is None
                or current.state is not ScheduleState.ACTIVE
                or current.next_due != due
            ):
                return Released()  # cancelled, moved, or taken by another sweep meanwhile
            _, stored = tx.add_send(send, messages, actor=schedule.sender, action="occurrence")
            tx.update_schedule(
                schedule.id,
                next_due=following,
                state=ScheduleState.ACTIVE if following else ScheduleState.ENDED,
                occurrences=current.occurrences + 1,
            )
            if problem:
                return Released(missed=stored)
            return Released(queued=stored)

        return await self.store.write(store)
