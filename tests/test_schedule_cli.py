"""Scheduling from the command line: ``herald send --at/--every``, ``herald jobs`` and
``herald status`` of a schedule, on a real database; and a running server sends what
the CLI scheduled."""

from __future__ import annotations

import asyncio
import getpass
import re
import sqlite3
import threading
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from bot.cli import main
from bot.config.settings import load_settings
from bot.sending.requests import SendRequest
from bot.services import Herald
from tests.conftest import FAST_SANDBOX, run_herald, settings_for, write_config
from tests.fakes.slack_api import FakeSlack

NEW_YORK = "America/New_York"
ME = f"cli:{getpass.getuser()}"


@pytest.fixture
def config(tmp_path: Path) -> Path:
    return write_config(tmp_path, FAST_SANDBOX + '[scheduling]\ntimezone = "Asia/Tokyo"\n')


def _run(config: Path, *args: str) -> int:
    return main(["--config", str(config), *args])


def _rows(config: Path, sql: str, *args: object) -> list[tuple[Any, ...]]:
    with sqlite3.connect(config.parent / "herald.db") as db:
        return db.execute(sql, args).fetchall()


def _due(config: Path, message_id: str) -> datetime:
    (due,) = _rows(config, "SELECT due_at FROM messages WHERE id = ?", message_id)[0]
    return datetime.fromisoformat(due).astimezone(UTC)


def _scheduled(config: Path, capsys: pytest.CaptureFixture[str], *args: str) -> str:
    """Schedule with ``herald send ARGS``; the id it printed."""
    assert _run(config, "send", "sandbox", "+31612345678", *args) == 0, capsys.readouterr()
    out = capsys.readouterr().out
    return out.split()[0]


