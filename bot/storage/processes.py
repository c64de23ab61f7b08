"""Which process works on a message, so one process never takes over another's live work.

Every running Herald (``herald serve`` and each ``herald send``) draws a random token,
writes a row in the ``processes`` table and refreshes its ``last_seen`` every
`HEARTBEAT_EVERY` seconds; a message's ``owner`` is that token. A process whose
heartbeat is older than `STALE_AFTER` is dead, whatever its host name or PID: both
change or get reused when a container restarts, so neither can say who is alive.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import secrets
import socket
import sqlite3
import threading
import time
from collections.abc import Callable
from pathlib import Path

log = logging.getLogger(__name__)

HEARTBEAT_EVERY = 5.0  # seconds between two heartbeats
STALE_AFTER = 30.0  # a heartbeat older than this: the process is dead
FORGET_AFTER = 24 * 3600.0  # rows of dead processes are deleted after this
LOCK_WAIT_SECONDS = 10.0


def new_token() -> str:
    return secrets.token_hex(8)


class Heartbeat:
    """This process's row in ``processes``: written at start, refreshed while it runs,
    deleted at a clean stop (a killed process leaves it to go stale).

    It has its own connection, used from a worker thread, so a write lock held by
    another process delays the heartbeat, never the event loop.
    """

    def __init__(self, path: Path | str, *, clock: Callable[[], float] = time.time) -> None:
        self.token = new_token()
        self.path = str(path)
        self.clock = clock
        self._conn: sqlite3.Connection | None = None
        self._guard = threading.Lock()  # one statement at a time on the connection
        self._task: asyncio.Task[None] | None = None

    async def start(self) -> None:
        """Register this process (before it owns any message), then keep the row fresh.

        The table must exist: open the `Store` (which migrates) first.
        """
        self._conn = sqlite3.connect(
            self.path, timeout=LOCK_WAIT_SECONDS, check_same_thread=False, isolation_level=None
        )
        started = self.clock()
        await asyncio.to_thread(
            self._execute,
            "INSERT OR REPLACE INTO processes (token, host, pid, started_at, last_seen) "
            "VALUES (?, ?, ?, ?, ?)",
            [self.token, socket.gethostname(), os.getpid(), started, started],
        )
        self._task = asyncio.get_running_loop().create_task(self._beat_forever(), name="heartbeat")

    async def _beat_forever(self) -> None:
        while True:
            await asyncio.sleep(HEARTBEAT_EVERY)
            try:
                await asyncio.to_thread(self.beat)
            except sqlite3.Error as exc:
                # the next beat tries again; only STALE_AFTER of failures makes us look dead
                log.warning("could not write the heartbeat: %s", exc)

    def beat(self) -> None:
        now = self.clock()
        self._execute(
            "INSERT INTO processes (token, host, pid, started_at, last_seen) "
            "VALUES (?, ?, ?, ?, ?) "
            "ON CONFLICT (token) DO UPDATE SET last_seen = excluded.last_seen",
            [self.token, socket.gethostname(), os.getpid(), now, now],
        )
        self._execute("DELETE FROM processes WHERE last_seen < ?", [now - FORGET_AFTER])

    async def live(self) -> set[str]:
        """The tokens of processes alive now, this one always among them."""
        since = self.clock() - STALE_AFTER
        rows = await asyncio.to_thread(
            self._query, "SELECT token FROM processes WHERE last_seen >= ?", [since]
        )
        return {str(token) for (token,) in rows} | {self.token}

    async def stop(self) -> None:
        """Stop beating and remove the row: this process owns nothing any more."""
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None
        if self._conn is None:
            return
        try:
            await asyncio.to_thread(
                self._execute, "DELETE FROM processes WHERE token = ?", [self.token]
            )
        except sqlite3.Error as exc:
            log.warning("could not remove the heartbeat (it goes stale instead): %s", exc)
        finally:
            with self._guard:
                self._conn.close()
                self._conn = None

    def _execute(self, sql: str, args: list[object]) -> None:
        with self._guard:
            if self._conn is not None:
                self._conn.execute(sql, args)  # autocommit (isolation_level=None)

    def _query(self, sql: str, args: list[object]) -> list[tuple[object, ...]]:
        with self._guard:
            if self._conn is None:
                return []
            return self._conn.execute(sql, args).fetchall()
