"""What the planner's work comes to: a plan to store, and what scheduling, cancelling,
moving, listing and releasing did (`bot.scheduling.planner`)."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from zoneinfo import ZoneInfo

from bot.errors import RepeatedRequestError
from bot.models import (
    Message,
    Schedule,
    Send,
)
from bot.storage.store import Transaction


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
