"""Whatever a stranger posts to a webhook, each provider's parser answers with receipts the
core can store or a `WebhookError` (400/401): never another exception (a 500 and a
traceback in the log), never a receipt of the wrong shape.

Property-based: bodies are random bytes, random JSON, and random JSON built from the
field names each provider's callbacks use, so the generated values reach deep into
the parsers (timestamps as huge numbers, statuses as objects, ids as lists…).
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import hmac
import json
import time
from collections.abc import Iterator
from datetime import datetime
from typing import Any

import httpx
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from providers import (
    BirdProvider,
    CallbellProvider,
    Channel,
    ConnectionConfig,
    DeliveryStatus,
    Provider,
    SociocsProvider,
    WebhookRequest,
    WebhookResult,
)
from providers.callback_json import MAX_DEPTH, CallbackJSONError, load_object, loads, text_of
from providers.errors import WebhookAuthError, WebhookError
from providers.sandbox import SandboxProvider

URL = "https://herald.example.com/webhooks/hook"
CALLBELL_SECRET = "whsec_propertyTestSecret"
SOCIOCS_SECRET = "sociocs-property-secret"
BIRD_KEY = "bird-property-signing-key"

# The words each provider's callbacks are made of (providers.md §2.7, §3.6, §4.5, and the
# sandbox's {"id", "status", "reason"}), so random bodies look like callbacks.
KEYS = [
    *("service", "event", "payload", "id", "status", "direction", "reason", "failure"),
    *("description", "source", "name", "code", "details", "lastStatusAt", "updatedAt"),
    *("reference", "type", "messageId", "messageReference", "createdAt", "uuid"),
    *("metadata", "herald_id", "messageStatusPayload", "errors", "error", "error_data"),
    *("message", "title", "ts", "timestamp", "message_id", "event_data", "msg"),
    *("provider_err_obj", "moreInfo", "occurred_at", "updated_at"),
]
WORDS = [
    *("sms.outbound", "whatsapp.interaction", "channels", "message_status_updated"),
    *("status_update", "sent", "delivered", "read", "failed", "enqueued", "accepted"),
    *("undelivered", "opened", "incoming", "2024-06-12T09:58:33Z", "2024-06-12T09:58:33"),
    *("1686563913", "1686563913000", "99999999999999999999", "", " ", "nan", "-1e999"),
]

# Numbers at the edges: epoch seconds or milliseconds, and far past what a float holds.
numbers = st.sampled_from([0, -1, 10**11, 10**20, 10**400, -(10**400), 1e308, -1e308, 0.5])
scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(),
    numbers,
    st.floats(allow_nan=False, allow_infinity=False),
    st.sampled_from(WORDS),
    st.text(max_size=40),
)
json_values = st.recursive(
    scalars,
    lambda inner: (
        st.lists(inner, max_size=4)
        | st.dictionaries(st.sampled_from(KEYS) | st.text(max_size=8), inner, max_size=6)
    ),
    max_leaves=40,
)
# Where the parsers read times from, with anything in them.
times = st.dictionaries(
    st.sampled_from(["ts", "timestamp", "occurred_at", "updated_at", "lastStatusAt"])
    | st.sampled_from(["updatedAt", "createdAt", "payload"]),
    numbers | st.sampled_from(WORDS) | st.fixed_dictionaries({"ts": numbers}) | scalars,
    max_size=3,
)
statuses = st.sampled_from(WORDS)


def _with_times(base: dict[str, Any]) -> Any:
    return times.map(lambda extra: {**extra, **base})


# The shapes the parsers look for first, filled with anything.
callback_like = st.one_of(
    st.fixed_dictionaries(
        {
            "message_id": st.text(min_size=1),
            "event": st.just("status_update"),
            "event_data": st.fixed_dictionaries({"status": statuses}).flatmap(_with_times),
        }
    ).flatmap(_with_times),
    st.fixed_dictionaries(
        {
            "event": st.just("message_status_updated"),
            "payload": st.fixed_dictionaries(
                {
                    "uuid": st.text(min_size=1),
                    "status": statuses,
                    "messageStatusPayload": times | json_values,
                }
            ),
        }
    ),
    st.fixed_dictionaries(
        {
            "service": st.just("channels"),
            "event": st.sampled_from(["sms.outbound", "email.interaction"]),
            "payload": st.fixed_dictionaries(
                {"id": st.text(min_size=1), "status": statuses, "type": statuses}
            ).flatmap(_with_times),
        }
    ),
    json_values,
    st.fixed_dictionaries(
        {"event": st.sampled_from(WORDS) | json_values, "payload": json_values},
        optional={"service": st.sampled_from(["channels", "numbers"]) | json_values},
    ),
    st.fixed_dictionaries(
        {"message_id": json_values, "event": st.just("status_update"), "event_data": json_values}
    ),
    st.fixed_dictionaries(
        {"id": json_values, "status": st.sampled_from(WORDS) | json_values},
        optional={"reason": json_values, "payload": st.just(None)},
    ),
    st.fixed_dictionaries(
        {
            "event": st.just("message_status_updated"),
            "payload": st.fixed_dictionaries(
                {"uuid": st.text(min_size=1), "status": st.sampled_from(WORDS)},
                optional={
                    "metadata": json_values,
                    "messageStatusPayload": json_values,
                    "error": json_values,
                },
            ),
        }
    ),
)


async def _no_receipts(receipts: Any) -> None:
    return None


def _providers(client: httpx.AsyncClient, *, signed: bool) -> dict[str, Provider]:
    bird: dict[str, Any] = {
        "access_key": "ak-property",
        "workspace_id": "2c3b3a2e-8b3c-4b4e-9d8f-0e5b6b7c8d9e",
        "channel_id": "9f8e7d6c-5b4a-4392-8170-6f5e4d3c2b1a",
    }
    callbell: dict[str, Any] = {"token": "test_property", "channel_uuid": "35f6f8cc"}
    sociocs: dict[str, Any] = {
        "api_key": "a:b",
        "channel_key": "ck-twlo",
        "sociocs_provider": "twlo",
    }
    if signed:
        bird["signing_key"] = BIRD_KEY
        callbell["signing_secret"] = CALLBELL_SECRET
        sociocs["webhook_secret"] = SOCIOCS_SECRET
    configs = {
        "bird": (BirdProvider, Channel.SMS, bird),
        "callbell": (CallbellProvider, Channel.WHATSAPP, callbell),
        "sociocs": (SociocsProvider, Channel.SMS, sociocs),
        "sandbox": (SandboxProvider, Channel.SMS, {}),
    }
    made: dict[str, Provider] = {}
    for name, (cls, channel, options) in configs.items():
        config = ConnectionConfig("hook", name, channel, options=options, webhook_token="t")
        cls.check_config(config)
        made[name] = cls(config, client, _no_receipts)
    return made


@pytest.fixture(scope="module")
def client() -> Iterator[httpx.AsyncClient]:
    client = httpx.AsyncClient()
    yield client
    asyncio.run(client.aclose())


@pytest.fixture(scope="module")
def unsigned(client: httpx.AsyncClient) -> dict[str, Provider]:
    return _providers(client, signed=False)


@pytest.fixture(scope="module")
def signed(client: httpx.AsyncClient) -> dict[str, Provider]:
    return _providers(client, signed=True)


def _request(body: bytes, headers: dict[str, str] | None = None) -> WebhookRequest:
    return WebhookRequest(url=URL, headers=headers or {}, body=body, query={"token": "t"})


def _outcome(provider: Provider, request: WebhookRequest) -> WebhookResult | WebhookError:
    """The parser's answer; any exception but a `WebhookError` fails the test."""
    try:
        result = provider.parse_webhook(request)
    except WebhookAuthError as exc:  # → 401
        return exc
    except WebhookError as exc:  # → 400
        assert exc.status_code == 400
        return exc
    _check_shape(result)
    return result


