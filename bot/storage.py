"""Herald's own SQLite tables: messages, their status history and the audit trail.

sqlite-utils over one connection in WAL mode with a busy timeout, so a second
process (the CLI beside the server) waits instead of failing. The schema is in
`bot.migrations`.
"""

from __future__ import annotations

import contextlib
import json
import sqlite3
from collections.abc import Collection, Iterator, Sequence
from dataclasses import asdict, replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from sqlite_utils import Database

from bot.errors import ConfigError, RepeatedRequestError
from bot.migrations import migrations
from bot.models import Message, MessageStatus, StatusEvent, new_message_id
from providers import Channel, ProviderTemplate

BUSY_TIMEOUT_SECONDS = 30
REQUEST_MEMORY = timedelta(hours=1)


def utcnow() -> datetime:
    return datetime.now(UTC)


def _iso(value: datetime | None) -> str | None:
    return value.astimezone(UTC).isoformat(timespec="milliseconds") if value else None


def _dt(value: str | None) -> datetime | None:
    return datetime.fromisoformat(value) if value else None


class Store:
    """All reads and writes of Herald's tables."""

    def __init__(self, path: Path | str, *, owner: str | None = None) -> None:
        self.path = Path(path)
        self.owner = owner  # the `bot.processes` token new messages are stored under
        try:
            if str(path) != ":memory:":
                self.path.parent.mkdir(parents=True, exist_ok=True)
            conn = sqlite3.connect(str(path), timeout=BUSY_TIMEOUT_SECONDS)
        except (OSError, sqlite3.Error) as exc:
            raise ConfigError(f"cannot open the database {path}: {exc}") from exc
        self.db = Database(conn)
        self.db.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_SECONDS * 1000}")
        if str(path) != ":memory:":
            self.db.enable_wal()
        self.db.execute("PRAGMA synchronous = NORMAL")
        self.db.execute("PRAGMA foreign_keys = ON")
        migrations.apply(self.db)

    def close(self) -> None:
        self.db.close()

    @contextlib.contextmanager
    def _write(self) -> Iterator[None]:
        """One write transaction that takes the write lock up front (``BEGIN IMMEDIATE``).

        A deferred ``BEGIN`` that reads first and writes later fails at once with
        "database is locked" when another process wrote in between; taking the lock
        first makes it wait out the busy timeout instead.
        """
        if self.db.conn.in_transaction:
            with self.db.atomic():
                yield
            return
        self.db.execute("BEGIN IMMEDIATE")
        try:
            yield
        except BaseException:
            self.db.conn.rollback()
            raise
        try:
            self.db.execute("COMMIT")
        except BaseException:
            self.db.conn.rollback()
            raise

    # -- requests acted on --------------------------------------------------------

    def claim_request(self, key: str) -> bool:
        """Record that the request ``key`` is being acted on; False if it was already.

        Keys older than `REQUEST_MEMORY` are forgotten here too: Slack signs a request
        for five minutes and retries an event for at most about half an hour.
        """
        with self._write():
            claimed = self._claim(key)
            cutoff = _iso(utcnow() - REQUEST_MEMORY)
            self.db.execute("DELETE FROM requests WHERE at < ?", [cutoff])
        return claimed

    def request_seen(self, key: str) -> bool:
        row = self.db.execute("SELECT 1 FROM requests WHERE key = ?", [key]).fetchone()
        return row is not None

    def _claim(self, key: str) -> bool:
        cursor = self.db.execute(
            "INSERT OR IGNORE INTO requests (key, at) VALUES (?, ?)", [key, _iso(utcnow())]
        )
        return cursor.rowcount == 1

    def ping(self) -> bool:
        try:
            self.db.execute("SELECT 1").fetchone()
        except sqlite3.Error:
            return False
        return True

    # -- messages ---------------------------------------------------------------

    def add_messages(
        self,
        messages: list[Message],
        *,
        actor: str,
        action: str,
        request_key: str | None = None,
    ) -> list[Message]:
        """Store new messages (status history and audit too) in one transaction.

        Ids are re-drawn on the rare collision, so the stored messages are returned.
        With ``request_key``, the request is recorded in the same transaction, and one
        recorded before raises `RepeatedRequestError` (storing nothing).
        """
        stored: list[Message] = []
        with self._write():
            if request_key is not None and not self._claim(request_key):
                raise RepeatedRequestError("this request was handled already")
            for message in messages:
                while self._exists(message.id):
                    message = _replace(message, id=new_message_id())
                row = {**_row(message), "owner": self.owner}
                self.db.execute(_INSERT_MESSAGE, [row[c] for c in _MESSAGE_COLUMNS])
                self._event(message.id, message.status, "herald", None, None, message.created_at)
                self._audit(actor, action, message, {"recipient": message.recipient})
                stored.append(message)
        return stored

    # The hot paths below are plain SQL: sqlite-utils' table helpers re-read the
    # schema on every call, which cost more than the writes themselves.

    def _select(self, where: str, args: list[Any], tail: str = "") -> list[Message]:
        # where/tail are literals of this module; every value is a bound parameter
        sql = f"SELECT {_COLUMN_LIST} FROM messages WHERE {where} {tail}"  # noqa: S608
        cursor = self.db.execute(sql, args)
        return [_message(dict(zip(_MESSAGE_COLUMNS, row, strict=True))) for row in cursor]

    def get(self, message_id: str) -> Message | None:
        found = self._select("id = ?", [message_id])
        return found[0] if found else None

    def owner_of(self, message_id: str) -> str | None:
        row = self.db.execute("SELECT owner FROM messages WHERE id = ?", [message_id]).fetchone()
        return row[0] if row else None

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

    def claim_orphans(
        self,
        statuses: Sequence[MessageStatus],
        live: Collection[str],
        owner: str,
        connections: Sequence[str] | None = None,
    ) -> list[Message]:
        """Make ``owner`` the owner of every message in ``statuses`` whose owner is not in
        ``live`` (optionally only on ``connections``), in one transaction: two processes
        never take over the same message."""
        where = (
            f"status IN ({', '.join('?' for _ in statuses)}) AND (owner IS NULL "
            f"OR owner NOT IN ({', '.join('?' for _ in live)}))"
        )
        args: list[Any] = [s.value for s in statuses] + list(live)
        if connections is not None:
            where += f" AND connection IN ({', '.join('?' for _ in connections)})"
            args += connections
        with self._write():
            found = self._select(where, args, "ORDER BY created_at")
            for message in found:
                self.db.execute("UPDATE messages SET owner = ? WHERE id = ?", [owner, message.id])
        return found

    def unannounced(self, quiet: Collection[MessageStatus]) -> list[Message]:
        """Messages with a Slack destination whose receipt (or failure reply) was never
        posted; ``quiet`` statuses get no receipt."""
        marks = ", ".join("?" for _ in quiet)
        return self._select(
            f"announce_to IS NOT NULL AND status NOT IN ({marks}) AND (receipt_ts IS NULL "
            "OR (status = 'failed' AND failure_announced = 0))",
            [s.value for s in quiet],
            "ORDER BY created_at",
        )

    def recent(self, sender: str | None = None, limit: int = 10) -> list[Message]:
        where, args = ("sender = ?", [sender]) if sender else ("1", [])
        return self._select(where, [*args, limit], "ORDER BY created_at DESC LIMIT ?")

    def update(self, message_id: str, **fields: Any) -> Message:
        with self._write():
            self._update(message_id, fields)
        message = self.get(message_id)
        assert message is not None
        return message

    def _update(self, message_id: str, fields: dict[str, Any]) -> None:
        values = {key: _column(value) for key, value in fields.items()}
        values["updated_at"] = _iso(utcnow())
        unknown = set(values) - set(_MESSAGE_COLUMNS)
        if unknown:
            raise ValueError(f"not message columns: {sorted(unknown)}")
        assignments = ", ".join(f"{key} = ?" for key in values)  # checked column names
        sql = f"UPDATE messages SET {assignments} WHERE id = ?"  # noqa: S608
        self.db.execute(sql, [*values.values(), message_id])

    def set_status(
        self,
        message_id: str,
        status: MessageStatus,
        *,
        source: str,
        reason: str | None = None,
        raw: object = None,
        at: datetime | None = None,
        **fields: Any,
    ) -> Message:
        """Move a message to ``status`` and record it in its history, atomically."""
        values = {**fields, "status": status}
        if status is MessageStatus.FAILED and reason:
            values["error"] = reason
        with self._write():
            self._update(message_id, values)
            self._event(message_id, status, source, reason, raw, at or utcnow())
        message = self.get(message_id)
        assert message is not None
        return message

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
        with self._write():
            self._event(message_id, status, source, reason, raw, at or utcnow())

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
                at=_dt(row["at"]) or utcnow(),
                source=row["source"],
                reason=row["reason"],
                raw=json.loads(row["raw"]) if row["raw"] else None,
            )
            for row in self.db["status_events"].rows_where(  # type: ignore[union-attr]
                "message_id = ?", [message_id], order_by="id"
            )
        ]

    def audit(self, actor: str, action: str, message: Message, detail: dict[str, Any]) -> None:
        with self._write():
            self._audit(actor, action, message, detail)

    def audit_trail(self, message_id: str) -> Iterator[dict[str, Any]]:
        yield from self.db["audit"].rows_where(  # type: ignore[union-attr]
            "message_id = ?", [message_id], order_by="id"
        )

    # -- internals --------------------------------------------------------------

    def _exists(self, message_id: str) -> bool:
        return bool(self.db.execute("SELECT 1 FROM messages WHERE id = ?", [message_id]).fetchone())

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
                _iso(at),
                json.dumps(raw, default=str) if raw is not None else None,
            ],
        )

    def _audit(self, actor: str, action: str, message: Message, detail: dict[str, Any]) -> None:
        self.db.execute(
            "INSERT INTO audit (at, actor, action, message_id, connection, detail) "
            "VALUES (?, ?, ?, ?, ?, ?)",
            [
                _iso(utcnow()),
                actor,
                action,
                message.id,
                message.connection,
                json.dumps(detail, default=str),
            ],
        )


