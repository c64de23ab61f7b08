"""The server's HTTP surface: signatures, health, webhooks, App Home."""

from __future__ import annotations

import json
import sqlite3
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.conftest import FAST_SANDBOX, RunningHerald, run_herald, settings_for
from tests.fakes.slack_api import FakeSlack
from tests.slack_signing import signed_headers, slash_body


def _count_messages(running: RunningHerald) -> int:
    with sqlite3.connect(running.settings.db_path) as db:
        return int(db.execute("SELECT count(*) FROM messages").fetchone()[0])


def test_forged_signature_is_refused_and_nothing_is_sent(running: RunningHerald) -> None:
    body = slash_body("sandbox +31612345678 Hello")

    answer = running.post_signed(
        body, "application/x-www-form-urlencoded", secret="not-the-signing-secret"
    )

    assert answer.status_code == 401
    assert _count_messages(running) == 0
    assert running.slack.calls_to("chat.postMessage") == []


def test_stale_timestamp_is_refused_as_a_replay(running: RunningHerald) -> None:
    body = slash_body("sandbox +31612345678 Hello")

    answer = running.post_signed(
        body, "application/x-www-form-urlencoded", timestamp=int(time.time()) - 301
    )

    assert answer.status_code == 401
    assert _count_messages(running) == 0


def test_body_changed_after_signing_is_refused(running: RunningHerald) -> None:
    body = slash_body("sandbox +31612345678 Hello")
    headers = signed_headers(body, "application/x-www-form-urlencoded")

    answer = running.http.post(
        "/slack/events", content=body.replace(b"Hello", b"Hallo"), headers=headers
    )

    assert answer.status_code == 401
    assert _count_messages(running) == 0


def test_healthz_reports_database_scheduler_and_connections(running: RunningHerald) -> None:
    answer = running.http.get("/healthz")

    assert answer.status_code == 200
    body = answer.json()
    assert body["status"] == "ok"
    assert body["database"] == "ok"
    assert body["scheduler"] == "running"
    assert body["connections"] == {"sandbox": {"provider": "sandbox", "channel": "sms"}}
    assert body["version"]


def test_webhook_for_unknown_connection_is_404(running: RunningHerald) -> None:
    answer = running.http.post("/webhooks/nope", json={"id": "x", "status": "sent"})

    assert answer.status_code == 404


def test_sandbox_webhook_moves_the_receipt(guarded: RunningHerald) -> None:
    running = guarded
    running.slash("sandbox +31612345678 Hello")
    receipt = running.slack.wait_for(
        lambda s: next((r for r in s.receipts() if r.text.startswith("delivered")), None)
    )
    with sqlite3.connect(running.settings.db_path) as db:
        (provider_id,) = db.execute("SELECT provider_message_id FROM messages").fetchone()

    answer = running.http.post(
        "/webhooks/sandbox?token=s3cret-hook-token", json={"id": provider_id, "status": "read"}
    )

    assert answer.status_code == 200
    running.slack.wait_for(lambda s: receipt.text.startswith("read "))


def test_unreadable_webhook_is_400(guarded: RunningHerald) -> None:
    answer = guarded.http.post("/webhooks/sandbox?token=s3cret-hook-token", content=b"not json")

    assert answer.status_code == 400
    assert "expected JSON" in answer.json()["error"]


@pytest.fixture
def guarded(tmp_path: Path, fake_slack: FakeSlack) -> Iterator[RunningHerald]:
    body = FAST_SANDBOX + 'webhook_token = "s3cret-hook-token"\n'
    yield from run_herald(settings_for(tmp_path, fake_slack, body), fake_slack)


def test_webhook_token_is_required_when_configured(guarded: RunningHerald) -> None:
    payload = {"id": "sbx_unknown", "status": "sent"}

    assert guarded.http.post("/webhooks/sandbox", json=payload).status_code == 401
    assert guarded.http.post("/webhooks/sandbox?token=wrong", json=payload).status_code == 401
    ok = guarded.http.post("/webhooks/sandbox?token=s3cret-hook-token", json=payload)
    assert ok.status_code == 200


def test_app_home_lists_the_users_recent_messages(running: RunningHerald) -> None:
    running.slash("sandbox +31612345678 Hello")
    running.slack.wait_for(lambda s: any(r.text.startswith("delivered") for r in s.receipts()))
    event = {
        "token": "legacy",
        "team_id": "T111",
        "api_app_id": "A111",
        "type": "event_callback",
        "event_id": "Ev0123ABC",
        "event_time": int(time.time()),
        "event": {"type": "app_home_opened", "user": "U2147483697", "channel": "D1", "tab": "home"},
    }

    answer = running.post_signed(json.dumps(event).encode(), "application/json")

    assert answer.status_code == 200
    published = running.slack.wait_for(lambda s: s.calls_to("views.publish"))[0]
    assert published.args["user_id"] == "U2147483697"
    assert "delivered" in json.dumps(published.args["view"])


def test_url_verification_echoes_the_challenge(running: RunningHerald) -> None:
    body = json.dumps({"type": "url_verification", "challenge": "abc123", "token": "x"}).encode()

    answer = running.post_signed(body, "application/json")

    assert answer.status_code == 200
    assert answer.json() == {"challenge": "abc123"}


def test_oversized_webhook_is_refused_unread(running: RunningHerald) -> None:
    answer = running.http.post("/webhooks/sandbox", content=b"x" * 1_000_001)

    assert answer.status_code == 413


def test_providers_can_check_that_the_callback_url_answers(running: RunningHerald) -> None:
    assert running.http.get("/webhooks/sandbox").json() == {"status": "ok"}
    assert running.http.head("/webhooks/sandbox").status_code == 200
    assert running.http.get("/webhooks/nope").status_code == 404
