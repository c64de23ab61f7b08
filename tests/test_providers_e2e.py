"""Every provider end to end: a signed /send reaches its strict fake once and comes back
as a receipt in Slack; retries, failover and provider errors as the sender sees them."""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from bot.config.settings import load_settings
from tests.conftest import RunningHerald, run_herald, write_config
from tests.fakes.bird_api import BirdFake
from tests.fakes.callbell_api import CallbellFake
from tests.fakes.provider_fake import ProviderFake
from tests.fakes.slack_api import BOT_TOKEN, FakeSlack
from tests.providers.cases import ProviderCase, load_cases
from tests.slack_signing import SIGNING_SECRET

CASES = load_cases()
FAST_RETRIES = "[delivery]\nretry_attempts = 3\nretry_backoff = 0.01\nretry_max_wait = 5\n"


def connection(name: str, case: ProviderCase, fake: ProviderFake, **extra: Any) -> str:
    """A [connections.NAME] table for ``case`` pointing at ``fake``."""
    keys = {
        "provider": case.name,
        "channel": case.channel.value,
        "base_url": fake.base_url,
        **case.options(fake),
        **extra,
    }
    lines = [f"[connections.{name}]"] + [f"{k} = {json.dumps(v)}" for k, v in keys.items()]
    return "\n".join(lines) + "\n"


def serve(tmp_path: Path, slack: FakeSlack, body: str) -> Iterator[RunningHerald]:
    env = {
        "SLACK_BOT_TOKEN": BOT_TOKEN,
        "SLACK_SIGNING_SECRET": SIGNING_SECRET,
        "SLACK_API_URL": slack.api_url,
    }
    yield from run_herald(load_settings(env, write_config(tmp_path, FAST_RETRIES + body)), slack)


def receipt_saying(slack: FakeSlack, word: str) -> Any:
    return slack.wait_for(
        lambda s: next((r for r in s.receipts() if r.text.startswith(word + " ")), None)
    )


def rows(running: RunningHerald, sql: str) -> list[tuple[Any, ...]]:
    with sqlite3.connect(running.settings.db_path) as db:
        return db.execute(sql).fetchall()


@pytest.mark.parametrize("case", CASES, ids=[c.name for c in CASES])
def test_quick_send_reaches_the_provider_once_and_posts_a_receipt(
    case: ProviderCase, tmp_path: Path, fake_slack: FakeSlack
) -> None:
    with case.fake() as fake:
        for running in serve(tmp_path, fake_slack, connection("out", case, fake)):
            answer = running.slash(f"out {case.recipient} Your order A-1042 ships tomorrow")

            assert answer.status_code == 200 and answer.text == ""
            receipt = receipt_saying(fake_slack, "accepted")
            assert len(fake.requests) == 1
            assert "Your order A-1042 ships tomorrow" in fake.requests[0].body.decode()
            (message_id, provider_id) = rows(
                running, "SELECT id, provider_message_id FROM messages"
            )[0]
            assert f"#{message_id}" in receipt.text and "via out" in receipt.text
            if provider_id:
                assert provider_id in str(receipt.blocks)


def _case(name: str) -> ProviderCase:
    return next(c for c in CASES if c.name == name)


def test_retry_then_success_gives_exactly_one_message(
    tmp_path: Path, fake_slack: FakeSlack
) -> None:
    case = _case("bird")
    with case.fake() as fake:
        fake.fail_next(503, {"message": "Service Unavailable"})
        for running in serve(tmp_path, fake_slack, connection("out", case, fake)):
            running.slash(f"out {case.recipient} Hello")

            receipt = receipt_saying(fake_slack, "accepted")
            assert [r.method for r in fake.requests] == ["POST", "POST"]
            assert len(fake_slack.receipts()) == 1 and receipt.edits == []
            history = [r[0] for r in rows(running, "SELECT reason FROM status_events") if r[0]]
            assert any("attempt 1 failed" in h and "HTTP 503" in h for h in history)


def test_failover_goes_out_through_the_fallback_and_the_receipt_says_so(
    tmp_path: Path, fake_slack: FakeSlack
) -> None:
    wa, sms = _case("callbell"), _case("bird")
    with wa.fake() as primary, sms.fake() as fallback:
        primary.fail_next(503, {"error": "down"}, times=3)
        body = connection("wa", wa, primary, fallback="sms") + connection("sms", sms, fallback)
        for running in serve(tmp_path, fake_slack, body):
            running.slash("wa +31612345678 Your order A-1042 ships tomorrow")

            receipt = receipt_saying(fake_slack, "accepted")
            assert "via sms (failed over from wa)" in receipt.text
            assert "failed over from *wa*" in str(receipt.blocks)
            assert len(primary.requests) == 3 and len(fallback.requests) == 1
            assert rows(running, "SELECT connection, failover_from FROM messages") == [
                ("sms", "wa")
            ]


def test_refusal_shows_the_providers_reason_and_hint_without_secrets(
    tmp_path: Path, fake_slack: FakeSlack
) -> None:
    case = _case("callbell")
    with CallbellFake() as fake:
        fake.window_open = False
        for running in serve(tmp_path, fake_slack, connection("wa", case, fake)):
            running.slash("wa +31612345678 Hello again")

            receipt = receipt_saying(fake_slack, "failed")
            ts = receipt.ts
            reply = fake_slack.wait_for(lambda s, ts=ts: s.replies(ts))[0]
            for shown in (str(receipt.blocks), reply.text):
                assert "use --template" in shown
                assert fake.token not in shown
            assert len(fake.requests) == 1  # a refusal is never retried


