"""Delivery for many: bounded concurrency per connection under its rate limit, streaming
(work in memory does not grow with the recipients), storage writes committed in groups,
announcements that never hold up the hand-over, Capillary's batch request in chunks, and
a crash mid-send that resumes with the unsent part only."""

from __future__ import annotations

import asyncio
import json
import os
import sqlite3
import subprocess
import sys
import threading
import time
from collections import Counter
from collections.abc import Awaitable, Callable, Iterator
from contextlib import contextmanager
from dataclasses import replace
from functools import partial
from pathlib import Path
from typing import Any

import httpx
import pytest

from bot.config.settings import Settings
from bot.errors import ConfigError
from bot.models import Message, MessageStatus, Send, new_message_id
from bot.sending.requests import SendRequest, build_messages
from bot.services import INTERRUPTED_REASON, Herald
from bot.storage.store import Store
from bot.templating.library import TemplateLibrary
from providers.capillary import BATCH_SIZE
from tests.conftest import settings_for, write_config
from tests.fakes.bird_api import CASE as BIRD
from tests.fakes.bird_api import BirdFake
from tests.fakes.capillary_api import CASE as CAPILLARY
from tests.fakes.capillary_api import CapillaryFake
from tests.fakes.provider_fake import ProviderFake, Recorded, Reply
from tests.fakes.slack_api import BOT_TOKEN, FakeSlack
from tests.slack_signing import SIGNING_SECRET
from tests.waiting import until

DEADLINE = 10.0


# -- the rig: Herald in this process, its provider's HTTP answered by a fake --------------


def _connection(name: str, provider: str, fake: ProviderFake, options: dict[str, Any]) -> str:
    keys = {"provider": provider, "channel": "sms", "base_url": fake.base_url, **options}
    return f"[connections.{name}]\n" + "".join(f"{k} = {json.dumps(v)}\n" for k, v in keys.items())


def _bird_settings(tmp_path: Path, bird: BirdFake, **keys: Any) -> Settings:
    return settings_for(tmp_path, body=_connection("bird", "bird", bird, BIRD.options(bird) | keys))


class InFlight:
    """A transport that answers as ``fake`` does, each request after a few turns of the
    event loop (so the requests a sender lets overlap do), counting what is in flight."""

    def __init__(self, fake: ProviderFake, *, turns: int = 3) -> None:
        self.inner = fake.transport()
        self.turns = turns
        self.now = 0
        self.most = 0
        self.most_tasks = 0
        self.started: list[float] = []  # time.monotonic() of each request

    async def handle(self, request: httpx.Request) -> httpx.Response:
        self.started.append(time.monotonic())
        self.now += 1
        self.most = max(self.most, self.now)
        self.most_tasks = max(self.most_tasks, len(asyncio.all_tasks()))
        try:
            for _ in range(self.turns):
                await asyncio.sleep(0)  # the provider takes its time: a turn of the loop
            return await self.inner.handle_async_request(request)
        finally:
            self.now -= 1

    def transport(self) -> httpx.MockTransport:
        return httpx.MockTransport(self.handle)


def _numbers(count: int, prefix: str = "+3161") -> list[str]:
    return [f"{prefix}{index:07d}" for index in range(count)]


async def _store_send(herald: Herald, connection: str, recipients: list[str]) -> list[Message]:
    """A send to ``recipients`` stored as `Herald.submit` stores one (one transaction),
    without its cap on recipients (a send to many is stored through the core)."""
    request = SendRequest(connection, recipients[:1], "Your order ships today", "cli:t", "cli")
    (first,) = build_messages(request, herald.settings, herald.templates)
    messages = [replace(first, id=new_message_id(), recipient=to) for to in recipients]
    send = Send(
        id=new_message_id(),
        sender="cli:t",
        origin="cli",
        connection=connection,
        created_at=first.created_at,
        text=first.text,
    )
    _send, stored = await herald.db.add_send(send, messages, actor="cli:t", action="send")
    return stored


