"""Sociocs `status_update` callbacks: signature, status mapping, failure reasons (§3.5, §3.6)."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import httpx
import pytest

from providers import (
    Channel,
    ConnectionConfig,
    DeliveryStatus,
    ProviderUnsupportedError,
    Receipt,
    SociocsProvider,
    WebhookAuthError,
    WebhookError,
    WebhookRequest,
)
from providers.sociocs_webhooks import verify_signature
from tests.fakes.sociocs_api import (
    API_KEY,
    FAILED_21614,
    SMS_CHANNEL_KEY,
    WEBHOOK_SECRET,
    incoming_message_callback,
    sign,
    status_update_callback,
)

MESSAGE_ID = "Xyz00001"


@pytest.fixture
def client() -> Iterator[httpx.AsyncClient]:
    client = httpx.AsyncClient()
    yield client
    asyncio.run(client.aclose())


def _config(secret: str | None = WEBHOOK_SECRET) -> ConnectionConfig:
    options = {"api_key": API_KEY, "channel_key": SMS_CHANNEL_KEY, "sociocs_provider": "twlo"}
    if secret is not None:
        options["webhook_secret"] = secret
    return ConnectionConfig("sociocs-sms", "sociocs", Channel.SMS, options=options)


async def _no_receipts(receipts: Any) -> None:
    return None


def _provider(client: httpx.AsyncClient, secret: str | None = WEBHOOK_SECRET) -> SociocsProvider:
    return SociocsProvider(_config(secret), client, _no_receipts)


def _request(body: bytes, headers: dict[str, str]) -> WebhookRequest:
    return WebhookRequest("https://herald.example.com/webhooks/sociocs-sms", headers, body)


def _receipt(provider: SociocsProvider, body: bytes, headers: dict[str, str]) -> Receipt:
    result = provider.parse_webhook(_request(body, headers))
    assert len(result.receipts) == 1
    return result.receipts[0]


@pytest.mark.parametrize(
    ("status", "expected"),
    [
        ("queued", DeliveryStatus.ACCEPTED),
        ("sending", DeliveryStatus.ACCEPTED),
        ("enqueued", DeliveryStatus.ACCEPTED),
        ("sent", DeliveryStatus.SENT),
        ("delivered", DeliveryStatus.DELIVERED),
        ("read", DeliveryStatus.READ),
        ("failed", DeliveryStatus.FAILED),
        ("undelivered", DeliveryStatus.FAILED),
        ("sending_failed", DeliveryStatus.FAILED),
        ("delivery_failed", DeliveryStatus.FAILED),
        ("Delivered", DeliveryStatus.DELIVERED),
    ],
)
def test_status_maps_to_delivery_status_for_each_documented_value(
    client: httpx.AsyncClient, status: str, expected: DeliveryStatus
) -> None:
    body, headers = status_update_callback(MESSAGE_ID, status, secret=WEBHOOK_SECRET)
    assert _receipt(_provider(client), body, headers).status is expected


def test_receipt_carries_message_id_and_raw_payload(client: httpx.AsyncClient) -> None:
    body, headers = status_update_callback("MM2aa0db1b276eaeaa5d730d5aa34167f2", "delivered")
    receipt = _receipt(_provider(client, secret=None), body, headers)
    assert receipt.provider_message_id == "MM2aa0db1b276eaeaa5d730d5aa34167f2"
    assert receipt.reference is None
    assert receipt.raw["event_data"] == {"status": "delivered"}


def test_success_receipt_has_no_reason(client: httpx.AsyncClient) -> None:
    body, headers = status_update_callback(MESSAGE_ID, "sent", secret=WEBHOOK_SECRET)
    assert _receipt(_provider(client), body, headers).reason is None


def test_failed_reason_comes_from_error_message(client: httpx.AsyncClient) -> None:
    body, headers = status_update_callback(
        MESSAGE_ID, "failed", secret=WEBHOOK_SECRET, **FAILED_21614
    )
    reason = _receipt(_provider(client), body, headers).reason
    assert reason == FAILED_21614["error"]["message"]
    assert reason is not None and reason.count("21614") == 1


def test_failed_reason_adds_code_missing_from_message(client: httpx.AsyncClient) -> None:
    body, headers = status_update_callback(
        MESSAGE_ID, "failed", error={"code": 63016, "message": "Outside the allowed window"}
    )
    reason = _receipt(_provider(client, secret=None), body, headers).reason
    assert reason == "Outside the allowed window (code 63016)"


def test_failed_reason_falls_back_to_provider_error_object(client: httpx.AsyncClient) -> None:
    body, headers = status_update_callback(
        MESSAGE_ID, "failed", provider_err_obj=FAILED_21614["provider_err_obj"]
    )
    reason = _receipt(_provider(client, secret=None), body, headers).reason
    assert reason == "error code 21614, see https://www.twilio.com/docs/errors/21614"


def test_failed_without_error_fields_names_the_reported_status(
    client: httpx.AsyncClient,
) -> None:
    body, headers = status_update_callback(MESSAGE_ID, "undelivered")
    reason = _receipt(_provider(client, secret=None), body, headers).reason
    assert reason == "Sociocs reported 'undelivered'"


def test_occurred_at_read_from_millisecond_timestamp(client: httpx.AsyncClient) -> None:
    body, headers = status_update_callback(MESSAGE_ID, "sent", timestamp=1_731_330_000_000)
    receipt = _receipt(_provider(client, secret=None), body, headers)
    assert receipt.occurred_at == datetime(2024, 11, 11, 13, 0, tzinfo=UTC)


def test_occurred_at_absent_when_payload_has_no_time(client: httpx.AsyncClient) -> None:
    body, headers = status_update_callback(MESSAGE_ID, "sent")
    assert _receipt(_provider(client, secret=None), body, headers).occurred_at is None


def test_signature_valid_is_accepted(client: httpx.AsyncClient) -> None:
    body, headers = status_update_callback(MESSAGE_ID, "delivered", secret=WEBHOOK_SECRET)
    assert headers["x-sociocs-signature"] == sign(body, WEBHOOK_SECRET)
    assert _receipt(_provider(client), body, headers).status is DeliveryStatus.DELIVERED


def test_signature_uppercase_hex_is_accepted(client: httpx.AsyncClient) -> None:
    body, headers = status_update_callback(MESSAGE_ID, "sent", secret=WEBHOOK_SECRET)
    headers["x-sociocs-signature"] = headers["x-sociocs-signature"].upper()
    assert _receipt(_provider(client), body, headers).status is DeliveryStatus.SENT


def test_signature_matches_the_documented_test_vector() -> None:
    headers = {"x-sociocs-signature": sign(b"Hello, World!", "My Shared Secret")}
    assert headers["x-sociocs-signature"] == (
        "a52954ef969a496aeed237f48b03c6df7ea43cd0f6e595d06dfe7a8b14b5d891"
    )
    verify_signature(b"Hello, World!", headers, "My Shared Secret", "sociocs")


def test_signature_from_another_secret_is_rejected(client: httpx.AsyncClient) -> None:
    body, headers = status_update_callback(MESSAGE_ID, "delivered", secret="not-the-secret")
    with pytest.raises(WebhookAuthError, match="does not match"):
        _provider(client).parse_webhook(_request(body, headers))


def test_signature_missing_is_rejected(client: httpx.AsyncClient) -> None:
    body, headers = status_update_callback(MESSAGE_ID, "delivered")
    with pytest.raises(WebhookAuthError, match="no X-Sociocs-Signature"):
        _provider(client).parse_webhook(_request(body, headers))


def test_signature_over_tampered_body_is_rejected(client: httpx.AsyncClient) -> None:
    body, headers = status_update_callback(MESSAGE_ID, "failed", secret=WEBHOOK_SECRET)
    tampered = body.replace(b'"failed"', b'"delivered"')
    assert tampered != body
    with pytest.raises(WebhookAuthError):
        _provider(client).parse_webhook(_request(tampered, headers))


def test_signature_checked_before_body_is_read(client: httpx.AsyncClient) -> None:
    with pytest.raises(WebhookAuthError):
        _provider(client).parse_webhook(_request(b"not json", {}))


def test_unsigned_callback_accepted_without_secret(client: httpx.AsyncClient) -> None:
    body, headers = status_update_callback(MESSAGE_ID, "delivered")
    assert "x-sociocs-signature" not in headers
    receipt = _receipt(_provider(client, secret=None), body, headers)
    assert receipt.status is DeliveryStatus.DELIVERED


def test_needs_token_false_with_secret(client: httpx.AsyncClient) -> None:
    assert _provider(client).webhook_needs_token() is False


def test_needs_token_true_without_secret(client: httpx.AsyncClient) -> None:
    assert _provider(client, secret=None).webhook_needs_token() is True


def test_incoming_message_event_is_acknowledged_without_receipt(
    client: httpx.AsyncClient,
) -> None:
    body, headers = incoming_message_callback("Thanks!", secret=WEBHOOK_SECRET)
    result = _provider(client).parse_webhook(_request(body, headers))
    assert list(result.receipts) == []
    assert result.reply == {"ok": True}


def test_unknown_status_is_acknowledged_without_receipt(client: httpx.AsyncClient) -> None:
    body, headers = status_update_callback(MESSAGE_ID, "partially_delivered")
    result = _provider(client, secret=None).parse_webhook(_request(body, headers))
    assert list(result.receipts) == []


def test_event_nested_in_event_data_is_read(client: httpx.AsyncClient) -> None:
    body, headers = status_update_callback(MESSAGE_ID, "read", nested_event=True)
    body = body.replace(b'"event":"status_update","event_data"', b'"event_data"')
    assert body.count(b"status_update") == 1
    receipt = _receipt(_provider(client, secret=None), body, headers)
    assert receipt.status is DeliveryStatus.READ


@pytest.mark.parametrize(
    "body",
    [
        b"not json",
        b"\xff\xfe",
        b'["status_update"]',
        b'{"message_id": "Xyz00001", "event_data": {"status": "sent"}}',
        b'{"event": "status_update", "event_data": {"status": "sent"}}',
        b'{"message_id": "", "event": "status_update", "event_data": {"status": "sent"}}',
        b'{"message_id": "Xyz00001", "event": "status_update"}',
        b'{"message_id": "Xyz00001", "event": "status_update", "event_data": "sent"}',
        b'{"message_id": "Xyz00001", "event": "status_update", "event_data": {}}',
    ],
)
def test_unreadable_callback_is_a_webhook_error(client: httpx.AsyncClient, body: bytes) -> None:
    headers = {"x-sociocs-signature": sign(body, WEBHOOK_SECRET)}
    with pytest.raises(WebhookError) as caught:
        _provider(client).parse_webhook(_request(body, headers))
    assert not isinstance(caught.value, WebhookAuthError)
    assert caught.value.status_code == 400


@pytest.mark.parametrize(
    "callback",
    [
        status_update_callback(MESSAGE_ID, "sent"),
        status_update_callback(MESSAGE_ID, "sent", secret="wrong"),
        (b"{", {"x-sociocs-signature": sign(b"{", WEBHOOK_SECRET)}),
    ],
    ids=["missing", "wrong", "unreadable"],
)
def test_secret_never_in_webhook_errors(
    client: httpx.AsyncClient, callback: tuple[bytes, dict[str, str]]
) -> None:
    with pytest.raises(WebhookError) as caught:
        _provider(client).parse_webhook(_request(*callback))
    for text in (str(caught.value), repr(caught.value), caught.value.detail):
        assert WEBHOOK_SECRET not in text


def test_empty_secret_refused_at_startup() -> None:
    with pytest.raises(ProviderUnsupportedError, match="'webhook_secret' is empty"):
        SociocsProvider.check_config(_config(secret=" "))