def _check_shape(result: WebhookResult) -> None:
    """What the core relies on: typed receipts whose raw payload can be stored."""
    assert isinstance(result, WebhookResult)
    json.dumps(dict(result.reply))
    for receipt in result.receipts:
        assert isinstance(receipt.status, DeliveryStatus)
        assert isinstance(receipt.provider_message_id, str) and receipt.provider_message_id
        assert receipt.reference is None or isinstance(receipt.reference, str)
        assert receipt.reason is None or isinstance(receipt.reason, str)
        if receipt.occurred_at is not None:
            assert isinstance(receipt.occurred_at, datetime)
            assert receipt.occurred_at.tzinfo is not None
        json.dumps(receipt.raw, default=str)  # what the store does with it


# database=None: no .hypothesis directory in the working tree; a failure prints its example.
PROPERTY = settings(
    max_examples=200,
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.too_slow],
)


@PROPERTY
@given(body=st.binary(max_size=300))
def test_any_bytes_are_a_result_or_a_webhook_error(
    unsigned: dict[str, Provider], body: bytes
) -> None:
    for provider in unsigned.values():
        _outcome(provider, _request(body))


@PROPERTY
@given(value=callback_like)
def test_any_json_is_a_result_or_a_webhook_error(unsigned: dict[str, Provider], value: Any) -> None:
    body = json.dumps(value).encode()
    for provider in unsigned.values():
        _outcome(provider, _request(body))


