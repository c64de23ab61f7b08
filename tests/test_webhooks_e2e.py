"""Provider delivery callbacks end to end: a real callback to /webhooks/{connection}
moves the Slack receipt of the message it reports on."""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import sqlite3
import time
from pathlib import Path
from typing import Any

import pytest

from bot.config.settings import load_settings
from bot.services import Herald
from providers import WebhookAuthError, WebhookRequest
from tests.conftest import FAST_SANDBOX
from tests.fakes.callbell_api import CallbellFake, signature_header
from tests.fakes.slack_api import FakeSlack
from tests.fakes.sociocs_api import FAILED_21614, WEBHOOK_SECRET, status_update_callback
from tests.providers.cases import ProviderCase, load_cases
from tests.test_providers_e2e import connection, receipt_saying, serve

CASES = {case.name: case for case in load_cases()}
TOKEN = "cb-hook-token-93b1"


def _provider_id(running: Any) -> str:
    with sqlite3.connect(running.settings.db_path) as db:
        return str(db.execute("SELECT provider_message_id FROM messages").fetchone()[0])


def test_callbell_callbacks_move_the_receipt_to_delivered_and_read(
    tmp_path: Path, fake_slack: FakeSlack
) -> None:
    case: ProviderCase = CASES["callbell"]
    with CallbellFake() as fake:
        body = connection("wa", case, fake, webhook_token=TOKEN)
        for running in serve(tmp_path, fake_slack, body):
            running.slash("wa +31612345678 Your order A-1042 ships tomorrow")
            receipt = receipt_saying(fake_slack, "accepted")
            uuid = _provider_id(running)

            refused = running.http.post(
                "/webhooks/wa", content=fake.status_callback(uuid, "delivered")
            )
            assert refused.status_code == 401 and receipt.text.startswith("accepted")

            for status in ("sent", "delivered", "read"):
                answer = running.http.post(
                    f"/webhooks/wa?token={TOKEN}", content=fake.status_callback(uuid, status)
                )
                assert answer.json() == {"status": "ok"}
            fake_slack.wait_for(lambda s, r=receipt: r.text.startswith("read "))
            # each edit shows the state current when it ran: quick reports may coalesce
            assert receipt.edits[0]["text"].startswith("accepted ")
            with sqlite3.connect(running.settings.db_path) as db:
                statuses = [r[0] for r in db.execute("SELECT status FROM status_events")]
            assert statuses[-3:] == ["sent", "delivered", "read"]


def test_sociocs_signed_failure_fails_the_receipt_with_the_reason(
    tmp_path: Path, fake_slack: FakeSlack
) -> None:
    case = CASES["sociocs"]
    with case.fake() as fake:
        for running in serve(tmp_path, fake_slack, connection("out", case, fake)):
            running.slash(f"out {case.recipient} Hello")
            receipt = receipt_saying(fake_slack, "accepted")
            message_id = _provider_id(running)

            forged, headers = status_update_callback(message_id, "delivered", secret="not-it")
            assert (
                running.http.post("/webhooks/out", content=forged, headers=headers).status_code
                == 401
            )

            body, headers = status_update_callback(
                message_id, "failed", secret=WEBHOOK_SECRET, **FAILED_21614
            )
            assert (
                running.http.post("/webhooks/out", content=body, headers=headers).status_code == 200
            )

            fake_slack.wait_for(lambda s, r=receipt: r.text.startswith("failed "))
            ts = receipt.ts
            reply = fake_slack.wait_for(lambda s, ts=ts: s.replies(ts))[0]
            assert "21614" in reply.text


def test_bird_signed_callbacks_move_the_receipt_and_forgeries_do_not(
    tmp_path: Path, fake_slack: FakeSlack
) -> None:
    case = CASES["bird"]
    public = "https://herald.example.com"
    with case.fake() as fake:
        body = f'[server]\npublic_url = "{public}"\n' + connection("out", case, fake)
        for running in serve(tmp_path, fake_slack, body):
            running.slash(f"out {case.recipient} Hello")
            receipt = receipt_saying(fake_slack, "accepted")
            message_id = _provider_id(running)
            url = f"{public}/webhooks/out"

            wrong_url, headers = fake.status_callback(
                f"{public}/webhooks/other", message_id, "delivered"
            )
            assert (
                running.http.post("/webhooks/out", content=wrong_url, headers=headers).status_code
                == 401
            )

            signed, headers = fake.status_callback(url, message_id, "delivered")
            assert (
                running.http.post("/webhooks/out", content=signed, headers=headers).status_code
                == 200
            )

            fake_slack.wait_for(lambda s, r=receipt: r.text.startswith("delivered "))


# -- issue 7 #16: a callback changes only messages its verifying account could have sent --

SECRET_A = "whsec_accountAsSigningSecret"


