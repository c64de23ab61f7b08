"""`herald serve` as an operator runs it: a real process, signed requests, SIGTERM."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx

from tests.conftest import FAST_SANDBOX, write_config
from tests.fakes.slack_api import BOT_TOKEN, FakeSlack
from tests.serving import run_cli
from tests.slack_signing import SIGNING_SECRET, signed_headers, slash_body

HOOK = "hook-token-5f2a9c"


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _wait_healthy(proc: subprocess.Popen[str], url: str) -> None:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            if httpx.get(url + "/healthz", timeout=1).status_code == 200:
                return
        except httpx.TransportError:
            pass
        try:
            proc.wait(timeout=0.05)  # the poll interval; also notices a process that died
        except subprocess.TimeoutExpired:
            continue
        raise AssertionError(
            f"herald serve exited early:\n{proc.stderr.read() if proc.stderr else ''}"
        )
    raise AssertionError("herald serve did not become healthy")


def test_serve_sends_and_shuts_down_cleanly_on_sigterm(
    tmp_path: Path, fake_slack: FakeSlack
) -> None:
    port = _free_port()
    env = {
        **os.environ,
        "HERALD_CONFIG": str(write_config(tmp_path, FAST_SANDBOX + f'webhook_token = "{HOOK}"\n')),
        "SLACK_BOT_TOKEN": BOT_TOKEN,
        "SLACK_SIGNING_SECRET": SIGNING_SECRET,
        "SLACK_API_URL": fake_slack.api_url,
        "PORT": str(port),
    }
    proc = subprocess.Popen(
        [sys.executable, "-m", "bot", "serve", "--host", "127.0.0.1"],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        url = f"http://127.0.0.1:{port}"
        _wait_healthy(proc, url)
        body = slash_body("sandbox +31612345678 Hello", response_url=fake_slack.response_url)
        answer = httpx.post(
            url + "/slack/events",
            content=body,
            headers=signed_headers(body, "application/x-www-form-urlencoded"),
        )
        assert answer.status_code == 200
        fake_slack.wait_for(lambda s: any(r.text.startswith("delivered") for r in s.receipts()))
        hook = httpx.post(
            f"{url}/webhooks/sandbox?token={HOOK}", json={"id": "x", "status": "sent"}
        )
        assert hook.status_code == 200
    finally:
        proc.send_signal(signal.SIGTERM)
        out, err = proc.communicate(timeout=30)

    # uvicorn finishes its graceful shutdown, then re-raises the signal it caught
    assert proc.returncode == 0, err  # a clean stop: exit code 0
    assert "Herald is up" in err and "shutting down" in err
    assert "Application shutdown complete" in err
    assert "/webhooks/sandbox?token=[redacted]" in out  # the access log, without the token
    for secret in (BOT_TOKEN, SIGNING_SECRET, HOOK):
        assert secret not in out + err


def test_serve_without_slack_credentials_says_what_to_set(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("SLACK_")} | {
        "HERALD_CONFIG": str(write_config(tmp_path))
    }

    done = run_cli("serve", env=env)

    assert done.returncode == 2
    assert "SLACK_BOT_TOKEN and SLACK_SIGNING_SECRET are not set" in done.stderr
    assert "app_manifest.yaml" in done.stderr


def test_serve_with_an_unusable_database_says_so_in_one_line(tmp_path: Path) -> None:
    blocker = tmp_path / "a-file"
    blocker.write_text("not a directory")
    env = {
        **os.environ,
        "HERALD_CONFIG": str(write_config(tmp_path)),
        "HERALD_DB": str(blocker / "herald.db"),
        "SLACK_BOT_TOKEN": BOT_TOKEN,
        "SLACK_SIGNING_SECRET": SIGNING_SECRET,
    }

    done = run_cli("serve", env=env)

    assert done.returncode == 2
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("herald: cannot open the database")
