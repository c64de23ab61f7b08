"""Bird's delivery-status callbacks (providers spec §2.7): signature, replay rule, mapping."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import httpx
import pytest

from providers import (
    BirdProvider,
    Channel,
    ConnectionConfig,
    DeliveryStatus,
    OutboundMessage,
    WebhookAuthError,
    WebhookError,
    WebhookRequest,
)
from providers.bird_webhooks import MAX_AGE_SECONDS, MAX_SKEW_SECONDS, read_callback
from tests.fakes.bird_api import BirdFake, sign_callback

URL = "https://herald.example.com/webhooks/bird"
MESSAGE_ID = "7c3e2f4a-0b1d-4c5e-9f6a-8b7c6d5e4f3a"
REFERENCE = "k3x9p2ab"
NOW = 1_750_000_000  # a fixed clock for the replay-window boundaries
HOUR = 3600


@pytest.fixture
def fake() -> Iterator[BirdFake]:
    with BirdFake() as running:
        assert isinstance(running, BirdFake)
        yield running


async def _no_receipts(receipts: Any) -> None:
    return None


def _provider(fake: BirdFake, *, signed: bool = True) -> BirdProvider:
    options = {
        "access_key": fake.access_key,
        "workspace_id": fake.workspace_id,
        "channel_id": fake.channel_id,
    }
    if signed:
        options["signing_key"] = fake.signing_key
    config = ConnectionConfig("bird", "bird", Channel.SMS, base_url=fake.base_url, options=options)
    # parse_webhook makes no HTTP call; the client is only there to satisfy the constructor.
    return BirdProvider(config, httpx.AsyncClient(), _no_receipts)


def _parse(fake: BirdFake, body: bytes, headers: dict[str, str], url: str = URL) -> Any:
    provider = _provider(fake)
    try:
        return provider.parse_webhook(WebhookRequest(url=url, headers=headers, body=body))
    finally:
        asyncio.run(provider.client.aclose())


def _callback(fake: BirdFake, status: str = "delivered", **kwargs: Any) -> Any:
    kwargs.setdefault("reference", REFERENCE)
    return fake.status_callback(URL, MESSAGE_ID, status, **kwargs)


def _receipt(fake: BirdFake, status: str = "delivered", **kwargs: Any) -> Any:
    result = _parse(fake, *_callback(fake, status, **kwargs))
    assert len(result.receipts) == 1
    return result.receipts[0]


def _auth_error(fake: BirdFake, body: bytes, headers: dict[str, str], url: str = URL) -> Any:
    with pytest.raises(WebhookAuthError) as caught:
        _parse(fake, body, headers, url)
    assert caught.value.provider == "bird"
    assert fake.signing_key not in str(caught.value) + repr(caught.value)
    return caught.value


def _at(fake: BirdFake, timestamp: int, status: str = "delivered") -> Any:
    """Read a callback stamped ``timestamp`` against the fixed clock ``NOW``."""
    body, headers = _callback(fake, status, timestamp=timestamp)
    request = WebhookRequest(url=URL, headers=headers, body=body)
    return read_callback(request, fake.signing_key, now=NOW)


# -- status mapping ---------------------------------------------------------------


@pytest.mark.parametrize(
    ("bird_status", "expected"),
    [
        ("accepted", DeliveryStatus.ACCEPTED),
        ("processing", DeliveryStatus.ACCEPTED),
        ("scheduled", DeliveryStatus.ACCEPTED),
        ("sent", DeliveryStatus.SENT),
        ("delivered", DeliveryStatus.DELIVERED),
        ("read", DeliveryStatus.READ),
        ("seen", DeliveryStatus.READ),
        ("rejected", DeliveryStatus.FAILED),
        ("failed", DeliveryStatus.FAILED),
        ("sending_failed", DeliveryStatus.FAILED),
        ("delivery_failed", DeliveryStatus.FAILED),
    ],
)
def test_status_maps_to_delivery_status(
    fake: BirdFake, bird_status: str, expected: DeliveryStatus
) -> None:
    assert _receipt(fake, bird_status).status is expected


def test_receipt_carries_message_id_reference_and_time(fake: BirdFake) -> None:
    receipt = _receipt(fake, "sent")

    assert receipt.provider_message_id == MESSAGE_ID
    assert receipt.reference == REFERENCE
    assert receipt.occurred_at is not None and receipt.occurred_at.tzinfo is not None
    assert abs(receipt.occurred_at - datetime.now(UTC)).total_seconds() < 60
    assert receipt.raw["payload"]["status"] == "sent"
    assert receipt.reason is None


def test_occurred_at_falls_back_to_updated_at_without_last_status_at(fake: BirdFake) -> None:
    envelope = json.loads(_callback(fake)[0])
    del envelope["payload"]["lastStatusAt"]
    envelope["payload"]["updatedAt"] = "2024-11-21T09:14:49.469Z"
    receipt = _parse(fake, *fake.sign_body(URL, envelope)).receipts[0]

    assert receipt.occurred_at == datetime(2024, 11, 21, 9, 14, 49, 469000, tzinfo=UTC)


def test_failure_reason_is_bird_failure_description(fake: BirdFake) -> None:
    receipt = _receipt(fake, "sending_failed", failure="Unsupported media type")

    assert receipt.status is DeliveryStatus.FAILED
    assert receipt.reason == "Unsupported media type"


def test_failure_reason_joins_description_and_reason_code(fake: BirdFake) -> None:
    receipt = _receipt(fake, "delivery_failed", reason="bounceHard", failure="Mailbox unknown")

    assert receipt.reason == "Mailbox unknown (bounceHard)"


def test_failure_reason_is_bird_reason_without_failure_object(fake: BirdFake) -> None:
    assert _receipt(fake, "delivery_failed", reason="bounceSoft").reason == "bounceSoft"


def test_failure_without_any_detail_still_says_what_failed(fake: BirdFake) -> None:
    assert _receipt(fake, "delivery_failed").reason == "delivery failed"


def test_callback_for_a_message_sent_through_the_fake_carries_its_reference(
    fake: BirdFake,
) -> None:
    provider = _provider(fake)
    message = OutboundMessage(
        reference=REFERENCE, channel=Channel.SMS, to="+31612345678", text="hi"
    )

    async def send() -> str | None:
        async with provider.client:
            return (await provider.send(message)).provider_message_id

    message_id = asyncio.run(send())
    assert message_id is not None
    body, headers = fake.status_callback(URL, message_id, "delivered")
    receipt = provider.parse_webhook(WebhookRequest(URL, headers, body)).receipts[0]

    assert (receipt.provider_message_id, receipt.reference) == (message_id, REFERENCE)
    assert receipt.status is DeliveryStatus.DELIVERED


def test_bare_message_resource_is_read_like_the_envelope(fake: BirdFake) -> None:
    payload = json.loads(_callback(fake)[0])["payload"]
    receipt = _parse(fake, *fake.sign_body(URL, payload)).receipts[0]

    assert (receipt.status, receipt.reference) == (DeliveryStatus.DELIVERED, REFERENCE)


# -- signature --------------------------------------------------------------------


def test_signature_by_another_key_is_refused(fake: BirdFake) -> None:
    body, headers = _callback(fake)
    stamp = headers["messagebird-request-timestamp"]
    headers["messagebird-signature"] = sign_callback("sk_someone_else", stamp, URL, body)

    _auth_error(fake, body, headers)


def test_signature_over_a_different_url_is_refused(fake: BirdFake) -> None:
    body, headers = fake.status_callback(URL + "-other", MESSAGE_ID, "delivered")

    error = _auth_error(fake, body, headers)
    assert "public_url" in str(error)


def test_signature_that_leaves_out_the_query_string_is_refused(fake: BirdFake) -> None:
    body, headers = _callback(fake)

    _auth_error(fake, body, headers, url=URL + "?token=abc")


def test_tampered_body_is_refused(fake: BirdFake) -> None:
    body, headers = _callback(fake, "delivery_failed")

    _auth_error(fake, body.replace(b"delivery_failed", b"delivered"), headers)


def test_re_serialized_body_is_refused(fake: BirdFake) -> None:
    body, headers = _callback(fake)
    same_json = json.dumps(json.loads(body), indent=1).encode()

    _auth_error(fake, same_json, headers)


@pytest.mark.parametrize("missing", ["messagebird-signature", "messagebird-request-timestamp"])
def test_callback_without_a_signature_header_is_refused(fake: BirdFake, missing: str) -> None:
    body, headers = _callback(fake)
    del headers[missing]

    assert missing in str(_auth_error(fake, body, headers))


def test_signature_that_is_not_base64_is_refused(fake: BirdFake) -> None:
    body, headers = _callback(fake)
    headers["messagebird-signature"] = "not base64 at all!"

    _auth_error(fake, body, headers)


def test_timestamp_moved_forward_after_signing_is_refused(fake: BirdFake) -> None:
    body, headers = _callback(fake, timestamp=int(time.time()) - 10 * HOUR)
    headers["messagebird-request-timestamp"] = str(int(time.time()))

    _auth_error(fake, body, headers)


# -- replay rule ------------------------------------------------------------------


def test_retry_with_hours_old_timestamp_is_accepted(fake: BirdFake) -> None:
    # Bird retries for 8 hours and keeps the first attempt's timestamp (§2.7).
    body, headers = _callback(fake, timestamp=int(time.time()) - 8 * HOUR)

    assert _parse(fake, body, headers).receipts[0].status is DeliveryStatus.DELIVERED


def test_callback_at_the_end_of_the_replay_window_is_accepted(fake: BirdFake) -> None:
    assert len(_at(fake, NOW - MAX_AGE_SECONDS).receipts) == 1


def test_callback_older_than_the_replay_window_is_refused(fake: BirdFake) -> None:
    with pytest.raises(WebhookAuthError, match="replay"):
        _at(fake, NOW - MAX_AGE_SECONDS - 1)


def test_callback_a_little_ahead_of_our_clock_is_accepted(fake: BirdFake) -> None:
    assert len(_at(fake, NOW + MAX_SKEW_SECONDS).receipts) == 1


def test_callback_stamped_in_the_future_is_refused(fake: BirdFake) -> None:
    with pytest.raises(WebhookAuthError, match="future"):
        _at(fake, NOW + MAX_SKEW_SECONDS + 1)


def test_future_timestamp_is_refused_through_the_provider(fake: BirdFake) -> None:
    body, headers = _callback(fake, timestamp=int(time.time()) + HOUR)

    _auth_error(fake, body, headers)


@pytest.mark.parametrize("stamp", ["yesterday", "nan", "1_750_000_000", "-5"])
def test_signed_timestamp_that_is_not_unix_seconds_is_refused(fake: BirdFake, stamp: str) -> None:
    body = _callback(fake)[0]
    headers = {
        "messagebird-signature": sign_callback(fake.signing_key, stamp, URL, body),
        "messagebird-request-timestamp": stamp,
    }

    _auth_error(fake, body, headers)


# -- events that are not delivery statuses ----------------------------------------


def _event(fake: BirdFake, envelope: dict[str, Any]) -> Any:
    return _parse(fake, *fake.sign_body(URL, envelope))


@pytest.mark.parametrize(
    "envelope",
    [
        {"service": "channels", "event": "sms.inbound", "payload": {"id": "m", "status": "sent"}},
        {"service": "channels", "event": "channel.updated", "payload": {"id": "c"}},
        {"service": "numbers", "event": "number.updated", "payload": {"id": "n"}},
        {
            "service": "channels",
            "event": "email.interaction",
            "payload": {"id": "i", "messageId": MESSAGE_ID, "type": "clicked"},
        },
        {
            "service": "channels",
            "event": "sms.outbound",
            "payload": {"id": MESSAGE_ID, "status": "delivered", "direction": "incoming"},
        },
        {
            "service": "channels",
            "event": "sms.outbound",
            "payload": {"id": MESSAGE_ID, "status": "deleted"},
        },
        {
            "service": "channels",
            "event": "sms.outbound",
            "payload": {"id": MESSAGE_ID, "status": "a_status_bird_adds_later"},
        },
    ],
    ids=["inbound", "channel", "other-service", "click", "incoming", "deleted", "unknown"],
)
def test_event_that_is_not_a_delivery_status_is_acknowledged_and_ignored(
    fake: BirdFake, envelope: dict[str, Any]
) -> None:
    result = _event(fake, envelope)

    assert list(result.receipts) == []
    assert result.reply == {"ok": True}


def test_opened_interaction_is_a_read_receipt(fake: BirdFake) -> None:
    payload = {
        "id": "8e1c7d3b-5a2f-4e6d-9c8b-7a6f5e4d3c2b",
        "messageId": MESSAGE_ID,
        "type": "opened",
        "messageReference": REFERENCE,
        "createdAt": "2024-11-21T10:00:00Z",
    }
    envelope = {"service": "channels", "event": "email.interaction", "payload": payload}
    receipt = _event(fake, envelope).receipts[0]

    assert receipt.status is DeliveryStatus.READ
    assert (receipt.provider_message_id, receipt.reference) == (MESSAGE_ID, REFERENCE)
    assert receipt.occurred_at == datetime(2024, 11, 21, 10, 0, tzinfo=UTC)


# -- unreadable callbacks ---------------------------------------------------------


@pytest.mark.parametrize(
    "body",
    [
        b"status=delivered&id=1",
        b"\xff\xfe not utf-8",
        b"[1, 2]",
        b'{"service": "channels", "event": "sms.outbound"}',
        b'{"service": "channels", "event": "sms.outbound", "payload": {"status": "sent"}}',
        b'{"service": "channels", "event": "sms.outbound", "payload": {"id": "m"}}',
    ],
    ids=["form", "binary", "array", "no-payload", "no-id", "no-status"],
)
def test_signed_but_unreadable_body_is_a_webhook_error(fake: BirdFake, body: bytes) -> None:
    with pytest.raises(WebhookError) as caught:
        _parse(fake, *fake.sign_body(URL, body))

    assert not isinstance(caught.value, WebhookAuthError)
    assert caught.value.status_code == 400
    assert fake.signing_key not in str(caught.value)


# -- token or signature -----------------------------------------------------------


def test_webhook_needs_no_token_with_a_signing_key(fake: BirdFake) -> None:
    provider = _provider(fake)
    try:
        assert provider.webhook_needs_token() is False
    finally:
        asyncio.run(provider.client.aclose())


def test_webhook_needs_the_token_without_a_signing_key(fake: BirdFake) -> None:
    provider = _provider(fake, signed=False)
    try:
        assert provider.webhook_needs_token() is True
    finally:
        asyncio.run(provider.client.aclose())


def test_unsigned_callback_is_read_without_a_signing_key(fake: BirdFake) -> None:
    # The core has already checked the connection's ?token= (webhook_needs_token).
    body, _ = _callback(fake)
    provider = _provider(fake, signed=False)
    try:
        result = provider.parse_webhook(WebhookRequest(URL, {}, body))
    finally:
        asyncio.run(provider.client.aclose())

    assert result.receipts[0].status is DeliveryStatus.DELIVERED