def _run(
    settings: Settings,
    transport: httpx.AsyncBaseTransport,
    scenario: Callable[[Herald], Awaitable[Any]],
    announcer: Any = None,
) -> Any:
    async def main() -> Any:
        herald = Herald(settings, announcer, transport=transport)
        await herald.start()
        try:
            return await scenario(herald)
        finally:
            await herald.stop()

    return asyncio.run(main())


def _posted_to(fake: ProviderFake) -> Counter[str]:
    """How many send requests each recipient got."""
    return Counter(
        r.json()["receiver"]["contacts"][0]["identifierValue"]
        for r in fake.requests
        if r.method == "POST"
    )


_until = partial(until, timeout=DEADLINE)


# -- concurrency, rate, once ---------------------------------------------------------------


def test_requests_in_flight_never_exceed_the_connections_limit_across_sends(
    tmp_path: Path,
) -> None:
    with BirdFake() as bird:
        wire = InFlight(bird)

        async def scenario(herald: Herald) -> list[Message]:
            first = await _store_send(herald, "bird", _numbers(150))
            second = await _store_send(herald, "bird", _numbers(150, "+3162"))
            done = await asyncio.gather(herald.dispatch(first), herald.dispatch(second))
            return done[0] + done[1]

        sent = _run(_bird_settings(tmp_path, bird, max_concurrency=3), wire.transport(), scenario)

    assert wire.most == 3  # used to the full, and two sends together do not double it
    assert {m.status for m in sent} == {MessageStatus.ACCEPTED}
    assert len(_posted_to(bird)) == 300


def test_five_hundred_messages_are_each_handed_over_once_in_few_transactions(
    tmp_path: Path,
) -> None:
    with BirdFake() as bird:
        wire = InFlight(bird)
        transactions: list[str] = []

        async def scenario(herald: Herald) -> list[Message]:
            messages = await _store_send(herald, "bird", _numbers(500))
            writing = herald.db._writing_db().conn  # this thread's: the lock is never busy here
            writing.set_trace_callback(
                lambda sql: transactions.append(sql) if sql.startswith("BEGIN") else None
            )
            try:
                return await herald.dispatch(messages)
            finally:
                writing.set_trace_callback(None)

        settings = _bird_settings(tmp_path, bird)
        sent = _run(settings, wire.transport(), scenario)

    assert set(_posted_to(bird).values()) == {1} and len(_posted_to(bird)) == 500
    assert {m.status for m in sent} == {MessageStatus.ACCEPTED}
    store = Store(settings.db_path)
    histories = [[e.status for e in store.history(m.id)] for m in sent[::50]]
    store.close()
    assert histories == [[MessageStatus.QUEUED, MessageStatus.SENDING, MessageStatus.ACCEPTED]] * 10
    # a "sending" mark and an acceptance each: 1,000 writes; a mark commits the outcomes
    # queued before it, so about one transaction per message (there were two or three)
    assert len(transactions) <= 500 + 8


def test_the_rate_limit_holds_with_requests_in_flight_together(tmp_path: Path) -> None:
    rate = 40
    with BirdFake() as bird:
        wire = InFlight(bird, turns=50)

        async def scenario(herald: Herald) -> list[Message]:
            return await herald.dispatch(await _store_send(herald, "bird", _numbers(100)))

        settings = _bird_settings(tmp_path, bird, max_per_second=rate, max_concurrency=8)
        _run(settings, wire.transport(), scenario)

    starts = sorted(wire.started)
    assert len(starts) == 100
    # no second holds more than `rate` starts (a few ms allowed between the limiter and
    # the request reaching the transport)
    crowded = [
        starts[i : i + rate + 1]
        for i in range(len(starts) - rate)
        if starts[i + rate] - starts[i] < 1.0 - 0.02
    ]
    assert crowded == []
    assert wire.most > 1  # still several at once within the rate


# -- streaming: what runs at once does not grow with the recipients ----------------------


