"""Receipts by polling (`bot.delivery.polling`): where no webhook reaches Herald, it asks
the provider, and the Slack receipt moves all the same.

End to end through the real server and the strict provider fakes, with the poll
schedule shortened; the deadline, the budget and back-off are driven with an injected
clock through the same `Poller` the server runs.
"""

from __future__ import annotations

import asyncio
import json
import logging
import sqlite3
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from bot.config.settings import Settings, load_settings
from bot.delivery.polling import WEBHOOK_REASON, LookupBudget, Poller, PollSchedule
from bot.errors import ConfigError
from bot.models import Message, MessageStatus
from bot.sending.requests import SendRequest
from bot.services import Herald
from bot.web.server import create_app
from providers import PROVIDERS, ConnectionConfig
from tests.conftest import RunningHerald, write_config
from tests.fakes.bird_api import BirdFake
from tests.fakes.callbell_api import CallbellFake
from tests.fakes.capillary_api import CapillaryFake
from tests.fakes.provider_fake import ProviderFake
from tests.fakes.slack_api import BOT_TOKEN, FakeSlack
from tests.providers.cases import ProviderCase, load_cases
from tests.serving import ServerThread
from tests.slack_signing import SIGNING_SECRET
from tests.waiting import eventually

CASES = {case.name: case for case in load_cases()}
FAST = PollSchedule(delays=(0.05, 0.1, 0.2), deadline=60.0, error_delays=(0.05,))
HOOK_TOKEN = "poll-hook-token-5e1d"


# -- helpers ---------------------------------------------------------------------------


def _connection(name: str, case: ProviderCase, fake: ProviderFake, **keys: Any) -> str:
    """A [connections.NAME] table for ``case`` at ``fake``; a key given None is left out
    (Bird's ``signing_key``: without it, nothing verifies its callbacks)."""
    table = {"provider": case.name, "channel": case.channel.value, "base_url": fake.base_url}
    table |= case.options(fake) | keys
    lines = [f"{k} = {json.dumps(v)}" for k, v in table.items() if v is not None]
    return "\n".join([f"[connections.{name}]", *lines]) + "\n"


def _settings(tmp_path: Path, slack: FakeSlack, body: str) -> Settings:
    env = {
        "SLACK_BOT_TOKEN": BOT_TOKEN,
        "SLACK_SIGNING_SECRET": SIGNING_SECRET,
        "SLACK_API_URL": slack.api_url,
    }
    return load_settings(env, write_config(tmp_path, body))


def _serve(settings: Settings, slack: FakeSlack, schedule: PollSchedule) -> Iterator[RunningHerald]:
    """The real server on port 0, its poller on ``schedule``."""
    app = create_app(settings)
    app.state.herald.poll_schedule = schedule
    with ServerThread(app) as server:
        url = f"http://127.0.0.1:{server.port}"
        with httpx.Client(base_url=url, timeout=10) as http:
            yield RunningHerald(url, settings, app.state.herald, slack, http)


def _receipt(slack: FakeSlack, word: str, timeout: float = 5.0) -> Any:
    return slack.wait_for(
        lambda s: next((r for r in s.receipts() if r.text.startswith(word + " ")), None),
        timeout=timeout,
    )


def _rows(settings: Settings, sql: str, *args: Any) -> list[tuple[Any, ...]]:
    with sqlite3.connect(settings.db_path) as db:
        return db.execute(sql, args).fetchall()


_eventually = eventually


def _provider_id(settings: Settings) -> str:
    return str(_rows(settings, "SELECT provider_message_id FROM messages ORDER BY rowid")[0][0])


def _mark(fake: ProviderFake, settings: Settings, word: str) -> None:
    """Make the provider report ``word`` for the one message sent (its own words)."""
    if isinstance(fake, BirdFake | CallbellFake):
        fake.set_status(_provider_id(settings), word)
    else:
        assert isinstance(fake, CapillaryFake)
        fake.set_status(fake.interactions[-1]["id"], word)


# Each provider's word for "delivered", and keys that leave its callbacks unverified.
POLLING = {
    "bird": ("delivered", {"signing_key": None}),
    "callbell": ("delivered", {}),
    "capillary": ("DELIVERED", {}),
}


