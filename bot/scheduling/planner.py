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
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from bot.config.settings import Settings
from bot.errors import Code, Field, InputError, MessageNotFoundError, RepeatedRequestError
from bot.models import (
    Message,
    MessageStatus,
    Schedule,
    ScheduleState,
    Send,
    new_message_id,
    normalize_message_id,
    shown_id,
)
from bot.scheduling.rules import Rule, parse_rule, parse_until
from bot.scheduling.when import check_window, describe_delta, local_time, parse_when
from bot.sending.requests import (
    SendRequest,
    build_messages_off_loop,
    send_record,
    stored_recipients,
)
from bot.storage.rows import utcnow
from bot.storage.store import BUSY_TIMEOUT_SECONDS, Store, Transaction
from bot.storage.tables import Tables
from bot.templating.library import TemplateLibrary
from providers import Channel

log = logging.getLogger(__name__)

RELEASE_BATCH = 500  # messages moved per transaction when many fall due at once
LATE_NOTICE = timedelta(minutes=1)  # later than this (or due before Herald started): "late"
CANCELLABLE = frozenset({MessageStatus.SCHEDULED, MessageStatus.QUEUED})


@dataclass(frozen=True)
class Scheduled:
    """What scheduling a request stored: a send due later, or a recurring schedule."""

    due_at: datetime  # when it (first) goes out
    zone: ZoneInfo  # the zone its times were read in
    send: Send | None = None
    messages: list[Message] = field(default_factory=list)  # the send's, all ``scheduled``
    schedule: Schedule | None = None

    @property
    def id(self) -> str:
        """What ``cancel``/``reschedule`` take for all of it: the schedule's id, the send's
        id, or the one message's id (as its receipt shows it)."""
        if self.schedule is not None:
            return self.schedule.id
        if len(self.messages) == 1:
            return self.messages[0].id
        assert self.send is not None
        return self.send.id


@dataclass(frozen=True)
class Plan:
    """A request checked and built to go out later (`Planner.plan`), not stored yet: a
    send and its messages, or a recurring schedule. `store` stores it in a transaction."""

    due_at: datetime
    zone: ZoneInfo
    actor: str
    request_key: str | None = None
    send: Send | None = None
    messages: list[Message] = field(default_factory=list)  # the send's, all ``scheduled``
    schedule: Schedule | None = None

    def store(self, tx: Transaction) -> Scheduled:
        """Store it in ``tx`` and note its timer; a request key stored before raises
        `RepeatedRequestError` (the transaction then stores nothing)."""
        if self.schedule is not None:
            if self.request_key is not None and not tx.claim_request(self.request_key):
                raise RepeatedRequestError("this request was handled already")
            stored = tx.add_schedule(self.schedule)
            tx.record_schedule_audit(self.actor, "schedule", stored)
            return Scheduled(due_at=self.due_at, zone=self.zone, schedule=stored)
        assert self.send is not None
        send, messages = tx.add_send(
            self.send,
            self.messages,
            actor=self.actor,
            action="schedule",
            request_key=self.request_key,
        )
        tx.note_timer(send.id)
        return Scheduled(due_at=self.due_at, zone=self.zone, send=send, messages=messages)


@dataclass(frozen=True)
class Cancelled:
    """What a cancel stopped: messages that will not go out, or a schedule."""

    target: str  # the id as given, normalised
    messages: list[Message] = field(default_factory=list)
    schedule: Schedule | None = None
    already_gone: int = 0  # messages of the send that were past cancelling


@dataclass(frozen=True)
class Rescheduled:
    due_at: datetime
    zone: ZoneInfo
    messages: list[Message] = field(default_factory=list)
    schedule: Schedule | None = None


@dataclass(frozen=True)
class AgendaSend:
    """A send waiting for its time: its messages still ``scheduled``."""

    send: Send
    messages: list[Message]

    @property
    def due_at(self) -> datetime:
        return min(m.due_at for m in self.messages if m.due_at is not None)


@dataclass(frozen=True)
class Agenda:
    """What is scheduled: waiting sends and active schedules, each soonest first."""

    sends: list[AgendaSend]
    schedules: list[Schedule]
    others: int = 0  # asked for one sender's: how many more belong to other people


