"""The core's data: sends, their messages, the messages' status history, and ids.

A `Send` is one request from one person (a slash command, a ``herald send``; later a
modal submission) or one occurrence of a recurring `Schedule`; its `Message`s, one per
recipient, belong to it. Sends, messages and schedules share one id space, so
``status ID`` and ``cancel ID`` take any of them.
"""

from __future__ import annotations

import secrets
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum

from providers import Channel, DeliveryStatus, ProviderTemplate

ID_ALPHABET = "23456789abcdefghjkmnpqrstuvwxyz"  # no 0/o, 1/l/i: ids are read aloud and retyped
ID_LENGTH = 8


def new_message_id() -> str:
    """A short, URL-safe, unambiguous id such as ``k3x9p2ab`` (about 40 bits), for a
    message or a send (the store redraws one either table already holds)."""
    return "".join(secrets.choice(ID_ALPHABET) for _ in range(ID_LENGTH))


def normalize_message_id(text: str) -> str:
    """Accept ``#k3x9p2ab``, ``k3x9p2ab`` or ``K3X9P2AB``."""
    return text.strip().lstrip("#").lower()


def shown_id(key: str) -> str:
    """An id as typed, to echo in an error: clipped, as it may be anything at all."""
    return key if len(key) <= 24 else key[:24] + "…"


class MessageStatus(StrEnum):
    """Where a message is in its life. The receipt shows every state from accepted on."""

    QUEUED = "queued"  # stored, not yet handed to the provider
    SCHEDULED = "scheduled"
    SENDING = "sending"  # handed to the provider; answer not yet known
    ACCEPTED = "accepted"
    SENT = "sent"
    DELIVERED = "delivered"
    READ = "read"
    FAILED = "failed"
    CANCELLED = "cancelled"

    @classmethod
    def from_delivery(cls, status: DeliveryStatus) -> MessageStatus:
        return cls(status.value)

    @property
    def rank(self) -> int:
        """Progress order; a receipt never moves a message backwards."""
        return _RANK[self]

    @property
    def past_handover(self) -> bool:
        """Accepted or later in rank order: the provider has it, or it is final (failed,
        cancelled). Either way it must never be handed to a provider again."""
        return self.rank >= _RANK[MessageStatus.ACCEPTED]

    @property
    def reached(self) -> bool:
        """It reached the recipient (delivered, read): a later failure report is stale."""
        return self in _REACHED

    @property
    def is_terminal(self) -> bool:
        """It will never go (failed, cancelled): no report changes it any more."""
        return self in _TERMINAL

    @property
    def settled(self) -> bool:
        """Its outcome is known: reached the recipient, or will never go. What ``herald
        send --wait`` waits for; a delivered message may still be read."""
        return self.reached or self.is_terminal

    @property
    def is_final(self) -> bool:
        """No further change is expected: terminal, or read (nothing comes after read)."""
        return self.is_terminal or self is MessageStatus.READ


_RANK = {
    MessageStatus.QUEUED: 0,
    MessageStatus.SCHEDULED: 0,
    MessageStatus.SENDING: 1,
    MessageStatus.ACCEPTED: 2,
    MessageStatus.SENT: 3,
    MessageStatus.DELIVERED: 4,
    MessageStatus.READ: 5,
    MessageStatus.FAILED: 6,
    MessageStatus.CANCELLED: 6,
}
_REACHED = frozenset({MessageStatus.DELIVERED, MessageStatus.READ})
_TERMINAL = frozenset({MessageStatus.FAILED, MessageStatus.CANCELLED})


@dataclass(frozen=True)
class Message:
    """One message to one recipient through one connection."""

    id: str
    connection: str
    channel: Channel
    recipient: str
    text: str
    sender: str  # a Slack user id (``U…``) or ``cli:<login>``
    origin: str  # ``slack`` or ``cli``
    status: MessageStatus
    created_at: datetime
    updated_at: datetime
    subject: str | None = None
    media_urls: tuple[str, ...] = ()
    provider_message_id: str | None = None
    error: str | None = None
    announce_to: str | None = None  # where the receipt goes (a Slack conversation id)
    send_started_at: datetime | None = None
    failover_from: str | None = None  # the connection that could not get it accepted
    sender_email: str | None = None
    template: str | None = None
    variables: Mapping[str, str] = field(default_factory=dict)
    attempts: int = 0  # hand-overs to a provider so far
    provider_template: ProviderTemplate | None = None  # rendered for this message's provider
    confidential: bool = False  # from a confidential template: Slack never shows the text
    send_id: str | None = None  # the `Send` it belongs to; set when it is stored
    due_at: datetime | None = None  # a scheduled message: when it goes out
    late_by: float | None = None  # seconds late it went out (Herald was down when it was due)


@dataclass(frozen=True)
class Send:
    """One request from one person: what they asked for, once for all its messages.

    Its status is not stored: it is the counts of its messages' statuses (`SendReport`).
    """

    id: str
    sender: str  # a Slack user id (``U…``) or ``cli:<login>``
    origin: str  # ``slack`` or ``cli``
    connection: str
    created_at: datetime
    text: str | None = None  # what was typed; None when a template writes the text
    template: str | None = None
    variables: Mapping[str, str] = field(default_factory=dict)  # shared by every recipient
    subject: str | None = None
    media_urls: tuple[str, ...] = ()
    announce_to: str | None = None  # where the receipts go (a Slack conversation id)
    due_at: datetime | None = None  # when it goes out, if it was scheduled
    rule: str | None = None  # unused: a recurring send is a `Schedule`, its occurrences sends
    schedule_id: str | None = None  # the `Schedule` this send is an occurrence of
    timezone: str | None = None  # the zone its time was read in (an IANA name)
    # the recipients as the person gave them: each typed one normalized, ``@NAME`` for a
    # list of the lists directory, a list read from a file by its label (None: stored
    # before Herald kept them)
    recipients: tuple[str, ...] | None = None


class ScheduleState(StrEnum):
    ACTIVE = "active"  # occurrences still to come
    CANCELLED = "cancelled"
    ENDED = "ended"  # past its ``until``: no occurrence is left


@dataclass(frozen=True)
class Schedule:
    """A recurring send: what to send, to whom, and when it next goes out.

    Each occurrence becomes a `Send` of its own (``Send.schedule_id``), built from this
    when it falls due, so a template edited since applies to the next occurrence.
    """

    id: str
    sender: str
    origin: str
    connection: str
    recipients: tuple[str, ...]
    rule: str  # as `bot.scheduling.rules.parse_rule` normalises it
    timezone: str  # the zone the rule is read in (an IANA name)
    state: ScheduleState
    created_at: datetime
    updated_at: datetime
    next_due: datetime | None = None  # None once it ended or was cancelled
    until: datetime | None = None  # no occurrence after this
    text: str | None = None  # what was typed; None when a template writes the text
    template: str | None = None
    variables: Mapping[str, str] = field(default_factory=dict)
    subject: str | None = None
    media_urls: tuple[str, ...] = ()
    announce_to: str | None = None
    occurrences: int = 0  # how many have gone out (or were missed)


@dataclass(frozen=True)
class StatusEvent:
    """One entry in a message's status history."""

    message_id: str
    status: MessageStatus
    at: datetime
    source: str  # ``herald`` or the provider's name
    reason: str | None = None
    raw: object = field(default=None, repr=False)