@PROPERTY
@given(value=callback_like)
def test_correctly_signed_json_is_a_result_or_a_webhook_error(
    signed: dict[str, Provider], value: Any
) -> None:
    # Signed with each connection's own key, so the body gets past verification.
    body = json.dumps(value).encode()
    stamp = str(int(time.time()))  # the providers check it against their own clock
    bird_signature = hmac.new(
        BIRD_KEY.encode(),
        b"\n".join((stamp.encode(), URL.encode(), hashlib.sha256(body).digest())),
        hashlib.sha256,
    ).digest()
    headers = {
        "bird": {
            "messagebird-signature": base64.b64encode(bird_signature).decode(),
            "messagebird-request-timestamp": stamp,
        },
        "sociocs": {
            "x-sociocs-signature": hmac.new(
                SOCIOCS_SECRET.encode(), body, hashlib.sha256
            ).hexdigest()
        },
        "callbell": {
            "x-callbell-signature": "t={},v1={}".format(
                stamp,
                hmac.new(
                    CALLBELL_SECRET.encode(), stamp.encode() + b"." + body, hashlib.sha256
                ).hexdigest(),
            )
        },
        "sandbox": {},
    }
    for name, provider in signed.items():
        outcome = _outcome(provider, _request(body, headers[name]))
        assert not isinstance(outcome, WebhookAuthError) or name == "sandbox"


@PROPERTY
@given(
    header=st.sampled_from(
        [
            "messagebird-signature",
            "messagebird-request-timestamp",
            "x-sociocs-signature",
            "x-callbell-signature",
        ]
    ),
    value=st.text(max_size=120),
    stamp=st.text(max_size=20) | st.integers(0, 10**13).map(str),
)
def test_any_signature_header_is_a_webhook_error_or_a_result(
    signed: dict[str, Provider], header: str, value: str, stamp: str
) -> None:
    body = b'{"event": "status_update", "message_id": "m1", "event_data": {"status": "sent"}}'
    headers = {header: value, "messagebird-request-timestamp": stamp}
    for provider in signed.values():
        _outcome(provider, _request(body, headers))


DEEP = [
    b"[" * 100_000,
    b"[" * 5_000 + b"]" * 5_000,
    b'{"a":' * 5_000 + b"1" + b"}" * 5_000,
    json.dumps({"event": "message_status_updated", "payload": [[[[[[[[[[[[[[]]]]]]]]]]]]]]})
    .replace("[]", "[" * 2_000 + "]" * 2_000)
    .encode(),
    b'{"id": "x", "status": "sent", "reason": ' + b"[" * 3_000 + b"]" * 3_000 + b"}",
]


