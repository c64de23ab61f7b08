"""The planner's steps inside a transaction, and the words they say: what of an id still
waits, stopping it, a schedule's occurrence and its next time, and why something was
missed or cannot be found (`bot.scheduling.planner`, `bot.scheduling.edits`)."""

from __future__ import annotations

import logging
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from bot.errors import Code, Field, InputError, MessageNotFoundError
from bot.models import (
    Message,
    MessageStatus,
    Schedule,
    ScheduleState,
    Send,
    new_message_id,
    shown_id,
)
from bot.scheduling.plans import (
    Cancelled,
)
from bot.scheduling.rules import Rule
from bot.scheduling.when import describe_delta
from bot.sending.requests import (
    SendRequest,
)
from bot.storage.store import Transaction
from bot.storage.tables import Tables
from providers import Channel

log = logging.getLogger(__name__)

RELEASE_BATCH = 500  # messages moved per transaction when many fall due at once
LATE_NOTICE = timedelta(minutes=1)  # later than this (or due before Herald started): "late"
CANCELLABLE = frozenset({MessageStatus.SCHEDULED, MessageStatus.QUEUED})


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
    allowed = f"the {span(grace)} allowed" if grace else "no lateness allowed"
    return (
        f"missed: it was due {span(late)} before Herald could send it "
        f"({due:%Y-%m-%d %H:%M} UTC; Herald was not running then), more than {allowed} "
        "(scheduling.missed_grace). It was not sent; send it again if it still matters."
    )


def span(delta: timedelta) -> str:
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


def unwritten_message(
    schedule: Schedule, recipient: str, now: datetime, channel: Channel
) -> Message:
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