# -- end to end ------------------------------------------------------------------------


@pytest.mark.parametrize("name", list(POLLING))
def test_receipt_moves_to_delivered_by_polling_without_a_webhook(
    name: str, tmp_path: Path, fake_slack: FakeSlack
) -> None:
    case = CASES[name]
    word, keys = POLLING[name]
    with case.fake() as fake:
        settings = _settings(tmp_path, fake_slack, _connection("out", case, fake, **keys))
        for running in _serve(settings, fake_slack, FAST):
            running.slash(f"out {case.recipient} Your order A-1042 ships tomorrow")
            receipt = _receipt(fake_slack, "accepted")

            _mark(fake, settings, word)

            fake_slack.wait_for(lambda s, r=receipt: r.text.startswith("delivered "))
            lookups = fake.lookups  # type: ignore[attr-defined]
            assert lookups and all(r.method == "GET" for r in lookups)
            assert fake_slack.calls_to("chat.postMessage") and len(fake_slack.receipts()) == 1
            (reason,) = _rows(settings, "SELECT closed_reason FROM polls")[0]
            assert reason == "it is delivered"


def test_a_failure_found_by_polling_fails_the_receipt_with_the_providers_reason(
    tmp_path: Path, fake_slack: FakeSlack
) -> None:
    case = CASES["bird"]
    with BirdFake() as fake:
        settings = _settings(tmp_path, fake_slack, _connection("out", case, fake, signing_key=None))
        for running in _serve(settings, fake_slack, FAST):
            running.slash(f"out {case.recipient} Hello")
            receipt = _receipt(fake_slack, "accepted")

            fake.set_status(
                _provider_id(settings), "delivery_failed", reason="bounceHard", failure="No route"
            )

            fake_slack.wait_for(lambda s, r=receipt: r.text.startswith("failed "))
            reply = fake_slack.wait_for(lambda s, ts=receipt.ts: s.replies(ts))[0]
            assert "No route (bounceHard)" in reply.text


def test_a_webhook_arriving_first_stops_polling(tmp_path: Path, fake_slack: FakeSlack) -> None:
    case = CASES["callbell"]
    slow = PollSchedule(delays=(3600.0,), deadline=7200.0)  # no lookup comes by itself
    with CallbellFake() as fake:
        body = _connection("wa", case, fake, webhook_token=HOOK_TOKEN, poll=True)
        settings = _settings(tmp_path, fake_slack, body)
        for running in _serve(settings, fake_slack, slow):
            running.slash("wa +31612345678 Your order A-1042 ships tomorrow")
            receipt = _receipt(fake_slack, "accepted")
            running.slash("wa +31687654321 Your order A-1043 ships tomorrow")
            fake_slack.wait_for(lambda s: len(s.receipts()) == 2)
            first, second = (
                row[0] for row in _rows(settings, "SELECT id FROM messages ORDER BY rowid")
            )
            _eventually(lambda: len(_rows(settings, "SELECT 1 FROM polls")) == 2)

            uuid = _provider_id(settings)
            answer = running.http.post(
                f"/webhooks/wa?token={HOOK_TOKEN}", content=fake.status_callback(uuid, "sent")
            )

            assert answer.status_code == 200
            fake_slack.wait_for(lambda s, r=receipt: r.text.startswith("sent "))
            closed = dict(_rows(settings, "SELECT message_id, closed_reason FROM polls"))
            assert closed == {first: WEBHOOK_REASON, second: None}
            assert fake.lookups == []


def test_a_restart_resumes_a_pending_poll(tmp_path: Path, fake_slack: FakeSlack) -> None:
    case = CASES["bird"]
    with BirdFake() as fake:
        settings = _settings(tmp_path, fake_slack, _connection("out", case, fake, signing_key=None))
        for running in _serve(settings, fake_slack, FAST):
            running.slash(f"out {case.recipient} Hello")
            receipt = _receipt(fake_slack, "accepted")
            fake.set_status(_provider_id(settings), "sent")
            fake_slack.wait_for(lambda s, r=receipt: r.text.startswith("sent "))
        asked = len(fake.lookups)
        (open_poll,) = _rows(settings, "SELECT last_status FROM polls WHERE next_at IS NOT NULL")
        assert open_poll == ("sent",)  # the server stopped; the row waits

        fake.set_status(_provider_id(settings), "delivered")
        for _running in _serve(settings, fake_slack, FAST):
            fake_slack.wait_for(lambda s, r=receipt: r.text.startswith("delivered "))
            assert len(fake.lookups) > asked
            assert len(fake_slack.receipts()) == 1  # the same receipt, edited in place
        assert _rows(settings, "SELECT closed_reason FROM polls") == [("it is delivered",)]


