"""Restarts and shutdown of the core: heartbeats decide who owns unfinished work,
recovery takes over a dead process's work (at start and while serving), shutdown
waits for every piece of background work, and sandbox receipts survive a restart."""

from __future__ import annotations

import asyncio
import os
import socket
import sqlite3
import time
from datetime import datetime, timedelta
from functools import partial
from pathlib import Path

import pytest

from bot.config.settings import Settings
from bot.delivery.background import Background
from bot.models import Message, MessageStatus
from bot.sending.requests import SendRequest
from bot.services import INTERRUPTED_REASON, Herald
from bot.storage.processes import FORGET_AFTER, STALE_AFTER
from bot.storage.store import Store
from providers import OutboundMessage, sandbox
from tests.conftest import settings_for
from tests.waiting import until

DEADLINE = 5.0


def _request(*recipients: str) -> SendRequest:
    return SendRequest("sandbox", list(recipients or ["+31612345678"]), "Hi", "cli:t", "cli")


def _sql(settings: Settings, sql: str, args: tuple[object, ...] = ()) -> list[tuple[object, ...]]:
    with sqlite3.connect(settings.db_path) as db:
        return db.execute(sql, args).fetchall()


def _heartbeat(settings: Settings, token: str, *, host: str, pid: int, last_seen: float) -> None:
    """A row as another process (or a dead one) would have left it."""
    _sql(
        settings,
        "INSERT OR REPLACE INTO processes (token, host, pid, started_at, last_seen) "
        "VALUES (?, ?, ?, ?, ?)",
        (token, host, pid, last_seen - 60, last_seen),
    )


async def _slow_work(seconds: float = 0.05) -> None:
    """Work that takes a while (a Slack call, say): done when a timer fires."""
    done = asyncio.Event()
    asyncio.get_running_loop().call_later(seconds, done.set)
    await done.wait()


_until = partial(until, timeout=DEADLINE)


def test_start_takes_over_a_dead_process_work_whatever_its_host_or_pid(tmp_path: Path) -> None:
    settings = settings_for(tmp_path)
    now = time.time()

    async def scenario() -> list[MessageStatus]:
        first = Herald(settings)
        await first.start()
        messages = await first.submit(
            _request("+31612345678", "+31612345679", "+31612345670", "+31612345671")
        )
        for message in (messages[1], messages[3]):  # handed over when the owner stopped
            await first.db.set_status(message.id, MessageStatus.SENDING, source="herald")
        # a `herald send` in another container: another host name, heartbeat fresh
        _heartbeat(settings, "alive", host="other-container", pid=7, last_seen=now - 5)
        # the server before a container restart: its host name is gone for good
        _heartbeat(settings, "renamed", host="3f2a9c1b7d10", pid=1, last_seen=now - 90)
        # same host, and its PID is running again (this very process): reused, not alive
        _heartbeat(
            settings, "reused", host=socket.gethostname(), pid=os.getpid(), last_seen=now - 90
        )
        owners = ("alive", "alive", "renamed", "reused")
        for message, owner in zip(messages, owners, strict=True):
            await first.db.update(message.id, owner=owner)
        await first.stop()

        server = Herald(settings)
        await server.start(serve=True)
        try:
            await server.background.drain(DEADLINE)
            return [server.db.get(m.id).status for m in messages]  # type: ignore[union-attr]
        finally:
            await server.stop()

    statuses = asyncio.run(scenario())

    assert statuses == [
        MessageStatus.QUEUED,  # left to its live owner
        MessageStatus.SENDING,
        MessageStatus.ACCEPTED,  # sent by the server
        MessageStatus.FAILED,  # may or may not have gone out: never sent twice
    ]
    store = Store(settings.db_path)
    assert store.with_status(MessageStatus.FAILED)[0].error == INTERRUPTED_REASON
    store.close()


