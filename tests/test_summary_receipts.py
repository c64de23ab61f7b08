"""One summary receipt for a send to many: posted once, edited as its counts change at most
once an interval (the last state always shown, Slack's 429 honoured), one thread reply
listing the failures when the send settles, and the same summary across a restart.

End to end through signed slash commands and the fake Slack; the tests that count every
Slack call drive the coalescing clock themselves (`ManualClock`) through the core.
"""

from __future__ import annotations

import asyncio
import re
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from functools import partial
from pathlib import Path
from typing import Any

import pytest
from slack_sdk.http_retry.builtin_async_handlers import (
    AsyncConnectionErrorRetryHandler,
    AsyncRateLimitErrorRetryHandler,
)
from slack_sdk.web.async_client import AsyncWebClient

import bot.sending.recipients
from bot.announcing import SilentAnnouncer
from bot.config.settings import Settings
from bot.errors import ConfigError
from bot.models import Message, MessageStatus, Send
from bot.sending.requests import SendRequest
from bot.services import Herald
from bot.slack.announcer import SlackAnnouncer
from bot.slack.blocks import send_status_blocks
from bot.slack.summaries import Unretried, without_rate_limit_retries
from bot.storage.send_posts import SendTally
from providers import Channel
from tests.conftest import FAST_SANDBOX, RunningHerald, run_herald, settings_for
from tests.fakes.slack_api import BOT_TOKEN, FakeSlack, Posted
from tests.waiting import eventually, until

SENDER = "U2147483697"  # what tests.slack_signing.slash_body sends as user_id
CHANNEL = "C2147483705"
UP_TO_TWO = FAST_SANDBOX + "[receipts]\nindividual_up_to = 2\n"
INTERVAL = 0.25  # seconds between two edits of a summary in the end-to-end tests
DEADLINE = 10.0
NOW = datetime(2026, 11, 23, tzinfo=UTC)


def _numbers(count: int, refused: int = 0) -> list[str]:
    """``count`` recipients; the first ``refused`` end in 0000, which the sandbox refuses."""
    bad = [f"+316123{n:01d}0000" for n in range(refused)]
    return bad + [f"+3161234{n:04d}" for n in range(1001, 1001 + count - refused)]


@pytest.fixture
def batches(tmp_path: Path, fake_slack: FakeSlack) -> Iterator[RunningHerald]:
    """The real server with ``[receipts] individual_up_to = 2`` and a short interval."""
    for running in run_herald(settings_for(tmp_path, fake_slack, body=UP_TO_TWO), fake_slack):
        yield _quick(running)


def _quick(running: RunningHerald) -> RunningHerald:
    """``running`` editing summaries every `INTERVAL` seconds (3 s by default)."""
    announcer = running.herald.announcer
    assert isinstance(announcer, SlackAnnouncer)
    announcer.summaries.interval = INTERVAL
    return running


def _summary(slack: FakeSlack, word: str) -> Posted:
    """The one top-level message, once its fallback text starts with ``word``."""
    found: Posted = slack.wait_for(
        lambda s: next((r for r in s.receipts() if r.text.startswith(word + " ")), None),
        timeout=DEADLINE,
    )
    return found


def _send_id(posted: Posted) -> str:
    match = re.search(r"#([a-z0-9]{8})", posted.text)
    assert match, posted.text
    return match.group(1)


def _top_level_posts(slack: FakeSlack) -> list[Any]:
    return [c for c in slack.calls_to("chat.postMessage") if not c.args.get("thread_ts")]


def _replies(slack: FakeSlack) -> list[Any]:
    return [c for c in slack.calls_to("chat.postMessage") if c.args.get("thread_ts")]


_wait = partial(eventually, timeout=DEADLINE)


# -- end to end -------------------------------------------------------------------------


def test_three_recipients_still_get_three_receipts(running: RunningHerald) -> None:
    answer = running.slash(f"sandbox {','.join(_numbers(3))} Doors open at nine")

    assert "each gets its receipt" in answer.json()["text"]
    running.slack.wait_for(
        lambda s: len([r for r in s.receipts() if r.text.startswith("delivered ")]) == 3
    )
    assert len(_top_level_posts(running.slack)) == 3


