"""What reaches ``POST /slack/events``: capped, verified, parsed by its type, acted on once."""

from __future__ import annotations

import asyncio
import json
import logging
import sqlite3
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from tests.conftest import RunningHerald, run_herald, settings_for
from tests.fakes.slack_api import FakeSlack
from tests.slack_signing import signed_headers, slash_body

FORM = "application/x-www-form-urlencoded"


def _texts(running: RunningHerald) -> list[str]:
    with sqlite3.connect(running.settings.db_path) as db:
        return [row[0] for row in db.execute("SELECT text FROM messages ORDER BY created_at")]


def _home_event(event_id: str = "Ev0123ABC", user: str = "U2147483697") -> bytes:
    return json.dumps(
        {
            "token": "x",
            "team_id": "T111",
            "api_app_id": "A111",
            "type": "event_callback",
            "event_id": event_id,
            "event_time": int(time.time()),
            "event": {"type": "app_home_opened", "user": user, "channel": "D1", "tab": "home"},
        }
    ).encode()


# -- every text a user can type reaches the command ------------------------------


def test_text_with_the_word_payload_is_sent(running: RunningHerald) -> None:
    # Bolt's own parser takes any form body containing "payload" for interactivity and
    # finds no listener: Slack showed the user `{"error": "unhandled request"}` (404).
    text = "Your payload is on its way; payload=1 & more"

    answer = running.slash(f"sandbox +31612345678 {text}")

    assert answer.status_code == 200, answer.text
    assert _texts(running) == [text]


_TYPED = st.text(
    st.characters(blacklist_categories=("Cs", "Cc"), blacklist_characters="\u2028\u2029"),
    min_size=1,
    max_size=200,
).filter(lambda t: t.strip() and not any(w.startswith(("-", "—", "–")) for w in t.split()))


