"""Herald's SQLite file: which connection and thread each read and write runs on.

Reads run on the caller's thread, each thread on its own connection (WAL: a reader
never waits for a writer). Writes run on one writer thread and are awaited, so a
write that waits for another process's lock (a ``herald send`` beside the server)
never holds up the event loop, and with it Slack's acknowledgements. Each write is
one `Transaction`: a check and the write it decides are atomic, however writes from
the loop interleave. The tables are in `bot.storage.tables`, the schema in `bot.storage.migrations`.

`Store.write_soon` is the same write for the hot path of a big send (each message's
"sending" mark and outcome): the writes asked for in one turn of the event loop are
committed together (group commit), each in a SAVEPOINT of its own, so each is still atomic
and one that raises undoes only itself. A transaction per message would cost more than the
message's own work.
"""

from __future__ import annotations

import asyncio
import sqlite3
import threading
import time
from collections import deque
from collections.abc import Callable, Coroutine, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import Any, Concatenate, Generic, ParamSpec, TypeVar

from sqlite_utils import Database

from bot.errors import ConfigError, StoreBusyError
from bot.models import Message, Send
from bot.storage.migrations import migrations
from bot.storage.rows import utcnow
from bot.storage.tables import Tables, Transaction

__all__ = ["Store", "Transaction", "utcnow"]

BUSY_TIMEOUT_SECONDS = 30.0  # how long a write waits for another process's lock
LOCK_POLL_SECONDS = 0.002
# A WAL reader waits only in rare moments (a checkpoint resetting the log); writes never
# wait inside SQLite (see `_begin`).
READ_BUSY_MS = 1000
# Writes committed together at most: a group commit that finds the lock free runs on the
# event loop (as `Store.write` does), so this bounds how long it holds the loop.
GROUP_COMMIT_LIMIT = 256
T = TypeVar("T")
P = ParamSpec("P")


@dataclass(frozen=True)
class _Queued(Generic[T]):
    """A write waiting for the next group commit."""

    work: Callable[[Transaction], T]
    future: asyncio.Future[T]
    optional: bool  # skipped if its caller stopped waiting before it ran


def _one_transaction(
    method: Callable[Concatenate[Transaction, P], T],
) -> Callable[Concatenate[Store, P], Coroutine[Any, Any, T]]:
    """``Store.NAME(...)``: `Transaction.NAME(...)` as a write of its own."""

    async def write(store: Store, /, *args: P.args, **kwargs: P.kwargs) -> T:
        return await store.write(lambda tx: method(tx, *args, **kwargs))

    write.__doc__ = method.__doc__
    return write


BUSY = (
    "Herald's database is busy (another Herald process is writing to it), so nothing was "
    "stored or sent. Try again in a moment."
)