def _poll(predicate: Callable[[], bool], timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    ticker = threading.Event()
    while not predicate():
        assert time.monotonic() < deadline, "what the test waited for never happened"
        ticker.wait(0.05)


def test_send_at_prints_the_id_and_when_and_warns_that_no_server_runs(
    config: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code = _run(config, "send", "sandbox", "+31612345678", "Doors open", "--at", "in", "2h")

    out, err = capsys.readouterr()
    assert code == 0
    message_id, word = out.split()[:2]
    assert word == "scheduled"
    assert re.search(r"\d\d:\d\d JST \(in 2 hours\)  \+31612345678 via sandbox$", out.strip())
    assert "no herald serve is running" in err and "up to 1 hour late" in err
    assert "fails as missed" in err and f"herald jobs cancel {message_id}" in err
    assert _due(config, message_id) - datetime.now(UTC) > timedelta(hours=1, minutes=59)
    assert _rows(config, "SELECT status, sender FROM messages") == [("scheduled", ME)]


def test_local_times_are_read_in_tz_else_in_the_configs_zone(
    config: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    day = (datetime.now(UTC) + timedelta(days=3)).date()

    new_york = _scheduled(config, capsys, "Hi", "--at", f"{day}", "09:00", "--tz", NEW_YORK)
    tokyo = _scheduled(config, capsys, "Hi", "--at", f"{day} 09:00")

    assert _due(config, new_york) == datetime(
        day.year, day.month, day.day, 9, tzinfo=ZoneInfo(NEW_YORK)
    )
    assert _due(config, tokyo) == datetime(
        day.year, day.month, day.day, 9, tzinfo=ZoneInfo("Asia/Tokyo")
    )


@pytest.mark.parametrize(
    ("args", "said"),
    [
        (["--at", "in", "2h", "--wait", "5"], "--wait follows a message sent now"),
        (["--tz", NEW_YORK], "--tz says how to read the times"),
        (["--at", "2020-01-01", "09:00"], "herald: --at: that time was "),
        (["--at", "in", "2h", "Hi"], "--at takes every word up to the next option"),
        (["--every", "weekdays", "9"], "herald: --every: '9' is not a time of day"),
        (["--until", "2030-01-01", "--at", "in", "2h"], "--until ends a repeating send"),
    ],
)
def test_scheduling_mistakes_exit_two_and_store_nothing(
    config: Path, capsys: pytest.CaptureFixture[str], args: list[str], said: str
) -> None:
    code = _run(config, "send", "sandbox", "+31612345678", "Hi", *args)

    assert code == 2
    assert said in capsys.readouterr().err
    database = config.parent / "herald.db"
    assert not database.exists() or _rows(config, "SELECT count(*) FROM messages") == [(0,)]


def test_a_quoted_time_may_be_followed_by_the_message(
    config: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    message_id = _scheduled(config, capsys, "--at", "in 2h", "Doors", "open")

    assert _rows(config, "SELECT text FROM messages WHERE id = ?", message_id) == [("Doors open",)]


def test_a_mistyped_zone_is_refused_with_the_closest_one(
    config: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(SystemExit) as caught:
        _run(
            config,
            "send",
            "sandbox",
            "+31612345678",
            "Hi",
            "--at",
            "9am",
            "--tz",
            "Europe/Amsterdm",
        )

    assert caught.value.code == 2
    assert "'Europe/Amsterdm' is not a time zone; did you mean 'Europe/Amsterdam'?" in (
        capsys.readouterr().err
    )


def test_jobs_list_shows_yours_and_all_shows_everyones(
    config: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    mine = _scheduled(config, capsys, "Doors open at ten today", "--at", "in", "3h")
    repeating = _scheduled(
        config, capsys, "Standup", "--every", "weekdays", "09:00", "--until", "2099-01-31"
    )

    async def from_slack() -> None:
        herald = Herald(load_settings({}, config))
        await herald.start()
        try:
            await herald.schedule(
                SendRequest(
                    "sandbox",
                    ["+4915112345678"],
                    "Slack's",
                    sender="U1",
                    origin="slack",
                    at="in 5h",
                )
            )
        finally:
            await herald.stop()

    asyncio.run(from_slack())

    assert _run(config, "jobs", "list") == 0
    own = capsys.readouterr().out
    assert _run(config, "jobs", "list", "--all", "--tz", NEW_YORK) == 0
    everyone = capsys.readouterr().out
    monkeypatch.setattr(getpass, "getuser", lambda: "carol")
    assert _run(config, "jobs", "list") == 0
    carol = capsys.readouterr().out

    assert mine in own and repeating in own and "+4915112345678" not in own
    assert "+31612345678" in own  # the command line shows recipients as they are
    assert "'Doors open at ten today'" in own and "(in 3 hours)" not in own and "in 3 hours" in own
    assert "every weekday at 09:00 (Asia/Tokyo)" in own and "times in Asia/Tokyo" in own
    assert "1 more by others: herald jobs list --all" in own
    assert "+4915112345678" in everyone and "BY" in everyone and "U1" in everyone
    assert "times in America/New_York" in everyone and " ES" in everyone
    assert carol.startswith("You (cli:carol) have nothing scheduled; 3 more by others")


def test_jobs_cancel_then_again_says_it_is_cancelled_already(
    config: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    message_id = _scheduled(config, capsys, "Hi", "--at", "in", "1h")

    assert _run(config, "jobs", "cancel", f"#{message_id}") == 0
    assert capsys.readouterr().out.strip() == f"{message_id}  cancelled: it will not go out"
    assert _run(config, "jobs", "cancel", message_id) == 2
    assert f"#{message_id} is cancelled already" in capsys.readouterr().err
    assert _run(config, "jobs", "cancel", "zzzzzzzz") == 2
    assert "There is no message, send or schedule #zzzzzzzz" in capsys.readouterr().err
    assert _rows(config, "SELECT status FROM messages") == [("cancelled",)]


def test_jobs_reschedule_moves_it_and_a_past_time_is_refused(
    config: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    message_id = _scheduled(config, capsys, "Hi", "--at", "in", "1h")
    day = (datetime.now(UTC) + timedelta(days=4)).date()

    assert _run(config, "jobs", "reschedule", message_id, f"{day}", "09:00", "--tz", NEW_YORK) == 0
    out = capsys.readouterr().out
    assert _run(config, "jobs", "reschedule", message_id, "2020-01-01", "09:00") == 2
    err = capsys.readouterr().err

    assert out.startswith(f"{message_id}  moved to ") and " 09:00 E" in out
    assert _due(config, message_id) == datetime(
        day.year, day.month, day.day, 9, tzinfo=ZoneInfo(NEW_YORK)
    )
    assert err.startswith("herald: That time was ")  # typed without --at, so none is named


def test_a_repeating_send_from_the_command_line_and_its_status(
    config: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code = _run(
        config,
        "send",
        "sandbox",
        "+31612345678",
        "Standup",
        "--every",
        "mon,thu",
        "09:00",
        "--until",
        "2099-03-31",
    )
    out = capsys.readouterr().out
    schedule_id = out.split()[0]

    assert code == 0
    assert "every Monday and Thursday at 09:00 (Asia/Tokyo), through Tue 31 Mar 2099" in out
    assert re.search(r"first \w{3} \d+ \w{3} \d{4} 09:00 JST \(in ", out)
    assert _run(config, "status", schedule_id) == 0
    status = capsys.readouterr().out
    assert status.startswith(f"schedule {schedule_id}  active  every Monday and Thursday")
    assert "  next   " in status and "  ends   through Tue 31 Mar 2099" in status
    assert "  what   'Standup'" in status
    assert _run(config, "jobs", "cancel", schedule_id) == 0
    assert "nothing more goes out" in capsys.readouterr().out
    assert _run(config, "status", schedule_id) == 0
    assert " cancelled " in capsys.readouterr().out


def test_a_send_scheduled_from_the_cli_is_sent_by_the_running_server(
    tmp_path: Path, fake_slack: FakeSlack, capsys: pytest.CaptureFixture[str]
) -> None:
    settings = settings_for(tmp_path, fake_slack)
    config = tmp_path / "herald.toml"
    for running in run_herald(settings, fake_slack):
        assert _run(config, "send", "sandbox", "+31612345678", "Hi", "--at", "in", "2s") == 0
        out, err = capsys.readouterr()
        message_id = out.split()[0]
        assert "no herald serve is running" not in err

        _poll(lambda: _rows(config, "SELECT status FROM messages")[0][0] == "delivered")

        outbox = running.herald.providers["sandbox"].outbox  # type: ignore[attr-defined]
        assert [m.reference for m in outbox] == [message_id]
