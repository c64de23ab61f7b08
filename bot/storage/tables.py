"""Herald's tables as Python: the reads every connection can make, and the writes of one
transaction (`Transaction`); ``rows.py`` maps rows to sends, messages and receipt posts.

`bot.storage.store.Store` decides which connection and thread each runs on; the schema is in
`bot.storage.migrations`. The hot paths are plain SQL: sqlite-utils' table helpers re-read the
schema on every call, which cost more than the writes themselves.
"""

from __future__ import annotations

import json
from collections.abc import Collection, Iterator, Sequence
from dataclasses import replace
from datetime import datetime, timedelta
from typing import Any

from sqlite_utils import Database

from bot.errors import RepeatedRequestError
from bot.models import Message, MessageStatus, Send, StatusEvent, new_message_id
from bot.storage.polls import PollReads, PollWrites
from bot.storage.posts import ReceiptPost
from bot.storage.rows import MESSAGES, POSTS, SENDS, iso, parse_time, utcnow
from bot.storage.send_posts import SendPostReads, SendPostWrites
from bot.storage.timetable import TimetableReads, TimetableWrites

REQUEST_MEMORY = timedelta(hours=1)
TALLY_CHUNK = 500  # sends counted per query (SQLite caps the parameters of one statement)


class Tables(TimetableReads, PollReads, SendPostReads):
    """Reads, on whichever connection ``db`` is."""

    db: Database

    def _select(self, where: str, args: Sequence[Any], tail: str = "") -> list[Message]:
        # where/tail are literals of this module; every value is a bound parameter
        sql = f"SELECT {MESSAGES.list} FROM messages WHERE {where} {tail}"  # noqa: S608
        return [MESSAGES.to_record(row) for row in self.db.execute(sql, list(args))]

    def get(self, message_id: str) -> Message | None:
        found = self._select("id = ?", [message_id])
        return found[0] if found else None

    def find_by_provider_id(
        self, connections: Sequence[str], provider_message_id: str
    ) -> Message | None:
        marks = ", ".join("?" for _ in connections)
        found = self._select(
            f"connection IN ({marks}) AND provider_message_id = ?",
            [*connections, provider_message_id],
        )
        return found[0] if found else None

    def with_status(self, *statuses: MessageStatus) -> list[Message]:
        marks = ", ".join("?" for _ in statuses)
        return self._select(
            f"status IN ({marks})", [s.value for s in statuses], "ORDER BY created_at"
        )

    def recent(self, sender: str | None = None, limit: int = 10) -> list[Message]:
        where, args = ("sender = ?", [sender]) if sender else ("1", [])
        return self._select(where, [*args, limit], "ORDER BY created_at DESC LIMIT ?")

    # -- sends --------------------------------------------------------------------

    def send(self, send_id: str) -> Send | None:
        sql = f"SELECT {SENDS.list} FROM sends WHERE id = ?"  # noqa: S608 (names of rows.py)
        row = self.db.execute(sql, [send_id]).fetchone()
        return SENDS.to_record(row) if row else None

    def messages_of(self, send_id: str) -> list[Message]:
        """The messages of a send, in the order their recipients were given."""
        return self._select("send_id = ?", [send_id], "ORDER BY rowid")

    def recent_sends(self, sender: str, limit: int) -> list[Send]:
        """``sender``'s latest sends (one-off and occurrences of schedules), newest first."""
        sql = (
            f"SELECT {SENDS.list} FROM sends WHERE sender = ? "  # noqa: S608 (rows.py names)
            "ORDER BY created_at DESC, rowid DESC LIMIT ?"
        )
        return [SENDS.to_record(row) for row in self.db.execute(sql, [sender, limit])]

    def send_tallies(
        self, send_ids: Sequence[str]
    ) -> dict[str, tuple[dict[MessageStatus, int], Message | None]]:
        """For each of ``send_ids``: how many of its messages are in each status, and its
        first message. One grouped count over the ``(send_id, status)`` index, which holds
        all it reads, however many messages the sends have."""
        counts: dict[str, dict[MessageStatus, int]] = {}
        first_rowid: dict[str, int] = {}
        for start in range(0, len(send_ids), TALLY_CHUNK):
            chunk = list(send_ids[start : start + TALLY_CHUNK])
            marks = ", ".join("?" for _ in chunk)
            rows = self.db.execute(
                "SELECT send_id, status, COUNT(*), MIN(rowid) FROM messages "  # noqa: S608
                f"WHERE send_id IN ({marks}) GROUP BY send_id, status",
                chunk,
            )
            for send_id, status, count, rowid in rows:
                counts.setdefault(send_id, {})[MessageStatus(status)] = count
                first_rowid[send_id] = min(rowid, first_rowid.get(send_id, rowid))
        firsts: dict[int, Message] = {}
        rowids = list(first_rowid.values())
        for start in range(0, len(rowids), TALLY_CHUNK):
            chunk_ids = rowids[start : start + TALLY_CHUNK]
            marks = ", ".join("?" for _ in chunk_ids)
            sql = f"SELECT rowid, {MESSAGES.list} FROM messages WHERE rowid IN ({marks})"  # noqa: S608
            for rowid, *row in self.db.execute(sql, chunk_ids):
                firsts[rowid] = MESSAGES.to_record(row)
        return {
            send_id: (
                {status: counted[status] for status in MessageStatus if status in counted},
                firsts.get(first_rowid[send_id]),
            )
            for send_id, counted in counts.items()
        }

    # -- the Slack layer's receipt posts (`bot.storage.posts`) ---------------------

    def receipt_post(self, message_id: str) -> ReceiptPost | None:
        sql = f"SELECT {POSTS.list} FROM slack_receipts WHERE message_id = ?"  # noqa: S608
        row = self.db.execute(sql, [message_id]).fetchone()
        return POSTS.to_record(row) if row else None

    def unposted(
        self, quiet: Collection[MessageStatus], individual_up_to: int | None = None
    ) -> list[Message]:
        """Messages with a Slack destination whose receipt (or failure reply) was never
        posted; ``quiet`` statuses get no receipt, nor do the messages of a send to more
        than ``individual_up_to`` recipients (its summary stands for them)."""
        marks = ", ".join("?" for _ in quiet)
        batches = (
            ""
            if individual_up_to is None
            else " AND (send_id IS NULL OR send_id NOT IN ("
            "SELECT send_id FROM messages WHERE send_id IS NOT NULL "
            "GROUP BY send_id HAVING count(*) > ?))"
        )
        return self._select(
            f"announce_to IS NOT NULL AND status NOT IN ({marks}) AND NOT EXISTS ("  # noqa: S608
            "SELECT 1 FROM slack_receipts AS r WHERE r.message_id = messages.id "
            f"AND (r.failure_announced = 1 OR messages.status != 'failed')){batches}",
            [s.value for s in quiet] + ([] if individual_up_to is None else [individual_up_to]),
            "ORDER BY created_at",
        )

    def has_event(self, message_id: str, status: MessageStatus, source: str) -> bool:
        row = self.db.execute(
            "SELECT 1 FROM status_events WHERE message_id = ? AND status = ? AND source = ?",
            [message_id, status.value, source],
        ).fetchone()
        return row is not None

    def history(self, message_id: str) -> list[StatusEvent]:
        return [
            StatusEvent(
                message_id=row["message_id"],
                status=MessageStatus(row["status"]),
                at=parse_time(row["at"]) or utcnow(),
                source=row["source"],
                reason=row["reason"],
                raw=json.loads(row["raw"]) if row["raw"] else None,
            )
            for row in self.db["status_events"].rows_where(  # type: ignore[union-attr]
                "message_id = ?", [message_id], order_by="id"
            )
        ]

    def audit_trail(self, message_id: str) -> Iterator[dict[str, Any]]:
        yield from self.db["audit"].rows_where(  # type: ignore[union-attr]
            "message_id = ?", [message_id], order_by="id"
        )

    def request_seen(self, key: str) -> bool:
        row = self.db.execute("SELECT 1 FROM requests WHERE key = ?", [key]).fetchone()
        return row is not None

    def _taken(self, some_id: str) -> bool:
        """Whether a message, a send or a schedule has this id: ``status ID`` takes any."""
        row = self.db.execute(
            "SELECT 1 FROM messages WHERE id = ? UNION ALL SELECT 1 FROM sends WHERE id = ? "
            "UNION ALL SELECT 1 FROM schedules WHERE id = ?",
            [some_id, some_id, some_id],
        ).fetchone()
        return row is not None


