"""The core without Slack: recipients, ids, status ordering, storage and crash recovery."""

from __future__ import annotations

import ast
import asyncio
from pathlib import Path

import pytest

from bot.config.settings import Settings
from bot.delivery.progress import advances
from bot.errors import InvalidRecipientError
from bot.models import ID_ALPHABET, MessageStatus, new_message_id, normalize_message_id
from bot.sending.recipients import mask_recipient, normalize_recipient
from bot.sending.requests import SendRequest
from bot.services import INTERRUPTED_REASON, Herald
from bot.storage.store import Store
from providers import Channel, DeliveryStatus, Receipt
from tests.conftest import settings_for

ROOT = Path(__file__).resolve().parent.parent


@pytest.mark.parametrize(
    ("typed", "stored"),
    [
        ("+31612345678", "+31612345678"),
        ("+31 6 1234 5678", "+31612345678"),
        ("0031-6-12345678", "+31612345678"),
        ("+49 151 12345678", "+4915112345678"),
    ],
)
def test_phone_numbers_are_stored_in_e164(typed: str, stored: str) -> None:
    assert normalize_recipient(typed, Channel.SMS) == stored


@pytest.mark.parametrize("typed", ["+3161234", "+1555", "hello", "+31 6 1234 5678 9999"])
def test_invalid_phone_numbers_are_refused(typed: str) -> None:
    with pytest.raises(InvalidRecipientError):
        normalize_recipient(typed, Channel.WHATSAPP)


def test_email_addresses_are_validated_and_normalized() -> None:
    assert normalize_recipient("Jane.Doe@Example.COM", Channel.EMAIL) == "Jane.Doe@example.com"
    with pytest.raises(InvalidRecipientError, match="not a valid e-mail address"):
        normalize_recipient("jane@", Channel.EMAIL)


def test_phone_number_for_email_connection_is_refused_clearly() -> None:
    with pytest.raises(InvalidRecipientError, match="e-mail address"):
        normalize_recipient("jane@example.com", Channel.SMS)


def test_masking_keeps_only_enough_to_recognise() -> None:
    assert mask_recipient("+31612345678") == "+316•••••678"
    assert mask_recipient("jane.doe@example.com") == "j•••@example.com"


def test_message_ids_are_short_url_safe_and_unambiguous() -> None:
    ids = {new_message_id() for _ in range(2000)}
    assert len(ids) == 2000
    assert all(len(i) == 8 and set(i) <= set(ID_ALPHABET) for i in ids)
    assert not set(ID_ALPHABET) & set("01ilo") and ID_ALPHABET.isalnum()
    assert normalize_message_id(" #K3X9P2AB ") == "k3x9p2ab"


@pytest.mark.parametrize(
    ("current", "reported", "expected"),
    [
        (MessageStatus.ACCEPTED, MessageStatus.SENT, True),
        (MessageStatus.DELIVERED, MessageStatus.SENT, False),  # late report
        (MessageStatus.SENT, MessageStatus.SENT, False),  # duplicate
        (MessageStatus.SENT, MessageStatus.FAILED, True),
        (MessageStatus.DELIVERED, MessageStatus.FAILED, False),
        (MessageStatus.FAILED, MessageStatus.DELIVERED, False),
        (MessageStatus.SENDING, MessageStatus.DELIVERED, True),
    ],
)
def test_receipts_never_move_a_message_backwards(
    current: MessageStatus, reported: MessageStatus, expected: bool
) -> None:
    assert advances(current, reported) is expected


def _herald(tmp_path: Path) -> Herald:
    return Herald(settings_for(tmp_path))


def _request(text: str = "Hello", to: str = "+31612345678") -> SendRequest:
    return SendRequest("sandbox", [to], text, sender="cli:test", origin="cli")


def test_out_of_order_receipts_keep_the_latest_status_and_all_history(tmp_path: Path) -> None:
    async def scenario() -> tuple[MessageStatus, list[str]]:
        herald = _herald(tmp_path)
        await herald.start()
        try:
            (message,) = await herald.send_now(_request())
            pid = message.provider_message_id
            await herald.apply_receipts("sandbox", [Receipt(DeliveryStatus.DELIVERED, pid)])
            await herald.apply_receipts("sandbox", [Receipt(DeliveryStatus.SENT, pid)])
            await herald.apply_receipts("sandbox", [Receipt(DeliveryStatus.SENT, pid)])  # a replay
            await herald.apply_receipts("sandbox", [Receipt(DeliveryStatus.DELIVERED, pid)])
            report = herald.report(message.id)
            return report.message.status, [e.status.value for e in report.history]
        finally:
            await herald.stop()

    status, history = asyncio.run(scenario())

    assert status is MessageStatus.DELIVERED
    assert history == ["queued", "sending", "accepted", "delivered", "sent"]


