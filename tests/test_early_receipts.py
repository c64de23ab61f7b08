"""The store of reports that beat their send's answer: bounded in time, count and bytes."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from bot.delivery.early import EarlyReceipts
from bot.sending.requests import SendRequest
from bot.services import Herald
from providers import DeliveryStatus, OutboundMessage, Receipt, SendResult
from tests.conftest import settings_for

ACCOUNT = ("wa",)


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def _receipt(pid: str, status: DeliveryStatus = DeliveryStatus.SENT, raw: object = None) -> Receipt:
    return Receipt(status, provider_message_id=pid, reason=None, raw=raw)


def test_a_kept_report_comes_back_once_with_its_raw_payload() -> None:
    store = EarlyReceipts()
    raw = {"event": "message_status_updated", "payload": {"uuid": "u1", "n": [1, 2.5, None]}}

    store.keep((ACCOUNT, "u1"), _receipt("u1", DeliveryStatus.DELIVERED, raw))

    (back,) = store.take((ACCOUNT, "u1"))
    assert (back.status, back.provider_message_id, back.raw) == (
        DeliveryStatus.DELIVERED,
        "u1",
        raw,
    )
    assert store.take((ACCOUNT, "u1")) == [] and store.size == 0


def test_reports_expire_after_the_ttl() -> None:
    clock = Clock()
    store = EarlyReceipts(ttl=60, clock=clock)
    store.keep((ACCOUNT, "old"), _receipt("old"))
    clock.now += 30
    store.keep((ACCOUNT, "new"), _receipt("new"))

    clock.now += 31

    assert store.take((ACCOUNT, "old")) == []
    assert [r.provider_message_id for r in store.take((ACCOUNT, "new"))] == ["new"]
    assert store.size == 0


def test_a_payload_too_large_for_one_id_is_dropped_but_the_status_kept() -> None:
    # issue 7 #15: 600 callbacks of 900 KB each took the server from 80 to 611 MB
    store = EarlyReceipts(max_bytes_per_id=4_000)
    huge = {"payload": {"id": "x", "padding": "A" * 900_000}}

    outcome = store.keep((ACCOUNT, "x"), _receipt("x", DeliveryStatus.FAILED, huge))

    assert "raw payload was too large" in outcome
    assert store.size < 4_000
    (back,) = store.take((ACCOUNT, "x"))
    assert back.status is DeliveryStatus.FAILED and back.raw is None


def test_an_id_holds_at_most_max_per_id_reports_and_the_first_are_kept() -> None:
    store = EarlyReceipts(max_per_id=3)
    for status in ["sent", "delivered", "read", "failed", "failed"]:
        store.keep((ACCOUNT, "x"), _receipt("x", DeliveryStatus(status)))

    assert [r.status.value for r in store.take((ACCOUNT, "x"))] == ["sent", "delivered", "read"]


def test_an_id_holds_at_most_max_bytes_per_id() -> None:
    store = EarlyReceipts(max_bytes_per_id=3_000, max_per_id=100)
    for n in range(20):
        store.keep((ACCOUNT, "x"), _receipt("x", raw={"n": n, "pad": "B" * 500}))

    assert store.size <= 3_000
    assert 1 <= len(store.take((ACCOUNT, "x"))) < 20


def test_the_whole_store_stays_within_max_bytes_dropping_the_oldest_ids() -> None:
    store = EarlyReceipts(max_bytes=50_000, max_bytes_per_id=4_000)
    for n in range(1_000):
        store.keep((ACCOUNT, f"id-{n}"), _receipt(f"id-{n}", raw={"pad": "C" * 3_000}))
        assert store.size <= 50_000

    assert store.take((ACCOUNT, "id-0")) == []  # the oldest went first
    assert len(store.take((ACCOUNT, "id-999"))) == 1


@pytest.mark.parametrize("pid", ["p" * 40_000, "p\n" * 20_000])
def test_an_id_too_long_to_keep_is_ignored(pid: str) -> None:
    store = EarlyReceipts(max_bytes_per_id=32_000)

    assert store.keep((ACCOUNT, pid), _receipt(pid)).startswith("ignored")
    assert store.size == 0 and len(store) == 0


def test_the_same_provider_id_under_two_accounts_is_two_entries() -> None:
    store = EarlyReceipts()
    store.keep((("a",), "x"), _receipt("x", DeliveryStatus.FAILED))

    assert store.take((("b",), "x")) == []
    assert len(store.take((("a",), "x"))) == 1


def test_an_early_report_verified_for_another_account_is_not_applied(tmp_path: Path) -> None:
    # issue 7 #16: even a report that waits for its id stays with the account it verified for
    body = (
        '[connections.a]\nprovider = "sandbox"\nchannel = "sms"\nwebhook_token = "t-a"\n'
        '[connections.b]\nprovider = "sandbox"\nchannel = "sms"\nwebhook_token = "t-b"\n'
    )

    async def scenario() -> list[str]:
        herald = Herald(settings_for(tmp_path, body=body))
        await herald.start()

        async def callback_first(message: OutboundMessage) -> SendResult:
            forged = Receipt(DeliveryStatus.FAILED, provider_message_id="p-42", reason="forged")
            await herald.apply_receipts("a", [forged])  # verified for a, before b's answer
            return SendResult("p-42")

        herald.providers["b"].send = callback_first  # type: ignore[method-assign]
        try:
            request = SendRequest("b", ["+31612345678"], "Hi", sender="cli:t", origin="cli")
            (message,) = await herald.send_now(request)
            await herald.background.drain(5)
            return [event.status.value for event in herald.report(message.id).history]
        finally:
            await herald.stop()

    assert asyncio.run(scenario())[-1] == "accepted"