def test_tasks_stay_bounded_during_a_two_thousand_message_send(tmp_path: Path) -> None:
    most: dict[int, int] = {}
    for count in (200, 2000):
        with BirdFake() as bird:
            wire = InFlight(bird)

            async def scenario(herald: Herald, count: int = count) -> None:
                await herald.dispatch(await _store_send(herald, "bird", _numbers(count)))

            directory = tmp_path / str(count)
            directory.mkdir()
            _run(_bird_settings(directory, bird), wire.transport(), scenario)
            assert len(bird.requests) == count
            most[count] = wire.most_tasks

    assert most[2000] <= 8 + 4 + 4  # workers, announcers, a few of Herald's own
    assert most[2000] <= most[200] + 2  # flat in the number of recipients


# -- announcing never holds up the hand-over ------------------------------------------------


class StuckAnnouncer:
    """An announcer (a slow Slack) that shows nothing until it is released."""

    def __init__(self) -> None:
        self.released = asyncio.Event()
        self.shown: list[tuple[str, MessageStatus]] = []

    async def message_changed(self, message: Message) -> None:
        await self.released.wait()
        self.shown.append((message.id, message.status))

    def unannounced(self) -> list[Message]:
        return []


def test_a_stuck_announcer_does_not_hold_up_the_hand_over(tmp_path: Path) -> None:
    announcer = StuckAnnouncer()
    with BirdFake() as bird:
        wire = InFlight(bird)

        async def scenario(herald: Herald) -> tuple[int, list[Message]]:
            messages = await _store_send(herald, "bird", _numbers(100))
            dispatch = asyncio.ensure_future(herald.dispatch(messages))
            await _until(
                lambda: len(herald.db.with_status(MessageStatus.ACCEPTED)) == 100,
                "every message accepted while nothing could be announced",
            )
            shown_meanwhile = len(announcer.shown)
            assert not dispatch.done()  # it returns once they are announced too
            announcer.released.set()
            return shown_meanwhile, await dispatch

        shown_meanwhile, sent = _run(
            _bird_settings(tmp_path, bird), wire.transport(), scenario, announcer
        )

    assert shown_meanwhile == 0
    assert sorted(announcer.shown) == sorted((m.id, MessageStatus.ACCEPTED) for m in sent)


# -- Capillary: its batch request, in chunks, one result per recipient ----------------------


def test_capillary_batches_go_in_chunks_with_a_result_per_recipient(tmp_path: Path) -> None:
    with CapillaryFake() as capillary:
        recipients = _numbers(2 * BATCH_SIZE + 50, "+91959")
        capillary.refused = {recipients[7].removeprefix("+")}
        body = _connection("cap", "capillary", capillary, CAPILLARY.options(capillary))

        async def scenario(herald: Herald) -> list[Message]:
            return await herald.dispatch(await _store_send(herald, "cap", recipients))

        settings = settings_for(tmp_path, body=body)
        sent = _run(settings, InFlight(capillary).transport(), scenario)

    sizes = sorted(len(r.json()["root"]["sms"]) for r in capillary.sends)
    assert sizes == [50, BATCH_SIZE, BATCH_SIZE]
    statuses = Counter(m.status for m in sent)
    assert statuses == {MessageStatus.ACCEPTED: len(recipients) - 1, MessageStatus.FAILED: 1}
    (failed,) = [m for m in sent if m.status is MessageStatus.FAILED]
    assert failed.recipient == recipients[7] and "Unable to send message" in (failed.error or "")


# -- group commit ----------------------------------------------------------------------------


def test_a_write_that_fails_in_a_group_commit_undoes_only_itself(tmp_path: Path) -> None:
    settings = settings_for(tmp_path)
    store = Store(settings.db_path)

    async def scenario() -> list[object]:
        def claim(key: str) -> Callable[[Any], bool]:
            return lambda tx: tx.claim_request(key)

        def claim_then_fail(tx: Any) -> bool:
            tx.claim_request("undone")
            raise LookupError("this write fails after writing")

        futures = [store.write_soon(claim("a")), store.write_soon(claim_then_fail)]
        futures.append(store.write_soon(claim("b")))
        return await asyncio.gather(*futures, return_exceptions=True)

    first, failed, last = asyncio.run(scenario())
    assert first is True and last is True and isinstance(failed, LookupError)
    assert store.request_seen("a") and store.request_seen("b")
    assert not store.request_seen("undone")
    store.close()