@settings(
    max_examples=60,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(text=_TYPED)
@example(text="the payload is ready")
@example(text='{"json": "looking"} text')
@example(text="a=1&b=2 %41 + plus")
@example(text='Code:"1234"')
@example(text="R&D &gt; &copy &gt <b>")
def test_any_typed_text_reaches_the_command(running: RunningHerald, text: str) -> None:
    # Slack escapes &, < and > in what was typed (and only those)
    escaped = text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
    answer = running.slash(f"sandbox +31612345678 {escaped}")  # a trigger_id of its own

    assert answer.status_code == 200, answer.text
    if answer.content:  # an answer in words (a quote left open, …): from the command itself
        assert answer.json()["response_type"] == "ephemeral"
        assert "unhandled" not in answer.text
    else:
        assert _texts(running)[-1] == text.strip()


def test_interactivity_payload_is_still_read_as_json(running: RunningHerald) -> None:
    payload = {
        "type": "block_actions",
        "user": {"id": "U1"},
        "team": {"id": "T1"},
        "actions": [{"action_id": "nothing_here", "block_id": "b", "type": "button"}],
    }
    body = urlencode({"payload": json.dumps(payload)}).encode()

    answer = running.post_signed(body, FORM)

    assert answer.status_code in (200, 404)  # no listener for it yet; never a parse error
    assert "invalid" not in answer.text


# -- bodies are capped before they are read, and never logged --------------------


def test_oversized_body_is_refused_unread_and_not_logged(
    running: RunningHerald, caplog: pytest.LogCaptureFixture
) -> None:
    body = b"text=" + b"+31612345678 secret " * 60_000  # 1.2 MB

    answer = running.http.post("/slack/events", content=body, headers={"content-type": FORM})

    assert answer.status_code == 413
    assert "+31612345678" not in caplog.text


def test_oversized_body_without_a_length_is_cut_off(running: RunningHerald) -> None:
    def chunks() -> Iterator[bytes]:
        for _ in range(40):
            yield b"x" * 65_536

    answer = running.http.post("/slack/events", content=chunks(), headers={"content-type": FORM})

    assert answer.status_code == 413


def test_unsigned_request_is_refused_without_logging_its_body(
    running: RunningHerald, caplog: pytest.LogCaptureFixture
) -> None:
    body = slash_body("sandbox +31612345678 Your code is 123456")

    with caplog.at_level(logging.DEBUG):
        answer = running.http.post("/slack/events", content=body, headers={"content-type": FORM})

    assert answer.status_code == 401
    assert "123456" not in caplog.text
    assert "31612345678" not in caplog.text
    assert _texts(running) == []


# -- malformed requests get a 4xx and at most one log line -----------------------


@pytest.mark.parametrize(
    ("body", "content_type", "status"),
    [
        (b"{not json", "application/json", 400),
        (b"[1, 2, 3]", "application/json", 400),
        (b"[" * 100_000 + b"]" * 100_000, "application/json", 400),
        (b"payload=%7Bbroken", FORM, 400),
        (b"text=%ff%fe", FORM, 400),
        (b"\xff\xfe", FORM, 400),
        (b"<xml/>", "application/xml", 415),
        (b'{"type": "event_callback", "event_id": "Ev9", "event": "str"}', "application/json", 400),
        (b'{"type": "event_callback", "event_id": "Ev8", "event": null}', "application/json", 400),
        (b'{"type": "event_callback", "event_id": ["x"], "event": {}}', "application/json", 400),
    ],
)
def test_malformed_signed_body_is_a_client_error(
    running: RunningHerald,
    caplog: pytest.LogCaptureFixture,
    body: bytes,
    content_type: str,
    status: int,
) -> None:
    answer = running.post_signed(body, content_type)

    assert answer.status_code == status
    assert len([r for r in caplog.records if r.levelno >= logging.WARNING]) <= 1
    assert "Traceback" not in caplog.text


@pytest.mark.parametrize(
    "headers",
    [
        {"x-slack-request-timestamp": "abc", "x-slack-signature": "v0=00"},
        {"x-slack-request-timestamp": "1e9", "x-slack-signature": "v0=00"},
        {"x-slack-request-timestamp": "\uff19\uff19\uff19".encode(), "x-slack-signature": "v0=00"},
        {
            "x-slack-request-timestamp": str(int(time.time())),
            "x-slack-signature": "v0=ünï".encode(),
        },
        {"x-slack-signature": "v0=00"},
        {},
    ],
)
def test_bad_signature_headers_are_refused_quietly(
    running: RunningHerald, caplog: pytest.LogCaptureFixture, headers: dict[str, str | bytes]
) -> None:
    answer = running.http.post(
        "/slack/events", content=b"{", headers={"content-type": "application/json", **headers}
    )

    assert answer.status_code == 401
    errors = [r for r in caplog.records if r.levelno >= logging.ERROR]
    assert errors == []
    assert len([r for r in caplog.records if r.levelno >= logging.WARNING]) <= 1


def test_ssl_check_is_answered(running: RunningHerald) -> None:
    answer = running.http.post(
        "/slack/events", content=b"ssl_check=1&token=x", headers={"content-type": FORM}
    )

    assert answer.status_code == 200


# -- each request is acted on once -----------------------------------------------


def test_retried_event_is_handled_once(running: RunningHerald) -> None:
    body = _home_event()
    first = running.post_signed(body, "application/json")
    running.slack.wait_for(lambda s: s.calls_to("views.publish"))

    retry_headers = {**signed_headers(body, "application/json"), "x-slack-retry-num": "1"}
    retry = running.http.post("/slack/events", content=body, headers=retry_headers)
    other = running.post_signed(_home_event("Ev999"), "application/json")

    assert (first.status_code, retry.status_code, other.status_code) == (200, 200, 200)
    running.slack.wait_for(lambda s: len(s.calls_to("views.publish")) >= 2)
    assert len(running.slack.calls_to("views.publish")) == 2  # the original and Ev999


def test_replayed_slash_command_sends_once(running: RunningHerald) -> None:
    body = slash_body("sandbox +31612345678 Hello", response_url=running.slack.response_url)
    headers = signed_headers(body, FORM)

    answers = [running.http.post("/slack/events", content=body, headers=headers) for _ in range(3)]
    with_retry = running.http.post(
        "/slack/events", content=body, headers={**headers, "x-slack-retry-num": "1"}
    )

    assert [a.status_code for a in [*answers, with_retry]] == [200] * 4
    assert _texts(running) == ["Hello"]


def test_replay_after_a_restart_sends_once(tmp_path: Path, fake_slack: FakeSlack) -> None:
    body = slash_body("sandbox +31612345678 Hello", response_url=fake_slack.response_url)
    headers = signed_headers(body, FORM)
    settings_ = settings_for(tmp_path, fake_slack)
    for running in run_herald(settings_, fake_slack):
        assert running.http.post("/slack/events", content=body, headers=headers).is_success
    for running in run_herald(settings_, fake_slack):
        assert running.http.post("/slack/events", content=body, headers=headers).is_success
        assert _texts(running) == ["Hello"]


def test_same_text_typed_twice_sends_twice(running: RunningHerald) -> None:
    # Two requests of their own (their own timestamps or bodies) are two sends.
    running.slash("sandbox +31612345678 Hello")
    running.slash("sandbox +31612345678 Hello", channel_id="C999")

    assert _texts(running) == ["Hello", "Hello"]


# -- a listener that fails does not make Slack retry -----------------------------


def test_failing_event_listener_answers_200(
    running: RunningHerald, caplog: pytest.LogCaptureFixture
) -> None:
    # views.publish refuses an empty user id, so the listener raises SlackApiError
    answer = running.post_signed(_home_event(user=""), "application/json")

    assert answer.status_code == 200
    assert any("unhandled error" in r.getMessage() for r in caplog.records)


@pytest.mark.parametrize("invisible", ["\u0000", "\u202e", "\u2066", "\x1b"])
def test_invisible_control_characters_are_refused(running: RunningHerald, invisible: str) -> None:
    # A NUL or a bidi override reaches the customer's phone, and an override makes the
    # receipt in Slack read differently from what was sent.
    answer = running.slash(f"sandbox +31612345678 Your refund{invisible} is 10 EUR")

    assert answer.json()["response_type"] == "ephemeral"
    assert f"U+{ord(invisible):04X}" in answer.json()["text"]
    assert _texts(running) == []


def test_emoji_sequences_and_line_breaks_are_sent_as_typed(running: RunningHerald) -> None:
    text = "Thanks!\n👩\u200d💻 Tab\there"

    assert running.slash(f"sandbox +31612345678 {text}").content == b""
    assert _texts(running) == [text]


def test_an_unhandled_interaction_is_one_log_line(
    running: RunningHerald, caplog: pytest.LogCaptureFixture
) -> None:
    payload = {
        "type": "block_actions",
        "user": {"id": "U1"},
        "team": {"id": "T1"},
        "actions": [{"action_id": "nothing_here", "block_id": "b", "type": "button"}],
    }
    running.post_signed(urlencode({"payload": json.dumps(payload)}).encode(), FORM)

    logged = [r.getMessage() for r in caplog.records if r.name.startswith("bot.slack.bolt")]
    assert logged and all("\n" not in line and len(line) < 300 for line in logged)


@pytest.mark.parametrize(
    ("body", "content_type"),
    [
        (
            urlencode(
                {
                    "payload": json.dumps(
                        {
                            "type": "block_actions",
                            "user": {"id": "U1"},
                            "channel": 5,
                            "actions": [{"action_id": "x", "block_id": "b", "type": "button"}],
                        }
                    )
                }
            ).encode(),
            FORM,
        ),
        (
            json.dumps(
                {
                    "type": "event_callback",
                    "event_id": "Ev1",
                    "team_id": "T1",
                    "event": {"type": "app_home_opened", "user": 5, "tab": "home"},
                }
            ).encode(),
            "application/json",
        ),
    ],
)
def test_a_signed_payload_of_wrong_types_is_one_line_and_a_200(
    running: RunningHerald, caplog: pytest.LogCaptureFixture, body: bytes, content_type: str
) -> None:
    answer = running.post_signed(body, content_type)

    assert answer.status_code == 200  # was a 500 from Bolt reading the channel or user
    errors = [r for r in caplog.records if r.levelno >= logging.ERROR]
    assert len(errors) == 1 and errors[0].exc_info is None, [r.getMessage() for r in errors]
    assert "could not read a signed" in errors[0].getMessage()


@pytest.mark.parametrize(
    ("body", "content_type"),
    [
        (
            urlencode(
                {"payload": '{"type": "view_submission", "user": {"id": "U1"}, "view": null}'}
            ).encode(),
            FORM,
        ),
    ],
)
def test_a_signed_payload_bolt_cannot_read_is_answered_200_and_logged(
    running: RunningHerald, caplog: pytest.LogCaptureFixture, body: bytes, content_type: str
) -> None:
    # Bolt fails building its listeners' arguments for these shapes, outside any listener;
    # Slack signed them, so the failure is logged, and a 200 keeps Slack from retrying.
    answer = running.post_signed(body, content_type)

    assert answer.status_code == 200
    assert any(r.levelno == logging.ERROR for r in caplog.records)


@pytest.mark.parametrize("path", ["/slack/events", "/webhooks/sandbox"])
def test_a_caller_that_leaves_mid_body_gets_a_400_and_no_traceback(
    tmp_path: Path, path: str
) -> None:
    from bot.web.server import create_app

    app = create_app(settings_for(tmp_path))
    messages = [
        {"type": "http.request", "body": b'{"a"', "more_body": True},
        {"type": "http.disconnect"},
    ]
    sent: list[dict[str, Any]] = []

    async def receive() -> dict[str, Any]:
        return messages.pop(0)

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    scope = {
        "type": "http",
        "method": "POST",
        "path": path,
        "raw_path": path.encode(),
        "query_string": b"",
        "headers": [(b"content-type", b"application/json"), (b"content-length", b"100")],
    }
    asyncio.run(app(scope, receive, send))  # before: ClientDisconnect raised out of the app

    assert sent[0]["status"] == 400


def test_a_redelivered_command_signed_again_sends_once(running: RunningHerald) -> None:
    # the same command (its trigger_id) signed at two times, as a redelivery would be
    body = slash_body("sandbox +31612345678 Hello", trigger_id="13345224609.1.abc")
    first = signed_headers(body, FORM, timestamp=int(time.time()))
    again = {**signed_headers(body, FORM, timestamp=int(time.time()) - 5), "x-slack-retry-num": "1"}

    answers = [running.http.post("/slack/events", content=body, headers=h) for h in (first, again)]

    assert [a.status_code for a in answers] == [200, 200]
    assert _texts(running) == ["Hello"]


@pytest.mark.parametrize(
    "payload",
    [
        {"type": "block_actions", "user": {"id": "U1"}, "actions": []},
        {"type": "block_actions", "user": {"id": "U1"}, "actions": "herald_cancel"},
        {"type": "block_actions", "user": {"id": "U1"}, "actions": ["x"]},
        {"type": "block_actions", "user": "U1", "actions": [{"action_id": "herald_cancel"}]},
        {"type": "block_actions", "actions": [{"action_id": "herald_cancel", "value": "k3x9"}]},
        {
            "type": "block_actions",
            "user": {"id": "U1"},
            "actions": [{"action_id": "herald_cancel", "value": "x" * 900_000}],
        },
        {"user": {"id": "U1"}, "actions": [{"action_id": "herald_cancel"}]},
    ],
)
def test_malformed_button_clicks_are_refused_at_the_door(
    running: RunningHerald, caplog: pytest.LogCaptureFixture, payload: dict[str, Any]
) -> None:
    body = urlencode({"payload": json.dumps(payload)}).encode()

    answer = running.post_signed(body, FORM)

    assert answer.status_code == 400
    assert len([r for r in caplog.records if r.levelno >= logging.WARNING]) <= 1
    assert "Traceback" not in caplog.text
    assert all(len(r.getMessage()) < 500 for r in caplog.records)
