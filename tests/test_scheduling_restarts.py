"""Scheduled messages across restarts of the real ``herald serve`` process: SIGTERM and
SIGKILL, a due time passing while it is down (late within ``missed_grace``, missed
beyond it), a second server on the same database, and ``herald send --at`` from
another process. Each scheduled message goes out once or is failed as missed, never
dropped silently, never sent twice."""

from __future__ import annotations

import os
import signal
import sqlite3
import subprocess
import sys
from collections.abc import Iterator
from contextlib import closing, contextmanager
from datetime import UTC, datetime, timedelta
from functools import partial
from pathlib import Path

import httpx

from tests.conftest import write_config
from tests.fakes.slack_api import BOT_TOKEN, FakeSlack
from tests.serving import run_cli
from tests.slack_signing import SIGNING_SECRET, signed_headers, slash_body
from tests.test_restarts import _free_port
from tests.waiting import eventually

SANDBOX = """
[connections.sandbox]
provider = "sandbox"
channel = "sms"
sent_after = 0.05
delivered_after = 0.1
"""


def _env(tmp_path: Path, fake_slack: FakeSlack, extra: str = "") -> dict[str, str]:
    config = write_config(tmp_path, extra + SANDBOX)
    return {
        **os.environ,
        "HERALD_CONFIG": str(config),
        "SLACK_BOT_TOKEN": BOT_TOKEN,
        "SLACK_SIGNING_SECRET": SIGNING_SECRET,
        "SLACK_API_URL": fake_slack.api_url,
    }


class Server:
    def __init__(self, proc: subprocess.Popen[str], url: str) -> None:
        self.proc = proc
        self.url = url

    def slash(self, text: str, fake_slack: FakeSlack) -> httpx.Response:
        body = slash_body(text, response_url=fake_slack.response_url)
        headers = signed_headers(body, "application/x-www-form-urlencoded")
        return httpx.post(self.url + "/slack/events", content=body, headers=headers, timeout=10)

    def terminate(self) -> str:
        """SIGTERM, as a service manager stops it; returns what it logged."""
        self.proc.send_signal(signal.SIGTERM)
        _, err = self.proc.communicate(timeout=30)
        assert self.proc.returncode == 0, err  # a clean stop: exit code 0
        assert "Application shutdown complete" in err and "Traceback" not in err
        return err

    def kill(self) -> str:
        """kill -9: no shutdown, no goodbye; returns what it logged."""
        self.proc.kill()
        return self.proc.communicate(timeout=30)[1]