def test_a_mark_commits_at_once_with_the_writes_queued_before_it(tmp_path: Path) -> None:
    store = Store(settings_for(tmp_path).db_path)

    async def scenario() -> tuple[bool, bool, bool]:
        queued = store.write_soon(lambda tx: tx.claim_request("an outcome"))
        mark = store.write_soon(lambda tx: tx.claim_request("a mark"), now=True)
        # committed before this coroutine gave the loop a turn: the request can go at once
        return queued.done(), mark.done(), store.request_seen("an outcome")

    assert asyncio.run(scenario()) == (True, True, True)
    store.close()


def test_a_group_commit_waits_for_another_process_lock_off_the_event_loop(
    tmp_path: Path,
) -> None:
    path = settings_for(tmp_path).db_path
    store = Store(path)
    other = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
    other.execute("BEGIN IMMEDIATE")  # a `herald send` in another process, writing

    async def scenario() -> tuple[int, bool]:
        mark = store.write_soon(lambda tx: tx.claim_request("k"), now=True)
        turns = 0
        while turns < 50:  # the loop keeps turning while the write waits for the lock
            await asyncio.sleep(0)
            turns += 1
        waited = not mark.done()
        other.execute("COMMIT")
        await mark
        return turns, waited

    turns, waited = asyncio.run(scenario())
    other.close()
    assert turns == 50 and waited and store.request_seen("k")
    store.close()


def test_a_change_posted_as_the_last_announcer_stops_is_still_shown(tmp_path: Path) -> None:
    """A worker that has just found nothing left, and stopped, still counts as running until
    its task is reaped; a change posted in between must start another worker."""
    from bot.delivery.announcements import Announcements

    settings = settings_for(tmp_path)
    request = SendRequest("sandbox", ["+31612345678", "+31612345679"], "Hi", "cli:t", "cli")
    first, second = build_messages(request, settings, TemplateLibrary(settings.templates_dir))
    shown: list[str] = []

    class Instant:
        async def message_changed(self, message: Message) -> None:
            shown.append(message.id)  # returns without giving the loop a turn

    async def scenario() -> None:
        announcements = Announcements(Instant, lambda _: None, workers=1)
        announcements.post(first)
        await asyncio.sleep(0)  # the worker shows it and stops; its task is not yet reaped
        announcements.post(second)
        await asyncio.wait_for(announcements.shown([first.id, second.id]), DEADLINE)

    asyncio.run(scenario())
    assert shown == [first.id, second.id]


# -- the connection key -----------------------------------------------------------------------


@pytest.mark.parametrize("value", ["0", "101", "2.5", "true", '"8"', "nan"])
def test_max_concurrency_out_of_range_is_refused_at_startup(tmp_path: Path, value: str) -> None:
    body = f'[connections.sms]\nprovider = "sandbox"\nchannel = "sms"\nmax_concurrency = {value}\n'
    with pytest.raises(ConfigError, match="max_concurrency"):
        settings_for(tmp_path, body=body)


def test_max_concurrency_defaults_to_eight(tmp_path: Path) -> None:
    assert settings_for(tmp_path).connections["sandbox"].max_concurrency == 8
    body = '[connections.sms]\nprovider = "sandbox"\nchannel = "sms"\nmax_concurrency = 1\n'
    assert settings_for(tmp_path, body=body).connections["sms"].max_concurrency == 1


# -- a crash in the middle of a big send --------------------------------------------------------


class HangsAfter(BirdFake):
    """Bird, answering the first ``answered`` sends and holding every later one while
    `holding` (until released, or the fake stops)."""

    def __init__(self, answered: int) -> None:
        super().__init__()
        self.answered = answered
        self.holding = True
        self.release = threading.Event()

    def handle(self, request: Recorded) -> Reply:
        if self.holding and len(self.requests) > self.answered:
            self.release.wait(30)
        return super().handle(request)

    def stop(self) -> None:
        self.release.set()
        super().stop()


