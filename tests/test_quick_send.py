"""End to end: signed slash commands through the real server to the sandbox and back to Slack."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from bot.config.settings import load_settings
from bot.models import MessageStatus
from tests.conftest import RunningHerald, run_herald
from tests.fakes.slack_api import BOT_TOKEN, FakeSlack
from tests.slack_signing import SIGNING_SECRET

SENDER = "U2147483697"
CHANNEL = "C2147483705"


def _final_receipt(slack: FakeSlack, word: str) -> object:
    return slack.wait_for(
        lambda s: next((r for r in s.receipts() if r.text.startswith(word + " ")), None)
    )


def _edit_words(receipt: object) -> list[str]:
    """The status word of each earlier version of a receipt (quick changes may coalesce)."""
    return [e["text"].split(" ")[0] for e in receipt.edits]  # type: ignore[attr-defined]


def _rows(running: RunningHerald, sql: str) -> list[tuple[object, ...]]:
    with sqlite3.connect(running.settings.db_path) as db:
        return db.execute(sql).fetchall()


def test_quick_send_posts_a_receipt_that_ends_delivered(running: RunningHerald) -> None:
    answer = running.slash("sandbox +31612345678 Hello from support")

    assert answer.status_code == 200
    assert answer.text == ""
    receipt = _final_receipt(running.slack, "delivered")
    assert receipt.channel == CHANNEL
    (message_id,) = _rows(running, "SELECT id FROM messages")[0]
    assert f"#{message_id}" in receipt.text
    assert "+316•••••678" in receipt.text and "+31612345678" not in receipt.text
    shown = str(receipt.blocks)
    assert "sandbox" in shown and f"<@{SENDER}>" in shown and "sbx_" in shown
    assert "Hello from support" in shown
    assert _edit_words(receipt)[0] == "accepted"  # the same message, edited in place
    assert len(running.slack.calls_to("chat.postMessage")) == 1
    outbox = running.herald.providers["sandbox"].outbox  # type: ignore[attr-defined]
    assert [(m.to, m.text, m.reference) for m in outbox] == [
        ("+31612345678", "Hello from support", message_id)
    ]


def test_quick_send_records_every_status_change_with_its_time(running: RunningHerald) -> None:
    running.slash("sandbox +31612345678 Hi")
    _final_receipt(running.slack, "delivered")

    statuses = [row[0] for row in _rows(running, "SELECT status FROM status_events ORDER BY id")]
    assert statuses == ["queued", "sending", "accepted", "sent", "delivered"]
    assert all(row[0] for row in _rows(running, "SELECT at FROM status_events"))
    audit = _rows(running, "SELECT actor, action, connection FROM audit")
    assert audit == [(SENDER, "send", "sandbox")]


def test_several_recipients_get_one_message_and_receipt_each(running: RunningHerald) -> None:
    running.slash("sandbox +31612345678,+4915112345678 Team update")

    running.slack.wait_for(
        lambda s: len([r for r in s.receipts() if r.text.startswith("delivered")]) == 2
    )
    recipients = sorted(row[0] for row in _rows(running, "SELECT recipient FROM messages"))
    assert recipients == ["+31612345678", "+4915112345678"]


def test_invalid_phone_number_answers_privately_and_stores_nothing(
    running: RunningHerald,
) -> None:
    answer = running.slash("sandbox +3161234 Hello")

    assert answer.status_code == 200
    body = answer.json()
    assert body["response_type"] == "ephemeral"
    assert "'+3161234' is not a valid phone number" in body["text"]
    assert "Nothing was sent" in body["text"]
    assert _rows(running, "SELECT count(*) FROM messages") == [(0,)]
    assert running.slack.calls_to("chat.postMessage") == []


def test_number_without_country_code_says_how_to_write_it(running: RunningHerald) -> None:
    body = running.slash("sandbox 0612345678 Hello").json()

    assert "needs its country code" in body["text"] and "+31612345678" in body["text"]


def test_unknown_connection_lists_the_valid_ones(running: RunningHerald) -> None:
    body = running.slash("sandbx +31612345678 Hello").json()

    assert "There is no connection 'sandbx'" in body["text"]
    assert "Did you mean 'sandbox'?" in body["text"]
    assert "Connections: sandbox" in body["text"]
    assert _rows(running, "SELECT count(*) FROM messages") == [(0,)]


def test_missing_text_asks_for_it(running: RunningHerald) -> None:
    body = running.slash("sandbox +31612345678").json()

    assert "Write the message text" in body["text"]


def test_send_alone_opens_the_form_and_stores_nothing(running: RunningHerald) -> None:
    answer = running.slash("", trigger_id=running.slack.issue_trigger())

    assert answer.status_code == 200 and answer.text == ""  # nothing said in the channel
    running.slack.wait_for(lambda slack: slack.calls_to("views.open"))
    assert _rows(running, "SELECT count(*) FROM messages") == [(0,)]


def test_unknown_option_is_named(running: RunningHerald) -> None:
    body = running.slash("sandbox +31612345678 Hi --priority high").json()

    assert "Unknown option --priority" in body["text"]


def test_provider_refusal_gives_a_failed_receipt_and_a_thread_reply(
    running: RunningHerald,
) -> None:
    running.slash("sandbox +31612340000 Hello")

    receipt = _final_receipt(running.slack, "failed")
    assert "numbers ending 0000 are scripted to be refused" in str(receipt.blocks)
    replies = running.slack.wait_for(lambda s: s.replies(receipt.ts))
    assert f"<@{SENDER}>" in replies[0].text
    assert "numbers ending 0000 are scripted to be refused" in replies[0].text
    assert _rows(running, "SELECT status FROM messages") == [("failed",)]


def test_failure_after_sending_edits_the_receipt_and_replies_once(
    running: RunningHerald,
) -> None:
    running.slash("sandbox +31612340013 Hello")

    receipt = _final_receipt(running.slack, "failed")
    assert _edit_words(receipt)[0] == "accepted"  # the same message, edited in place
    replies = running.slack.wait_for(lambda s: s.replies(receipt.ts))
    assert len(replies) == 1 and "unknown subscriber" in replies[0].text


def test_status_shows_the_current_state_and_history(running: RunningHerald) -> None:
    running.slash("sandbox +31612345678 Hello")
    _final_receipt(running.slack, "delivered")
    (message_id,) = _rows(running, "SELECT id FROM messages")[0]

    body = running.slash(f"status #{message_id.upper()}").json()

    assert body["text"].startswith("delivered · #" + message_id)
    history = str(body["blocks"])
    for word in ("queued", "accepted", "sent", "delivered"):
        assert f"*{word}*" in history


def test_status_of_unknown_id_says_where_ids_come_from(running: RunningHerald) -> None:
    body = running.slash("status zzzzzzzz").json()

    assert "There is no message, send or schedule #zzzzzzzz" in body["text"]


def test_help_lists_commands_and_connections(running: RunningHerald) -> None:
    body = running.slash("help").json()

    assert "/send sandbox +31612345678" in body["text"]
    assert "/send status ID" in body["text"]
    assert "`sandbox` (SMS)" in body["text"]


def test_receipt_goes_by_dm_when_herald_is_not_in_the_channel(
    running: RunningHerald,
) -> None:
    running.slack.not_member.add("CPRIVATE")

    running.slash("sandbox +31612345678 Hello", channel_id="CPRIVATE")

    receipt = _final_receipt(running.slack, "delivered")
    assert receipt.channel == "D2147483697"
    note = running.slack.wait_for(lambda s: s.responses)[0]
    assert "can't post in <#CPRIVATE>" in note["text"] and "/invite @Herald" in note["text"]
    assert len(running.herald.providers["sandbox"].outbox) == 1  # type: ignore[attr-defined]


def test_message_is_stored_before_the_provider_is_called(running: RunningHerald) -> None:
    running.slash("sandbox +31612345678 Hello")
    _final_receipt(running.slack, "delivered")

    first = _rows(running, "SELECT status FROM status_events ORDER BY id LIMIT 1")
    assert first == [(MessageStatus.QUEUED.value,)]


def test_lookup_errors_do_not_claim_a_send_was_refused(running: RunningHerald) -> None:
    body = running.slash("status zzzzzzzz").json()

    assert "Nothing was sent" not in body["text"]
    assert "/send help" in body["text"]


def test_default_sandbox_reaches_delivered_within_five_seconds(
    tmp_path: Path, fake_slack: FakeSlack, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)  # no herald.toml here: the embedded default
    env = {
        "SLACK_BOT_TOKEN": BOT_TOKEN,
        "SLACK_SIGNING_SECRET": SIGNING_SECRET,
        "SLACK_API_URL": fake_slack.api_url,
    }
    for running in run_herald(load_settings(env), fake_slack):
        running.slash("sandbox +31612345678 Hello")

        fake_slack.wait_for(
            lambda s: any(r.text.startswith("delivered ") for r in s.receipts()), timeout=5
        )
        assert running.settings.db_path == tmp_path / "data" / "herald.db"


def test_a_send_to_several_answers_with_the_sends_id(running: RunningHerald) -> None:
    answer = running.slash("sandbox +31612345678, +31612345679 Hello both")

    text = answer.json()["text"]
    assert answer.json()["response_type"] == "ephemeral"
    assert "Sending 2 messages as send #" in text
    send_id = text.split("send #", 1)[1].split(":", 1)[0]
    status = running.slash(f"status {send_id}").json()
    assert "2 messages" in status["text"]


def test_text_where_the_recipient_belongs_says_where_the_recipient_goes(
    running: RunningHerald,
) -> None:
    answer = running.slash("sandbox Your order ships tomorrow")

    text = answer.json()["text"]
    assert "'Your' is not a phone number" in text
    assert "right after the connection" in text and "country code" not in text