def test_a_big_send_is_answered_with_one_summary_receipt_to_follow(
    running: RunningHerald,
) -> None:
    answer = _quick(running).slash(f"sandbox {','.join(_numbers(6))} Doors open at nine")

    text = answer.json()["text"]
    assert "one summary receipt follows" in text and "each gets its receipt" not in text
    summary = _summary(running.slack, "done")
    assert "6 messages via sandbox · 6 delivered" in summary.text
    assert len(running.slack.receipts()) == 1


def test_a_batch_gets_one_summary_and_a_bounded_number_of_slack_calls(
    batches: RunningHerald,
) -> None:
    slack = batches.slack
    started = time.monotonic()
    batches.slash(f"sandbox {','.join(_numbers(12, refused=2))} Doors open at nine")

    summary = _summary(slack, "done")
    elapsed = time.monotonic() - started
    send_id = _send_id(summary)
    assert summary.text == (f"done · #{send_id} · 12 messages via sandbox · 10 delivered, 2 failed")
    assert len(slack.receipts()) == 1
    shown = str(summary.blocks)
    assert ":white_check_mark: 10 delivered" in shown and ":x: 2 failed" in shown
    assert "+316•••••000" in shown and "+31612300000" not in shown  # masked failures
    assert "refused" in shown.lower()  # with their reasons
    assert f"<@{SENDER}>" in shown and "Doors open at nine" in shown
    # one post, an edit at most once an interval, one reply: never one call per recipient
    _wait(lambda: _replies(slack), "the settled reply")
    updates = len(slack.calls_to("chat.update"))
    assert len(_top_level_posts(slack)) == 1
    assert updates <= elapsed / INTERVAL + 2 and updates < 12


def test_a_settled_batch_replies_once_in_the_thread_listing_the_failures(
    batches: RunningHerald,
) -> None:
    slack = batches.slack
    batches.slash(f"sandbox {','.join(_numbers(8, refused=3))} Doors open at nine")

    summary = _summary(slack, "done")
    announcer = batches.herald.announcer
    assert isinstance(announcer, SlackAnnouncer)
    _wait(lambda: not announcer.summaries.pending, "the summary's task to finish")
    (reply,) = slack.replies(summary.ts)
    assert reply.text.startswith(f"<@{SENDER}> :x: 3 of 8 messages of send #{_send_id(summary)}")
    assert reply.text.count("+316•••••000") == 3
    assert len(_replies(slack)) == 1  # no reply per failed recipient


def test_a_scheduled_batch_shows_its_time_and_then_its_cancelled_counts(
    batches: RunningHerald,
) -> None:
    slack = batches.slack
    recipients = ",".join(_numbers(6))
    answer = batches.slash(f'sandbox {recipients} --at "in 2h" Doors open at nine')

    assert "one summary receipt" in answer.json()["text"]
    summary = _summary(slack, "scheduled")
    send_id = _send_id(summary)
    assert f"#{send_id} · 6 messages via sandbox · 6 scheduled · goes out" in summary.text
    shown = str(summary.blocks)
    assert "Goes out <!date^" in shown and "'value': '" + send_id + "'" in shown  # Cancel
    batches.slash(f"cancel {send_id}")
    cancelled = _summary(slack, "cancelled")
    assert cancelled.ts == summary.ts
    assert "6 cancelled" in cancelled.text and "herald_cancel" not in str(cancelled.blocks)
    assert len(slack.receipts()) == 1 and not _replies(slack)


# -- through the core, on a clock the test drives ----------------------------------------


class ManualClock:
    """The coalescing clock: it moves only when the test says, waking who sleeps on it."""

    def __init__(self) -> None:
        self.now = 0.0
        self._sleepers: list[tuple[float, asyncio.Future[None]]] = []

    def __call__(self) -> float:
        return self.now

    async def sleep(self, seconds: float) -> None:
        woken: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._sleepers.append((self.now + seconds, woken))
        await woken

    @property
    def sleeping(self) -> bool:
        """Whether something waits on this clock (and is not running)."""
        return any(not woken.done() for _, woken in self._sleepers)

    def advance(self, seconds: float) -> None:
        self.now += seconds
        for due, woken in list(self._sleepers):
            if due <= self.now:
                self._sleepers.remove((due, woken))
                if not woken.done():
                    woken.set_result(None)