def _callbell_a(signed: bool) -> dict[str, Any]:
    return {"signing_secret": SECRET_A} if signed else {"webhook_token": "token-of-a"}


@pytest.mark.parametrize("signed", [False, True], ids=["webhook_token", "signing_secret"])
def test_callbell_callback_verified_for_one_account_cannot_touch_anothers_message(
    tmp_path: Path, fake_slack: FakeSlack, signed: bool
) -> None:
    case = CASES["callbell"]
    with CallbellFake() as fake_a, CallbellFake() as fake_b:
        body = connection("wa-a", case, fake_a, **_callbell_a(signed)) + connection(
            "wa-b", case, fake_b, webhook_token="token-of-b"
        )
        for running in serve(tmp_path, fake_slack, body):
            running.slash("wa-b +31612345678 Your order A-1042 ships tomorrow")
            receipt = receipt_saying(fake_slack, "accepted")
            uuid = _provider_id(running)
            forged = fake_b.status_callback(uuid, "failed", reason="number does not exist")
            if signed:
                headers = signature_header(forged, SECRET_A, int(time.time()))
                answer = running.http.post("/webhooks/wa-a", content=forged, headers=headers)
            else:
                answer = running.http.post("/webhooks/wa-a?token=token-of-a", content=forged)

            # verified for A, so acknowledged (Callbell would retry a refusal), but B's
            # message is not A's to change
            assert answer.status_code == 200
            assert _statuses(running) == ["queued", "sending", "accepted"]

            real = fake_b.status_callback(uuid, "delivered")
            running.http.post("/webhooks/wa-b?token=token-of-b", content=real)
            fake_slack.wait_for(lambda s, r=receipt: r.text.startswith("delivered "))
            assert not any("failed" in edit["text"] for edit in receipt.edits)
            assert "failed" not in _statuses(running)
            assert fake_slack.replies(receipt.ts) == []  # nobody was told it failed


def test_sociocs_callback_signed_with_one_connections_secret_cannot_touch_anothers(
    tmp_path: Path, fake_slack: FakeSlack
) -> None:
    case = CASES["sociocs"]
    with case.fake() as fake:
        body = connection("out-a", case, fake, webhook_secret="secret-of-a") + connection(
            "out-b", case, fake, webhook_secret="secret-of-b"
        )
        for running in serve(tmp_path, fake_slack, body):
            running.slash(f"out-b {case.recipient} Hello")
            receipt = receipt_saying(fake_slack, "accepted")
            message_id = _provider_id(running)

            forged, headers = status_update_callback(
                message_id, "failed", secret="secret-of-a", **FAILED_21614
            )
            answer = running.http.post("/webhooks/out-a", content=forged, headers=headers)

            assert answer.status_code == 200
            assert _statuses(running) == ["queued", "sending", "accepted"]
            real, headers = status_update_callback(message_id, "delivered", secret="secret-of-b")
            running.http.post("/webhooks/out-b", content=real, headers=headers)
            fake_slack.wait_for(lambda s, r=receipt: r.text.startswith("delivered "))
            assert "failed" not in _statuses(running)


def _statuses(running: Any) -> list[str]:
    with sqlite3.connect(running.settings.db_path) as db:
        return [r[0] for r in db.execute("SELECT status FROM status_events ORDER BY rowid")]


# -- issue 7 #15: the sandbox webhook is protected; unknown ids cannot pile up; safe logs --


def test_sandbox_webhook_without_a_webhook_token_refuses_callbacks(running: Any) -> None:
    running.slash("sandbox +31612345678 Hello")
    receipt_saying(running.slack, "delivered")
    pid = _provider_id(running)

    answer = running.http.post(
        "/webhooks/sandbox", json={"id": pid, "status": "failed", "reason": "forged"}
    )

    assert answer.status_code == 401
    assert "failed" not in _statuses(running)


HOOK = "sandbox-hook-token"
GUARDED_SANDBOX = FAST_SANDBOX + f'webhook_token = "{HOOK}"\n'


def test_big_callbacks_for_unknown_ids_do_not_pile_up_in_memory(
    tmp_path: Path, fake_slack: FakeSlack
) -> None:
    # issue 7 #15: 600 POSTs of 900 KB took the server from 80 to 611 MB for ten minutes
    for running in serve(tmp_path, fake_slack, GUARDED_SANDBOX):
        for n in range(12):
            body = {"id": f"sbx_unknown{n}", "status": "sent", "padding": "A" * 900_000}
            answer = running.http.post(f"/webhooks/sandbox?token={HOOK}", json=body)
            assert answer.status_code == 200

        early = running.herald.receipts._early
        assert len(early) == 12  # each still kept, in case its send is in flight …
        assert early.size < 12 * 1_000  # … but not its 900 KB of padding


