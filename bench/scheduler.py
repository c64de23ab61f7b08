"""The scheduler under load: many messages due in the same second, many schedules pending.

1. ``DUE`` messages (default 10,000) to the sandbox, all due in the same second, each a
   send of its own (one timer each). They are scheduled through a running ``herald
   serve`` as ``herald send --at`` would (stored by another process, picked up by the
   server's timer). Prints the seconds from the due time to the last hand-over (target
   < 15 s on 2 cores), and checks each went out exactly once.
2. ``PENDING`` scheduled sends (default 100,000) with their timers already stored (a
   server that ran before). Prints the seconds from starting ``herald serve`` to a 200
   from ``/healthz`` (target < 5 s), and the process's peak RSS.

Run: ``make bench`` (or ``python bench/scheduler.py``; ``BENCH_DUE``, ``BENCH_PENDING``).
"""

from __future__ import annotations

import asyncio
import os
import pickle
import sqlite3
import subprocess
import sys
import tempfile
import time
from contextlib import closing
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.processes import free_port, herald_env, start_fake_slack
from bot.config.settings import load_settings
from bot.models import MessageStatus, Send, new_message_id
from bot.scheduling.timer import JOB_TABLE, create_scheduler, fire
from bot.sending.requests import SendRequest, build_messages
from bot.services import Herald
from bot.storage.rows import MESSAGES, SENDS, iso
from bot.storage.store import Store

DUE = int(os.environ.get("BENCH_DUE", "10000"))
PENDING = int(os.environ.get("BENCH_PENDING", "100000"))
QUIET_SANDBOX = """
[storage]
path = "herald.db"
[connections.sandbox]
provider = "sandbox"
channel = "sms"
sent_after = 3600
delivered_after = 3600
"""


def serve(env: dict[str, str], port: int) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-m", "bot", "serve", "--host", "127.0.0.1", "--port", str(port)],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        text=True,
    )


def wait_healthy(url: str, proc: subprocess.Popen[str], timeout: float = 120) -> float:
    """Seconds until ``/healthz`` answers 200."""
    start = time.monotonic()
    while time.monotonic() - start < timeout:
        assert proc.poll() is None, "herald serve exited"
        try:
            if httpx.get(f"{url}/healthz", timeout=1).status_code == 200:
                return time.monotonic() - start
        except httpx.TransportError:
            pass
        time.sleep(0.01)  # a benchmark's poll, not a test's
    raise RuntimeError("herald serve did not become healthy")


def peak_rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def stop(proc: subprocess.Popen[str]) -> None:
    proc.terminate()
    try:
        proc.wait(timeout=30)
    except subprocess.TimeoutExpired:
        proc.kill()


def env_for(workdir: Path, api_url: str) -> dict[str, str]:
    env = herald_env(api_url, workdir)
    (workdir / "herald.toml").write_text(QUIET_SANDBOX)
    return {**env, "HERALD_DB": str(workdir / "herald.db")}


async def schedule_many(env: dict[str, str], count: int, due: datetime) -> None:
    """``count`` one-recipient sends due at ``due``, stored as ``herald send --at`` does."""
    settings = load_settings(env)
    herald = Herald(settings)
    await herald.start()
    try:
        for index in range(count):
            await herald.schedule(
                SendRequest(
                    "sandbox",
                    [f"+3162{index:06d}1"],
                    "The doors open at nine",
                    sender="cli:bench",
                    origin="cli",
                    at=due.isoformat(),
                )
            )
    finally:
        await herald.stop()


def due_in_the_same_second(api_url: str) -> None:
    with tempfile.TemporaryDirectory() as folder:
        workdir = Path(folder)
        env = env_for(workdir, api_url)
        port = free_port()
        proc = serve(env, port)
        try:
            wait_healthy(f"http://127.0.0.1:{port}", proc)
            lead = max(20.0, DUE / 700)  # time to store them all before they fall due
            due = (datetime.now(UTC) + timedelta(seconds=lead)).replace(microsecond=0)
            began = time.monotonic()
            asyncio.run(schedule_many(env, DUE, due))
            stored = time.monotonic() - began
            print(f"  stored {DUE:,} scheduled sends in {stored:.1f} s; due {due:%H:%M:%S} UTC")
            db_path = workdir / "herald.db"
            deadline = time.monotonic() + lead + 300
            handed = 0
            while time.monotonic() < deadline:
                with closing(sqlite3.connect(db_path)) as db:
                    (handed,) = db.execute(
                        "SELECT COUNT(*) FROM messages WHERE status = 'accepted'"
                    ).fetchone()
                if handed >= DUE:
                    break
                time.sleep(0.25)
            with closing(sqlite3.connect(db_path)) as db:
                (last,) = db.execute(
                    "SELECT MAX(at) FROM status_events WHERE status = 'accepted'"
                ).fetchone()
                (first,) = db.execute(
                    "SELECT MIN(at) FROM status_events WHERE status = 'sending'"
                ).fetchone()
                (sends,) = db.execute(
                    "SELECT COUNT(*) FROM status_events WHERE status = 'sending'"
                ).fetchone()
            took = (datetime.fromisoformat(last) - due).total_seconds()
            start_lag = (datetime.fromisoformat(first) - due).total_seconds()
            print(
                f"  {handed:,} of {DUE:,} handed over, {sends:,} hand-overs (once each: "
                f"{'yes' if sends == DUE == handed else 'NO'})"
            )
            print(
                f"  due → first hand-over {start_lag:.2f} s, due → last hand-over "
                f"{took:.2f} s (target < 15 s)"
            )
        finally:
            stop(proc)


