"""Shared fixtures: a fake Slack, a config on disk and the real server on port 0."""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import httpx
import pytest

from bot.config.settings import Settings, load_settings
from bot.services import Herald
from bot.web.server import create_app
from tests.fakes.slack_api import BOT_TOKEN, FakeSlack
from tests.serving import ServerThread
from tests.slack_signing import SIGNING_SECRET, signed_headers, slash_body

FAST_SANDBOX = """
[connections.sandbox]
provider = "sandbox"
channel = "sms"
sent_after = 0.05
delivered_after = 0.1
"""


@pytest.fixture
def fake_slack() -> Iterator[FakeSlack]:
    fake = FakeSlack().start()
    yield fake
    fake.stop()


TEMPLATES = Path(__file__).resolve().parent.parent / "templates"


def write_config(directory: Path, body: str = FAST_SANDBOX, templates: Path = TEMPLATES) -> Path:
    path = directory / "herald.toml"
    path.write_text(
        f'[storage]\npath = "herald.db"\n[templates]\ndir = "{templates}"\n{body}',
        encoding="utf-8",
    )
    return path


def settings_for(
    tmp_path: Path, fake_slack: FakeSlack | None = None, body: str = FAST_SANDBOX, **env: str
) -> Settings:
    environ = {
        "SLACK_BOT_TOKEN": BOT_TOKEN,
        "SLACK_SIGNING_SECRET": SIGNING_SECRET,
        **({"SLACK_API_URL": fake_slack.api_url} if fake_slack else {}),
        **env,
    }
    return load_settings(environ, write_config(tmp_path, body))


@dataclass
class RunningHerald:
    url: str
    settings: Settings
    herald: Herald
    slack: FakeSlack
    http: httpx.Client

    def slash(self, text: str, **fields: Any) -> httpx.Response:
        fields.setdefault("response_url", self.slack.response_url)
        body = slash_body(text, command=self.settings.slack.command, **fields)
        return self.post_signed(body, "application/x-www-form-urlencoded")

    def post_signed(self, body: bytes, content_type: str, **sign: Any) -> httpx.Response:
        headers = signed_headers(body, content_type, **sign)
        return self.http.post("/slack/events", content=body, headers=headers)

    def interact(self, payload: dict[str, Any], **sign: Any) -> httpx.Response:
        """Post an interactivity payload (tests.interactivity builds them) as Slack does:
        signed form body ``payload=<URL-encoded JSON>``."""
        body = urlencode({"payload": json.dumps(payload, separators=(",", ":"))}).encode()
        return self.post_signed(body, "application/x-www-form-urlencoded", **sign)

    def event(self, body: dict[str, Any], **sign: Any) -> httpx.Response:
        """Post an Events API envelope, signed, as JSON."""
        return self.post_signed(json.dumps(body).encode(), "application/json", **sign)


def run_herald(settings: Settings, fake_slack: FakeSlack) -> Iterator[RunningHerald]:
    app = create_app(settings)
    with ServerThread(app) as server:
        url = f"http://127.0.0.1:{server.port}"
        with httpx.Client(base_url=url, timeout=10) as http:
            yield RunningHerald(url, settings, app.state.herald, fake_slack, http)


@pytest.fixture
def running(tmp_path: Path, fake_slack: FakeSlack) -> Iterator[RunningHerald]:
    yield from run_herald(settings_for(tmp_path, fake_slack), fake_slack)