def test_callbell_assigns_the_conversation_to_the_slack_sender(
    tmp_path: Path, fake_slack: FakeSlack
) -> None:
    case = _case("callbell")
    fake_slack.users["U2147483697"] = {
        "id": "U2147483697",
        "profile": {"email": "alice@acme.test", "real_name": "Alice"},
    }
    with case.fake() as fake:
        body = connection("wa", case, fake, assign_to_sender=True)
        for running in serve(tmp_path, fake_slack, body):
            running.slash("wa +31612345678 Hello")

            receipt_saying(fake_slack, "accepted")
            assert fake.requests[0].json()["assigned_user"] == "alice@acme.test"
            assert fake_slack.calls_to("users.info")[0].args["user"] == "U2147483697"


def test_bird_whatsapp_template_from_a_herald_template(
    tmp_path: Path, fake_slack: FakeSlack
) -> None:
    templates = tmp_path / "templates"
    templates.mkdir()
    (templates / "delayed.j2").write_text(
        '{#-\nchannels = ["whatsapp"]\n[provider_templates.bird]\nid = "'
        "0b6ac3b4-6c4c-4b61-8c2f-3a64e1a0c001"
        '"\nlocale = "en"\nparameters = { order = "{{ order }}" }\n-#}\n'
        "Your order {{ order }} is delayed.\n"
    )
    case = _case("bird")
    with BirdFake() as fake:
        body = connection("wa", case, fake, channel="whatsapp")
        env = {
            "SLACK_BOT_TOKEN": BOT_TOKEN,
            "SLACK_SIGNING_SECRET": SIGNING_SECRET,
            "SLACK_API_URL": fake_slack.api_url,
        }
        settings = load_settings(env, write_config(tmp_path, FAST_RETRIES + body, templates))
        for running in run_herald(settings, fake_slack):
            running.slash("wa +31612345678 --template delayed --var order=A-1042")

            receipt_saying(fake_slack, "accepted")
            sent = fake.requests[0].json()
            assert "body" not in sent
            assert sent["template"]["projectId"] == "0b6ac3b4-6c4c-4b61-8c2f-3a64e1a0c001"
            assert sent["template"]["parameters"] == [
                {"type": "string", "key": "order", "value": "A-1042"}
            ]


def test_hanging_provider_times_out_once_and_says_to_check(
    tmp_path: Path, fake_slack: FakeSlack
) -> None:
    case = _case("sociocs")
    with case.fake() as fake:
        fake.hang_next()
        for running in serve(tmp_path, fake_slack, connection("out", case, fake, read_timeout=0.3)):
            running.slash(f"out {case.recipient} Hello")

            receipt = receipt_saying(fake_slack, "failed")
            shown = str(receipt.blocks)
            assert "may or may not have gone out" in shown
            assert "Check with the recipient before sending it again" in shown
            assert len(fake.requests) == 1  # not retried: it may have been accepted


def test_bird_answer_saying_sent_is_recorded_as_sent(tmp_path: Path, fake_slack: FakeSlack) -> None:
    # Seed 001's send answer carries the message's "status" (accepted … sent … delivered):
    # one that says "sent" already is stored as sent, not put back to accepted.
    case = _case("bird")
    with BirdFake(answer_status="sent") as fake:
        for running in serve(tmp_path, fake_slack, connection("out", case, fake)):
            running.slash(f"out {case.recipient} Your order A-1042 ships tomorrow")

            receipt_saying(fake_slack, "sent")
            assert rows(running, "SELECT status FROM messages") == [("sent",)]
            history = [r[0] for r in rows(running, "SELECT status FROM status_events")]
            assert history[-1] == "sent" and "accepted" not in history


def test_sociocs_twilio_mms_connection_starts_and_sends_media(
    tmp_path: Path, fake_slack: FakeSlack
) -> None:
    # Seed 003, "Sending text & image": "provider": "twlo", … "image_url": "https://…jpg".
    case = _case("sociocs")
    with case.fake() as fake:
        body = connection("mms", case, fake, channel="mms") + connection("sms", case, fake)
        for running in serve(tmp_path, fake_slack, body):
            refused = running.slash(f"sms {case.recipient} Look --media https://x.test/a.jpg")
            running.slash(f"mms {case.recipient} Look --media https://x.test/a.jpg")

            receipt_saying(fake_slack, "accepted")
            assert "--media needs an MMS" in refused.json()["text"]
            [sent] = [request.json() for request in fake.requests]
            assert (sent["provider"], sent["text"]) == ("twlo", "Look")
            assert sent["image_url"] == "https://x.test/a.jpg"


def test_gateway_timeout_is_sent_once_and_says_to_check(
    tmp_path: Path, fake_slack: FakeSlack
) -> None:
    # The provider may have taken the message behind its gateway: a retry could send it twice.
    case = _case("bird")
    with case.fake() as fake:
        fake.fail_next(504, "<html>504 Gateway Time-out</html>", times=3)
        for running in serve(tmp_path, fake_slack, connection("out", case, fake)):
            running.slash(f"out {case.recipient} Hello")

            shown = str(receipt_saying(fake_slack, "failed").blocks)
            assert "may or may not have gone out" in shown and "<html>" not in shown
            assert len(fake.requests) == 1