class _Turn:
    """A write handed to the writer thread: it either starts, or its caller abandons it
    first (then it never runs) — never both."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._state = "waiting"

    def start(self) -> bool:
        with self._lock:
            if self._state == "abandoned":
                return False
            self._state = "started"
            return True

    def abandon(self) -> bool:
        with self._lock:
            if self._state == "started":
                return False
            self._state = "abandoned"
            return True


def _consume(future: asyncio.Future[Any]) -> None:
    """Retrieve an abandoned write's outcome (its StoreBusyError) so asyncio does not
    report it as never retrieved."""
    if not future.cancelled():
        future.exception()


class Store(Tables):
    """All reads and writes of Herald's tables. Create, use, `close`."""

    def __init__(self, path: Path | str, *, owner: str | None = None) -> None:
        self.path = Path(path)
        self.owner = owner  # the `bot.storage.processes` token new messages are stored under
        if str(path) == ":memory:":
            raise ConfigError(
                "storage.path cannot be ':memory:': Herald's threads and processes share "
                "one database file"
            )
        self._local = threading.local()
        self._connections: list[sqlite3.Connection] = []
        self._guard = threading.Lock()
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise ConfigError(f"cannot open the database {path}: {exc}") from exc
        self._writer = ThreadPoolExecutor(max_workers=1, thread_name_prefix="herald-db")
        self._queued: deque[_Queued[Any]] = deque()
        self._flush_on: asyncio.AbstractEventLoop | None = None  # where a flush is due
        self._flushing: asyncio.Task[None] | None = None  # a group commit on the writer thread
        db = self.db
        try:
            db.execute(f"PRAGMA busy_timeout = {int(BUSY_TIMEOUT_SECONDS * 1000)}")
            db.enable_wal()
            migrations.apply(db)  # at startup, before anything else runs: it may wait
            db.execute(f"PRAGMA busy_timeout = {READ_BUSY_MS}")
        except sqlite3.Error as exc:
            self.close()
            raise ConfigError(f"cannot use the database {path}: {exc}") from exc

    # -- connections ------------------------------------------------------------

    @property
    def db(self) -> Database:  # type: ignore[override]
        """This thread's connection."""
        db: Database | None = getattr(self._local, "db", None)
        if db is None:
            db = self._local.db = self._connect()
        return db

    def _writing_db(self) -> Database:
        """This thread's connection for writes: it never waits inside SQLite for the lock
        (`_begin` decides how long to wait), so it is not the one reads use."""
        db: Database | None = getattr(self._local, "writing", None)
        if db is None:
            db = self._local.writing = self._connect(busy_ms=0)
        return db

    def _connect(self, busy_ms: int = READ_BUSY_MS) -> Database:
        try:
            conn = sqlite3.connect(
                str(self.path),
                timeout=BUSY_TIMEOUT_SECONDS,
                check_same_thread=False,  # each thread has its own; close() runs on any
                isolation_level=None,  # transactions are explicit (BEGIN IMMEDIATE)
            )
            db = Database(conn)
            db.execute(f"PRAGMA busy_timeout = {busy_ms}")
            db.execute("PRAGMA synchronous = NORMAL")
            db.execute("PRAGMA foreign_keys = ON")
        except (OSError, sqlite3.Error) as exc:
            raise ConfigError(f"cannot open the database {self.path}: {exc}") from exc
        with self._guard:
            self._connections.append(conn)
        return db

    def close(self) -> None:
        """Finish the writes already asked for, then close every connection."""
        if self._queued:  # asked for with write_soon and not yet run: an outcome is never lost
            batch = list(self._queued)
            self._queued.clear()
            deadline = time.monotonic() + BUSY_TIMEOUT_SECONDS
            _resolve(batch, self._transaction(partial(_each_in_a_savepoint, batch), deadline))
        self._writer.shutdown(wait=True)
        with self._guard:
            for conn in self._connections:
                conn.close()
            self._connections.clear()

    def ping(self) -> bool:
        try:
            self.db.execute("SELECT 1").fetchone()
        except sqlite3.Error:
            return False
        return True

    # -- writing ------------------------------------------------------------------

    async def write(
        self, work: Callable[[Transaction], T], *, lock_wait: float = BUSY_TIMEOUT_SECONDS
    ) -> T:
        """Run ``work`` in one transaction on the writer thread and return its result.

        If the write lock (another process may hold it) cannot be had within
        ``lock_wait`` seconds of this call, raises `StoreBusyError` and writes nothing.
        """
        deadline = time.monotonic() + lock_wait
        db = self._writing_db()
        if self._try_begin(db):
            # The lock was free: write here at once, as a hand-over to the writer thread
            # would cost more than the write itself.
            return self._run(db, work)
        loop = asyncio.get_running_loop()
        turn = _Turn()
        future = loop.run_in_executor(self._writer, self._transaction, work, deadline, turn)
        # The writer thread may still be busy with writes queued earlier (one waiting out a
        # long lock_wait of its own): this caller stops waiting at its own deadline, and the
        # write is skipped if it has not started by then.
        try:
            await asyncio.wait({future}, timeout=max(0.0, deadline - time.monotonic()) + 0.05)
        except asyncio.CancelledError:
            turn.abandon()  # not started: it never will; started: it finishes unawaited
            future.add_done_callback(_consume)
            raise
        if not future.done() and turn.abandon():
            future.add_done_callback(_consume)
            raise StoreBusyError(BUSY)
        return await future

    def write_soon(
        self, work: Callable[[Transaction], T], *, optional: bool = False, now: bool = False
    ) -> asyncio.Future[T]:
        """`write`, committed together with the other writes queued with it (a group
        commit); await the future for its result or its error.

        The group is committed at the end of this turn of the event loop, or at once with
        ``now`` (a write that something waits for, such as a "sending" mark before its
        request: the writes queued so far go with it). Like `write`, it never waits on the
        event loop for another process's lock: then it goes to the writer thread.

        ``work`` runs in a SAVEPOINT of its own: atomic, and if it raises, only its own
        changes are undone. It runs even if its caller stops waiting, unless it is
        ``optional`` (a mark that only matters if the caller goes on to act on it).
        """
        loop = asyncio.get_running_loop()
        future: asyncio.Future[T] = loop.create_future()
        self._queued.append(_Queued(work, future, optional))
        if now:
            self._flush()
        else:
            self._flush_soon(loop)
        return future

    def _flush_soon(self, loop: asyncio.AbstractEventLoop) -> None:
        if self._flush_on is not loop:
            self._flush_on = loop
            loop.call_soon(self._flush_due)

    def _flush_due(self) -> None:
        self._flush_on = None
        self._flush()

    def _flush(self) -> None:
        """Commit what is queued: here, if the lock is free; else on the writer thread, while
        what is asked for meanwhile waits for the next group."""
        loop = asyncio.get_running_loop()
        flushing = self._flushing
        if flushing is not None and not flushing.done() and flushing.get_loop() is loop:
            return  # the group on the writer thread flushes again when it is done
        count = min(len(self._queued), GROUP_COMMIT_LIMIT)
        batch = [self._queued.popleft() for _ in range(count)]
        if not batch:
            return
        db = self._writing_db()
        if self._try_begin(db):
            try:
                outcomes = self._run(db, partial(_each_in_a_savepoint, batch))
            except Exception as exc:
                _fail(batch, exc)
            else:
                _resolve(batch, outcomes)
            if self._queued:
                self._flush_soon(loop)
            return
        self._flushing = loop.create_task(self._flush_on_writer(batch), name="group-commit")

    async def _flush_on_writer(self, batch: list[_Queued[Any]]) -> None:
        loop = asyncio.get_running_loop()
        deadline = time.monotonic() + BUSY_TIMEOUT_SECONDS
        work = partial(_each_in_a_savepoint, batch)
        try:
            outcomes = await loop.run_in_executor(self._writer, self._transaction, work, deadline)
        except asyncio.CancelledError:
            for item in batch:
                item.future.cancel()
            raise
        except Exception as exc:
            _fail(batch, exc)
        else:
            _resolve(batch, outcomes)
        finally:
            if self._queued:
                self._flush_soon(loop)

    def _transaction(
        self, work: Callable[[Transaction], T], deadline: float, turn: _Turn | None = None
    ) -> T:
        if turn is not None and not turn.start():
            raise StoreBusyError(BUSY)  # its caller gave up before the writer got to it
        db = self._writing_db()
        self._begin(db, deadline)
        return self._run(db, work)

    def _run(self, db: Database, work: Callable[[Transaction], T]) -> T:
        try:
            result = work(Transaction(db, self.owner))
        except BaseException:
            db.conn.rollback()
            raise
        try:
            db.execute("COMMIT")
        except BaseException:
            db.conn.rollback()
            raise
        return result

    def _begin(self, db: Database, deadline: float) -> None:
        """Take the write lock up front (``BEGIN IMMEDIATE``), polling until ``deadline``.

        A deferred ``BEGIN`` that reads first and writes later fails at once when another
        process wrote in between. Polling every few milliseconds, rather than SQLite's
        busy handler (which sleeps up to 100 ms between tries), keeps this process from
        being starved by several ``herald send``s writing at once.
        """
        while not self._try_begin(db):
            if time.monotonic() > deadline:
                raise StoreBusyError(BUSY)
            time.sleep(LOCK_POLL_SECONDS)  # on the writer thread, never the event loop

    @staticmethod
    def _try_begin(db: Database) -> bool:
        """Take the write lock if it is free this instant; never wait for it."""
        try:
            db.execute("BEGIN IMMEDIATE")
        except sqlite3.OperationalError as exc:
            if "locked" in str(exc) or "busy" in str(exc):
                return False
            raise
        return True

    # -- the common writes, one transaction each ---------------------------------

    async def add_send(
        self,
        send: Send,
        messages: Sequence[Message],
        *,
        actor: str,
        action: str,
        request_key: str | None = None,
        lock_wait: float = BUSY_TIMEOUT_SECONDS,
    ) -> tuple[Send, list[Message]]:
        return await self.write(
            lambda tx: tx.add_send(
                send, messages, actor=actor, action=action, request_key=request_key
            ),
            lock_wait=lock_wait,
        )

    claim_request = _one_transaction(Transaction.claim_request)
    claim_orphans = _one_transaction(Transaction.claim_orphans)
    update = _one_transaction(Transaction.update)
    set_status = _one_transaction(Transaction.set_status)
    record_event = _one_transaction(Transaction.record_event)
    audit = _one_transaction(Transaction.audit)
    record_receipt_post = _one_transaction(Transaction.record_receipt_post)
    record_failure_reply = _one_transaction(Transaction.record_failure_reply)
    forget_timer_changes = _one_transaction(Transaction.forget_timer_changes)