_MESSAGE_COLUMNS = (
    "id",
    "connection",
    "channel",
    "recipient",
    "text",
    "subject",
    "media_urls",
    "sender",
    "origin",
    "status",
    "provider_message_id",
    "error",
    "announce_to",
    "receipt_channel",
    "receipt_ts",
    "failure_announced",
    "send_started_at",
    "created_at",
    "updated_at",
    "failover_from",
    "sender_email",
    "template",
    "variables",
    "attempts",
    "provider_template",
    "confidential",
    "owner",
)
_COLUMN_LIST = ", ".join(_MESSAGE_COLUMNS)
_INSERT_MESSAGE = (
    f"INSERT INTO messages ({_COLUMN_LIST}) "  # noqa: S608
    f"VALUES ({', '.join('?' for _ in _MESSAGE_COLUMNS)})"
)


def _template_json(template: ProviderTemplate | None) -> str | None:
    return json.dumps(asdict(template)) if template is not None else None


def _template(text: str | None) -> ProviderTemplate | None:
    return ProviderTemplate(**json.loads(text)) if text else None


def _column(value: Any) -> Any:
    if isinstance(value, ProviderTemplate):
        return _template_json(value)
    if isinstance(value, datetime):
        return _iso(value)
    if isinstance(value, MessageStatus):
        return value.value
    if isinstance(value, bool):
        return int(value)
    if isinstance(value, tuple):
        return json.dumps(list(value))
    if isinstance(value, dict):
        return json.dumps(value)
    return value


