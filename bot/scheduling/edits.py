"""Editing what waits for its time: what an Edit form is prefilled with (`Draft`),
replacing a waiting send or schedule with the edited one (`Replaced`), and sending it
now.

An edit that changed the content is a replacement, not an update in place: the old
messages are cancelled ("replaced by #NEW") and a new send or schedule is stored, in one
transaction that finds the old still waiting, so an edit racing its release either
replaces it before it goes or is refused after it went — never both. Sending now moves
the waiting messages' time to now (the sweep releases them as any due message); for a
schedule, its next occurrence is stored now and the schedule goes on from the time that
occurrence had, so nothing goes out twice.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Literal
from zoneinfo import ZoneInfo

from bot.errors import InputError
from bot.models import (
    Message,
    MessageStatus,
    Schedule,
    ScheduleState,
    normalize_message_id,
)
from bot.scheduling.planner import Planner
from bot.scheduling.plans import Cancelled, Rescheduled, Scheduled
from bot.scheduling.rules import parse_rule
from bot.scheduling.steps import (
    following_time,
    not_found,
    occurrence_of,
    request_of,
    state_words,
    stop,
    to_ms,
    waiting_of,
)
from bot.scheduling.when import local_time, parse_when
from bot.sending.lists import RecipientList, is_list_reference, list_name
from bot.sending.recipients import normalize_recipient
from bot.sending.requests import Recipient, SendRequest, build_messages_off_loop
from bot.storage.store import BUSY_TIMEOUT_SECONDS, Transaction
from providers import Channel

__all__ = ["Draft", "DraftKind", "Editor", "Replaced"]

DraftKind = Literal["message", "send", "schedule"]
WAITING = frozenset({MessageStatus.SCHEDULED})
UNTOUCHED = frozenset({MessageStatus.SCHEDULED, MessageStatus.CANCELLED})  # nothing went out
MOVE_ATTEMPTS = 3  # a schedule moved by someone else while its occurrence was written


@dataclass(frozen=True)
class Draft:
    """What an Edit form is prefilled with: a waiting message, send or schedule as the
    person asked for it (a list as ``@NAME``, the typed text, not the rendered one)."""

    target: str  # the id as its receipt or the agenda shows it, normalized
    kind: DraftKind  # "message": one message (of a send to several, only it)
    sender: str
    connection: str
    recipients: tuple[str, ...]
    text: str  # "" when a template writes it
    template: str | None
    variables: dict[str, str]
    subject: str | None
    media_urls: tuple[str, ...]
    due_at: datetime  # UTC: when it (next) goes out
    rule: str | None = None  # a schedule's, as `bot.scheduling.rules` normalises it
    until: datetime | None = None
    timezone: str | None = None  # the zone its time (or rule) was read in
    announce_to: str | None = None
    alone: bool = False  # one message of a send to several: moving it means replacing it


@dataclass(frozen=True)
class Replaced:
    """What an edit did: the old stopped (``cancelled``, "replaced by #NEW") and the new
    stored (``scheduled``)."""

    old: Cancelled
    new: Scheduled


@dataclass(frozen=True)
class Edited:
    """What saving an edit did: moved it (the same ``#ID``; ``moved``), replaced it
    (``replaced``), or nothing (both None: nothing changed)."""

    moved: Rescheduled | None = None
    replaced: Replaced | None = None


def keeps_content(
    draft: Draft, request: SendRequest, channel: Channel, template_variables: Sequence[str]
) -> bool:
    """Whether ``request`` asks for what ``draft`` will send, its time apart: then saving
    it only moves it. Recipients are compared as stored (normalized, ``@NAME`` lowercased);
    variables only those the template uses, empty ones as absent (a form shows and sends
    no others); a rule as `parse_rule` normalizes it."""
    try:
        recipients = {_stored(r, channel) for r in request.recipients}
        rule = parse_rule(request.every).text if request.every else None
    except InputError:
        return False  # not what is stored, whatever it is: saving it says what is wrong
    variables = {k: v for k, v in request.variables.items() if v}
    kept = {k: draft.variables[k] for k in template_variables if draft.variables.get(k)}
    until = draft.until.isoformat() if draft.until else None
    return (
        request.connection == draft.connection
        and recipients == set(draft.recipients)
        and request.text.strip() == draft.text
        and request.template == draft.template
        and variables == kept
        and (request.subject or None) == (draft.subject or None)
        and tuple(request.media_urls) == draft.media_urls
        and rule == draft.rule
        and (request.until or None) == until
        and request.announce_to == draft.announce_to
    )


def _stored(recipient: Recipient, channel: Channel) -> str:
    if isinstance(recipient, RecipientList):
        return recipient.reference or recipient.label
    if is_list_reference(recipient):
        return f"@{list_name(recipient)}"
    return normalize_recipient(recipient, channel)


class Editor:
    """Drafts, replacements and "send now" of what `Planner` keeps waiting."""

    def __init__(self, planner: Planner) -> None:
        self.planner = planner

    def draft(self, some_id: str) -> Draft:
        """The Edit form's prefill for a waiting message, send or schedule; raises
        `MessageNotFoundError`, or `InputError` when nothing of it waits any more."""
        key = normalize_message_id(some_id)
        store = self.planner.store
        schedule = store.schedule(key)
        if schedule is not None:
            return _schedule_draft(key, schedule)
        message, send_id, waiting, of_send = waiting_of(store, key, "edited")
        send = store.send(send_id)
        if send is None:
            raise not_found(key)
        alone = message is not None and len(of_send) > 1
        if alone:  # one message of several: it alone
            assert message is not None
            timed = [message]
            recipients: tuple[str, ...] = (message.recipient,)
            variables = dict(message.variables)  # its list row's too
        else:
            timed = waiting
            whole = len(waiting) == len(of_send)  # none of it was cancelled alone
            kept = send.recipients if whole else None
            recipients = kept or tuple(m.recipient for m in waiting)
            variables = dict(send.variables)
        due = min(m.due_at for m in timed if m.due_at is not None)
        return Draft(
            target=key,
            kind="message" if message is not None else "send",
            sender=send.sender,
            connection=send.connection,
            recipients=recipients,
            text=send.text or "",
            template=send.template,
            variables=variables,
            subject=send.subject,
            media_urls=send.media_urls,
            due_at=due,
            timezone=send.timezone,
            announce_to=send.announce_to,
            alone=alone,
        )

    def decide(
        self, draft: Draft, request: SendRequest, channel: Channel, variables: Sequence[str]
    ) -> Literal["same", "move", "replace"]:
        """What saving ``request`` over ``draft`` is: nothing (``same``), a move of its
        time (the same ``#ID``), or a replacement (anything else changed, or one message
        of several is moved)."""
        if not keeps_content(draft, request, channel, variables):
            return "replace"
        assert request.at is not None
        planner = self.planner
        when = parse_when(request.at, now=planner.clock(), zone=planner.zone_of(request))
        if int(when.timestamp()) == int(draft.due_at.timestamp()):
            return "same"
        return "replace" if draft.alone else "move"

    async def replace(
        self,
        some_id: str,
        request: SendRequest,
        *,
        actor: str,
        lock_wait: float = BUSY_TIMEOUT_SECONDS,
    ) -> Replaced:
        """Store ``request`` (scheduled, or recurring) in place of the waiting message,
        send or schedule ``some_id``, in one transaction. ``request`` is checked first:
        an `InputError` stores nothing and cancels nothing. Raises `MessageNotFoundError`,
        `InputError` (``not_cancellable``) when the old is not waiting any more (any of it
        went out, or is going), and `RepeatedRequestError` for a request key seen before."""
        if not request.is_scheduled:
            raise ValueError("an edit is stored to go out later: give it a time or a rule")
        key = normalize_message_id(some_id)
        plan = await self.planner.plan(request)

        def swap(tx: Transaction) -> Replaced:
            new = plan.store(tx)  # a replayed request stops here
            _check_untouched(tx, key)
            old = stop(
                tx,
                key,
                actor,
                action="replace",
                reason=f"replaced by #{new.id}",
                stoppable=WAITING,
                verb="edited",
                fields=("at",),
            )
            return Replaced(old, new)

        return await self.planner.store.write(swap, lock_wait=lock_wait)

    async def send_now(
        self,
        some_id: str,
        *,
        actor: str,
        expected_due: datetime | None = None,
        lock_wait: float = BUSY_TIMEOUT_SECONDS,
    ) -> Rescheduled:
        """Send a waiting message or send now (its time becomes now; the sweep releases
        it), or a schedule's next occurrence (the one after follows the rule from the
        time this one had). Raises `MessageNotFoundError`, or `InputError` when nothing
        of it waits."""
        key = normalize_message_id(some_id)
        if self.planner.store.schedule(key) is not None:
            return await self._occur_now(key, actor, lock_wait, expected_due)
        now = to_ms(self.planner.clock())

        def move(tx: Transaction) -> Rescheduled:
            message, send_id, waiting, _ = waiting_of(tx, key, "sent now")
            send = tx.send(send_id)
            zone = self._zone(send.timezone if send else None)
            moving = [message] if message is not None else waiting
            moved = []
            for m in moving:
                moved.append(tx.update(m.id, due_at=now))
                tx.audit(actor, "send_now", m, {"due_at": now.isoformat()})
            if len(moving) == len(waiting):
                tx.set_send_due(send_id, now)
            else:  # one message of several goes ahead; the others keep their time
                tx.note_timer(send_id)
            return Rescheduled(now, zone, messages=moved)

        return await self.planner.store.write(move, lock_wait=lock_wait)

    async def _occur_now(
        self, key: str, actor: str, lock_wait: float, expected_due: datetime | None
    ) -> Rescheduled:
        """Store the schedule ``key``'s next occurrence to go out now, and move the
        schedule on to the rule's time after the one that occurrence had."""
        for _ in range(MOVE_ATTEMPTS):
            done = await self._try_occur_now(key, actor, lock_wait, expected_due)
            if done is not None:
                return done
        raise InputError(
            f"Schedule #{key} kept changing while Herald was sending it: try again.",
            code="not_reschedulable",
            target=key,
        )

    async def _try_occur_now(
        self, key: str, actor: str, lock_wait: float, expected_due: datetime | None
    ) -> Rescheduled | None:
        """`_occur_now`, or None when the schedule moved on between reading and writing."""
        planner = self.planner
        schedule = planner.store.schedule(key)
        if schedule is None:
            raise not_found(key)
        _check_active(key, schedule)
        assert schedule.next_due is not None
        due = schedule.next_due
        if expected_due is not None and due != expected_due:
            zone = self._zone(schedule.timezone)
            raise InputError(
                f"The next time of #{key} is not the one you saw any more (it went out, or "
                f"was sent or moved meanwhile): it is now {local_time(due, zone)}. Nothing "
                "was sent; look again and press Send now if you still want it.",
                code="not_reschedulable",
                target=key,
            )
        now = to_ms(planner.clock())
        zone = ZoneInfo(schedule.timezone)
        after = following_time(parse_rule(schedule.rule), due, now, zone, schedule.until)
        # built before the transaction: a template that no longer renders stores nothing
        built = await build_messages_off_loop(
            request_of(schedule), planner.settings, planner.templates
        )
        messages = [replace(m, status=MessageStatus.SCHEDULED, due_at=now) for m in built]
        send = occurrence_of(schedule, now, now)

        def occur(tx: Transaction) -> Rescheduled | None:
            current = tx.schedule(key)
            if current is None:
                raise not_found(key)
            _check_active(key, current)
            if current.next_due != due:
                return None  # moved, or occurred, meanwhile
            stored_send, stored = tx.add_send(send, messages, actor=actor, action="send_now")
            tx.note_timer(stored_send.id)
            moved = tx.update_schedule(
                key,
                next_due=after,
                state=ScheduleState.ACTIVE if after else ScheduleState.ENDED,
                occurrences=current.occurrences + 1,
            )
            tx.record_schedule_audit(
                actor, "send_now", moved, note=f"sent now as #{stored_send.id}"
            )
            return Rescheduled(now, zone, messages=stored, schedule=moved)

        return await planner.store.write(occur, lock_wait=lock_wait)

    def _zone(self, name: str | None) -> ZoneInfo:
        return ZoneInfo(name) if name else self.planner.settings.scheduling.zone()


