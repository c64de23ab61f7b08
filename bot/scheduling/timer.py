"""The persistent timer: APScheduler 3, its SQLAlchemy job store in Herald's SQLite file.

Herald's own rows say what is due and when (a scheduled message's ``due_at``, a
schedule's ``next_due``); APScheduler holds one date job per send or schedule that is
waiting, so the process wakes at the right instant, also after a restart. A job's
target is `fire`, a module-level function that takes only the id and reaches the
running Herald through `register`: a job stored by one release of Herald still runs
in the next.

The jobs follow the rows, never the other way round. Every write that changes when
something is due notes its id in ``timer_changes`` (``bot.storage.timetable``), whichever
process wrote it (``herald send --at`` runs beside the server, and APScheduler 3 never
notices jobs written by another process); `Timer` applies those notes within
`SYNC_EVERY` seconds, and compares every job with the rows at start and every
`RECONCILE_EVERY` seconds, so a job that is missing, stale or left over is mended.

Only ``herald serve`` runs a timer, and one per database (`bot.scheduling.lock`).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import sqlite3
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from apscheduler.jobstores.base import JobLookupError
from apscheduler.jobstores.sqlalchemy import SQLAlchemyJobStore
from apscheduler.schedulers.asyncio import AsyncIOScheduler
from sqlalchemy import event

from bot.scheduling.lock import SchedulerLock
from bot.storage.store import BUSY_TIMEOUT_SECONDS, Store
from bot.waiting import nap

log = logging.getLogger(__name__)

SYNC_EVERY = 1.0  # seconds: a `herald send --at` beside the server is picked up this fast
RECONCILE_EVERY = 60.0  # seconds between two full comparisons of the jobs with the rows
SYNC_BATCH = 1000
JOB_TABLE = "apscheduler_jobs"

Due = Callable[[str], Awaitable[None]]
_due: Due | None = None


def register(due: Due | None) -> None:
    """Where `fire` hands a job's id: the running Herald (None: none runs)."""
    global _due
    _due = due


async def fire(target_id: str) -> None:
    """What every job runs: tell the running Herald that ``target_id`` is due."""
    if _due is None:
        log.warning("timer %s went off with no Herald running; the next start sends it", target_id)
        return
    await _due(target_id)


def create_scheduler(db_path: Path) -> AsyncIOScheduler:
    store = SQLAlchemyJobStore(
        url=f"sqlite:///{db_path}",
        tablename=JOB_TABLE,
        engine_options={"connect_args": {"timeout": BUSY_TIMEOUT_SECONDS}},
    )

    @event.listens_for(store.engine, "connect")
    def _pragmas(connection: Any, _record: Any) -> None:
        # as Herald's own connections: in WAL mode NORMAL syncs at checkpoints, not at
        # every commit, so removing thousands of fired jobs is not thousands of fsyncs
        connection.execute("PRAGMA synchronous = NORMAL")

    return AsyncIOScheduler(
        jobstores={"default": store},
        timezone=UTC,
        # A job is Herald's wake-up call, never the decision: however late it runs, it
        # runs (Herald decides whether that is late or missed), and once.
        job_defaults={"misfire_grace_time": None, "coalesce": True, "max_instances": 1},
    )


def scheduler_state(scheduler: AsyncIOScheduler | None) -> str:
    if scheduler is None:
        return "off"
    return {0: "stopped", 1: "running", 2: "paused"}.get(scheduler.state, "unknown")