def test_serve_takes_over_work_of_a_process_that_dies_while_it_runs(tmp_path: Path) -> None:
    settings = settings_for(tmp_path)
    clock = [time.time()]

    async def scenario() -> tuple[MessageStatus, MessageStatus, MessageStatus]:
        server = Herald(settings)
        server.heartbeat.clock = lambda: clock[0]
        server.recover_every = 0.01
        await server.start(serve=True)
        try:
            _heartbeat(settings, "cli", host="other-container", pid=7, last_seen=clock[0])
            queued, sending = await server.submit(_request("+31612345678", "+31612345679"))
            await server.db.set_status(sending.id, MessageStatus.SENDING, source="herald")
            for message in (queued, sending):
                await server.db.update(message.id, owner="cli")
            await server._recover()
            while_alive = server.db.get(queued.id).status  # type: ignore[union-attr]

            clock[0] += STALE_AFTER + 1  # the CLI was killed: its heartbeat goes stale

            def taken_over() -> bool:
                statuses = {server.db.get(m.id).status for m in (queued, sending)}  # type: ignore[union-attr]
                return statuses == {MessageStatus.ACCEPTED, MessageStatus.FAILED}

            await _until(taken_over, "a recovery pass took the dead CLI's work")
            return (
                while_alive,
                server.db.get(queued.id).status,  # type: ignore[union-attr]
                server.db.get(sending.id).status,  # type: ignore[union-attr]
            )
        finally:
            await server.stop()

    assert asyncio.run(scenario()) == (
        MessageStatus.QUEUED,
        MessageStatus.ACCEPTED,
        MessageStatus.FAILED,
    )


def test_a_process_owns_its_messages_through_a_heartbeat_row_it_removes_on_stop(
    tmp_path: Path,
) -> None:
    settings = settings_for(tmp_path)
    clock = [1_000_000.0]
    _sql(settings, "SELECT 1")  # creates the file; the table comes with the first Store
    Store(settings.db_path).close()
    _heartbeat(settings, "long-dead", host="h", pid=1, last_seen=clock[0] - FORGET_AFTER - 1)

    async def scenario() -> tuple[list[tuple[object, ...]], ...]:
        herald = Herald(settings)  # as `herald send` runs it
        herald.heartbeat.clock = lambda: clock[0]
        await herald.start()
        try:
            (message,) = await herald.submit(_request())
            owner = _sql(settings, "SELECT owner FROM messages WHERE id = ?", (message.id,))
            at_start = _sql(settings, "SELECT token, host, pid, last_seen FROM processes")
            clock[0] += 5
            herald.heartbeat.beat()
            after_beat = _sql(settings, "SELECT token, last_seen FROM processes")
        finally:
            await herald.stop()
        return owner, at_start, after_beat, _sql(settings, "SELECT token FROM processes")

    owner, at_start, after_beat, after_stop = asyncio.run(scenario())

    ((token,),) = owner
    assert (token, socket.gethostname(), os.getpid(), 1_000_000.0) in at_start
    assert after_beat == [(token, 1_000_005.0)]  # refreshed; the long-dead row is forgotten
    assert after_stop == []


def test_drain_awaits_work_spawned_while_it_drains() -> None:
    async def scenario() -> tuple[list[str], int]:
        background = Background()
        done: list[str] = []

        async def announce() -> None:
            await _slow_work()
            done.append("announce")

        async def send() -> None:
            # a send that finishes during the drain and leaves its announcement behind
            background.spawn(announce(), name="announce")
            done.append("send")

        background.spawn(send(), name="send")
        await background.drain(DEADLINE)
        return done, len(background)

    assert asyncio.run(scenario()) == (["send", "announce"], 0)


def test_drain_cancels_what_outlives_the_deadline_and_what_it_spawns_on_the_way_out() -> None:
    async def scenario() -> tuple[list[str], int]:
        background = Background()
        cancelled: list[str] = []

        async def forever(name: str, respawn: bool) -> None:
            try:
                await asyncio.Event().wait()
            except asyncio.CancelledError:
                cancelled.append(name)
                if respawn:
                    background.spawn(forever("spawned on the way out", False), name="late")
                raise

        background.spawn(forever("stuck", True), name="stuck")
        await background.drain(0.05)
        return cancelled, len(background)

    assert asyncio.run(scenario()) == (["stuck", "spawned on the way out"], 0)


