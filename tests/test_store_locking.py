"""Another process holding the database's write lock never holds up Slack's answer."""

from __future__ import annotations

import asyncio
import inspect
import sqlite3
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from bot.delivery.background import Background
from bot.errors import StoreBusyError
from bot.models import MessageStatus
from bot.sending.requests import SendRequest
from bot.services import Herald
from bot.storage.store import Store
from tests.conftest import RunningHerald, settings_for


class HeldLock:
    """What a ``herald send`` in another process does: hold the write lock."""

    def __init__(self, path: Path) -> None:
        self.conn = sqlite3.connect(path, isolation_level=None, check_same_thread=False)

    def __enter__(self) -> HeldLock:
        self.conn.execute("BEGIN IMMEDIATE")
        return self

    def release(self) -> None:
        if self.conn.in_transaction:
            self.conn.execute("COMMIT")

    def __exit__(self, *exc: object) -> None:
        self.release()
        self.conn.close()


def _count(path: Path) -> int:
    with sqlite3.connect(path) as db:
        return int(db.execute("SELECT count(*) FROM messages").fetchone()[0])


@pytest.fixture
def lock(running: RunningHerald) -> Iterator[HeldLock]:
    with HeldLock(running.settings.db_path) as held:
        yield held


def test_a_send_that_cannot_get_the_lock_is_refused_and_nothing_is_stored(
    running: RunningHerald, lock: HeldLock
) -> None:
    answer = running.slash("sandbox +31612345678 Hello")

    assert answer.status_code == 200
    assert answer.json()["response_type"] == "ephemeral"
    assert "busy" in answer.json()["text"] and "nothing was stored or sent" in answer.json()["text"]
    lock.release()
    assert _count(running.settings.db_path) == 0
    assert running.slack.calls_to("chat.postMessage") == []


def test_the_server_answers_while_another_process_holds_the_lock(
    running: RunningHerald, lock: HeldLock
) -> None:
    # Before, the waiting write ran on the event loop: nothing else was answered for 30 s.
    answers: list[int] = []
    sending = threading.Thread(
        target=lambda: answers.append(running.slash("sandbox +31612345678 Hello").status_code)
    )
    sending.start()
    try:
        health = running.http.get("/healthz", timeout=1.5)
        help_answer = running.slash("help")
    finally:
        lock.release()
        sending.join(timeout=10)

    assert health.status_code == 200
    assert help_answer.status_code == 200 and "ephemeral" in help_answer.text
    assert answers == [200]


def test_a_send_waits_for_a_lock_released_in_time(running: RunningHerald, lock: HeldLock) -> None:
    answers: list[bytes] = []
    sending = threading.Thread(
        target=lambda: answers.append(running.slash("sandbox +31612345678 Hello").content)
    )
    sending.start()
    running.http.get("/healthz")  # the send is waiting for the lock by now, or soon
    lock.release()
    sending.join(timeout=10)

    assert answers == [b""]  # acknowledged: stored
    assert _count(running.settings.db_path) == 1


def test_a_write_past_its_lock_wait_writes_nothing(tmp_path: Path) -> None:
    store = Store(tmp_path / "h.db")

    async def scenario() -> None:
        with HeldLock(tmp_path / "h.db"), pytest.raises(StoreBusyError):
            await store.write(lambda tx: tx.claim_request("k1"), lock_wait=0.05)
        assert not store.request_seen("k1")
        assert await store.write(lambda tx: tx.claim_request("k1"), lock_wait=0.05)

    asyncio.run(scenario())
    store.close()


def test_a_write_queued_behind_a_long_wait_gives_up_at_its_own_deadline(
    tmp_path: Path,
) -> None:
    """A write with a short lock_wait (Slack's answer) queued on the writer thread behind
    one waiting out a long lock_wait is refused while the lock is still held, and never
    runs afterwards; the long one still writes once the lock is free."""
    store = Store(tmp_path / "h.db")

    async def scenario() -> None:
        with HeldLock(tmp_path / "h.db") as held:
            patient = asyncio.ensure_future(
                store.write(lambda tx: tx.claim_request("patient"), lock_wait=30)
            )
            await asyncio.sleep(0)  # let it reach the writer thread first
            with pytest.raises(StoreBusyError):
                await store.write(lambda tx: tx.claim_request("hurried"), lock_wait=0.1)
            assert held.conn.in_transaction  # refused while the lock was still held
        assert await patient
        assert store.request_seen("patient") and not store.request_seen("hurried")

    asyncio.run(scenario())
    store.close()


def test_a_receipt_between_a_check_and_a_write_is_never_overwritten(tmp_path: Path) -> None:
    """The check that a message was not accepted yet and the write it decides are one
    transaction: a receipt that lands in between wins, and nothing is sent."""

    async def scenario() -> MessageStatus:
        herald = Herald(settings_for(tmp_path))
        await herald.start()
        try:
            (message,) = await herald.submit(
                SendRequest("sandbox", ["+31612345678"], "Hi", sender="cli:t", origin="cli")
            )
            # the receipt lands first; the send's 'sending' write comes after its check
            await herald.db.set_status(message.id, MessageStatus.DELIVERED, source="sandbox")
            gone = await herald.delivery._sending(message, attempt=1)
            assert gone is not None
            return herald.db.get(message.id).status  # type: ignore[union-attr]
        finally:
            await herald.stop()

    assert asyncio.run(scenario()) is MessageStatus.DELIVERED


# -- work that can wait, waits for the people who are waiting ------------------


def test_deferred_work_starts_once_no_request_is_open() -> None:
    async def scenario() -> list[str]:
        background = Background(max_defer=30)
        order: list[str] = []

        async def work() -> None:
            order.append("work")

        with background.request():
            task = background.spawn(work(), name="w", defer=True)
            for _ in range(5):
                await asyncio.sleep(0)  # let the loop run: the work must not start
            order.append("answered")
        await task
        return order

    assert asyncio.run(scenario()) == ["answered", "work"]


def test_deferred_work_is_not_starved_by_a_stream_of_requests() -> None:
    async def scenario() -> bool:
        background = Background(max_defer=0.01)
        done = asyncio.Event()

        async def work() -> None:
            done.set()

        with background.request():
            background.spawn(work(), name="w", defer=True)
            await asyncio.wait_for(done.wait(), timeout=5)
        return done.is_set()

    assert asyncio.run(scenario())


def test_deferred_work_cancelled_before_it_starts_is_closed() -> None:
    async def scenario() -> tuple[bool, str]:
        background = Background(max_defer=30)

        async def work() -> None:
            raise AssertionError("never runs")

        coroutine = work()
        with background.request():
            task = background.spawn(coroutine, name="w", defer=True)
            await background.drain(0)
        return task.cancelled(), inspect.getcoroutinestate(coroutine)

    cancelled, state = asyncio.run(scenario())

    # closed, not left to be collected unawaited (a RuntimeWarning, an error here)
    assert cancelled and state == inspect.CORO_CLOSED