_until = partial(until, timeout=DEADLINE)


def _announcer(herald: Herald, slack: FakeSlack, clock: ManualClock) -> SlackAnnouncer:
    client = AsyncWebClient(
        token=BOT_TOKEN,
        base_url=slack.api_url,
        retry_handlers=[AsyncRateLimitErrorRetryHandler(max_retry_count=2)],  # as SlackApp's
    )
    return SlackAnnouncer(client, herald, clock=clock, sleep=clock.sleep, summary_every=3.0)


def _request(recipients: list[str], **fields: Any) -> SendRequest:
    return SendRequest(
        "sandbox", recipients, "Doors open at nine", SENDER, "slack", announce_to=CHANNEL,
        **fields,
    )  # fmt: skip


def _tally(herald: Herald, send_id: str) -> SendTally:
    tally = herald.receipt_posts.send_tally(send_id, 0)
    assert tally is not None
    return tally


async def _settle(herald: Herald, send_id: str) -> None:
    """Until every message settled and every announcement of it ran (only the summary's
    task, asleep on the manual clock, is left)."""
    await _until(lambda: _tally(herald, send_id).settled, "every message settled")
    await _until(lambda: len(herald.background) == 1, "the announcements")


@pytest.fixture
def many(monkeypatch: pytest.MonkeyPatch) -> None:
    # a send of 200 (the hard-coded cap of 25 gives way to `[limits] max_recipients`)
    monkeypatch.setattr(bot.sending.recipients, "MAX_RECIPIENTS", 10_000, raising=False)


@pytest.mark.usefixtures("many")
def test_200_messages_make_one_post_one_edit_per_interval_and_one_reply(
    tmp_path: Path, fake_slack: FakeSlack
) -> None:
    settings = settings_for(tmp_path, fake_slack)  # individual_up_to = 5, the default

    async def scenario() -> tuple[list[Any], str, int]:
        clock = ManualClock()
        herald = Herald(settings)
        await herald.start()
        herald.announcer = announcer = _announcer(herald, fake_slack, clock)
        try:
            messages = await herald.submit(_request(_numbers(200, refused=3)))
            send_id = messages[0].send_id or ""
            await herald.dispatch(messages)
            await _settle(herald, send_id)
            before = list(fake_slack.calls)  # the first change posted it, the rest wait
            clock.advance(3.0)  # the interval is over: one edit, with everything since
            await _until(lambda: _replies(fake_slack), "the settled reply")
            clock.advance(3.0)  # an interval with no change: the summary's task ends
            await _until(lambda: not announcer.summaries.pending, "the task to end")
            return before, send_id, len(herald.background)
        finally:
            await herald.stop()

    before, send_id, left = asyncio.run(scenario())
    assert [c.method for c in before] == ["chat.postMessage"]
    assert [c.method for c in fake_slack.calls] == [
        "chat.postMessage", "chat.update", "chat.postMessage",
    ]  # fmt: skip
    (summary,) = fake_slack.receipts()
    assert summary.text == f"done · #{send_id} · 200 messages via sandbox · 197 delivered, 3 failed"
    (reply,) = fake_slack.replies(summary.ts)
    assert reply.text.count("+316•••••000") == 3
    assert left == 0  # nothing kept for the send once it is shown