# -- the poller, on an injected clock ---------------------------------------------------


class Clock:
    def __init__(self) -> None:
        self.now = 1_800_000_000.0

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


def _drive(
    tmp_path: Path,
    fake: BirdFake,
    scenario: Callable[[Herald, Poller, Clock], Any],
    *,
    schedule: PollSchedule | None = None,
    extra: str = "",
) -> Any:
    """Run ``scenario`` against a started (not serving) Herald whose poller is driven by
    hand on a fake clock, sending through ``fake`` without a socket."""
    case = CASES["bird"]
    body = _connection("out", case, fake, signing_key=None) + extra
    settings = load_settings({}, write_config(tmp_path, body))

    async def go() -> Any:
        herald = Herald(settings, transport=fake.transport())
        await herald.start()
        clock = Clock()
        poller = Poller(
            lambda: herald.db,
            herald.providers,
            herald.apply_receipts,
            schedule=schedule or PollSchedule(),
            clock=clock,
        )
        herald.poller = poller
        try:
            return await scenario(herald, poller, clock)
        finally:
            await herald.stop()

    return asyncio.run(go())


async def _send(herald: Herald, count: int = 1) -> list[Message]:
    numbers = [f"+316123{n:05d}" for n in range(count)]
    return await herald.send_now(SendRequest("out", numbers, "Hello", "cli:t", "cli"))


def test_the_deadline_closes_the_poll_and_the_message_keeps_its_status(tmp_path: Path) -> None:
    async def scenario(herald: Herald, poller: Poller, clock: Clock) -> None:
        (message,) = await _send(herald)
        clock.advance(10)
        await poller.run_due()
        assert herald.db.poll(message.id).lookups == 1  # type: ignore[union-attr]

        clock.advance(24 * 3600)  # long past the deadline: one last lookup, then no more
        await poller.run_due()
        clock.advance(3600)
        await poller.run_due()

        poll = herald.db.poll(message.id)
        assert poll is not None and poll.next_at is None and poll.lookups == 2
        assert poll.closed_reason == "no final status within 24 hours; it stays accepted"
        assert herald.db.get(message.id).status is MessageStatus.ACCEPTED  # type: ignore[union-attr]
        assert len(fake.lookups) == 2

    with BirdFake() as fake:
        _drive(tmp_path, fake, scenario)


def test_polls_back_off_along_the_schedule(tmp_path: Path) -> None:
    async def scenario(herald: Herald, poller: Poller, clock: Clock) -> list[float]:
        (message,) = await _send(herald)
        started = clock.now
        gaps = []
        for _ in range(8):
            poll = herald.db.poll(message.id)
            assert poll is not None and poll.next_at is not None
            gaps.append(poll.next_at.timestamp() - clock.now)
            clock.now = poll.next_at.timestamp()
            await poller.run_due()
        assert clock.now - started == sum(gaps)
        return gaps

    with BirdFake() as fake:
        gaps = _drive(tmp_path, fake, scenario)
    assert gaps == [10, 30, 60, 120, 300, 600, 900, 900]


def test_budget_caps_lookups_per_second() -> None:
    clock = Clock()
    budget = LookupBudget(5, clock=clock)

    assert [budget.take() for _ in range(5)] == [0.0] * 5
    assert budget.take() == pytest.approx(1.0)
    clock.advance(0.5)
    assert budget.take() == pytest.approx(0.5)
    clock.advance(0.5)
    assert [budget.take() for _ in range(6)][:5] == [0.0] * 5

    slow = LookupBudget(0.5, clock=clock)  # one every two seconds
    assert slow.take() == 0.0 and slow.take() == pytest.approx(2.0)