@contextmanager
def _serve(env: dict[str, str]) -> Iterator[Server]:
    port = _free_port()
    proc = subprocess.Popen(
        [sys.executable, "-m", "bot", "serve", "--host", "127.0.0.1", "--port", str(port)],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    server = Server(proc, f"http://127.0.0.1:{port}")
    try:
        _until(lambda: _healthy(server), what="herald serve to answer /healthz")
        yield server
    finally:
        if proc.poll() is None:
            print(server.kill())  # pytest shows it when the test fails


def _healthy(server: Server) -> bool:
    if server.proc.poll() is not None:
        raise AssertionError(server.proc.stderr.read() if server.proc.stderr else "exited")
    try:
        return httpx.get(server.url + "/healthz", timeout=1).status_code == 200
    except httpx.TransportError:
        return False


_until = partial(eventually, timeout=20.0)


def _rows(tmp_path: Path, sql: str, *args: object) -> list[tuple[object, ...]]:
    with closing(sqlite3.connect(tmp_path / "herald.db")) as db:
        return db.execute(sql, args).fetchall()


def _status(tmp_path: Path, message_id: str) -> str:
    return str(_rows(tmp_path, "SELECT status FROM messages WHERE id = ?", message_id)[0][0])


def _hand_overs(tmp_path: Path, message_id: str) -> int:
    return len(
        _rows(
            tmp_path,
            "SELECT 1 FROM status_events WHERE message_id = ? AND status = 'sending'",
            message_id,
        )
    )


def _schedule_by_cli(env: dict[str, str], when: str) -> str:
    done = run_cli("send", "sandbox", "+31612345678", "Doors open", "--at", when, env=env)
    assert done.returncode == 0, done.stderr
    message_id = done.stdout.split()[0]
    assert _rows_for(env, message_id), done.stdout
    return message_id


def _rows_for(env: dict[str, str], message_id: str) -> bool:
    path = Path(env["HERALD_CONFIG"]).parent / "herald.db"
    with closing(sqlite3.connect(path)) as db:
        return bool(db.execute("SELECT 1 FROM messages WHERE id = ?", [message_id]).fetchall())


def _due(seconds: float) -> tuple[str, datetime]:
    due = (datetime.now(UTC) + timedelta(seconds=seconds)).replace(microsecond=0)
    return due.isoformat(), due


def _past(due: datetime) -> bool:
    return datetime.now(UTC) > due


def test_a_send_at_stored_by_the_cli_is_picked_up_by_the_running_server(
    tmp_path: Path, fake_slack: FakeSlack
) -> None:
    env = _env(tmp_path, fake_slack)
    with _serve(env):
        when, _ = _due(2)
        message_id = _schedule_by_cli(env, when)
        _until(lambda: _status(tmp_path, message_id) == "delivered", what="the send")
    assert _hand_overs(tmp_path, message_id) == 1


def test_sigterm_before_the_due_time_then_a_restart_sends_it_once(
    tmp_path: Path, fake_slack: FakeSlack
) -> None:
    env = _env(tmp_path, fake_slack)
    when, _ = _due(3)
    with _serve(env) as server:
        message_id = _schedule_by_cli(env, when)
        server.terminate()
    assert _status(tmp_path, message_id) == "scheduled"
    with _serve(env):
        _until(lambda: _status(tmp_path, message_id) == "delivered", what="the send")
    assert _hand_overs(tmp_path, message_id) == 1
    late = _rows(tmp_path, "SELECT late_by FROM messages WHERE id = ?", message_id)
    assert late == [(None,)]  # it went at its time: the server was back before it


def _schedule_then_kill(
    tmp_path: Path, env: dict[str, str], fake_slack: FakeSlack
) -> tuple[str, datetime]:
    """Schedule a message 2 s ahead from Slack, then kill -9 the server once its
    ``scheduled`` receipt is posted and noted; the message's id and due time."""
    when, due = _due(2)
    with _serve(env) as server:
        response = server.slash(f"sandbox +31612345678 Doors open --at {when}", fake_slack)
        assert response.status_code == 200, response.text
        fake_slack.wait_for(lambda s: any("scheduled" in r.text for r in s.receipts()))
        # killed once Herald has noted where the receipt is (killed between posting and
        # noting, a restart would post a second receipt: Slack takes no idempotency key)
        _until(lambda: _rows(tmp_path, "SELECT 1 FROM slack_receipts"), what="the note")
        server.kill()
    ((message_id,),) = _rows(tmp_path, "SELECT id FROM messages")
    return str(message_id), due


def test_sigkill_with_the_due_time_passing_while_down_sends_it_late_once(
    tmp_path: Path, fake_slack: FakeSlack
) -> None:
    env = _env(tmp_path, fake_slack)
    message_id, due = _schedule_then_kill(tmp_path, env, fake_slack)
    _until(lambda: _past(due + timedelta(seconds=1)), what="the due time to pass")
    with _serve(env):
        _until(lambda: _status(tmp_path, message_id) == "delivered", what="the late send")
    assert _hand_overs(tmp_path, message_id) == 1
    ((late_by,),) = _rows(tmp_path, "SELECT late_by FROM messages WHERE id = ?", message_id)
    assert isinstance(late_by, float) and late_by >= 1
    (receipt,) = fake_slack.receipts()  # the scheduled receipt, edited in place
    assert receipt.text.startswith("delivered") and f"#{message_id}" in receipt.text
    shown = str(receipt.blocks)
    assert "late" in shown


def test_beyond_missed_grace_it_fails_as_missed_and_the_sender_is_told(
    tmp_path: Path, fake_slack: FakeSlack
) -> None:
    env = _env(tmp_path, fake_slack, '[scheduling]\nmissed_grace = "1s"\n')
    message_id, due = _schedule_then_kill(tmp_path, env, fake_slack)
    _until(lambda: _past(due + timedelta(seconds=2)), what="the grace to run out")
    with _serve(env):
        _until(lambda: _status(tmp_path, message_id) == "failed", what="the missed message")
        (receipt,) = fake_slack.wait_for(
            lambda s: [r for r in s.receipts() if r.text.startswith("failed")]
        )
        (reply,) = fake_slack.wait_for(lambda s: s.replies(receipt.ts))
    assert _hand_overs(tmp_path, message_id) == 0
    assert "missed" in str(receipt.blocks)
    assert "<@U2147483697>" in reply.text and "missed" in reply.text


def test_a_second_server_on_the_same_database_refuses_to_start_saying_which(
    tmp_path: Path, fake_slack: FakeSlack
) -> None:
    env = _env(tmp_path, fake_slack)
    with _serve(env) as first:
        second = subprocess.run(
            [sys.executable, "-m", "bot", "serve", "--host", "127.0.0.1", "--port", "0"],
            env=env,
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )
        assert second.returncode != 0
        assert f"process {first.proc.pid}" in second.stderr
        assert "Traceback" not in second.stderr
    with _serve(env):  # the first one was killed: its lock went with it
        pass


def test_fifty_messages_due_the_same_second_each_go_out_once(
    tmp_path: Path, fake_slack: FakeSlack
) -> None:
    env = _env(tmp_path, fake_slack)
    when, _ = _due(3)
    with _serve(env):
        for batch in range(2):  # two sends of 25 recipients
            # ending in 1: never one of the sandbox's scripted failures
            numbers = ",".join(f"+31612{batch}{index:04d}1" for index in range(1, 26))
            scheduled = run_cli("send", "sandbox", numbers, "Doors open", "--at", when, env=env)
            assert scheduled.returncode == 0, scheduled.stderr
        _until(
            lambda: (
                _rows(tmp_path, "SELECT COUNT(*) FROM messages WHERE status = 'delivered'")
                == [(50,)]
            ),
            what="every message",
            timeout=30,
        )
    hand_overs = _rows(tmp_path, "SELECT COUNT(*) FROM status_events WHERE status = 'sending'")
    assert hand_overs == [(50,)]
