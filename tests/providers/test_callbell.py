"""The Callbell adapter against its strict fake: wire format, options, errors and hints."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Iterator
from typing import Any, TypeVar

import httpx
import pytest

from providers import (
    CallbellProvider,
    Channel,
    ConnectionConfig,
    DeliveryStatus,
    OutboundMessage,
    ProviderAuthError,
    ProviderError,
    ProviderOutcomeUnknownError,
    ProviderRejectedError,
    ProviderTemplate,
    ProviderUnavailableError,
    ProviderUnsupportedError,
    SendResult,
)
from providers.base import WHATSAPP_WINDOW_HINT as WINDOW_HINT
from providers.callbell import bounded_metadata, media_type
from tests.fakes.callbell_api import WALLET_ERROR, WINDOW_ERROR, CallbellFake
from tests.fakes.provider_fake import MediaHost, Recorded, Reply

T = TypeVar("T")
TO = "+31612345678"
TEXT = "Your order A-1042 ships tomorrow"
TEMPLATE_ID = (
    "d980fb66fd5043d3ace1aa06ba044342"  # "Hello {{1}}, this is a template message example"
)
MULTI_ID = (
    "5d1c2b7e9a4f4e0b8c3d6a1f2e7b9c04"  # "Hello {{1}}, this is a template {{2}} example. {{3}}!"
)
PLAIN_ID = "0e3f7a9b2c6d4e8f9a1b3c5d7e9f1a2b"  # "Your parcel is on its way."


@pytest.fixture(scope="module")
def account() -> Iterator[CallbellFake]:
    # One server for the module: stopping one takes half a second (serve_forever's poll).
    with CallbellFake() as running:
        assert isinstance(running, CallbellFake)
        yield running


@pytest.fixture
def fake(account: CallbellFake) -> CallbellFake:
    account.reset()
    return account


async def _no_receipts(receipts: Any) -> None:
    return None


def _config(fake: CallbellFake, base_url: str | None = None, **options: Any) -> ConnectionConfig:
    return ConnectionConfig(
        name="wa",
        provider="callbell",
        channel=Channel.WHATSAPP,
        base_url=base_url or fake.base_url,
        options={"token": fake.token, "channel_uuid": fake.channel_uuid, **options},
    )


def _run(fake: CallbellFake, call: Callable[[CallbellProvider], Awaitable[T]], **config: Any) -> T:
    async def go() -> T:
        async with httpx.AsyncClient(timeout=httpx.Timeout(5.0)) as client:
            provider = CallbellProvider(_config(fake, **config), client, _no_receipts)
            return await call(provider)

    return asyncio.run(go())


def _message(**fields: Any) -> OutboundMessage:
    fields.setdefault("to", TO)
    fields.setdefault("text", TEXT)
    return OutboundMessage(reference="k3x9p2ab", channel=Channel.WHATSAPP, **fields)


def _template(id: str = TEMPLATE_ID, **parameters: str) -> ProviderTemplate:
    return ProviderTemplate(id=id, parameters=parameters)


def _send(fake: CallbellFake, message: OutboundMessage | None = None, **config: Any) -> SendResult:
    return _run(fake, lambda p: p.send(message or _message()), **config)


def _error(fake: CallbellFake, message: OutboundMessage | None = None, **config: Any) -> Any:
    with pytest.raises(ProviderError) as caught:
        _send(fake, message, **config)
    return caught.value


def _bodies(fake: CallbellFake) -> list[Any]:
    return [request.json() for request in fake.requests]


# -- wire format ---------------------------------------------------------------


def test_text_is_sent_in_the_documented_shape(fake: CallbellFake) -> None:
    result = _send(fake)

    assert _bodies(fake) == [
        {
            "to": TO,
            "from": "whatsapp",
            "channel_uuid": fake.channel_uuid,
            "type": "text",
            "content": {"text": TEXT},
            "metadata": {"herald_id": "k3x9p2ab"},
        }
    ]
    assert fake.requests[0].method == "POST"
    assert fake.requests[0].path == "/messages/send"
    assert result.provider_message_id == result.raw["message"]["uuid"]
    assert len(result.provider_message_id or "") == 32
    assert result.status is DeliveryStatus.ACCEPTED


def test_send_authenticates_with_the_bearer_token_and_speaks_json(fake: CallbellFake) -> None:
    _send(fake)

    headers = fake.requests[0].headers
    assert headers["authorization"] == f"Bearer {fake.token}"
    assert headers["accept"] == "application/json"
    assert headers["content-type"] == "application/json"


def test_send_keeps_the_v1_path_of_the_base_url(fake: CallbellFake) -> None:
    _send(fake, base_url=f"{fake.base_url}/v1/")

    assert fake.requests[0].path == "/v1/messages/send"


def test_recipient_gets_the_plus_the_doc_examples_use(fake: CallbellFake) -> None:
    _send(fake, _message(to="31 6 1234 5678"))

    assert _bodies(fake)[0]["to"] == TO


def test_created_status_is_also_accepted(fake: CallbellFake) -> None:
    fake.success_status = 201

    result = _send(fake)

    assert result.status is DeliveryStatus.ACCEPTED and result.provider_message_id


def test_success_without_a_uuid_is_accepted_without_an_id(fake: CallbellFake) -> None:
    fake.fail_next(200, {"ok": True})

    result = _send(fake)

    assert result.provider_message_id is None and result.raw == {"ok": True}


# -- media ---------------------------------------------------------------------


@pytest.mark.parametrize(
    ("url", "kind"),
    [
        ("https://example.com/a/photo.JPG", "image"),
        ("https://example.com/photo.png?size=large", "image"),
        ("https://example.com/invoice.pdf", "document"),
        ("https://example.com/sheet.xlsx", "document"),
        ("https://example.com/download", "document"),
        ("https://example.com/voice.mp3", "audio"),
        ("https://example.com/note.ogg", "audio"),
        ("https://example.com/clip.mp4", "video"),
    ],
)
def test_media_type_follows_the_url_extension(url: str, kind: str) -> None:
    assert media_type(url) == kind


def test_image_carries_the_text_as_caption(fake: CallbellFake) -> None:
    url = "https://example.com/parcel.jpeg"

    _send(fake, _message(media_urls=(url,)))

    [body] = _bodies(fake)
    assert body["type"] == "image"
    assert body["content"] == {"url": url, "text": TEXT}


def test_document_goes_first_and_the_text_follows(fake: CallbellFake) -> None:
    url = "https://example.com/invoice.pdf"

    result = _send(fake, _message(media_urls=(url,)))

    first, second = _bodies(fake)
    assert (first["type"], first["content"]) == ("document", {"url": url})
    assert (second["type"], second["content"]) == ("text", {"text": TEXT})
    assert first["metadata"] == second["metadata"] == {"herald_id": "k3x9p2ab"}
    assert result.provider_message_id == result.raw["message"]["uuid"]
    assert result.raw["text_message"]["uuid"] not in (None, result.provider_message_id)


def test_image_without_an_extension_goes_as_an_image(fake: CallbellFake) -> None:
    with MediaHost() as media:
        assert isinstance(media, MediaHost)
        url = media.serve("/v0/b/o/parcel", "image/webp")

        _send(fake, _message(media_urls=(url,)))

    [body] = _bodies(fake)
    assert (body["type"], body["content"]) == ("image", {"url": url, "text": TEXT})


def test_text_lost_after_the_attachment_may_have_gone_out() -> None:
    class TextLost(CallbellFake):
        def handle(self, request: Recorded) -> Reply:
            if request.json()["type"] == "text":
                return Reply(504, "<html>504 Gateway Time-out</html>")
            return super().handle(request)

    with TextLost() as fake:
        error = _error(fake, _message(media_urls=("https://example.com/clip.mp4",)))

    assert isinstance(error, ProviderOutcomeUnknownError) and not error.retryable
    assert "may or may not" in str(error) and "attachment was sent" in str(error)


def test_text_failing_after_the_attachment_is_not_retryable() -> None:
    class TextDown(CallbellFake):
        def handle(self, request: Recorded) -> Reply:
            if request.json()["type"] == "text":
                return Reply(503, {"error": "Service Unavailable"})
            return super().handle(request)

    with TextDown() as fake:
        assert isinstance(fake, TextDown)
        error = _error(fake, _message(media_urls=("https://example.com/clip.mp4",)))

    assert isinstance(error, ProviderRejectedError) and not error.retryable
    assert "attachment was sent" in str(error)
    assert isinstance(error.__cause__, ProviderUnavailableError)


def test_refused_attachment_sends_nothing_else(fake: CallbellFake) -> None:
    fake.business_api = False

    error = _error(fake, _message(media_urls=("https://example.com/voice.mp3",)))

    assert isinstance(error, ProviderRejectedError)
    assert len(fake.requests) == 1 and not fake.sent


def test_more_than_one_attachment_is_refused_before_sending(fake: CallbellFake) -> None:
    urls = ("https://example.com/a.jpg", "https://example.com/b.jpg")

    error = _error(fake, _message(media_urls=urls))

    assert isinstance(error, ProviderUnsupportedError)
    assert not fake.requests


# -- templates -----------------------------------------------------------------


@pytest.mark.parametrize(
    ("template", "parameters", "media", "kind", "content", "values", "reads"),
    [
        (
            MULTI_ID,
            {"3": "Cheers", "1": "Jack", "2": "message"},
            (),
            "text",
            {"text": "Jack"},
            ["Jack", "message", "Cheers"],
            "Hello Jack, this is a template message example. Cheers!",
        ),
        (PLAIN_ID, {}, (), "text", {}, None, "Your parcel is on its way."),
        (
            TEMPLATE_ID,
            {"1": "John Doe"},
            ("https://x.example/a.pdf",),
            "document",
            {"text": "John Doe", "url": "https://x.example/a.pdf"},
            ["John Doe"],
            "Hello John Doe, this is a template message example",
        ),
    ],
    ids=["values-by-placeholder-number", "no-parameters", "document-header"],
)
def test_template_is_sent_with_uuid_optin_and_values(
    fake: CallbellFake,
    template: str,
    parameters: dict[str, str],
    media: tuple[str, ...],
    kind: str,
    content: dict[str, str],
    values: list[str] | None,
    reads: str,
) -> None:
    # Seed 004: "Hello {{1}}, this is a template {{2}} example. {{3}}!" with template_values
    # ["Jack", "template", "Cheers"] reads "Hello Jack, … Cheers!": array order is placeholder
    # order. And "In this context `text` refers to the placeholder of the template message".
    _send(fake, _message(template=_template(template, **parameters), media_urls=media))

    [body] = _bodies(fake)
    assert (body["type"], body["content"]) == (kind, content)
    assert (body["template_uuid"], body["optin_contact"]) == (template, True)
    assert body.get("template_values") == values
    assert list(fake.delivered.values()) == [reads]


def test_template_without_parameters_never_fills_a_placeholder_with_the_message(
    fake: CallbellFake,
) -> None:
    # Seed 004: content.text "refers to the placeholder of the template message": the
    # rendered Herald text there would read "Hello Your order A-1042 ships tomorrow, …".
    error = _error(fake, _message(template=_template(TEMPLATE_ID)))

    assert isinstance(error, ProviderRejectedError) and "needs 1 values" in error.detail
    assert TEXT not in fake.requests[0].body.decode() and not fake.delivered


@pytest.mark.parametrize(
    ("parameters", "detail"),
    [
        ({"name": "Jack"}, "'name' is not a placeholder number"),
        ({"1": "Jack", "3": "Cheers"}, "skip placeholder 2"),
        ({"0": "Jack"}, "'0' is not a placeholder number"),
    ],
)
def test_template_parameters_that_are_not_placeholder_numbers_are_refused(
    fake: CallbellFake, parameters: dict[str, str], detail: str
) -> None:
    error = _error(fake, _message(template=_template(MULTI_ID, **parameters)))

    assert isinstance(error, ProviderRejectedError) and detail in error.detail
    assert fake.requests == []


@pytest.mark.parametrize(
    ("status", "expected"),
    [("sent", DeliveryStatus.SENT), ("delivered", DeliveryStatus.DELIVERED)],
)
def test_answer_status_past_enqueued_is_kept(
    fake: CallbellFake, status: str, expected: DeliveryStatus
) -> None:
    fake.fail_next(200, {"message": {"uuid": "adf3d1216d4c4dcd908199d6700f2381", "status": status}})

    assert _send(fake).status is expected


def test_answer_status_failed_is_a_rejection(fake: CallbellFake) -> None:
    fake.fail_next(
        200, {"message": {"uuid": "adf3d1216d4c4dcd908199d6700f2381", "status": "failed"}}
    )

    assert isinstance(_error(fake), ProviderRejectedError)


def test_template_with_audio_is_refused(fake: CallbellFake) -> None:
    message = _message(template=_template(), media_urls=("https://example.com/a.mp3",))

    error = _error(fake, message)

    assert isinstance(error, ProviderUnsupportedError) and not fake.requests


def test_template_is_refused_when_optin_contact_is_off(fake: CallbellFake) -> None:
    error = _error(fake, _message(template=_template()), optin_contact=False)

    assert isinstance(error, ProviderUnsupportedError)
    assert "optin_contact" in str(error) and not fake.requests


# -- assignment ----------------------------------------------------------------


@pytest.mark.parametrize(
    ("enabled", "sender", "assigned"),
    [
        (True, "ana@example.com", "ana@example.com"),
        (False, "ana@example.com", None),
        (None, "ana@example.com", None),
        (True, None, None),
    ],
)
def test_assigned_user_is_the_sender_only_when_enabled_and_known(
    fake: CallbellFake, enabled: bool | None, sender: str | None, assigned: str | None
) -> None:
    options = {} if enabled is None else {"assign_to_sender": enabled}

    _send(fake, _message(sender_email=sender), **options)

    assert _bodies(fake)[0].get("assigned_user") == assigned


@pytest.mark.parametrize(("options", "wanted"), [({}, False), ({"assign_to_sender": True}, True)])
def test_sender_email_is_wanted_only_when_assigning_to_the_sender(
    fake: CallbellFake, options: dict[str, Any], wanted: bool
) -> None:
    provider = CallbellProvider(_config(fake, **options), httpx.AsyncClient(), _no_receipts)

    assert provider.wants_sender_email() is wanted


def test_team_uuid_is_sent_when_configured(fake: CallbellFake) -> None:
    _send(fake, team_uuid="b1c2d3")

    assert _bodies(fake)[0]["team_uuid"] == "b1c2d3"


# -- metadata ------------------------------------------------------------------


def test_metadata_leaves_out_pairs_beyond_the_documented_limits() -> None:
    pairs = {"herald_id": "x" * 501, "k" * 51: "v", **{f"key{i}": "v" for i in range(12)}}

    kept = bounded_metadata(pairs)

    assert list(kept) == [f"key{i}" for i in range(10)]


def test_overlong_reference_sends_no_metadata(fake: CallbellFake) -> None:
    message = OutboundMessage(reference="r" * 501, channel=Channel.WHATSAPP, to=TO, text=TEXT)

    _send(fake, message)

    assert "metadata" not in _bodies(fake)[0]


# -- configuration -------------------------------------------------------------


@pytest.mark.parametrize(
    ("key", "value"),
    [
        ("token", ""),
        ("channel_uuid", 42),
        ("assign_to_sender", "yes"),
        ("optin_contact", "true"),
        ("team_uuid", 7),
    ],
)
def test_config_with_a_wrong_type_is_refused_naming_the_key(key: str, value: Any) -> None:
    options: dict[str, Any] = {"token": "test_secretsecret", "channel_uuid": "c-1", key: value}
    config = ConnectionConfig("wa", "callbell", Channel.WHATSAPP, options=options)

    with pytest.raises(ProviderUnsupportedError) as caught:
        CallbellProvider.check_config(config)

    assert f"'{key}'" in str(caught.value)
    assert "test_secretsecret" not in str(caught.value)


def test_config_with_all_keys_is_accepted() -> None:
    options = {"assign_to_sender": True, "optin_contact": False, "team_uuid": "team"}
    options |= {"token": "t", "channel_uuid": "c"}

    CallbellProvider.check_config(
        ConnectionConfig("wa", "callbell", Channel.WHATSAPP, options=options)
    )


@pytest.mark.parametrize("channel", [Channel.SMS, Channel.MMS, Channel.EMAIL, Channel.ZALO])
def test_channels_other_than_whatsapp_are_refused(channel: Channel) -> None:
    config = ConnectionConfig(
        "wa", "callbell", channel, options={"token": "t", "channel_uuid": "c"}
    )

    with pytest.raises(ProviderUnsupportedError):
        CallbellProvider.check_config(config)


# -- errors and hints ----------------------------------------------------------


@pytest.mark.parametrize(
    ("state", "message", "config", "status", "detail", "hint"),
    [
        ({"window_open": False}, _message(), {}, 422, WINDOW_ERROR, WINDOW_HINT),
        (
            {"wallet_empty": True},
            _message(template=_template()),
            {},
            402,
            WALLET_ERROR,
            "WhatsApp wallet",
        ),
        ({}, _message(), {"token": "test_notTheRightToken000"}, 401, "Unauthorized", "API keys"),
        ({}, _message(template=_template(id="0" * 32)), {}, 404, "Template not found", "uuid"),
        ({}, _message(), {"channel_uuid": "nope"}, 404, "Channel not found", "channel_uuid"),
        (
            {"business_api": False},
            _message(media_urls=("https://example.com/voice.mp3",)),
            {},
            422,
            "only available for accounts using the official WhatsApp Business API",
            "WhatsApp Business API integration",
        ),
    ],
    ids=[
        "24-hour-window",
        "empty-wallet",
        "wrong-token",
        "unknown-template",
        "unknown-channel",
        "qr-channel",
    ],
)
def test_known_failures_keep_callbells_words_and_add_a_next_step(
    fake: CallbellFake,
    state: dict[str, Any],
    message: OutboundMessage,
    config: dict[str, Any],
    status: int,
    detail: str,
    hint: str,
) -> None:
    for key, value in state.items():
        setattr(fake, key, value)

    error = _error(fake, message, **config)

    assert isinstance(error, ProviderAuthError if status == 401 else ProviderRejectedError)
    assert not error.retryable and error.status_code == status
    assert detail in error.detail
    assert error.hint and hint in error.hint and hint in str(error)
    assert "test_notTheRightToken000" not in str(error)


def test_template_is_sent_outside_the_24_hour_window(fake: CallbellFake) -> None:
    fake.window_open = False

    result = _send(fake, _message(template=_template(**{"1": "Jack"})))

    assert result.status is DeliveryStatus.ACCEPTED


@pytest.mark.parametrize(
    ("body", "detail"),
    [
        ({"error": "to is invalid", "code": "invalid_param"}, "to is invalid"),
        ({"error": {"message": "to is invalid"}}, "to is invalid"),
        ({"errors": ["to is invalid", "type is missing"]}, "to is invalid; type is missing"),
        ({"errors": {"to": ["is invalid"]}}, "to: is invalid"),
        ({"message": "to is invalid"}, "to is invalid"),
        ("to is invalid", "to is invalid"),
    ],
)
def test_error_detail_reads_the_common_error_shapes(
    fake: CallbellFake, body: Any, detail: str
) -> None:
    fake.fail_next(422, body)

    error = _error(fake)

    assert isinstance(error, ProviderRejectedError) and error.detail == detail


def test_error_detail_never_shows_the_token(fake: CallbellFake) -> None:
    fake.fail_next(400, {"error": f"bad request for key {fake.token}"})

    error = _error(fake)

    # One marker for every provider now that the base class redacts (issue 8).
    assert fake.token not in str(error) and "[redacted]" in error.detail


# -- the fake is as strict as the API ------------------------------------------


def _valid(fake: CallbellFake) -> dict[str, Any]:
    return {
        "to": TO,
        "from": "whatsapp",
        "channel_uuid": fake.channel_uuid,
        "type": "text",
        "content": {"text": "hi"},
    }


@pytest.mark.parametrize(
    "change",
    [
        {"channel_uuid": None},
        {"to": None},
        {"from": None},
        {"type": "sticker"},
        {"content": {}},
        {"type": "image", "content": {"text": "no url"}},
        {"template_uuid": TEMPLATE_ID},
        {"optin_contact": True},
        {"metadata": {f"k{i}": "v" for i in range(11)}},
        {"metadata": {"k" * 51: "v"}},
        {"metadata": {"k": "v" * 501}},
    ],
)
def test_fake_refuses_what_the_doc_forbids(fake: CallbellFake, change: dict[str, Any]) -> None:
    body = {**_valid(fake), **change}
    body = {k: v for k, v in body.items() if v is not None}
    headers = {"Authorization": f"Bearer {fake.token}"}

    response = httpx.post(f"{fake.base_url}/v1/messages/send", json=body, headers=headers)

    assert 400 <= response.status_code < 500 and "error" in response.json()
    assert not fake.sent


def test_fake_accepts_the_seed_form_of_to_without_plus(fake: CallbellFake) -> None:
    body = {**_valid(fake), "to": "31612345678"}
    headers = {"Authorization": f"Bearer {fake.token}"}

    response = httpx.post(f"{fake.base_url}/v1/messages/send", json=body, headers=headers)

    assert response.status_code == 200 and response.json()["message"]["status"] == "enqueued"
