"""`SlackAnnouncer`: one receipt per message, bounded memory, and the receipts a stop
left unposted."""

from __future__ import annotations

import asyncio
from pathlib import Path

from slack_sdk.web.async_client import AsyncWebClient

from bot.models import Message, MessageStatus
from bot.sending.requests import SendRequest
from bot.services import Herald
from bot.slack.announcer import ResponseUrls, SlackAnnouncer
from bot.slack.receipts import SlackReceipts
from tests.conftest import settings_for
from tests.fakes.slack_api import BOT_TOKEN, FakeSlack


def _request(count: int) -> SendRequest:
    recipients = [f"+3161234{n:04d}" for n in range(1000, 1000 + count)]
    return SendRequest(
        "sandbox", recipients, "Hi", sender="U1", origin="slack", announce_to="C2147483705"
    )


async def _accept(herald: Herald, message: Message) -> Message:
    return await herald.db.set_status(
        message.id, MessageStatus.ACCEPTED, source="capillary", provider_message_id=message.id
    )


def test_messages_that_stay_accepted_leave_no_lock_nor_response_url_behind(
    tmp_path: Path, fake_slack: FakeSlack
) -> None:
    async def scenario() -> tuple[int, int, int]:
        herald = Herald(settings_for(tmp_path, fake_slack))
        await herald.start()
        client = AsyncWebClient(token=BOT_TOKEN, base_url=fake_slack.api_url)
        announcer = SlackAnnouncer(client, herald)
        try:
            messages = await herald.submit(_request(5)) + await herald.submit(_request(5))
            announcer.remember_response_url([m.id for m in messages], fake_slack.response_url)
            # Capillary reports nothing after 'accepted': these never reach a final state
            await asyncio.gather(
                *[announcer.message_changed(await _accept(herald, m)) for m in messages]
            )
            return len(announcer.locks), len(announcer.response_urls), len(fake_slack.receipts())
        finally:
            await herald.stop()

    assert asyncio.run(scenario()) == (0, 0, 10)


def test_changes_of_one_message_at_once_post_one_receipt_and_edit_it(
    tmp_path: Path, fake_slack: FakeSlack
) -> None:
    async def scenario() -> tuple[list[str], int]:
        herald = Herald(settings_for(tmp_path, fake_slack))
        await herald.start()
        client = AsyncWebClient(token=BOT_TOKEN, base_url=fake_slack.api_url)
        announcer = SlackAnnouncer(client, herald)
        try:
            (message,) = await herald.submit(_request(1))
            accepted = await _accept(herald, message)
            sent = await herald.db.set_status(message.id, MessageStatus.SENT, source="capillary")
            await asyncio.gather(
                announcer.message_changed(accepted), announcer.message_changed(sent)
            )
            return [r.text.split()[0] for r in fake_slack.receipts()], len(announcer.locks)
        finally:
            await herald.stop()

    assert asyncio.run(scenario()) == (["sent"], 0)


def test_response_urls_are_kept_for_at_most_a_count_and_an_age() -> None:
    clock = [0.0]
    urls = ResponseUrls(lambda: clock[0], ttl=1800.0, limit=3)

    urls.remember(["a", "b"], "https://hooks.slack.test/1")
    clock[0] = 10.0
    urls.remember(["c", "d"], "https://hooks.slack.test/2")

    assert len(urls) == 3 and urls.get("a") is None  # the oldest made room
    assert urls.get("b") == "https://hooks.slack.test/1"
    clock[0] = 1800.0
    assert urls.get("b") is None and urls.get("c") == "https://hooks.slack.test/2"
    clock[0] = 1810.0
    assert len(urls) == 0  # Slack refuses a response_url after 30 minutes anyway


def test_unannounced_are_messages_whose_receipt_or_failure_reply_never_went_out(
    tmp_path: Path,
) -> None:
    async def scenario() -> tuple[set[str], set[str]]:
        herald = Herald(settings_for(tmp_path))
        await herald.start()
        try:
            _queued, accepted, posted, failed_after_post, done = await herald.submit(_request(5))
            await _accept(herald, accepted)
            receipts = SlackReceipts(herald)
            await herald.db.update(posted.id, status=MessageStatus.SENT)
            await receipts.posted(posted.id, "C2147483705", "1.2")
            await herald.db.update(failed_after_post.id, status=MessageStatus.FAILED)
            await receipts.posted(failed_after_post.id, "C2147483705", "1.3")
            await herald.db.update(done.id, status=MessageStatus.FAILED)
            await receipts.posted(done.id, "C2147483705", "1.4")
            await receipts.failure_replied(done.id)
            expected = {accepted.id, failed_after_post.id}
            return {m.id for m in receipts.unposted()}, expected
        finally:
            await herald.stop()

    found, expected = asyncio.run(scenario())

    assert found == expected