@contextmanager
def _serve(env: dict[str, str]) -> Iterator[subprocess.Popen[str]]:
    proc = subprocess.Popen(
        [sys.executable, "-m", "bot", "serve", "--host", "127.0.0.1", "--port", "0"],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        yield proc
    finally:
        proc.kill()  # kill -9: no shutdown, no goodbye
        proc.communicate(timeout=30)


def _count(db_path: Path, where: str) -> int:
    with sqlite3.connect(db_path) as db:
        (found,) = db.execute(f"SELECT COUNT(*) FROM messages WHERE {where}").fetchone()  # noqa: S608
    db.close()
    return int(found)


def _poll(check: Callable[[], bool], what: str, proc: subprocess.Popen[str]) -> None:
    deadline = time.monotonic() + 30
    while not check():
        assert proc.poll() is None, proc.stderr.read() if proc.stderr else "herald serve exited"
        assert time.monotonic() < deadline, f"never happened: {what}"
        time.sleep(0.01)  # the poll interval of a deadline, not a wait for work


def test_a_send_killed_midway_resumes_with_the_unsent_part_only(
    tmp_path: Path, fake_slack: FakeSlack
) -> None:
    lanes, answered, total = 4, 100, 200
    with HangsAfter(answered) as bird:
        body = _connection("bird", "bird", bird, BIRD.options(bird) | {"max_concurrency": lanes})
        config = write_config(tmp_path, body)
        env = {
            **os.environ,
            "HERALD_CONFIG": str(config),
            "SLACK_BOT_TOKEN": BOT_TOKEN,
            "SLACK_SIGNING_SECRET": SIGNING_SECRET,
            "SLACK_API_URL": fake_slack.api_url,
        }
        db_path = tmp_path / "herald.db"
        recipients = _numbers(total)
        _store_queued(settings_for(tmp_path, fake_slack, body), recipients, owner="gone")

        # `herald serve` takes the queued send over at start and hands it over, 4 at a time
        with _serve(env) as proc:
            # the first 100 answered, then every lane holds a request with no answer
            _poll(lambda: len(bird.requests) == answered + lanes, "all lanes busy", proc)
            _poll(lambda: _count(db_path, "status = 'accepted'") == answered, "stored", proc)
            assert len(bird.requests) == answered + lanes
        with sqlite3.connect(db_path) as db:
            db.execute("UPDATE processes SET last_seen = 0")  # killed: its heartbeat is stale
        db.close()
        bird.holding = False
        bird.release.set()

        with _serve(env) as proc:
            _poll(lambda: _count(db_path, "status IN ('queued', 'sending')") == 0, "done", proc)

        requests = _posted_to(bird)

    assert len(requests) == total and set(requests.values()) == {1}  # each got exactly one
    assert _count(db_path, "status = 'accepted'") == total - lanes
    # the requests in flight when it died may have gone out: failed, with the reason, not resent
    store = Store(db_path)
    failed = store.with_status(MessageStatus.FAILED)
    store.close()
    assert len(failed) == lanes and {m.error for m in failed} == {INTERRUPTED_REASON}
    held = {r.json()["reference"] for r in bird.requests[answered : answered + lanes]}
    assert {m.id for m in failed} == held


def _store_queued(settings: Settings, recipients: list[str], *, owner: str) -> None:
    """A send's messages, queued by a process that is gone (``owner`` has no heartbeat)."""
    store = Store(settings.db_path, owner=owner)
    request = SendRequest("bird", recipients[:1], "Your order ships today", "cli:t", "cli")
    (first,) = build_messages(request, settings, TemplateLibrary(settings.templates_dir))
    messages = [replace(first, id=new_message_id(), recipient=to) for to in recipients]
    send = Send(new_message_id(), "cli:t", "cli", "bird", first.created_at, text=first.text)

    async def add() -> None:
        await store.add_send(send, messages, actor="cli:t", action="send")

    asyncio.run(add())
    store.close()
