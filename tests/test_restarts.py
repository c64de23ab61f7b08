"""`herald serve` killed in the middle of a send, then started again: every message
the provider accepted has exactly one receipt in Slack, and nothing goes out twice."""

from __future__ import annotations

import json
import os
import socket
import sqlite3
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx

from tests.conftest import write_config
from tests.fakes.bird_api import CASE, BirdFake
from tests.fakes.provider_fake import Recorded, Reply
from tests.fakes.slack_api import BOT_TOKEN, FakeSlack
from tests.slack_signing import SIGNING_SECRET, signed_headers, slash_body

RECIPIENTS = ("+31612345671", "+31612345672", "+31612345673")


class ThirdSendHangs(BirdFake):
    """Bird, answering the sends to the first two recipients and holding the third's until
    the fake stops (the three go at once: a connection has several requests in flight)."""

    def __init__(self) -> None:
        super().__init__()
        self.release = threading.Event()

    def handle(self, request: Recorded) -> Reply:
        if RECIPIENTS[2] in request.body.decode():
            self.release.wait(30)
        return super().handle(request)

    def stop(self) -> None:
        self.release.set()
        super().stop()


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@contextmanager
def _serve(env: dict[str, str]) -> Iterator[str]:
    port = _free_port()
    proc = subprocess.Popen(
        [sys.executable, "-m", "bot", "serve", "--host", "127.0.0.1", "--port", str(port)],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                if httpx.get(url + "/healthz", timeout=1).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            assert proc.poll() is None, proc.stderr.read() if proc.stderr else ""
            assert time.monotonic() < deadline, "herald serve did not become healthy"
            try:
                proc.wait(timeout=0.05)  # the poll interval; also notices a process that died
            except subprocess.TimeoutExpired:
                continue
        yield url
    finally:
        proc.kill()  # kill -9: no shutdown, no goodbye
        proc.communicate(timeout=30)


def test_receipts_of_a_send_killed_midway_are_all_posted_after_restart(
    tmp_path: Path, fake_slack: FakeSlack
) -> None:
    with ThirdSendHangs() as bird:
        keys = {"provider": "bird", "channel": "sms", "base_url": bird.base_url}
        keys |= CASE.options(bird)
        body = "[connections.bird]\n" + "".join(f"{k} = {json.dumps(v)}\n" for k, v in keys.items())
        config = write_config(tmp_path, body)
        env = {
            **os.environ,
            "HERALD_CONFIG": str(config),
            "SLACK_BOT_TOKEN": BOT_TOKEN,
            "SLACK_SIGNING_SECRET": SIGNING_SECRET,
            "SLACK_API_URL": fake_slack.api_url,
        }
        with _serve(env) as url:
            text = "bird " + ",".join(RECIPIENTS) + " Your order ships today"
            slash = slash_body(text, response_url=fake_slack.response_url)
            headers = signed_headers(slash, "application/x-www-form-urlencoded")
            assert httpx.post(url + "/slack/events", content=slash, headers=headers).is_success
            bird.wait_for(lambda fake: len(fake.requests) == 3)  # the third is in flight
            # the first two are answered and stored, and their receipts posted
            _until_counted(tmp_path, "messages WHERE status = 'accepted'", 2)
            _until_counted(tmp_path, "slack_receipts", 2)
        # killed. The heartbeat it left goes stale after STALE_AFTER seconds: age it now.
        with sqlite3.connect(tmp_path / "herald.db") as db:
            db.execute("UPDATE processes SET last_seen = 0")
        db.close()

        with _serve(env):
            statuses = fake_slack.wait_for(lambda s: _receipt_words(s, tmp_path, 3))

        assert len(bird.requests) == 3  # nothing was handed over twice

    assert sorted(statuses.values()) == ["accepted", "accepted", "failed"]
    for message_id in statuses:
        assert sum(f"#{message_id}" in r.text for r in fake_slack.receipts()) == 1


def _until_counted(tmp_path: Path, rows: str, count: int) -> None:
    """Poll until ``SELECT COUNT(*) FROM {rows}`` reaches ``count``, with a deadline."""
    deadline = time.monotonic() + 10
    while True:
        with sqlite3.connect(tmp_path / "herald.db") as db:
            (found,) = db.execute(f"SELECT COUNT(*) FROM {rows}").fetchone()  # noqa: S608
        db.close()
        if found >= count:
            return
        assert time.monotonic() < deadline, f"only {found} of {rows}"
        time.sleep(0.01)  # the poll interval of a deadline, not a wait for work


def _receipt_words(slack: FakeSlack, tmp_path: Path, count: int) -> dict[str, str] | None:
    """Each message's status word as its receipt shows it, once ``count`` receipts exist."""
    receipts = slack.receipts()
    if len(receipts) < count:
        return None
    with sqlite3.connect(tmp_path / "herald.db") as db:
        ids = [row[0] for row in db.execute("SELECT id FROM messages")]
    db.close()
    words = {}
    for message_id in ids:
        shown = [r.text for r in receipts if f"#{message_id}" in r.text]
        if shown:
            words[message_id] = shown[0].split()[0]
    return words if len(words) == count else None