class Timer:
    """APScheduler for one database, kept in step with Herald's rows. `start`, `stop`."""

    def __init__(
        self,
        store: Store,
        due: Due,
        changed_elsewhere: Callable[[list[str]], Awaitable[None]] | None = None,
    ) -> None:
        """``due`` is told each id whose job goes off; ``changed_elsewhere`` the ids another
        process changed (a ``herald jobs cancel``), whose receipts this one shows."""
        self.store = store
        self.due = due
        self.changed_elsewhere = changed_elsewhere
        self.lock = SchedulerLock(store.path)
        self.scheduler: AsyncIOScheduler | None = None
        self._wake = asyncio.Event()
        self._repair = False  # the job table could not be read: make it again
        self._task: asyncio.Task[None] | None = None

    async def start(self) -> None:
        """Take the database's scheduler (`AlreadyRunningError` if another process has
        it), start APScheduler and bring its jobs in line with the rows."""
        self.lock.acquire()
        try:
            self.scheduler = create_scheduler(self.store.path)
            register(self.due)
            self.scheduler.start()
            await self.reconcile()
        except BaseException:
            await self.stop()
            raise
        self._task = asyncio.get_running_loop().create_task(self._follow(), name="timer")

    async def stop(self) -> None:
        """No job fires after this; the jobs stay stored for the next start."""
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None
        if self.scheduler is not None and self.scheduler.running:
            self.scheduler.shutdown(wait=False)
        register(None)
        self.lock.release()

    @property
    def state(self) -> str:
        return scheduler_state(self.scheduler)

    def changed(self) -> None:
        """This process changed a due time: catch up now rather than at the next tick."""
        self._wake.set()

    def pending(self) -> int | None:
        """How many jobs wait (one per scheduled send or active schedule); None when the
        job table cannot be read."""
        try:
            row = self.store.db.execute(f"SELECT COUNT(*) FROM {JOB_TABLE}").fetchone()  # noqa: S608
        except sqlite3.Error:
            self._repair = True  # the next pass makes the table again if it went
            self._wake.set()
            return None
        return int(row[0]) if row else 0

    async def _follow(self) -> None:
        loop = asyncio.get_running_loop()
        next_full = loop.time() + RECONCILE_EVERY
        quiet_until = 0.0
        while True:
            await nap(self._wake, SYNC_EVERY)
            self._wake.clear()
            try:
                if self._repair:
                    self._repair = False
                    self._recreate_job_table()
                    await self.reconcile()
                elif loop.time() >= next_full:
                    await self.reconcile()
                    next_full = loop.time() + RECONCILE_EVERY
                else:
                    await self.catch_up()
            except Exception as exc:  # the timer must outlive one bad pass (a locked database)
                if loop.time() >= quiet_until:  # once a minute at most, not every second
                    log.exception("could not bring the scheduler's jobs up to date; retrying")
                    quiet_until = loop.time() + RECONCILE_EVERY
                if isinstance(exc, sqlite3.OperationalError) and "no such table" in str(exc):
                    self._repair = True

    async def catch_up(self) -> int:
        """Apply the due-time changes noted since the last pass; returns how many."""
        done = 0
        while changes := self.store.timer_changes(SYNC_BATCH):
            for change in changes:
                self._set(change.id, self.store.wanted_timer(change.id))
            await self.store.forget_timer_changes(changes)
            elsewhere = [c.id for c in changes if c.by != self.store.owner]
            if elsewhere and self.changed_elsewhere is not None:
                await self.changed_elsewhere(elsewhere)
            done += len(changes)
            if len(changes) < SYNC_BATCH:
                break
        return done

    async def reconcile(self) -> None:
        """Compare every job with the rows: add what is missing, move what moved, remove
        what is no longer due. Then the noted changes are all applied."""
        changes = self.store.timer_changes(SYNC_BATCH)
        wanted, jobs = await asyncio.to_thread(self._both)
        for some_id, due in wanted.items():
            stored = jobs.get(some_id)
            if stored is None or abs(stored - due.timestamp()) >= 0.001:
                self._set(some_id, due)
        for some_id in jobs.keys() - wanted.keys():
            self._set(some_id, None)
        if changes:
            await self.store.forget_timer_changes(changes)
        await self.catch_up()

    def _recreate_job_table(self) -> None:
        """The job table went (dropped behind Herald's back): make it again; the next
        reconcile fills it from the rows."""
        if self.scheduler is None:
            return
        store = self.scheduler._lookup_jobstore("default")
        if isinstance(store, SQLAlchemyJobStore):
            store.jobs_t.create(store.engine, checkfirst=True)
            log.warning("the scheduler's job table was missing; made it again")

    def _both(self) -> tuple[dict[str, datetime], dict[str, float]]:
        wanted = self.store.wanted_timers()
        rows = self.store.db.execute(f"SELECT id, next_run_time FROM {JOB_TABLE}")  # noqa: S608
        return wanted, {str(job_id): float(at) for job_id, at in rows if at is not None}

    def _set(self, some_id: str, due: datetime | None) -> None:
        """Make ``some_id``'s job go off at ``due``, or remove it (None)."""
        scheduler = self.scheduler
        if scheduler is None:
            return
        if due is None:
            with contextlib.suppress(JobLookupError):
                scheduler.remove_job(some_id)
            return
        scheduler.add_job(
            fire,
            "date",
            run_date=due,
            args=[some_id],
            id=some_id,
            name=f"due {some_id}",
            replace_existing=True,
        )