def _each_in_a_savepoint(batch: Sequence[_Queued[Any]], tx: Transaction) -> list[tuple[bool, Any]]:
    """Run each queued write in a SAVEPOINT of its own: (True, result) or (False, error)."""
    outcomes: list[tuple[bool, Any]] = []
    for item in batch:
        if item.optional and item.future.cancelled():
            outcomes.append((False, None))
            continue
        tx.db.execute("SAVEPOINT herald_write")
        try:
            result = item.work(tx)
        except Exception as exc:
            tx.db.execute("ROLLBACK TO herald_write")
            tx.db.execute("RELEASE herald_write")
            outcomes.append((False, exc))
        else:
            tx.db.execute("RELEASE herald_write")
            outcomes.append((True, result))
    return outcomes


def _resolve(batch: Sequence[_Queued[Any]], outcomes: Sequence[tuple[bool, Any]]) -> None:
    for item, (ok, value) in zip(batch, outcomes, strict=True):
        if item.future.done() or item.future.get_loop().is_closed():
            continue  # its caller stopped waiting
        if ok:
            item.future.set_result(value)
        elif value is not None:
            item.future.set_exception(value)
        else:
            item.future.cancel()


def _fail(batch: Sequence[_Queued[Any]], error: Exception) -> None:
    """The group's transaction failed (the lock stayed busy, the disk is full): none of
    its writes happened, and each caller hears why."""
    for item in batch:
        if not (item.future.done() or item.future.get_loop().is_closed()):
            item.future.set_exception(error)