def _row(message: Message) -> dict[str, Any]:
    return {
        "id": message.id,
        "connection": message.connection,
        "channel": message.channel.value,
        "recipient": message.recipient,
        "text": message.text,
        "subject": message.subject,
        "media_urls": json.dumps(list(message.media_urls)),
        "sender": message.sender,
        "origin": message.origin,
        "status": message.status.value,
        "provider_message_id": message.provider_message_id,
        "error": message.error,
        "announce_to": message.announce_to,
        "receipt_channel": message.receipt_channel,
        "receipt_ts": message.receipt_ts,
        "failure_announced": int(message.failure_announced),
        "send_started_at": _iso(message.send_started_at),
        "created_at": _iso(message.created_at),
        "updated_at": _iso(message.updated_at),
        "failover_from": message.failover_from,
        "sender_email": message.sender_email,
        "template": message.template,
        "variables": json.dumps(dict(message.variables)),
        "attempts": message.attempts,
        "provider_template": _template_json(message.provider_template),
        "confidential": int(message.confidential),
        "owner": None,
    }


def _message(row: dict[str, Any]) -> Message:
    return Message(
        id=row["id"],
        connection=row["connection"],
        channel=Channel(row["channel"]),
        recipient=row["recipient"],
        text=row["text"],
        subject=row["subject"],
        media_urls=tuple(json.loads(row["media_urls"] or "[]")),
        sender=row["sender"],
        origin=row["origin"],
        status=MessageStatus(row["status"]),
        provider_message_id=row["provider_message_id"],
        error=row["error"],
        announce_to=row["announce_to"],
        receipt_channel=row["receipt_channel"],
        receipt_ts=row["receipt_ts"],
        failure_announced=bool(row["failure_announced"]),
        send_started_at=_dt(row["send_started_at"]),
        created_at=_dt(row["created_at"]) or utcnow(),
        updated_at=_dt(row["updated_at"]) or utcnow(),
        failover_from=row["failover_from"],
        sender_email=row["sender_email"],
        template=row["template"],
        variables=json.loads(row["variables"] or "{}"),
        attempts=row["attempts"] or 0,
        provider_template=_template(row["provider_template"]),
        confidential=bool(row["confidential"]),
    )


def _replace(message: Message, **changes: Any) -> Message:
    return replace(message, **changes)
