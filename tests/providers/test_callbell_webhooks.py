"""Callbell's ``message_status_updated`` callbacks read into receipts (§4.4, §4.5)."""

from __future__ import annotations

import asyncio
import hmac
import json
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import httpx
import pytest

from providers import (
    CallbellProvider,
    Channel,
    ConnectionConfig,
    DeliveryStatus,
    OutboundMessage,
    Receipt,
    SendResult,
    WebhookRequest,
    WebhookResult,
)
from providers.base import WHATSAPP_WINDOW_HINT
from providers.callbell_webhooks import read_callback
from providers.errors import ProviderUnsupportedError, WebhookAuthError, WebhookError
from tests.fakes.callbell_api import (
    CONNECTION_CHECKS,
    OTHER_EVENTS,
    CallbellFake,
    event_body,
    signature_header,
    status_update_body,
)

UUID = "adf3d1216d4c4dcd908199d6700f2381"
HERALD_ID = "k3x9p2ab"
OK = {"status": "ok"}


@pytest.fixture
def provider() -> Iterator[CallbellProvider]:
    client = httpx.AsyncClient()
    config = ConnectionConfig(
        name="wa",
        provider="callbell",
        channel=Channel.WHATSAPP,
        webhook_token="s3cret-hook-token",
        options={"token": "test_gshuPaZoeEG6ovbc8M79w0QyM", "channel_uuid": "35f6f8cc"},
    )
    yield CallbellProvider(config, client, _no_receipts)
    asyncio.run(client.aclose())


async def _no_receipts(receipts: Any) -> None:
    return None


def _parse(provider: CallbellProvider, body: bytes) -> WebhookResult:
    return provider.parse_webhook(
        WebhookRequest(
            url="https://herald.example.com/webhooks/wa?token=s3cret-hook-token",
            headers={"content-type": "application/json"},
            body=body,
            query={"token": "s3cret-hook-token"},
        )
    )


def _receipt(provider: CallbellProvider, body: bytes) -> Receipt:
    result = _parse(provider, body)
    assert result.reply == OK
    assert len(result.receipts) == 1
    return result.receipts[0]


@pytest.mark.parametrize(
    ("callbell", "herald"),
    [
        ("enqueued", DeliveryStatus.ACCEPTED),
        ("accepted", DeliveryStatus.ACCEPTED),
        ("sent", DeliveryStatus.SENT),
        ("delivered", DeliveryStatus.DELIVERED),
        ("read", DeliveryStatus.READ),
        ("failed", DeliveryStatus.FAILED),
    ],
)
def test_status_maps_to_delivery_status(
    provider: CallbellProvider, callbell: str, herald: DeliveryStatus
) -> None:
    receipt = _receipt(provider, status_update_body(UUID, callbell))

    assert receipt.status is herald


def test_status_receipt_carries_uuid_and_herald_id(provider: CallbellProvider) -> None:
    body = status_update_body(UUID, "delivered", metadata={"herald_id": HERALD_ID, "x": "y"})

    receipt = _receipt(provider, body)

    assert receipt.provider_message_id == UUID
    assert receipt.reference == HERALD_ID
    assert receipt.reason is None
    assert receipt.raw == json.loads(body)


def test_status_receipt_without_metadata_has_no_reference(provider: CallbellProvider) -> None:
    receipt = _receipt(provider, status_update_body(UUID, "sent"))

    assert receipt.provider_message_id == UUID
    assert receipt.reference is None


def test_status_receipt_time_comes_from_bsp_ts(provider: CallbellProvider) -> None:
    receipt = _receipt(provider, status_update_body(UUID, "read", ts=1686563913))

    assert receipt.occurred_at == datetime(2023, 6, 12, 9, 58, 33, tzinfo=UTC)


def test_status_receipt_time_reads_milliseconds_and_meta_timestamp(
    provider: CallbellProvider,
) -> None:
    millis = json.loads(status_update_body(UUID, "read"))
    millis["payload"]["messageStatusPayload"]["payload"]["ts"] = 1686563913000
    meta = json.loads(status_update_body(UUID, "read", ts=None))
    meta["payload"]["messageStatusPayload"]["timestamp"] = "1686563913"

    for body in (millis, meta):
        receipt = _receipt(provider, json.dumps(body).encode())
        assert receipt.occurred_at == datetime(2023, 6, 12, 9, 58, 33, tzinfo=UTC)


