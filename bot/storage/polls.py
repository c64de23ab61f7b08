"""The ``polls`` table as Python: one row per message whose status Herald asks the
provider for (`bot.delivery.polling`).

`PollReads` are mixed into `bot.storage.tables.Tables`, `PollWrites` into its
`Transaction`. A row is open while ``next_at`` is set (when to ask next) and closed with
``closed_at`` and a ``closed_reason``; closed rows stay, so ``why did it stop`` has an
answer. Rows live in the database, so a restarted server goes on where the last one
stopped.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlite_utils import Database

from bot.storage.rows import Columns, iso, utcnow


@dataclass(frozen=True)
class Poll:
    """Asking a provider, now and then, where one message is."""

    message_id: str
    connection: str
    provider_message_id: str | None
    started_at: datetime  # when the provider accepted the message
    deadline: datetime  # after the last lookup at or past it, the poll closes
    next_at: datetime | None  # None: closed
    lookups: int = 0  # lookups made (and failed ones)
    failures: int = 0  # failed lookups in a row
    last_status: str | None = None  # the status the last lookup reported
    last_error: str | None = None  # the last failure, as safe to show (no secrets)
    closed_at: datetime | None = None
    closed_reason: str | None = None


POLLS = Columns("polls", Poll)


class PollReads:
    db: Database

    def _polls(self, where: str, args: Sequence[Any], tail: str = "") -> list[Poll]:
        # where/tail are literals of this module; every value is a bound parameter
        sql = f"SELECT {POLLS.list} FROM polls WHERE {where} {tail}"  # noqa: S608
        return [POLLS.to_record(row) for row in self.db.execute(sql, list(args))]

    def poll(self, message_id: str) -> Poll | None:
        found = self._polls("message_id = ?", [message_id])
        return found[0] if found else None

    def due_polls(self, now: datetime, limit: int) -> list[Poll]:
        """Open polls whose next lookup is due at ``now``, the longest due first."""
        return self._polls(
            "next_at IS NOT NULL AND next_at <= ?", [iso(now), limit], "ORDER BY next_at LIMIT ?"
        )

    def next_poll_at(self) -> datetime | None:
        """When the soonest open poll is due; None when none is open."""
        row = self.db.execute("SELECT MIN(next_at) FROM polls").fetchone()
        return datetime.fromisoformat(row[0]) if row and row[0] else None

    def open_polls(self, connections: Sequence[str] | None = None) -> list[Poll]:
        """Every open poll (of ``connections``), soonest due first."""
        where, args = "next_at IS NOT NULL", []
        if connections is not None:
            where += f" AND connection IN ({', '.join('?' for _ in connections)})"
            args = list(connections)
        return self._polls(where, args, "ORDER BY next_at")


class PollWrites(PollReads):
    def add_poll(self, poll: Poll) -> bool:
        """Start polling a message; False if it has (or had) a poll already."""
        cursor = self.db.execute(
            POLLS.insert.replace("INSERT", "INSERT OR IGNORE", 1), POLLS.to_row(poll)
        )
        return cursor.rowcount == 1

    def update_poll(self, message_id: str, **fields: Any) -> bool:
        """Change an open poll (a closed one stays closed); False if none is open."""
        values = {key: POLLS.column(key, value) for key, value in fields.items()}
        assignments = ", ".join(f"{key} = ?" for key in values)  # checked column names
        sql = f"UPDATE polls SET {assignments} WHERE message_id = ? AND next_at IS NOT NULL"  # noqa: S608
        return self.db.execute(sql, [*values.values(), message_id]).rowcount == 1

    def defer_polls(self, when: dict[str, datetime]) -> None:
        """Move open polls' next lookups (message id → when), without counting a lookup."""
        self.db.conn.executemany(
            "UPDATE polls SET next_at = ? WHERE message_id = ? AND next_at IS NOT NULL",
            [(iso(at), message_id) for message_id, at in when.items()],
        )

    def close_poll(self, message_id: str, reason: str) -> bool:
        """Stop polling a message, saying why; False if it was not open."""
        return self.update_poll(message_id, next_at=None, closed_at=utcnow(), closed_reason=reason)

    def close_polls_for(
        self,
        connections: Sequence[str],
        message_ids: Sequence[str],
        provider_ids: Sequence[str],
        reason: str,
    ) -> list[str]:
        """Close the open polls of ``connections`` for these messages (by Herald's id or
        the provider's); returns the message ids closed."""
        if not connections or not (message_ids or provider_ids):
            return []
        on = ", ".join("?" for _ in connections)
        ours = ", ".join("?" for _ in message_ids) or "NULL"
        theirs = ", ".join("?" for _ in provider_ids) or "NULL"
        found = [
            poll.message_id
            for poll in self._polls(
                f"next_at IS NOT NULL AND connection IN ({on}) AND "
                f"(message_id IN ({ours}) OR provider_message_id IN ({theirs}))",
                [*connections, *message_ids, *provider_ids],
            )
        ]
        for message_id in found:
            self.close_poll(message_id, reason)
        return found