def test_stop_lets_work_spawned_during_shutdown_finish_before_the_store_closes(
    tmp_path: Path,
) -> None:
    settings = settings_for(tmp_path)

    async def scenario() -> Message:
        herald = Herald(settings)
        await herald.start()
        (message,) = await herald.submit(_request())

        async def record() -> None:  # e.g. the announcement a finishing send spawns
            await _slow_work()
            await herald.db.audit("cli:t", "late-write", message, {})

        async def finishing() -> None:
            herald.background.spawn(record(), name="late-write")

        herald.background.spawn(finishing(), name="finishing")
        await herald.stop()
        return message

    message = asyncio.run(scenario())

    store = Store(settings.db_path)
    assert [row["action"] for row in store.audit_trail(message.id)] == ["send", "late-write"]
    store.close()


SLOW_SANDBOX = """
[connections.sandbox]
provider = "sandbox"
channel = "sms"
sent_after = 5
delivered_after = 30
"""


def test_sandbox_receipts_resume_after_a_restart_from_the_stored_acceptance(
    tmp_path: Path,
) -> None:
    settings = settings_for(tmp_path, body=SLOW_SANDBOX)
    recipients = ("+31612345678", "+31612340013", "+31612345679")

    async def first_run() -> list[Message]:
        herald = Herald(settings)
        await herald.start()
        try:
            return await herald.send_now(_request(*recipients))
        finally:
            await herald.stop()  # the timers die with the process

    async def second_run(messages: list[Message]) -> dict[str, list[tuple[str, datetime]]]:
        server = Herald(settings)
        await server.start(serve=True)
        try:

            def arrived() -> bool:
                now = [server.db.get(m.id).status for m in messages]  # type: ignore[union-attr]
                return now == [MessageStatus.DELIVERED, MessageStatus.FAILED, MessageStatus.SENT]

            await _until(arrived, "the receipts due while Herald was down")
            return {
                m.id: [(e.status.value, e.at) for e in server.db.history(m.id)] for m in messages
            }
        finally:
            await server.stop()

    messages = asyncio.run(first_run())
    assert {m.status for m in messages} == {MessageStatus.ACCEPTED}
    # Herald was down a while: 40 s after the first two were accepted, 10 s after the third
    accepted_at = datetime.fromisoformat(
        str(_sql(settings, "SELECT at FROM status_events WHERE status = 'accepted'")[0][0])
    )
    for message, down in zip(messages, (40, 40, 10), strict=True):
        _sql(
            settings,
            "UPDATE status_events SET at = ? WHERE message_id = ? AND status = 'accepted'",
            ((accepted_at - timedelta(seconds=down)).isoformat(), message.id),
        )

    histories = asyncio.run(second_run(messages))

    delivered, failed, sent = (histories[m.id] for m in messages)
    start = accepted_at - timedelta(seconds=40)
    assert delivered[-2:] == [
        ("sent", start + timedelta(seconds=5)),  # stamped when each was due
        ("delivered", start + timedelta(seconds=30)),
    ]
    assert [s for s, _ in failed[-2:]] == ["sent", "failed"]
    assert [s for s, _ in sent] == ["queued", "sending", "accepted", "sent"]


def test_the_sandbox_keeps_only_its_latest_messages(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(sandbox, "OUTBOX_LIMIT", 3)

    async def scenario() -> list[str]:
        herald = Herald(settings_for(tmp_path))
        await herald.start()
        try:
            provider = herald.providers["sandbox"]
            assert isinstance(provider, sandbox.SandboxProvider)
            for n in range(5):
                await provider.send(OutboundMessage(f"m{n}", provider.config.channel, "+316", "x"))
            return [m.reference for m in provider.outbox]
        finally:
            await herald.stop()

    assert asyncio.run(scenario()) == ["m2", "m3", "m4"]