def test_status_receipt_without_ts_has_no_time(provider: CallbellProvider) -> None:
    receipt = _receipt(provider, status_update_body(UUID, "delivered", ts=None))

    assert receipt.occurred_at is None


def test_failed_carries_the_bsp_reason_and_code(provider: CallbellProvider) -> None:
    body = status_update_body(
        UUID, "failed", reason="Number Does Not Exists On WhatsApp", code=1002
    )

    receipt = _receipt(provider, body)

    assert receipt.status is DeliveryStatus.FAILED
    assert receipt.reason == "Number Does Not Exists On WhatsApp (code 1002)"


def test_failed_reads_a_meta_shaped_error(provider: CallbellProvider) -> None:
    body = json.loads(status_update_body(UUID, "failed"))
    body["payload"]["messageStatusPayload"] = {
        "id": "wamid.HBgL",
        "status": "failed",
        "timestamp": "1686563913",
        "recipient_id": "331122334455",
        "errors": [
            {
                "code": 131026,
                "title": "Message undeliverable",
                "error_data": {"details": "Receiver is incapable of receiving this message"},
            }
        ],
    }

    receipt = _receipt(provider, json.dumps(body).encode())

    assert receipt.reason == "Receiver is incapable of receiving this message (code 131026)"


def test_failed_outside_the_24_hour_window_says_what_to_do(provider: CallbellProvider) -> None:
    body = status_update_body(UUID, "failed", reason="Re-engagement message", code=131047)

    receipt = _receipt(provider, body)

    assert receipt.reason == f"Re-engagement message (code 131047). {WHATSAPP_WINDOW_HINT}"


def test_failed_without_a_visible_reason_has_none(provider: CallbellProvider) -> None:
    receipt = _receipt(provider, status_update_body(UUID, "failed"))

    assert receipt.status is DeliveryStatus.FAILED
    assert receipt.reason is None


@pytest.mark.parametrize("status", ["mismatch", "deleted", "something_new"])
def test_untracked_status_is_ignored_with_ok(provider: CallbellProvider, status: str) -> None:
    result = _parse(provider, status_update_body(UUID, status, metadata={"herald_id": HERALD_ID}))

    assert list(result.receipts) == []
    assert result.reply == OK


@pytest.mark.parametrize("event", OTHER_EVENTS)
def test_other_event_is_ignored_with_ok(provider: CallbellProvider, event: str) -> None:
    body = event_body(event, {"uuid": UUID, "status": "sent", "metadata": {"herald_id": "x"}})

    result = _parse(provider, body)

    assert list(result.receipts) == []
    assert result.reply == OK


@pytest.mark.parametrize("body", CONNECTION_CHECKS)
def test_connection_check_is_answered_ok(provider: CallbellProvider, body: bytes) -> None:
    result = _parse(provider, body)

    assert list(result.receipts) == []
    assert result.reply == OK


@pytest.mark.parametrize("body", [b"not json", b"\xff\xfe{", b"[1, 2]", b'"ok"'])
def test_unreadable_body_is_webhook_error_400(provider: CallbellProvider, body: bytes) -> None:
    with pytest.raises(WebhookError) as caught:
        _parse(provider, body)

    assert not isinstance(caught.value, WebhookAuthError)
    assert caught.value.status_code == 400
    assert caught.value.provider == "callbell"


@pytest.mark.parametrize(
    "payload",
    [None, [], {"status": "read"}, {"uuid": UUID}, {"uuid": "", "status": "read"}],
)
def test_status_update_without_uuid_or_status_is_webhook_error_400(
    provider: CallbellProvider, payload: Any
) -> None:
    body = json.dumps({"event": "message_status_updated", "payload": payload}).encode()

    with pytest.raises(WebhookError) as caught:
        _parse(provider, body)

    assert caught.value.status_code == 400