def _schedule_draft(key: str, schedule: Schedule) -> Draft:
    _check_active(key, schedule, "edit")
    assert schedule.next_due is not None
    return Draft(
        target=key,
        kind="schedule",
        sender=schedule.sender,
        connection=schedule.connection,
        recipients=schedule.recipients,
        text=schedule.text or "",
        template=schedule.template,
        variables=dict(schedule.variables),
        subject=schedule.subject,
        media_urls=schedule.media_urls,
        due_at=schedule.next_due,
        rule=schedule.rule,
        until=schedule.until,
        timezone=schedule.timezone,
        announce_to=schedule.announce_to,
    )


def _check_active(key: str, schedule: Schedule, verb: str = "send") -> None:
    if schedule.state is not ScheduleState.ACTIVE or schedule.next_due is None:
        raise InputError(
            f"Schedule #{key} {state_words(schedule.state)}: nothing is left to {verb}.",
            code="not_reschedulable",
            target=key,
        )


def _check_untouched(tx: Transaction, key: str) -> None:
    """Refuse to replace a message or send any of which went out or is going: the new
    one would send it again. (Messages cancelled alone are no matter; a schedule's
    occurrences are sends of their own.)"""
    if tx.schedule(key) is not None:
        return
    message = tx.get(key)
    targets: list[Message] = [message] if message is not None else tx.messages_of(key)
    gone = [
        m for m in targets if m.status not in (MessageStatus.SCHEDULED, MessageStatus.CANCELLED)
    ]
    if gone and any(m.status is MessageStatus.SCHEDULED for m in targets):
        raise InputError(
            f"Part of #{key} has gone out already ({len(gone)} of {len(targets)} messages), "
            "so an edit would send it again: cancel what is left and send anew.",
            code="not_cancellable",
            fields=("at",),
            target=key,
        )