def test_a_newline_in_a_callback_id_cannot_forge_a_log_line(
    tmp_path: Path, fake_slack: FakeSlack, caplog: pytest.LogCaptureFixture
) -> None:
    forged_id = "sbx_x\n2026-12-01 ERROR bot.services: database wiped \x1b[2J\u202e"
    for running in serve(tmp_path, fake_slack, GUARDED_SANDBOX):
        with caplog.at_level(logging.INFO, logger="bot"):
            answer = running.http.post(
                f"/webhooks/sandbox?token={HOOK}", json={"id": forged_id, "status": "sent"}
            )

    assert answer.status_code == 200
    (line,) = [r.getMessage() for r in caplog.records if "unknown message" in r.getMessage()]
    assert "\n" not in line and "\x1b" not in line and "\u202e" not in line
    assert "sbx_x\\n2026-12-01 ERROR" in line


def test_an_unreadable_callback_is_logged_on_one_escaped_line(
    tmp_path: Path, fake_slack: FakeSlack, caplog: pytest.LogCaptureFixture
) -> None:
    case = CASES["bird"]
    with case.fake() as fake:
        options = {k: v for k, v in case.options(fake).items() if k != "signing_key"}
        body = "[connections.out]\n" + "".join(
            f"{k} = {json.dumps(v)}\n"
            for k, v in {
                "provider": "bird",
                "channel": "sms",
                "webhook_token": HOOK,
                **options,
            }.items()
        )
        # Bird's error names the event, which the sender chose
        callback = json.dumps({"event": "sms\x1b[31m\r\nFAKE.outbound", "payload": {}}).encode()
        for running in serve(tmp_path, fake_slack, body):
            with caplog.at_level(logging.INFO):
                answer = running.http.post(f"/webhooks/out?token={HOOK}", content=callback)

    assert answer.status_code == 400
    lines = [r.getMessage() for r in caplog.records if r.name.startswith("bot")]
    assert len(lines) == 1
    assert "\x1b" not in lines[0] and "\n" not in lines[0] and "\r" not in lines[0]


# -- issue 7 #20: deeply nested JSON is a 400 with one log line, never a RecursionError --

DEEP_BODIES = [b"[" * 100_000, b'{"a":' * 50_000 + b"1" + b"}" * 50_000]


@pytest.mark.parametrize("provider", ["bird", "callbell", "sociocs", "sandbox"])
def test_deeply_nested_json_to_a_webhook_is_a_400_and_one_log_line(
    tmp_path: Path, fake_slack: FakeSlack, caplog: pytest.LogCaptureFixture, provider: str
) -> None:
    if provider == "sandbox":
        fakes: Any = contextlib.nullcontext(None)
    else:
        fakes = CASES[provider].fake()
    with fakes as fake:
        name = provider
        if fake is None:
            body = GUARDED_SANDBOX
        else:
            case = CASES[provider]
            unsigned = {
                k: v
                for k, v in case.options(fake).items()
                if k not in ("signing_key", "webhook_secret", "signing_secret")
            }
            body = f"[connections.{name}]\n" + "".join(
                f"{k} = {json.dumps(v)}\n"
                for k, v in {
                    "provider": provider,
                    "channel": case.channel.value,
                    "base_url": fake.base_url,
                    "webhook_token": HOOK,
                    **unsigned,
                }.items()
            )
        for running in serve(tmp_path, fake_slack, body):
            uvicorn_errors = logging.getLogger("uvicorn.error")
            uvicorn_errors.addHandler(caplog.handler)
            try:
                with caplog.at_level(logging.INFO):
                    answers = [
                        running.http.post(f"/webhooks/{name}?token={HOOK}", content=deep)
                        for deep in DEEP_BODIES
                    ]
            finally:
                uvicorn_errors.removeHandler(caplog.handler)

    assert [a.status_code for a in answers] == [400, 400]
    assert all("deeper than" in a.json()["error"] for a in answers)
    served = [r for r in caplog.records if r.name != "httpx"]  # not the test's own client
    assert len(served) == len(DEEP_BODIES)  # one line each
    assert all(r.levelno < logging.ERROR for r in served)


def test_the_embedded_default_sandbox_refuses_every_callback(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # README, "Configuration reference": the embedded default's sandbox has no token
    monkeypatch.chdir(tmp_path)
    settings = load_settings({}, None)
    assert settings.config_path is None and settings.connections["sandbox"].webhook_token is None

    async def post() -> None:
        herald = Herald(settings)
        await herald.start()
        try:
            hook = WebhookRequest("http://x/webhooks/sandbox", {}, b'{"id": "x", "status": "sent"}')
            await herald.handle_webhook("sandbox", hook)
        finally:
            await herald.stop()

    with pytest.raises(WebhookAuthError, match="set webhook_token"):
        asyncio.run(post())