class Transaction(Tables, TimetableWrites, PollWrites, SendPostWrites):
    """The writes of one transaction; its reads see its own writes.

    Run through `Store.write`, so a check and the write it decides (a status moves
    only forward, an acceptance never overwrites a receipt) are one atomic step.
    """

    def __init__(self, db: Database, owner: str | None) -> None:
        self.db = db
        self.owner = owner

    def claim_request(self, key: str) -> bool:
        """Record that the request ``key`` is being acted on; False if it was already."""
        cursor = self.db.execute(
            "INSERT OR IGNORE INTO requests (key, at) VALUES (?, ?)", [key, iso(utcnow())]
        )
        return cursor.rowcount == 1

    def forget_requests(self) -> int:
        """Forget requests older than `REQUEST_MEMORY`: Slack signs a request for five
        minutes and retries an event for at most about half an hour."""
        cutoff = iso(utcnow() - REQUEST_MEMORY)
        return self.db.execute("DELETE FROM requests WHERE at < ?", [cutoff]).rowcount

    def add_messages(
        self,
        messages: Sequence[Message],
        *,
        actor: str,
        action: str,
    ) -> list[Message]:
        """Store new messages, with their history and audit entries.

        Ids are re-drawn on the rare collision (with a message's or a send's id), so the
        stored messages are returned.
        """
        stored: list[Message] = []
        for message in messages:
            while self._taken(message.id):  # about 1 in 10^12
                message = replace(message, id=new_message_id())
            self.db.execute(MESSAGES.insert, MESSAGES.to_row(message, owner=self.owner))
            self._event(
                message.id, message.status, "herald", message.error, None, message.created_at
            )
            self._audit(actor, action, message, {"recipient": message.recipient})
            stored.append(message)
        return stored

    def add_send(
        self,
        send: Send,
        messages: Sequence[Message],
        *,
        actor: str,
        action: str,
        request_key: str | None = None,
    ) -> tuple[Send, list[Message]]:
        """Store a send and its messages (as `add_messages`); returns them as stored.
        With ``request_key``, the request is recorded too, and one recorded before raises
        `RepeatedRequestError` (the caller's transaction then stores nothing)."""
        if request_key is not None and not self.claim_request(request_key):
            raise RepeatedRequestError("this request was handled already")
        while self._taken(send.id):
            send = replace(send, id=new_message_id())
        self.db.execute(SENDS.insert, SENDS.to_row(send))
        owned = [replace(message, send_id=send.id) for message in messages]
        return send, self.add_messages(owned, actor=actor, action=action)

    def record_receipt_post(self, message_id: str, channel: str, ts: str) -> ReceiptPost:
        post = ReceiptPost(message_id, channel, ts, posted_at=utcnow())
        self.db.execute(
            f"{POSTS.insert} ON CONFLICT (message_id) DO UPDATE SET "
            "channel = excluded.channel, ts = excluded.ts, posted_at = excluded.posted_at",
            POSTS.to_row(post),
        )
        found = self.receipt_post(message_id)
        assert found is not None
        return found

    def record_failure_reply(self, message_id: str) -> None:
        self.db.execute(
            "UPDATE slack_receipts SET failure_announced = 1 WHERE message_id = ?", [message_id]
        )

    def claim_orphans(
        self,
        statuses: Sequence[MessageStatus],
        live: Collection[str],
        owner: str,
        connections: Sequence[str] | None = None,
    ) -> list[Message]:
        """Make ``owner`` the owner of every message in ``statuses`` whose owner is not in
        ``live`` (optionally only on ``connections``): two processes never take over the
        same message."""
        where = (
            f"status IN ({', '.join('?' for _ in statuses)}) AND (owner IS NULL "
            f"OR owner NOT IN ({', '.join('?' for _ in live)}))"
        )
        args: list[Any] = [s.value for s in statuses] + list(live)
        if connections is not None:
            where += f" AND connection IN ({', '.join('?' for _ in connections)})"
            args += connections
        found = self._select(where, args, "ORDER BY created_at")
        for message in found:
            self.db.execute("UPDATE messages SET owner = ? WHERE id = ?", [owner, message.id])
        return found

    def update(self, /, message_id: str, **fields: Any) -> Message:
        self._update(message_id, fields)
        return self._must_get(message_id)

    def set_status(
        self,
        /,
        message_id: str,
        status: MessageStatus,
        *,
        source: str,
        reason: str | None = None,
        raw: object = None,
        at: datetime | None = None,
        **fields: Any,
    ) -> Message:
        """Move a message to ``status`` and record it in its history."""
        values = {**fields, "status": status}
        if status in (MessageStatus.FAILED, MessageStatus.CANCELLED) and reason:
            values["error"] = reason  # why it failed, or what replaced it
        self._update(message_id, values)
        self._event(message_id, status, source, reason, raw, at or utcnow())
        return self._must_get(message_id)

    def record_event(
        self,
        message_id: str,
        status: MessageStatus,
        *,
        source: str,
        reason: str | None = None,
        raw: object = None,
        at: datetime | None = None,
    ) -> None:
        """Record a status report that does not change the message's current status."""
        self._event(message_id, status, source, reason, raw, at or utcnow())

    def audit(self, actor: str, action: str, message: Message, detail: dict[str, Any]) -> None:
        self._audit(actor, action, message, detail)

    def _must_get(self, message_id: str) -> Message:
        message = self.get(message_id)
        if message is None:
            raise LookupError(f"no message {message_id}")
        return message

    def _update(self, message_id: str, fields: dict[str, Any]) -> None:
        # MESSAGES.column refuses a name that is not a column, so only checked names
        # reach the SQL below
        values = {key: MESSAGES.column(key, value) for key, value in fields.items()}
        values["updated_at"] = iso(utcnow())
        assignments = ", ".join(f"{key} = ?" for key in values)  # checked column names
        sql = f"UPDATE messages SET {assignments} WHERE id = ?"  # noqa: S608
        self.db.execute(sql, [*values.values(), message_id])

    def _event(
        self,
        message_id: str,
        status: MessageStatus,
        source: str,
        reason: str | None,
        raw: object,
        at: datetime,
    ) -> None:
        self.db.execute(
            "INSERT INTO status_events (message_id, status, reason, source, at, raw) "
            "VALUES (?, ?, ?, ?, ?, ?)",
            [
                message_id,
                status.value,
                reason,
                source,
                iso(at),
                json.dumps(raw, default=str) if raw is not None else None,
            ],
        )

    def _audit(self, actor: str, action: str, message: Message, detail: dict[str, Any]) -> None:
        self.db.execute(
            "INSERT INTO audit (at, actor, action, message_id, connection, detail) "
            "VALUES (?, ?, ?, ?, ?, ?)",
            [
                iso(utcnow()),
                actor,
                action,
                message.id,
                message.connection,
                json.dumps(detail, default=str),
            ],
        )
