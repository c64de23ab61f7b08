"""A send's summary receipt in Slack: the Slack layer's ``slack_send_receipts`` table, and
the aggregated reads a summary is drawn from.

A send to more recipients than ``[receipts] individual_up_to`` gets one summary receipt
instead of one per message. Where it was posted (its channel and ``ts``) and whether the
batch's settled reply went out are a row of ``slack_send_receipts``, so a restart still
edits the same summary and never replies twice. What the summary shows is read in a few
aggregated queries (counts per status, the first failures), never by loading every
message: a summary of 10,000 messages costs what one of ten does.

`SendPostReads` is mixed into `bot.storage.tables.Tables`, `SendPostWrites` into its
`Transaction`; the Slack layer reaches both only through `bot.storage.posts.ReceiptPosts`.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlite_utils import Database

from bot.models import Message, MessageStatus, Send
from bot.storage.rows import SENDS, Columns, iso, parse_time, utcnow
from providers import Channel


@dataclass(frozen=True)
class SendPost:
    """A send's summary receipt as posted: where (``channel``, ``ts``) and what followed."""

    send_id: str
    channel: str
    ts: str
    settled_announced: bool = False  # the batch settled and its reply (if any) went out
    posted_at: datetime | None = None


@dataclass(frozen=True)
class SendTally:
    """What a summary shows of a send, read in a few aggregated queries."""

    send: Send
    channel: Channel  # of its messages
    counts: Mapping[MessageStatus, int]  # every status it has, in `MessageStatus` order
    failures: Sequence[Message] = field(default_factory=tuple)  # the first few, in order
    due_at: datetime | None = None  # the earliest time a scheduled message goes out

    @property
    def total(self) -> int:
        return sum(self.counts.values())

    @property
    def failed(self) -> int:
        return self.counts.get(MessageStatus.FAILED, 0)

    @property
    def settled(self) -> bool:
        """Every message's outcome is known (reached the recipient, failed or cancelled)."""
        return all(status.settled for status in self.counts)


SEND_POSTS = Columns("slack_send_receipts", SendPost)


class SendPostReads:
    db: Database

    def _select(self, where: str, args: Sequence[Any], tail: str = "") -> list[Message]:
        raise NotImplementedError  # `Tables` has it

    def send_post(self, send_id: str) -> SendPost | None:
        sql = f"SELECT {SEND_POSTS.list} FROM slack_send_receipts WHERE send_id = ?"  # noqa: S608
        row = self.db.execute(sql, [send_id]).fetchone()
        return SEND_POSTS.to_record(row) if row else None

    def send_size(self, send_id: str) -> int:
        """How many messages a send has (a send's messages are stored at once, so this
        never changes)."""
        row = self.db.execute("SELECT count(*) FROM messages WHERE send_id = ?", [send_id])
        return int(row.fetchone()[0])

    def send_tally(self, send_id: str, failures: int) -> SendTally | None:
        """The send's counts per status, its first ``failures`` failed messages (in the
        order their recipients were given) and the earliest due time of what waits."""
        sql = f"SELECT {SENDS.list} FROM sends WHERE id = ?"  # noqa: S608 (names of rows.py)
        row = self.db.execute(sql, [send_id]).fetchone()
        if row is None:
            return None
        send = SENDS.to_record(row)
        found = dict(
            self.db.execute(
                "SELECT status, count(*) FROM messages WHERE send_id = ? GROUP BY status",
                [send_id],
            ).fetchall()
        )
        counts = {status: found[status.value] for status in MessageStatus if status.value in found}
        channel = self.db.execute(
            "SELECT channel FROM messages WHERE send_id = ? LIMIT 1", [send_id]
        ).fetchone()
        first_failures: list[Message] = []
        if counts.get(MessageStatus.FAILED) and failures > 0:
            first_failures = self._select(
                "send_id = ? AND status = ?",
                [send_id, MessageStatus.FAILED.value, failures],
                "ORDER BY rowid LIMIT ?",
            )
        due_at = None
        if counts.get(MessageStatus.SCHEDULED):
            due = self.db.execute(
                "SELECT min(due_at) FROM messages WHERE send_id = ? AND status = ?",
                [send_id, MessageStatus.SCHEDULED.value],
            ).fetchone()
            due_at = parse_time(due[0])
        return SendTally(
            send=send,
            channel=Channel(channel[0]) if channel else Channel.SMS,
            counts=counts,
            failures=tuple(first_failures),
            due_at=due_at,
        )

    def unsettled_sends(self, individual_up_to: int, since: datetime) -> list[Message]:
        """The first message of each send for Slack with more than ``individual_up_to``
        messages whose summary was never posted, or whose batch has not been seen to settle,
        created (or due) since ``since``; oldest first."""
        rows = self.db.execute(
            "SELECT s.id FROM sends AS s WHERE s.announce_to IS NOT NULL "
            "AND (s.created_at >= ? OR s.due_at >= ?) "
            "AND NOT EXISTS (SELECT 1 FROM slack_send_receipts AS r "
            "WHERE r.send_id = s.id AND r.settled_announced = 1) "
            "AND (SELECT count(*) FROM messages AS m WHERE m.send_id = s.id) > ? "
            "ORDER BY s.created_at",
            [iso(since), iso(since), individual_up_to],
        ).fetchall()
        firsts = [self._select("send_id = ?", [row[0]], "ORDER BY rowid LIMIT 1") for row in rows]
        return [found[0] for found in firsts if found]


class SendPostWrites(SendPostReads):
    def record_send_post(self, send_id: str, channel: str, ts: str) -> SendPost:
        post = SendPost(send_id, channel, ts, posted_at=utcnow())
        self.db.execute(
            f"{SEND_POSTS.insert} ON CONFLICT (send_id) DO UPDATE SET "
            "channel = excluded.channel, ts = excluded.ts, posted_at = excluded.posted_at",
            SEND_POSTS.to_row(post),
        )
        found = self.send_post(send_id)
        assert found is not None
        return found

    def record_settled_reply(self, send_id: str) -> None:
        self.db.execute(
            "UPDATE slack_send_receipts SET settled_announced = 1 WHERE send_id = ?", [send_id]
        )
