"""The fast tier: the core and the Slack layer without a web server or a provider socket.

Providers are reached through an ``httpx.MockTransport`` answering exactly as their
HTTP fakes do (`ProviderFake.transport`); Slack requests go straight into Bolt's
`async_dispatch`. The real-HTTP tests beside these still cover the wire.
"""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl

import pytest

from bot.models import Message, MessageStatus
from bot.sending import SendRequest
from bot.services import Herald
from bot.slack.app import SlackApp
from bot.slack.intake import ParsedRequest
from tests.conftest import settings_for
from tests.fakes.provider_fake import ProviderFake
from tests.fakes.slack_api import FakeSlack
from tests.providers.cases import ProviderCase, load_cases
from tests.slack_signing import signed_headers, slash_body
from tests.test_providers_e2e import FAST_RETRIES, connection

CASES = load_cases()


def _send(case: ProviderCase, tmp_path: Path, fake: ProviderFake) -> Message:
    settings = settings_for(tmp_path, body=FAST_RETRIES + connection("out", case, fake))

    async def scenario() -> Message:
        herald = Herald(settings, transport=fake.transport())
        await herald.start()
        try:
            request = SendRequest("out", [case.recipient], "Your order ships", "cli:t", "cli")
            (message,) = await herald.send_now(request)
            return message
        finally:
            await herald.stop()

    try:
        return asyncio.run(scenario())
    finally:
        fake.server.server_close()  # bound, never served: nothing went over a socket


@pytest.mark.parametrize("case", CASES, ids=[c.name for c in CASES])
def test_a_send_reaches_the_provider_through_a_mock_transport(
    case: ProviderCase, tmp_path: Path
) -> None:
    fake = case.fake()

    message = _send(case, tmp_path, fake)

    assert message.status.rank >= MessageStatus.ACCEPTED.rank
    assert len(fake.requests) == 1
    assert "Your order ships" in fake.requests[0].body.decode()


@pytest.mark.parametrize("case", CASES, ids=[c.name for c in CASES])
def test_an_outage_is_retried_through_a_mock_transport(case: ProviderCase, tmp_path: Path) -> None:
    fake = case.fake()
    fake.fail_next(503, {"message": "down"})

    message = _send(case, tmp_path, fake)

    assert message.status.rank >= MessageStatus.ACCEPTED.rank
    assert len(fake.requests) >= 2  # Capillary asks for an OAuth token first when so set


@pytest.mark.parametrize("case", CASES, ids=[c.name for c in CASES])
def test_no_answer_may_have_gone_out_and_is_not_resent(case: ProviderCase, tmp_path: Path) -> None:
    fake = case.fake()
    fake.hang_next()

    message = _send(case, tmp_path, fake)

    assert message.status is MessageStatus.FAILED
    assert "may" in (message.error or "") and "gone out" in (message.error or "")
    assert len(fake.requests) == 1


def _dispatch(herald: Herald, text: str, fake_slack: FakeSlack) -> Any:
    body = slash_body(text, response_url=fake_slack.response_url)
    headers = signed_headers(body, "application/x-www-form-urlencoded")
    slack = SlackApp(herald)
    herald.announcer = slack.announcer
    request = ParsedRequest(
        raw_body=body.decode(),
        payload=dict(parse_qsl(body.decode(), keep_blank_values=True)),
        headers=headers,
        query={},
    )
    return slack.bolt.async_dispatch(request)


def test_a_slash_command_through_bolts_dispatch(tmp_path: Path, fake_slack: FakeSlack) -> None:
    settings = settings_for(tmp_path, fake_slack)

    async def scenario() -> tuple[Any, Any, list[Message]]:
        herald = Herald(settings)
        await herald.start()
        try:
            help_answer = await _dispatch(herald, "help", fake_slack)
            sent = await _dispatch(herald, "sandbox +31612345678 Hello", fake_slack)
            await herald.background.drain(10)
            return help_answer, sent, herald.db.recent(limit=10)
        finally:
            await herald.stop()

    help_answer, sent, stored = asyncio.run(scenario())

    assert help_answer.status == 200 and "/send" in json.loads(help_answer.body)["text"]
    assert (sent.status, sent.body) == (200, "")
    assert [m.text for m in stored] == ["Hello"]
