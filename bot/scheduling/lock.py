"""One scheduler per database: an exclusive lock on a file beside the SQLite file.

APScheduler 3 must not share a job store between running schedulers (both would fire
every job), so ``herald serve`` holds ``<database>.scheduler.lock`` while it runs, with
an OS file lock (``flock``). The kernel lets go of it when the process ends, however
it ends: a ``kill -9``'d server leaves nothing to wait out, and the next one starts at
once. The file says who holds it (process, host, since when), for the refusal.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import socket
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import IO

from bot.errors import AlreadyRunningError, ConfigError


@dataclass(frozen=True)
class Holder:
    """The process holding a database's scheduler."""

    pid: int | None
    host: str | None
    since: str | None

    def describe(self) -> str:
        if self.pid is None:
            return "another herald serve"
        where = f" on {self.host}" if self.host and self.host != socket.gethostname() else ""
        since = f", running since {self.since}" if self.since else ""
        return f"herald serve (process {self.pid}{where}{since})"


def lock_path(db_path: Path) -> Path:
    """Beside the database, named by its real path: a server started through a symlink or
    with ``data/../data/herald.db`` takes the same lock. (Hard links to a SQLite file are
    not supported by SQLite itself: its WAL is named by the path.)"""
    real = db_path.resolve()
    return real.with_name(real.name + ".scheduler.lock")


class SchedulerLock:
    """Held while this process runs the scheduler of ``db_path``. `acquire`, `release`."""

    def __init__(self, db_path: Path) -> None:
        self.db_path = db_path
        self.path = lock_path(db_path)
        self._file: IO[str] | None = None

    def acquire(self) -> None:
        """Take the lock, or raise `AlreadyRunningError` naming the process that has it."""
        handle = _open(self.path)
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = _read_holder(handle)
            handle.close()
            raise _refusal(holder, self.db_path) from None
        since = datetime.now(UTC).strftime("%Y-%m-%d %H:%M:%S UTC")
        handle.seek(0)
        handle.truncate()
        handle.write(json.dumps({"pid": os.getpid(), "host": socket.gethostname(), "since": since}))
        handle.flush()
        self._file = handle

    def release(self) -> None:
        if self._file is None:
            return
        with contextlib.suppress(OSError):
            self._file.seek(0)
            self._file.truncate()
        fcntl.flock(self._file, fcntl.LOCK_UN)
        self._file.close()
        self._file = None


def running_holder(db_path: Path) -> Holder | None:
    """The process running the scheduler of ``db_path`` now, or None if none does."""
    path = lock_path(db_path)
    if not path.exists():
        return None
    with _open(path) as handle:
        try:
            fcntl.flock(handle, fcntl.LOCK_SH | fcntl.LOCK_NB)
        except BlockingIOError:
            return _read_holder(handle)
        fcntl.flock(handle, fcntl.LOCK_UN)
    return None


def _open(path: Path) -> IO[str]:
    try:
        return path.open("a+", encoding="utf-8")
    except OSError as exc:
        raise ConfigError(
            f"cannot use the scheduler's lock file {path} ({exc.strerror or exc}): it must be a "
            "file Herald may write, beside the database"
        ) from None


def refuse_if_running(db_path: Path) -> None:
    """Raise `AlreadyRunningError` if a server runs the scheduler of ``db_path`` now."""
    holder = running_holder(db_path)
    if holder is not None:
        raise _refusal(holder, db_path)


def _refusal(holder: Holder, db_path: Path) -> AlreadyRunningError:
    return AlreadyRunningError(
        f"{holder.describe()} already runs the scheduler of {db_path}: one database takes "
        "one herald serve, or every scheduled message would go out twice. Stop that one "
        "first, or give this one a database of its own (HERALD_DB or [storage] path)."
    )


def _read_holder(handle: IO[str]) -> Holder:
    handle.seek(0)
    try:
        found = json.loads(handle.read() or "{}")
    except ValueError:
        found = {}
    if not isinstance(found, dict):
        found = {}
    pid, host, since = found.get("pid"), found.get("host"), found.get("since")
    return Holder(
        pid if isinstance(pid, int) else None,
        host if isinstance(host, str) else None,
        since if isinstance(since, str) else None,
    )