@dataclass(frozen=True)
class Timing:
    """Whether a due message goes out, and how late (`Planner.timing`)."""

    missed: str | None = None  # the reason it fails as missed; None: it goes out
    late_by: float | None = None  # seconds late, when that is worth saying
    note: str | None = None  # what its history says about that


@dataclass(frozen=True)
class Released:
    """What a sweep moved: messages to hand over now, and messages missed for good."""

    queued: list[Message] = field(default_factory=list)
    missed: list[Message] = field(default_factory=list)


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
                f"{_span(horizon)} ahead.",
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
        """What waits to go out: ``sender``'s (None: everyone's), soonest first."""
        store = self.store
        waiting = store.scheduled_messages(sender, limit)
        by_send: dict[str, list[Message]] = {}
        for message in waiting:
            by_send.setdefault(message.send_id or message.id, []).append(message)
        sends = []
        for send_id, messages in by_send.items():
            send = store.send(send_id)
            if send is not None:
                sends.append(AgendaSend(send, messages))
        schedules = store.active_schedules(sender, limit)
        others = 0
        if sender is not None:
            others = store.count_waiting() - len(by_send) - len(schedules)
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
                    f"went out {_span(late)} late: Herald was not running at its time",
                )
            return Timing()
        if late > LATE_NOTICE:
            return Timing(
                None, late.total_seconds(), f"went out {_span(late)} late: Herald was behind"
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
        zone = ZoneInfo(schedule.timezone)
        rule = parse_rule(schedule.rule)
        following = following_time(rule, due, now, zone, schedule.until)
        timing = self.timing(due, now)
        problem = timing.missed
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
            built = [_unwritten(schedule, r, now, channel) for r in schedule.recipients]
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


def waiting_of(
    tx: Tables, key: str, verb: str, code: Code = "not_reschedulable"
) -> tuple[Message | None, str, list[Message], list[Message]]:
    """What of ``key`` (a message, or a send) waits for its time: the message
    (None for a send), its send's id, the send's waiting messages and all the send's
    messages; raises `MessageNotFoundError`, or `InputError` (``code``) when nothing of it
    waits, so nothing can be ``verb`` (moved, edited, sent now)."""
    message = tx.get(key)
    send_id = (message.send_id if message is not None else key) or ""
    of_send = tx.messages_of(send_id)
    waiting = [m for m in of_send if m.status is MessageStatus.SCHEDULED]
    if message is None and not of_send:
        raise not_found(key)
    if message is not None and message.status is not MessageStatus.SCHEDULED:
        raise InputError(
            f"#{key} is {message.status.value}, not waiting for its time: only a "
            f"scheduled message can be {verb}.",
            code=code,
            target=key,
        )
    if not waiting:
        raise InputError(
            f"Nothing of #{key} is waiting for its time any more.", code=code, target=key
        )
    return message, send_id, waiting, of_send


def stop(
    tx: Transaction,
    key: str,
    actor: str,
    *,
    action: str = "cancel",
    reason: str | None = None,
    stoppable: frozenset[MessageStatus] = CANCELLABLE,
    verb: str = "cancelled",
    fields: tuple[Field, ...] = (),
) -> Cancelled:
    """In ``tx``, stop what of ``key`` (a message, a send, a schedule) has not gone out —
    its messages in ``stoppable``, or the schedule's further occurrences — noting
    ``reason`` in their history; raises `MessageNotFoundError`, or `InputError` (saying
    it cannot be ``verb``, about ``fields``) when nothing of it can be stopped any more."""
    schedule = tx.schedule(key)
    if schedule is not None:
        if schedule.state is not ScheduleState.ACTIVE:
            raise InputError(
                f"Schedule #{key} {state_words(schedule.state)} already: nothing more goes out.",
                code="not_cancellable",
                fields=fields,
                target=key,
            )
        stopped = tx.update_schedule(key, state=ScheduleState.CANCELLED, next_due=None)
        tx.record_schedule_audit(actor, action, stopped, note=reason)
        return Cancelled(key, schedule=stopped)
    message = tx.get(key)
    targets = [message] if message is not None else tx.messages_of(key)
    if not targets:
        raise not_found(key)
    # a queued message may be on its way: only one still in `stoppable` is stopped
    done = []
    for m in targets:
        if m.status not in stoppable:
            continue
        done.append(tx.set_status(m.id, MessageStatus.CANCELLED, source="herald", reason=reason))
        tx.audit(actor, action, m, {"reason": reason} if reason else {})
        if m.send_id:
            tx.note_timer(m.send_id)
    if not done:
        raise InputError(
            _past_cancelling(key, targets, verb), code="not_cancellable", fields=fields, target=key
        )
    return Cancelled(key, messages=done, already_gone=len(targets) - len(done))


def following_time(
    rule: Rule, due: datetime, now: datetime, zone: ZoneInfo, until: datetime | None
) -> datetime | None:
    """The occurrence after ``due`` that is still ahead of ``now`` (occurrences missed
    while Herald was down are one missed occurrence, not a burst), or None after
    ``until``."""
    following = rule.next_after(max(due, now), zone)
    if following is None or (until is not None and following > until):
        return None
    return to_ms(following)


def missed_reason(due: datetime, late: timedelta, grace: timedelta) -> str:
    allowed = f"the {_span(grace)} allowed" if grace else "no lateness allowed"
    return (
        f"missed: it was due {_span(late)} before Herald could send it "
        f"({due:%Y-%m-%d %H:%M} UTC; Herald was not running then), more than {allowed} "
        "(scheduling.missed_grace). It was not sent; send it again if it still matters."
    )


def _span(delta: timedelta) -> str:
    """A positive duration in words: ``2 hours 5 minutes``, ``less than a second``."""
    said = describe_delta(abs(delta))
    return "less than a second" if said == "now" else said.removeprefix("in ")


def connection_gone(name: str) -> str:
    return (
        f"The connection '{name}' is no longer in Herald's configuration, so this was not "
        "sent. Send it again through another connection."
    )


def occurrence_of(schedule: Schedule, due: datetime, now: datetime) -> Send:
    """The `Send` of ``schedule``'s occurrence due at ``due``, created ``now``."""
    return Send(
        id=new_message_id(),
        sender=schedule.sender,
        origin=schedule.origin,
        connection=schedule.connection,
        created_at=now,
        text=schedule.text,
        template=schedule.template,
        variables=dict(schedule.variables),
        subject=schedule.subject,
        media_urls=schedule.media_urls,
        announce_to=schedule.announce_to,
        due_at=due,
        schedule_id=schedule.id,
        timezone=schedule.timezone,
        recipients=schedule.recipients,
    )


def request_of(schedule: Schedule) -> SendRequest:
    return SendRequest(
        connection=schedule.connection,
        recipients=list(schedule.recipients),
        text=schedule.text or "",
        sender=schedule.sender,
        origin=schedule.origin,
        subject=schedule.subject,
        media_urls=schedule.media_urls,
        template=schedule.template,
        variables=schedule.variables,
        announce_to=schedule.announce_to,
    )


def _unwritten(schedule: Schedule, recipient: str, now: datetime, channel: Channel) -> Message:
    """A message of an occurrence that could not be written, to fail with the reason."""
    return Message(
        id=new_message_id(),
        connection=schedule.connection,
        channel=channel,
        recipient=recipient,
        text="",
        sender=schedule.sender,
        origin=schedule.origin,
        status=MessageStatus.FAILED,
        created_at=now,
        updated_at=now,
        announce_to=schedule.announce_to,
        template=schedule.template,
        variables=dict(schedule.variables),
    )


def to_ms(when: datetime) -> datetime:
    """``when`` to the millisecond, as stored: the timer and the row agree to the digit."""
    return when.replace(microsecond=when.microsecond // 1000 * 1000)


def state_words(state: ScheduleState) -> str:
    return "was cancelled" if state is ScheduleState.CANCELLED else "has ended"


def not_found(key: str) -> MessageNotFoundError:
    return MessageNotFoundError(
        f"There is no message, send or schedule #{shown_id(key)}. Ids are the #… codes in "
        "receipts and in the list of scheduled messages."
    )


def _past_cancelling(key: str, messages: list[Message], verb: str = "cancelled") -> str:
    if len(messages) == 1:
        status = messages[0].status.value
        return f"#{key} is {status} already, so it cannot be {verb}."
    left = "nothing left to cancel" if verb == "cancelled" else f"nothing left to be {verb}"
    return f"Every message of #{key} has gone out or ended already, so there is {left}."