def test_webhook_needs_token(provider: CallbellProvider) -> None:
    # §4.5: without a signing secret Callbell signs nothing, so only the connection's
    # ?token= protects the endpoint.
    assert provider.webhook_needs_token() is True


def test_callback_for_a_sent_message_matches_it(provider: CallbellProvider) -> None:
    with CallbellFake() as fake:
        assert isinstance(fake, CallbellFake)
        result = asyncio.run(_send_through(fake))
    message_uuid = result.provider_message_id or ""
    body = fake.status_callback(message_uuid, "read")

    receipt = _receipt(provider, body)

    assert (receipt.provider_message_id, receipt.reference) == (message_uuid, HERALD_ID)
    assert receipt.status is DeliveryStatus.READ
    assert json.loads(body)["payload"]["contact"]["phoneNumber"] == "31612345678"


async def _send_through(fake: CallbellFake) -> SendResult:
    config = ConnectionConfig(
        name="wa",
        provider="callbell",
        channel=Channel.WHATSAPP,
        base_url=fake.base_url,
        options={"token": fake.token, "channel_uuid": fake.channel_uuid},
    )
    message = OutboundMessage(
        reference=HERALD_ID, channel=Channel.WHATSAPP, to="+31612345678", text="Hi"
    )
    async with httpx.AsyncClient() as client:
        return await CallbellProvider(config, client, _no_receipts).send(message)


# -- signed webhooks (§4.5, "Signature: optional, added in a later version of the docs") --

SECRET = "whsec_3q8ZpVb0s1Kx9mT4"
NOW = 1_750_000_000


def _signed_provider(client: httpx.AsyncClient, secret: str = SECRET) -> CallbellProvider:
    config = ConnectionConfig(
        name="wa",
        provider="callbell",
        channel=Channel.WHATSAPP,
        options={
            "token": "test_gshuPaZoeEG6ovbc8M79w0QyM",
            "channel_uuid": "35f6f8cc",
            "signing_secret": secret,
        },
    )
    CallbellProvider.check_config(config)
    return CallbellProvider(config, client, _no_receipts)


def _read_signed(body: bytes, headers: dict[str, str], *, now: float = NOW) -> WebhookResult:
    request = WebhookRequest(
        url="https://herald.example.com/webhooks/wa",
        headers={k.lower(): v for k, v in headers.items()},
        body=body,
    )
    return read_callback(request, "callbell", SECRET, now=now)


def test_signature_header_is_hmac_of_timestamp_dot_body_keyed_with_the_whole_secret() -> None:
    # §4.5: "X-Callbell-Signature: t=<unix seconds>,v1=<hex HMAC-SHA256(secret,
    # "<t>.<raw body>")>" and "The secret starts with whsec_; the whole string, prefix
    # included, is the HMAC key." Computed here by hand, not by the fake's helper.
    body = b'{"event":"contact_created","payload":{}}'
    expected = hmac.new(
        b"whsec_3q8ZpVb0s1Kx9mT4", b'1750000000.{"event":"contact_created","payload":{}}', "sha256"
    ).hexdigest()

    assert signature_header(body, SECRET, NOW) == {
        "X-Callbell-Signature": f"t=1750000000,v1={expected}"
    }
    assert _read_signed(body, signature_header(body, SECRET, NOW)).reply == OK


def test_signed_status_update_becomes_a_receipt() -> None:
    body = status_update_body(UUID, "delivered")

    result = _read_signed(body, signature_header(body, SECRET, NOW))

    assert [r.status for r in result.receipts] == [DeliveryStatus.DELIVERED]


@pytest.mark.parametrize(
    "headers",
    [
        signature_header(status_update_body(UUID, "read"), "whsec_someoneElsesSecret", NOW),
        signature_header(status_update_body(UUID, "delivered"), SECRET, NOW),  # another body
        {"X-Callbell-Signature": "t=1750000000"},
        {"X-Callbell-Signature": "v1=" + "0" * 64},
        {"X-Callbell-Signature": "t=soon,v1=" + "0" * 64},
        {"X-Callbell-Signature": "t=1750000000,v1=zz\u00e9"},
        {"X-Callbell-Signature": "garbage"},
    ],
    ids=["wrong-secret", "other-body", "no-v1", "no-t", "bad-t", "bad-v1", "junk"],
)
def test_badly_signed_status_update_is_refused(headers: dict[str, str]) -> None:
    with pytest.raises(WebhookAuthError) as caught:
        _read_signed(status_update_body(UUID, "read"), headers)

    assert SECRET not in str(caught.value) and SECRET not in repr(caught.value)


