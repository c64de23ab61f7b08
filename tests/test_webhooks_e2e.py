"""Provider delivery callbacks end to end: a real callback to /webhooks/{connection}
moves the Slack receipt of the message it reports on."""

from __future__ import annotations

import sqlite3
from pathlib import Path
from typing import Any

from tests.fakes.callbell_api import CallbellFake
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
