"""The scheduling tables as Python: scheduled messages, recurring schedules and the
``timer_changes`` outbox (`bot.scheduling`).

`TimetableReads` are mixed into `bot.storage.tables.Tables`, `TimetableWrites` into its
`Transaction`. A scheduled message is a ``messages`` row in status ``scheduled`` with its
``due_at``; a recurring send is a ``schedules`` row. Every write that changes when
something is due (scheduling, moving, cancelling) also notes its id in
``timer_changes``, in the same transaction, so the server's timer catches up with a
change whichever process made it.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any

from sqlite_utils import Database

from bot.models import Message, MessageStatus, Schedule, ScheduleState, Send, new_message_id
from bot.storage.rows import SCHEDULES, SENDS, iso, parse_time, utcnow

SCHEDULED = MessageStatus.SCHEDULED.value
ACTIVE = ScheduleState.ACTIVE.value


@dataclass(frozen=True)
class TimerChange:
    id: str  # a send's or a schedule's
    at: str  # when it changed, as stored
    by: str | None  # the process that changed it (None: one with no token)


class TimetableReads:
    db: Database

    def _select(self, where: str, args: Sequence[Any], tail: str = "") -> list[Message]:
        raise NotImplementedError  # `Tables` has it

    def send(self, send_id: str) -> Send | None:
        raise NotImplementedError  # `Tables` has it

    def schedule(self, schedule_id: str) -> Schedule | None:
        sql = f"SELECT {SCHEDULES.list} FROM schedules WHERE id = ?"  # noqa: S608 (rows.py names)
        row = self.db.execute(sql, [schedule_id]).fetchone()
        return SCHEDULES.to_record(row) if row else None

    def _schedules(self, where: str, args: Sequence[Any], tail: str = "") -> list[Schedule]:
        # where/tail are literals of this module; every value is a bound parameter
        sql = f"SELECT {SCHEDULES.list} FROM schedules WHERE {where} {tail}"  # noqa: S608
        return [SCHEDULES.to_record(row) for row in self.db.execute(sql, list(args))]

    def due_messages(self, now: datetime, limit: int) -> list[Message]:
        """Scheduled messages due at ``now``, the longest due first."""
        return self._select(
            "status = ? AND due_at <= ?", [SCHEDULED, iso(now), limit], "ORDER BY due_at LIMIT ?"
        )

    def due_schedules(self, now: datetime, limit: int) -> list[Schedule]:
        """Active schedules whose next occurrence is due at ``now``."""
        return self._schedules(
            "state = ? AND next_due <= ?", [ACTIVE, iso(now), limit], "ORDER BY next_due LIMIT ?"
        )

    def scheduled_sends(
        self, sender: str | None = None, limit: int = 1000
    ) -> list[tuple[Send, list[Message]]]:
        """Sends waiting for their time (``sender``'s, or everyone's), soonest first, at
        most ``limit`` of them, each with all its messages still waiting (a big send is
        one entry, whatever its size)."""
        mine = "AND sender = ?" if sender else ""
        sql = (
            "SELECT send_id FROM messages WHERE status = ? AND send_id IS NOT NULL "  # noqa: S608
            f"{mine} GROUP BY send_id ORDER BY MIN(due_at), send_id LIMIT ?"
        )
        args = [SCHEDULED, *([sender] if sender else []), limit]
        send_ids = [row[0] for row in self.db.execute(sql, args).fetchall()]
        found = []
        for send_id in send_ids:
            send = self.send(send_id)
            waiting = self._select(
                "send_id = ? AND status = ?", [send_id, SCHEDULED], "ORDER BY due_at, rowid"
            )
            if send is not None and waiting:
                found.append((send, waiting))
        return found

    def active_schedules(self, sender: str | None = None, limit: int = 1000) -> list[Schedule]:
        where, args = (
            ("state = ? AND sender = ?", [ACTIVE, sender])
            if sender
            else (
                "state = ?",
                [ACTIVE],
            )
        )
        return self._schedules(where, [*args, limit], "ORDER BY next_due LIMIT ?")

    def occurrences(self, schedule_id: str, limit: int = 10) -> list[Send]:
        """A schedule's latest occurrences, newest first."""
        sql = (
            f"SELECT {SENDS.list} FROM sends WHERE schedule_id = ? "  # noqa: S608
            "ORDER BY created_at DESC LIMIT ?"
        )
        return [SENDS.to_record(row) for row in self.db.execute(sql, [schedule_id, limit])]

    def wanted_timer(self, some_id: str) -> datetime | None:
        """When the timer ``some_id`` (a send or a schedule) should go off; None: no timer."""
        row = self.db.execute(
            "SELECT MIN(due_at) FROM messages WHERE send_id = ? AND status = ? "
            "UNION ALL SELECT next_due FROM schedules WHERE id = ? AND state = ?",
            [some_id, SCHEDULED, some_id, ACTIVE],
        ).fetchall()
        times = [parse_time(value) for (value,) in row if value]
        return min((t for t in times if t is not None), default=None)

    def wanted_timers(self) -> dict[str, datetime]:
        """Every timer there should be: each send with scheduled messages, each active
        schedule, and when it goes off."""
        rows = self.db.execute(
            "SELECT send_id, MIN(due_at) FROM messages WHERE status = ? AND send_id IS NOT NULL "
            "GROUP BY send_id UNION ALL "
            "SELECT id, next_due FROM schedules WHERE state = ? AND next_due IS NOT NULL",
            [SCHEDULED, ACTIVE],
        )
        return {some_id: datetime.fromisoformat(due) for some_id, due in rows if due}

    def count_waiting(self) -> int:
        """How many sends wait for their time and schedules are active, everyone's."""
        row = self.db.execute(
            "SELECT (SELECT COUNT(DISTINCT send_id) FROM messages WHERE status = ?) + "
            "(SELECT COUNT(*) FROM schedules WHERE state = ?)",
            [SCHEDULED, ACTIVE],
        ).fetchone()
        return int(row[0]) if row else 0

    def timer_changes(self, limit: int) -> list[TimerChange]:
        """Ids whose due time changed since the timer last caught up: when, and by which
        process (its `bot.storage.processes` token)."""
        rows = self.db.execute("SELECT id, at, by FROM timer_changes ORDER BY at LIMIT ?", [limit])
        return [TimerChange(str(some_id), str(at), by) for some_id, at, by in rows]