def test_the_budget_caps_the_lookup_rate_of_a_connection(tmp_path: Path) -> None:
    async def scenario(herald: Herald, poller: Poller, clock: Clock) -> list[int]:
        await _send(herald, 12)
        clock.advance(10)  # all twelve first lookups are due at once
        made = []
        for _ in range(40):  # four seconds, a pass every 0.1 s
            before = len(fake.lookups)
            await poller.run_due()
            made.append(len(fake.lookups) - before)
            clock.advance(0.1)
        return made

    with BirdFake() as fake:
        made = _drive(tmp_path, fake, scenario, extra="poll_per_second = 5\n")
    assert sum(made) == 12 and made[0] == 5
    assert max(sum(made[i : i + 10]) for i in range(len(made))) == 5  # any one second
    assert sum(made[:30]) == 12  # spread over the seconds after, not left for later


def test_lookup_errors_back_off_and_are_logged_once_a_minute(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    async def scenario(herald: Herald, poller: Poller, clock: Clock) -> None:
        messages = await _send(herald, 3)
        fake.lookup_outage = 503
        clock.advance(10)
        await poller.run_due()
        assert len(fake.lookups) == 3  # due together, asked together

        for _ in range(6):
            clock.advance(30)
            await poller.run_due()
        failed = [herald.db.poll(m.id) for m in messages]
        assert all(p is not None and p.next_at is not None and p.failures >= 1 for p in failed)
        assert "HTTP 503" in (failed[0].last_error or "")  # type: ignore[union-attr]
        # the connection backs off (10 s, 30 s, 1 min, … after each failure in a row):
        # two more rounds in three minutes, not one every pass
        assert len(fake.lookups) <= 6

        fake.lookup_outage = None
        fake.set_status(messages[0].provider_message_id or "", "delivered")
        clock.advance(600)
        await poller.run_due()
        assert herald.db.get(messages[0].id).status is MessageStatus.DELIVERED  # type: ignore[union-attr]

    with BirdFake() as fake, caplog.at_level(logging.WARNING, "bot.delivery.polling"):
        _drive(tmp_path, fake, scenario)
        access_key = fake.access_key
    lines = [r.getMessage() for r in caplog.records if r.name == "bot.delivery.polling"]
    # failures for three minutes (6 passes, 30 s apart): a line a minute at most
    assert 2 <= len(lines) <= 4
    assert all("status lookups on out fail" in line for line in lines)
    assert access_key not in caplog.text and "try later" in lines[0]


def test_wrong_credentials_back_off_without_showing_the_key(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    async def scenario(herald: Herald, poller: Poller, clock: Clock) -> None:
        (message,) = await _send(herald)
        fake.access_key = "ak_rotated_at_bird"  # the connection's key no longer works
        for _ in range(5):
            clock.advance(10)
            await poller.run_due()
        poll = herald.db.poll(message.id)
        assert poll is not None and poll.next_at is not None and poll.failures >= 2
        assert "HTTP 401" in (poll.last_error or "")

    with BirdFake() as fake, caplog.at_level(logging.WARNING, "bot.delivery.polling"):
        old_key = fake.access_key
        _drive(tmp_path, fake, scenario)
    lines = [r.getMessage() for r in caplog.records if r.name == "bot.delivery.polling"]
    assert len(lines) == 1 and "HTTP 401" in lines[0]
    assert old_key not in caplog.text


def test_an_adapter_bug_does_not_end_polling(
    tmp_path: Path, caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    async def broken(self: Any, message: Any) -> Any:
        raise KeyError("the secret token sk_live_123 was in here")

    async def scenario(herald: Herald, poller: Poller, clock: Clock) -> None:
        (message,) = await _send(herald)
        monkeypatch.setattr(type(herald.providers["out"]), "lookup", broken)
        clock.advance(10)
        await poller.run_due()
        poll = herald.db.poll(message.id)
        assert poll is not None and poll.next_at is not None and poll.failures == 1

    with BirdFake() as fake, caplog.at_level(logging.WARNING, "bot.delivery.polling"):
        _drive(tmp_path, fake, scenario)
    assert "adapter failed (KeyError)" in caplog.text and "sk_live_123" not in caplog.text


# -- configuration -------------------------------------------------------------------


def _config(tmp_path: Path, table: str) -> Settings:
    return load_settings({}, write_config(tmp_path, table))


BIRD_KEYS = (
    'access_key = "ak"\nworkspace_id = "2c9f4b1e-7a3d-4e5f-8b6a-1d2e3f4a5b6c"\n'
    'channel_id = "9a8b7c6d-5e4f-4a3b-8c2d-1e0f9a8b7c6d"\n'
)

BIRD = f'[connections.c]\nprovider = "bird"\nchannel = "sms"\n{BIRD_KEYS}'


def _polls(settings: Settings, name: str = "c") -> bool:
    config: ConnectionConfig = settings.connections[name]
    provider = PROVIDERS[config.provider](config, None, None)  # type: ignore[arg-type]
    return provider.poll_enabled()


@pytest.mark.parametrize(
    ("table", "polls"),
    [
        (f'provider = "bird"\nchannel = "sms"\n{BIRD_KEYS}', True),
        (f'provider = "bird"\nchannel = "sms"\n{BIRD_KEYS}signing_key = "sk"\n', False),
        (f'provider = "bird"\nchannel = "sms"\n{BIRD_KEYS}webhook_token = "t"\n', False),
        (f'provider = "bird"\nchannel = "sms"\n{BIRD_KEYS}signing_key = "sk"\npoll = true\n', True),
        ('provider = "callbell"\nchannel = "whatsapp"\ntoken = "t"\nchannel_uuid = "u"\n', True),
        (
            'provider = "callbell"\nchannel = "whatsapp"\ntoken = "t"\nchannel_uuid = "u"\n'
            'signing_secret = "whsec_abc"\n',
            False,
        ),
        (
            'provider = "capillary"\nchannel = "sms"\nbase_url = "https://eu.api.capillarytech.com"'
            '\nusername = "u"\npassword = "p"\nwebhook_token = "t"\n',
            True,
        ),
        (
            'provider = "capillary"\nchannel = "sms"\nbase_url = "https://eu.api.capillarytech.com"'
            '\nusername = "u"\npassword = "p"\npoll = false\n',
            False,
        ),
        ('provider = "sandbox"\nchannel = "sms"\n', False),
        (
            'provider = "sociocs"\nchannel = "sms"\napi_key = "k"\nchannel_key = "c"\n'
            'sociocs_provider = "twlo"\n',
            False,
        ),
    ],
    ids=[
        "bird",
        "bird-signed",
        "bird-token",
        "bird-signed-poll",
        "callbell",
        "callbell-signed",
        "capillary",
        "capillary-off",
        "sandbox",
        "sociocs",
    ],
)
def test_poll_defaults_on_where_no_webhook_can_be_verified(
    tmp_path: Path, table: str, polls: bool
) -> None:
    assert _polls(_config(tmp_path, f"[connections.c]\n{table}")) is polls


@pytest.mark.parametrize(
    ("extra", "says"),
    [
        ('poll = "yes"', "connections.c.poll must be true or false, not text"),
        ("pol = true", "did you mean 'poll'"),
        ("poll_per_second = 0", "poll_per_second must be more than 0"),
        ("poll_per_second = nan", "poll_per_second"),
    ],
)
def test_poll_keys_are_checked(tmp_path: Path, extra: str, says: str) -> None:
    with pytest.raises(ConfigError, match=says.replace("(", r"\(")):
        _config(tmp_path, f"{BIRD}{extra}")


@pytest.mark.parametrize(
    ("table", "says"),
    [
        ('provider = "sandbox"', "the sandbox reports its receipts by itself"),
        (
            'provider = "sociocs"\napi_key = "k"\nchannel_key = "c"\nsociocs_provider = "twlo"',
            "Sociocs has no per-message status lookup",
        ),
    ],
)
def test_poll_true_is_refused_where_there_is_no_lookup(
    tmp_path: Path, table: str, says: str
) -> None:
    with pytest.raises(ConfigError, match=says):
        _config(tmp_path, f'[connections.c]\n{table}\nchannel = "sms"\npoll = true\n')


def test_poll_per_second_defaults_to_five(tmp_path: Path) -> None:
    settings = _config(tmp_path, BIRD)
    assert settings.connections["c"].poll_per_second == 5.0