@pytest.mark.parametrize("body", DEEP, ids=["open", "lists", "objects", "callbell", "sandbox"])
@pytest.mark.parametrize("name", ["bird", "callbell", "sociocs", "sandbox"])
def test_deeply_nested_json_is_a_400_not_a_recursion_error(
    unsigned: dict[str, Provider], name: str, body: bytes
) -> None:
    with pytest.raises(WebhookError) as caught:
        unsigned[name].parse_webhook(_request(body))

    assert caught.value.status_code == 400


@pytest.mark.parametrize(
    ("body", "problem"),
    [
        (b"[" * (MAX_DEPTH + 1) + b"]" * (MAX_DEPTH + 1), "deeper than"),
        (b'{"ts": NaN}', "NaN"),
        (b'{"ts": -Infinity}', "-Infinity"),
        (b"1" * 5_000, "not JSON"),
        (b"\xff\xfe\x00", "not JSON"),
    ],
)
def test_loads_refuses_what_is_not_plain_json(body: bytes, problem: str) -> None:
    with pytest.raises(CallbackJSONError, match=problem):
        loads(body)


def test_loads_takes_nesting_up_to_the_limit() -> None:
    body = b"[" * MAX_DEPTH + b"]" * MAX_DEPTH

    assert loads(body) is not None


@pytest.mark.parametrize("body", [b"[]", b'"text"', b"1", b"null", b"[{}]"])
def test_every_callback_must_be_a_json_object(body: bytes) -> None:
    with pytest.raises(CallbackJSONError, match="not a JSON object"):
        load_object(body)


@pytest.mark.parametrize(
    ("value", "expected"),
    [(" ab ", "ab"), ("ab", "ab"), ("", None), (" \n", None), (12, None), (None, None)],
)
def test_a_text_field_is_a_non_blank_string_stripped(value: Any, expected: str | None) -> None:
    assert text_of(value) == expected


EDGE_NUMBERS = [10**400, -(10**400), 10**20, 1e308, -1e308, -1, 0, "9" * 20, "1e999"]
# Where each provider's parser reads a time, as (provider, body builder).
TIME_PLACES = {
    "sociocs-event_data": (
        "sociocs",
        lambda v: {
            "message_id": "m1",
            "event": "status_update",
            "event_data": {"status": "sent", "timestamp": v},
        },
    ),
    "sociocs-top": (
        "sociocs",
        lambda v: {
            "message_id": "m1",
            "event": "status_update",
            "occurred_at": v,
            "event_data": {"status": "sent"},
        },
    ),
    "callbell-ts": (
        "callbell",
        lambda v: {
            "event": "message_status_updated",
            "payload": {"uuid": "u1", "status": "read", "messageStatusPayload": {"ts": v}},
        },
    ),
    "callbell-payload-ts": (
        "callbell",
        lambda v: {
            "event": "message_status_updated",
            "payload": {
                "uuid": "u1",
                "status": "read",
                "messageStatusPayload": {"payload": {"ts": v}},
            },
        },
    ),
    "bird-lastStatusAt": (
        "bird",
        lambda v: {
            "service": "channels",
            "event": "sms.outbound",
            "payload": {"id": "b1", "status": "sent", "lastStatusAt": v},
        },
    ),
}


@pytest.mark.parametrize("value", EDGE_NUMBERS, ids=lambda v: f"{type(v).__name__}:{str(v)[:8]}…")
@pytest.mark.parametrize("place", TIME_PLACES)
def test_a_time_no_clock_can_hold_still_gives_a_receipt(
    unsigned: dict[str, Provider], place: str, value: Any
) -> None:
    # A time out of range is dropped (the core stamps the receipt on arrival); it must not
    # turn the whole callback into a 500 (OverflowError from int / 1000 before the fix).
    name, build = TIME_PLACES[place]

    result = unsigned[name].parse_webhook(_request(json.dumps(build(value)).encode()))

    _check_shape(result)
    assert len(result.receipts) == 1