def test_a_429_on_chat_update_waits_its_retry_after_and_shows_the_final_state(
    tmp_path: Path, fake_slack: FakeSlack
) -> None:
    settings = settings_for(tmp_path, fake_slack, body=UP_TO_TWO)
    fake_slack.rate_limit("chat.update", retry_after=7)

    async def scenario() -> tuple[list[tuple[float, int]], str]:
        clock = ManualClock()
        herald = Herald(settings)
        await herald.start()
        herald.announcer = announcer = _announcer(herald, fake_slack, clock)
        seen: list[tuple[float, int]] = []  # (clock time, update calls by then)
        try:
            messages = await herald.submit(_request(_numbers(12, refused=1)))
            send_id = messages[0].send_id or ""
            await herald.dispatch(messages)
            await _settle(herald, send_id)
            clock.advance(3.0)  # t=3: the edit, refused with Retry-After: 7
            await _until(lambda: fake_slack.calls_to("chat.update"), "the refused edit")
            await _until(lambda: announcer.summaries.not_before == 10.0, "the wait")
            for step in (3.0, 3.0):  # t=6, t=9: Slack said to wait until t=10
                clock.advance(step)
                # the summaries' task is parked on the clock again: it made no call meanwhile
                await _until(lambda: clock.sleeping, "the summaries to wait again")
                seen.append((clock.now, len(fake_slack.calls_to("chat.update"))))
            clock.advance(1.0)  # t=10: the edit goes out, showing the state by then
            await _until(lambda: _replies(fake_slack), "the settled reply")
            seen.append((clock.now, len(fake_slack.calls_to("chat.update"))))
            clock.advance(3.0)
            await _until(lambda: not announcer.summaries.pending, "the task to end")
            return seen, send_id
        finally:
            await herald.stop()

    seen, send_id = asyncio.run(scenario())
    assert seen == [(6.0, 1), (9.0, 1), (10.0, 2)]
    assert [c.status for c in fake_slack.calls_to("chat.update")] == [429, 200]
    (summary,) = fake_slack.receipts()
    assert summary.text == f"done · #{send_id} · 12 messages via sandbox · 11 delivered, 1 failed"
    assert len(fake_slack.replies(summary.ts)) == 1


def test_summaries_retry_a_429_themselves_not_through_the_clients_handler() -> None:
    client = AsyncWebClient(
        token=BOT_TOKEN,
        retry_handlers=[
            AsyncConnectionErrorRetryHandler(),
            AsyncRateLimitErrorRetryHandler(max_retry_count=2),
        ],
    )

    handlers = without_rate_limit_retries(client).retry_handlers

    assert [type(h) for h in handlers] == [AsyncConnectionErrorRetryHandler]


def test_a_restart_posts_a_never_posted_summary_once(tmp_path: Path, fake_slack: FakeSlack) -> None:
    settings = settings_for(tmp_path, fake_slack, body=UP_TO_TWO)

    async def unannounced() -> str:
        """A batch sent and settled while nothing could show it (Herald stopped between
        the changes and their announcement)."""
        herald = Herald(settings, SilentAnnouncer())
        await herald.start()
        try:
            messages = await herald.submit(_request(_numbers(6, refused=1)))
            await herald.dispatch(messages)
            send_id = messages[0].send_id or ""
            await _until(lambda: _tally(herald, send_id).settled, "every message settled")
            return send_id
        finally:
            await herald.stop()

    send_id = asyncio.run(unannounced())
    asyncio.run(_serve_once(settings, fake_slack))
    (summary,) = fake_slack.receipts()
    assert summary.text == f"done · #{send_id} · 6 messages via sandbox · 5 delivered, 1 failed"
    assert len(fake_slack.replies(summary.ts)) == 1
    calls = len(fake_slack.calls)
    asyncio.run(_serve_once(settings, fake_slack))
    assert len(fake_slack.calls) == calls  # shown and settled: nothing again


def test_a_restart_edits_a_stale_summary_once(tmp_path: Path, fake_slack: FakeSlack) -> None:
    settings = settings_for(tmp_path, fake_slack, body=UP_TO_TWO)
    request = _request(_numbers(6), at="in 2h")

    async def schedule() -> str:
        clock = ManualClock()
        herald = Herald(settings)
        await herald.start()
        herald.announcer = announcer = _announcer(herald, fake_slack, clock)
        try:
            scheduled = await herald.schedule(request)
            await _until(lambda: _top_level_posts(fake_slack), "the summary")
            await _until(lambda: len(herald.background) == 1, "the announcements")
            clock.advance(3.0)
            await _until(lambda: not announcer.summaries.pending, "the task to end")
            assert scheduled.send is not None
            return scheduled.send.id
        finally:
            await herald.stop()

    async def cancel_unannounced(send_id: str) -> None:
        herald = Herald(settings, SilentAnnouncer())  # as `herald jobs cancel`, say
        await herald.start()
        try:
            await herald.cancel(send_id, actor="cli:ann")
        finally:
            await herald.stop()

    send_id = asyncio.run(schedule())
    (summary,) = fake_slack.receipts()
    assert summary.text.startswith(f"scheduled · #{send_id} · 6 messages via sandbox")
    asyncio.run(cancel_unannounced(send_id))
    assert not fake_slack.calls_to("chat.update")
    asyncio.run(_serve_once(settings, fake_slack))
    assert len(fake_slack.calls_to("chat.update")) == 1
    (summary,) = fake_slack.receipts()
    assert summary.text == f"cancelled · #{send_id} · 6 messages via sandbox · 6 cancelled"
    asyncio.run(_serve_once(settings, fake_slack))
    assert len(fake_slack.calls_to("chat.update")) == 1  # settled: not shown again