def fill_pending(workdir: Path, env: dict[str, str], count: int) -> None:
    """``count`` scheduled sends due tomorrow and their stored timers, written in bulk."""
    settings = load_settings(env)
    Store(settings.db_path).close()  # the schema
    due = (datetime.now(UTC) + timedelta(days=1)).replace(microsecond=0)
    (template,) = build_messages(
        SendRequest("sandbox", ["+31612345678"], "Tomorrow", sender="cli:bench", origin="cli"),
        settings,
        None,  # type: ignore[arg-type]  # no template is rendered
    )
    sends, messages = [], []
    for index in range(count):
        send_id, message_id = new_message_id(), new_message_id()
        when = due + timedelta(seconds=index % 3600)
        sends.append(
            Send(
                id=send_id,
                sender="cli:bench",
                origin="cli",
                connection="sandbox",
                created_at=template.created_at,
                text="Tomorrow",
                due_at=when,
                timezone="UTC",
            )
        )
        messages.append(
            replace(
                template,
                id=message_id,
                recipient=f"+3162{index:06d}1",
                status=MessageStatus.SCHEDULED,
                due_at=when,
                send_id=send_id,
            )
        )
    state = asyncio.run(_job_state(settings.db_path, due))
    with closing(sqlite3.connect(settings.db_path)) as db, db:
        db.executemany(SENDS.insert, [SENDS.to_row(s) for s in sends])
        db.executemany(MESSAGES.insert, [MESSAGES.to_row(m) for m in messages])
        db.executemany(
            f"INSERT INTO {JOB_TABLE} (id, next_run_time, job_state) VALUES (?, ?, ?)",  # noqa: S608
            [
                (
                    send.id,
                    send.due_at.timestamp() if send.due_at else None,
                    pickle.dumps(
                        {
                            **state,
                            "id": send.id,
                            "args": (send.id,),
                            "next_run_time": send.due_at,
                            "trigger": _date_trigger(send.due_at),
                        },
                        pickle.HIGHEST_PROTOCOL,
                    ),
                )
                for send in sends
            ],
        )
    _ = iso  # the store's time format is what `Send` rows hold


async def _job_state(db_path: Path, due: datetime) -> dict[str, object]:
    """One job as APScheduler stores it, to copy for every send."""
    scheduler = create_scheduler(db_path)
    scheduler.start(paused=True)
    job = scheduler.add_job(fire, "date", run_date=due, args=["x"], id="x")
    state: dict[str, object] = job.__getstate__()
    scheduler.remove_job("x")
    scheduler.shutdown(wait=False)
    return state


def _date_trigger(when: datetime | None) -> object:
    from apscheduler.triggers.date import DateTrigger

    return DateTrigger(run_date=when, timezone=UTC)


def start_with_pending(api_url: str) -> None:
    with tempfile.TemporaryDirectory() as folder:
        workdir = Path(folder)
        env = env_for(workdir, api_url)
        began = time.monotonic()
        fill_pending(workdir, env, PENDING)
        print(f"  wrote {PENDING:,} pending sends and timers in {time.monotonic() - began:.1f} s")
        port = free_port()
        proc = serve(env, port)
        try:
            took = wait_healthy(f"http://127.0.0.1:{port}", proc)
            health = httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=5).json()
            print(
                f"  process start → /healthz OK: {took:.2f} s (target < 5 s); pending jobs "
                f"{health.get('pending_jobs'):,}; peak RSS {peak_rss_mb(proc.pid):.0f} MB"
            )
        finally:
            stop(proc)


def main() -> None:
    fake, api_url = start_fake_slack()
    try:
        print(f"{DUE:,} messages due in the same second (sandbox):")
        due_in_the_same_second(api_url)
        print(f"{PENDING:,} pending scheduled sends:")
        start_with_pending(api_url)
    finally:
        fake.terminate()


if __name__ == "__main__":
    main()
