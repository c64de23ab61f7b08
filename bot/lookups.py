"""What Herald answers from its rows: a message's, send's or schedule's report, recent
messages and sends, templates, and the requests seen (`Lookups`, a base of `Herald`)."""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass, field

from bot.models import (
    Message,
    MessageStatus,
    Schedule,
    Send,
    StatusEvent,
    normalize_message_id,
)
from bot.scheduling.steps import not_found
from bot.storage.posts import ReceiptPosts, ReceiptPostsView
from bot.storage.store import Store
from bot.templating.library import Rendered, TemplateInfo, TemplateLibrary


@dataclass(frozen=True)
class MessageReport:
    message: Message
    history: list[StatusEvent]


@dataclass(frozen=True)
class ScheduleReport:
    """A recurring schedule and its latest occurrences (newest first)."""

    schedule: Schedule
    occurrences: list[Send]
    counts: dict[str, dict[MessageStatus, int]] = field(default_factory=dict)  # by send id


@dataclass(frozen=True)
class SendReport:
    """A send and its messages, in the order their recipients were given."""

    send: Send
    messages: list[Message]

    @property
    def counts(self) -> dict[MessageStatus, int]:
        """The send's status: how many of its messages are in each status (in the order
        a message moves through them), never stored."""
        counted = Counter(message.status for message in self.messages)
        return {status: counted[status] for status in MessageStatus if counted[status]}


@dataclass(frozen=True)
class SendSummary:
    """A send as a list of recent sends shows it: its counts per status (in the order a
    message moves through them), how many messages it has, and its first message."""

    send: Send
    counts: dict[MessageStatus, int]
    total: int
    first: Message | None


class Lookups:
    """The reads `Herald` answers with; it gives them its store and template library."""

    templates: TemplateLibrary

    @property
    def db(self) -> Store:
        raise NotImplementedError

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

    def report(self, some_id: str) -> MessageReport | SendReport | ScheduleReport:
        """What ``status ID`` shows: a message's history, a send's messages (a send of
        one message: that message's history) or a schedule and its latest occurrences;
        raises `MessageNotFoundError`."""
        key = normalize_message_id(some_id)
        schedule = self.db.schedule(key)
        if schedule is not None:
            occurrences = self.db.occurrences(key)
            tallies = self.db.send_tallies([send.id for send in occurrences])
            counts = {send_id: counted for send_id, (counted, _) in tallies.items()}
            return ScheduleReport(schedule, occurrences, counts)
        message = self.db.get(key)
        if message is None:
            sent = self.send_report(key)
            if len(sent.messages) != 1:
                return sent
            message = sent.messages[0]
        return MessageReport(message, self.db.history(message.id))

    def send_report(self, send_id: str) -> SendReport:
        """A send and its messages; raises `MessageNotFoundError` if there is no such send."""
        key = normalize_message_id(send_id)
        send = self.db.send(key)
        if send is None:
            raise not_found(key)
        return SendReport(send, self.db.messages_of(key))

    def message(self, message_id: str) -> Message | None:
        """A message as stored now."""
        return self.db.get(normalize_message_id(message_id))

    def recent_messages(self, sender: str, limit: int) -> list[Message]:
        """``sender``'s latest messages, newest first."""
        return self.db.recent(sender=sender, limit=limit)

    def recent_sends(self, sender: str, limit: int) -> list[SendSummary]:
        """``sender``'s latest sends (one-off, scheduled and schedules' occurrences),
        newest first, each with its counts per status: one grouped count for all of them."""
        sends = self.db.recent_sends(sender, limit)
        tallies = self.db.send_tallies([send.id for send in sends])
        summaries = []
        for send in sends:
            counts, first = tallies.get(send.id, ({}, None))
            summaries.append(SendSummary(send, counts, sum(counts.values()), first))
        return summaries

    def request_seen(self, key: str) -> bool:
        """Whether the request ``key`` (a Slack event id, a signature) was acted on."""
        return self.db.request_seen(key)

    async def remember_request(self, key: str) -> bool:
        """Record that the request ``key`` was acted on; False if it was already."""
        return await self.db.claim_request(key)

    @property
    def receipt_posts(self) -> ReceiptPosts:
        """Where the Slack layer keeps its receipts' places (the ``slack_receipts`` and
        ``slack_send_receipts`` tables): the `ReceiptPosts` methods of the store, not the
        store."""
        return ReceiptPostsView(self.db)