async def _serve_once(settings: Settings, slack: FakeSlack) -> None:
    """Start the server (recovery shows what was never shown), let it show it, stop."""
    clock = ManualClock()
    herald = Herald(settings)
    herald.announcer = announcer = _announcer(herald, slack, clock)
    await herald.start(serve=True)
    try:
        await _until(lambda: len(herald.background) <= len(announcer.summaries.pending), "start")
        clock.advance(3.0)
        await _until(lambda: not announcer.summaries.pending, "the summaries to be shown")
    finally:
        await herald.stop()


# -- configuration and Slack's limits ---------------------------------------------------


def test_individual_up_to_is_five_by_default_and_a_whole_number_from_1_to_100(
    tmp_path: Path,
) -> None:
    assert settings_for(tmp_path).receipts.individual_up_to == 5
    assert settings_for(tmp_path, body=UP_TO_TWO).receipts.individual_up_to == 2
    for wrong in ("0", "101", "2.5", '"3"'):
        with pytest.raises(ConfigError, match=r"receipts\.individual_up_to must be"):
            settings_for(tmp_path, body=FAST_SANDBOX + f"[receipts]\nindividual_up_to = {wrong}\n")
    with pytest.raises(ConfigError, match=r"unknown key 'receipts\.individual'"):
        settings_for(tmp_path, body=FAST_SANDBOX + "[receipts]\nindividual = 3\n")


def test_the_status_of_a_send_of_10000_writes_only_the_lines_that_fit() -> None:
    send = Send("s2345678", SENDER, "slack", "sandbox", NOW)
    messages = [_message(n, failed=n % 1000 == 0) for n in range(10_000)]
    counts = {MessageStatus.DELIVERED: 9990, MessageStatus.FAILED: 10}

    shown = send_status_blocks(send, messages, counts, mask=True)

    text = "\n".join(b.get("text", {}).get("text", "") for b in shown)
    assert len(shown) <= 50 and len(text) < 13_000
    assert all(len(b.get("text", {}).get("text", "")) <= 3000 for b in shown)
    assert text.index(":x:") < text.index(":white_check_mark: *#")  # failures first
    left = int(re.search(r"… and (\d+) more messages", text).group(1))  # type: ignore[union-attr]
    assert left + text.count("*#m") == 10_000


def _message(n: int, *, failed: bool) -> Message:
    return Message(
        id=f"m{n:07d}", connection="sandbox", channel=Channel.SMS,
        recipient=f"+316{n:08d}", text="Hi", sender=SENDER, origin="slack",
        status=MessageStatus.FAILED if failed else MessageStatus.DELIVERED,
        created_at=NOW, updated_at=NOW, error="refused" if failed else None,
    )  # fmt: skip


def test_the_unretried_client_is_made_at_first_use_and_shares_the_pooled_session() -> None:
    client = AsyncWebClient(token=BOT_TOKEN, retry_handlers=[AsyncRateLimitErrorRetryHandler()])
    unretried = Unretried(client)
    pooled = object()
    client.session = pooled  # type: ignore[assignment]  # what the server gives at start

    made = unretried()

    assert made.session is pooled and unretried() is made
    assert not any(isinstance(h, AsyncRateLimitErrorRetryHandler) for h in made.retry_handlers)