class TimetableWrites(TimetableReads):
    owner: str | None

    def _taken(self, some_id: str) -> bool:
        raise NotImplementedError  # `Tables` has it

    def note_timer(self, some_id: str) -> None:
        """``some_id``'s due time changed: the timer must catch up."""
        self.db.execute(
            "INSERT INTO timer_changes (id, at, by) VALUES (?, ?, ?) "
            "ON CONFLICT (id) DO UPDATE SET at = excluded.at, by = excluded.by",
            [some_id, iso(utcnow()), self.owner],
        )

    def forget_timer_changes(self, changes: Sequence[TimerChange]) -> None:
        """The timer caught up with these changes (a newer change of an id stays)."""
        self.db.conn.executemany(
            "DELETE FROM timer_changes WHERE id = ? AND at = ?", [(c.id, c.at) for c in changes]
        )

    def add_schedule(self, schedule: Schedule) -> Schedule:
        """Store a new recurring schedule (redrawing a taken id) and note its timer."""
        while self._taken(schedule.id):  # about 1 in 10^12
            schedule = replace(schedule, id=new_message_id())
        self.db.execute(SCHEDULES.insert, SCHEDULES.to_row(schedule))
        self.note_timer(schedule.id)
        return schedule

    def update_schedule(self, schedule_id: str, **fields: Any) -> Schedule:
        values = {key: SCHEDULES.column(key, value) for key, value in fields.items()}
        values["updated_at"] = iso(utcnow())
        assignments = ", ".join(f"{key} = ?" for key in values)  # checked column names
        sql = f"UPDATE schedules SET {assignments} WHERE id = ?"  # noqa: S608
        self.db.execute(sql, [*values.values(), schedule_id])
        self.note_timer(schedule_id)
        found = self.schedule(schedule_id)
        assert found is not None
        return found

    def record_schedule_audit(
        self, actor: str, action: str, schedule: Schedule, *, note: str | None = None
    ) -> None:
        """Who did ``action`` to ``schedule``, with its rule and next time (and ``note``:
        why, such as "replaced by #ID")."""
        detail = {"rule": schedule.rule, "next_due": iso(schedule.next_due)}
        if note:
            detail["note"] = note
        self.db.execute(
            "INSERT INTO audit (at, actor, action, message_id, connection, detail) "
            "VALUES (?, ?, ?, ?, ?, ?)",
            [
                iso(utcnow()),
                actor,
                action,
                schedule.id,
                schedule.connection,
                json.dumps(detail),
            ],
        )

    def set_send_due(self, send_id: str, due_at: datetime) -> None:
        self.db.execute("UPDATE sends SET due_at = ? WHERE id = ?", [iso(due_at), send_id])
        self.note_timer(send_id)