def test_signature_with_a_changed_timestamp_is_refused() -> None:
    body = status_update_body(UUID, "read")
    signature = signature_header(body, SECRET, NOW)["X-Callbell-Signature"]

    with pytest.raises(WebhookAuthError):
        _read_signed(body, {"X-Callbell-Signature": signature.replace(f"t={NOW}", f"t={NOW + 60}")})


@pytest.mark.parametrize("skew", [-301, 301, -86_400])
def test_signature_more_than_five_minutes_from_our_clock_is_refused(skew: int) -> None:
    # §4.5: "reject t more than 5 minutes from now"; a retry is signed again with a new t.
    body = status_update_body(UUID, "read")

    with pytest.raises(WebhookAuthError, match="5 minutes"):
        _read_signed(body, signature_header(body, SECRET, NOW + skew))


@pytest.mark.parametrize("skew", [-300, 0, 300])
def test_signature_within_five_minutes_is_accepted(skew: int) -> None:
    body = status_update_body(UUID, "read")

    result = _read_signed(body, signature_header(body, SECRET, NOW + skew))

    assert len(result.receipts) == 1


def test_one_matching_v1_among_several_is_enough() -> None:
    body = status_update_body(UUID, "read")
    good = signature_header(body, SECRET, NOW)["X-Callbell-Signature"]

    result = _read_signed(body, {"X-Callbell-Signature": good + ",v1=" + "ab" * 32})

    assert len(result.receipts) == 1


def test_unsigned_status_update_is_refused_when_the_connection_has_a_secret() -> None:
    with pytest.raises(WebhookAuthError, match="unsigned"):
        _read_signed(status_update_body(UUID, "read"), {})


@pytest.mark.parametrize("body", [*CONNECTION_CHECKS, event_body("contact_created", {})])
def test_unsigned_connection_checks_are_still_answered_ok(body: bytes) -> None:
    # Whether Callbell signs its periodic checks is not documented, and an unanswered
    # check disables the webhook after six hours (§4.5): answer them, apply nothing.
    result = _read_signed(body, {})

    assert result.reply == OK and list(result.receipts) == []


def test_provider_with_signing_secret_needs_no_token_and_verifies() -> None:
    async def scenario() -> None:
        async with httpx.AsyncClient() as client:
            provider = _signed_provider(client)
            assert provider.webhook_needs_token() is False
            assert provider.webhook_key() == SECRET
            body = status_update_body(UUID, "read")
            forged = WebhookRequest(
                url="https://herald.example.com/webhooks/wa",
                headers={"x-callbell-signature": f"t={int(time.time())},v1={'0' * 64}"},
                body=body,
            )
            with pytest.raises(WebhookAuthError):
                provider.parse_webhook(forged)
            signed = WebhookRequest(
                url="https://herald.example.com/webhooks/wa",
                headers={
                    k.lower(): v
                    for k, v in signature_header(body, SECRET, int(time.time())).items()
                },
                body=body,
            )
            assert len(provider.parse_webhook(signed).receipts) == 1

    asyncio.run(scenario())


@pytest.mark.parametrize("secret", ["", "whsec_", "test_gshuPaZoeEG6ovbc8M79w0QyM", 42])
def test_signing_secret_that_is_not_a_whsec_secret_is_refused_at_startup(secret: Any) -> None:
    config = ConnectionConfig(
        name="wa",
        provider="callbell",
        channel=Channel.WHATSAPP,
        options={"token": "test_x", "channel_uuid": "35f6f8cc", "signing_secret": secret},
    )

    with pytest.raises(ProviderUnsupportedError, match="whsec_") as caught:
        CallbellProvider.check_config(config)

    assert "gshuPaZoe" not in str(caught.value)
