"""Socket Mode (SLACK_APP_TOKEN): the same commands arrive over a WebSocket instead of HTTP."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.conftest import RunningHerald, run_herald, settings_for, write_config
from tests.fakes.slack_api import APP_TOKEN, BOT_TOKEN, FakeSlack
from tests.fakes.socket_mode import FakeSocketMode
from tests.serving import run_cli
from tests.slack_signing import SIGNING_SECRET


@pytest.fixture
def socket_mode(fake_slack: FakeSlack) -> Iterator[FakeSocketMode]:
    server = FakeSocketMode().start()
    fake_slack.socket_mode_url = server.url
    yield server
    server.stop()


def _slash(text: str) -> dict[str, object]:
    return {
        "envelope_id": "env-1",
        "type": "slash_commands",
        "accepts_response_payload": True,
        "payload": {
            "token": "legacy",
            "team_id": "T111",
            "channel_id": "C2147483705",
            "user_id": "U2147483697",
            "command": "/send",
            "text": text,
            "api_app_id": "A111",
            "response_url": "",
            "trigger_id": "1.2.3",
        },
    }


def test_quick_send_over_socket_mode_acks_and_posts_the_receipt(
    tmp_path: Path, fake_slack: FakeSlack, socket_mode: FakeSocketMode
) -> None:
    settings = settings_for(tmp_path, fake_slack, SLACK_APP_TOKEN=APP_TOKEN)
    running: RunningHerald
    for running in run_herald(settings, fake_slack):
        socket_mode.wait_for(lambda s: s.connected())

        socket_mode.push(_slash("sandbox +31612345678 Hello over a socket"))

        ack = socket_mode.wait_for(lambda s: s.acks)[0]
        assert ack["envelope_id"] == "env-1"
        fake_slack.wait_for(lambda s: any(r.text.startswith("delivered") for r in s.receipts()))
        assert running.http.get("/healthz").status_code == 200


def test_input_errors_come_back_in_the_ack(
    tmp_path: Path, fake_slack: FakeSlack, socket_mode: FakeSocketMode
) -> None:
    settings = settings_for(tmp_path, fake_slack, SLACK_APP_TOKEN=APP_TOKEN)
    for _ in run_herald(settings, fake_slack):
        socket_mode.wait_for(lambda s: s.connected())

        socket_mode.push(_slash("sandbox 0612345678 Hello"))

        ack = socket_mode.wait_for(lambda s: s.acks)[0]
        assert "needs its country code" in ack["payload"]["text"]


def test_refused_app_token_stops_serve_with_one_clear_line(
    tmp_path: Path, fake_slack: FakeSlack
) -> None:
    fake_slack.socket_mode_url = ""  # apps.connections.open refuses the token
    env = {
        **os.environ,
        "HERALD_CONFIG": str(write_config(tmp_path)),
        "SLACK_BOT_TOKEN": BOT_TOKEN,
        "SLACK_SIGNING_SECRET": SIGNING_SECRET,
        "SLACK_API_URL": fake_slack.api_url,
        "SLACK_APP_TOKEN": APP_TOKEN,
    }

    done = run_cli("serve", "--port", "0", env=env)

    assert done.returncode == 2
    assert done.stderr.strip().splitlines() == [
        "herald: Slack refused SLACK_APP_TOKEN (not_allowed_token_type): use the app-level "
        "token (xapp-…) with the connections:write scope, from Basic Information"
    ]