def test_restart_marks_interrupted_sends_failed_and_sends_queued_ones(tmp_path: Path) -> None:
    settings: Settings = settings_for(tmp_path)

    async def crash_then_restart() -> dict[str, MessageStatus]:
        first = Herald(settings)
        await first.start()
        interrupted, waiting = await first.submit(
            SendRequest("sandbox", ["+31612345678", "+4915112345678"], "Hi", "cli:t", "cli")
        )
        await first.db.set_status(interrupted.id, MessageStatus.SENDING, source="herald")
        await first.stop()  # the "crash": one mid-send, one never handed over

        second = Herald(settings)
        await second.start(serve=True)
        try:
            await second.background.drain(5)
            return {m.id: second.db.get(m.id).status for m in (interrupted, waiting)}  # type: ignore[union-attr]
        finally:
            await second.stop()

    statuses = asyncio.run(crash_then_restart())

    assert list(statuses.values()) == [MessageStatus.FAILED, MessageStatus.ACCEPTED]
    store = Store(settings.db_path)
    failed = store.with_status(MessageStatus.FAILED)[0]
    assert failed.error == INTERRUPTED_REASON
    store.close()


def test_receipt_for_unknown_message_is_ignored(tmp_path: Path) -> None:
    async def scenario() -> int:
        herald = _herald(tmp_path)
        await herald.start()
        try:
            return await herald.apply_receipts(
                "sandbox", [Receipt(DeliveryStatus.SENT, provider_message_id="nope")]
            )
        finally:
            await herald.stop()

    assert asyncio.run(scenario()) == 0


def test_core_modules_never_import_slack() -> None:
    # the front ends (bot/slack/, and bot/web/, which serves Slack's requests) are not core
    front_ends = (ROOT / "bot" / "slack", ROOT / "bot" / "web")
    core = [p for p in (ROOT / "bot").rglob("*.py") if not any(f in p.parents for f in front_ends)]
    core += list((ROOT / "providers").glob("*.py"))
    for path in core:
        for node in ast.walk(ast.parse(path.read_text())):
            names = []
            if isinstance(node, ast.Import):
                names = [a.name for a in node.names]
            elif isinstance(node, ast.ImportFrom) and node.module:
                names = [node.module]
            for name in names:
                assert not name.startswith(("slack_bolt", "slack_sdk", "bot.slack")), (
                    f"{path.name} imports {name}"
                )


def test_providers_import_nothing_from_the_core() -> None:
    for path in (ROOT / "providers").glob("*.py"):
        tree = ast.parse(path.read_text())
        for node in ast.walk(tree):
            if isinstance(node, ast.ImportFrom) and node.module:
                assert not node.module.startswith("bot"), f"{path.name} imports {node.module}"


def test_a_report_that_beats_the_send_answer_is_applied_once_the_id_is_known(
    tmp_path: Path,
) -> None:
    from providers import OutboundMessage, SendResult

    async def scenario() -> tuple[MessageStatus, list[str]]:
        herald = _herald(tmp_path)
        await herald.start()
        provider = herald.providers["sandbox"]

        async def fast_callback(message: OutboundMessage) -> SendResult:
            # the provider's callback (no reference, only its own id) arrives first …
            await herald.apply_receipts(
                "sandbox", [Receipt(DeliveryStatus.DELIVERED, provider_message_id="p-42")]
            )
            return SendResult("p-42")  # … then the answer to the send

        provider.send = fast_callback  # type: ignore[method-assign]
        try:
            (message,) = await herald.send_now(_request())
            await herald.background.drain(5)
            report = herald.report(message.id)
            return report.message.status, [e.status.value for e in report.history]
        finally:
            await herald.stop()

    status, history = asyncio.run(scenario())

    assert status is MessageStatus.DELIVERED
    assert history[-2:] == ["accepted", "delivered"]


def test_callbacks_reach_messages_of_connections_verified_alike(tmp_path: Path) -> None:
    # one account, one set of credentials: webhook_token is how Herald tells accounts apart
    body = (
        '[connections.one]\nprovider = "sandbox"\nchannel = "sms"\nwebhook_token = "t-1"\n'
        '[connections.two]\nprovider = "sandbox"\nchannel = "sms"\nwebhook_token = "t-1"\n'
    )

    async def scenario() -> MessageStatus:
        herald = Herald(settings_for(tmp_path, body=body))
        await herald.start()
        try:
            request = SendRequest("two", ["+31612345678"], "Hi", sender="cli:t", origin="cli")
            (message,) = await herald.send_now(request)
            pid = message.provider_message_id
            # one webhook URL per account (Callbell): the callback comes in on 'one'
            await herald.apply_receipts("one", [Receipt(DeliveryStatus.READ, pid)])
            return herald.report(message.id).message.status
        finally:
            await herald.stop()

    assert asyncio.run(scenario()) is MessageStatus.READ
