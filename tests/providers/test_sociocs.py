"""The Sociocs adapter against its strict fake: the exact wire format, errors and config."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import Any

import httpx
import pytest

from bot.config.settings import load_settings
from providers import (
    Channel,
    ConnectionConfig,
    DeliveryStatus,
    OutboundMessage,
    ProviderAuthError,
    ProviderError,
    ProviderOutcomeUnknownError,
    ProviderRejectedError,
    ProviderTemplate,
    ProviderUnsupportedError,
    SendResult,
    SociocsProvider,
)
from tests.fakes.provider_fake import MediaHost
from tests.fakes.slack_api import BOT_TOKEN
from tests.fakes.sociocs_api import (
    API_KEY,
    GUPSHUP_WA_CHANNEL_KEY,
    SMS_CHANNEL_KEY,
    SociocsFake,
)
from tests.slack_signing import SIGNING_SECRET

TO = "+31612345678"
CHANNEL_OF = {"twlo": Channel.SMS, "twlowa": Channel.WHATSAPP, "gswa": Channel.WHATSAPP}


@pytest.fixture
def fake() -> Any:
    with SociocsFake() as running:
        yield running


async def _no_receipts(receipts: Any) -> None:
    return None


def _config(
    fake: SociocsFake, network: str = "twlo", channel: Channel | None = None, **extra: Any
) -> ConnectionConfig:
    keys = {"api_key": API_KEY, "channel_key": fake.channel_key(network)}
    options = {**keys, "sociocs_provider": network, **extra}
    channel = channel or CHANNEL_OF[network]
    return ConnectionConfig("conn", "sociocs", channel, fake.base_url, options=options)


def _message(network: str = "twlo", **fields: Any) -> OutboundMessage:
    """A message for ``network``'s channel: mms for media on Twilio SMS."""
    fields.setdefault("text", "Your order A-1042 ships tomorrow")
    mms = network == "twlo" and fields.get("media_urls")
    channel = Channel.MMS if mms else CHANNEL_OF[network]
    return OutboundMessage(reference="k3x9p2ab", channel=channel, to=TO, **fields)


def _send(fake: SociocsFake, message: OutboundMessage, config: ConnectionConfig) -> SendResult:
    async def go() -> SendResult:
        async with httpx.AsyncClient(timeout=5.0) as client:
            return await SociocsProvider(config, client, _no_receipts).send(message)

    return asyncio.run(go())


def _sent(fake: SociocsFake, network: str = "twlo", **fields: Any) -> dict[str, Any]:
    """Send one message and return the JSON body the fake accepted."""
    message = _message(network, **fields)
    _send(fake, message, _config(fake, network, message.channel))
    assert len(fake.requests) == 1 and len(fake.sent) == 1
    return fake.sent[0]


def _error(fake: SociocsFake, message: OutboundMessage, config: ConnectionConfig) -> ProviderError:
    with pytest.raises(ProviderError) as caught:
        _send(fake, message, config)
    return caught.value


# -- wire format ----------------------------------------------------------------


def test_text_is_posted_to_message_with_the_apikey_header(fake: SociocsFake) -> None:
    _send(fake, _message(), _config(fake))

    request = fake.requests[0]
    assert (request.method, request.path) == ("POST", "/message")
    assert request.headers["apikey"] == API_KEY
    assert request.headers["content-type"] == "application/json"
    assert request.json() == {
        "provider": "twlo",
        "channel_key": SMS_CHANNEL_KEY,
        "to": TO,
        "text": "Your order A-1042 ships tomorrow",
    }


def test_send_returns_the_message_id_as_accepted(fake: SociocsFake) -> None:
    result = _send(fake, _message(), _config(fake))

    raw = {"status": "success", "data": {"message_id": "Xyz00001"}}
    assert result == SendResult("Xyz00001", DeliveryStatus.ACCEPTED, raw=raw)


@pytest.mark.parametrize(
    ("urls", "fields"),
    [
        (("https://x.test/receipt.jpg",), ("image_url",)),
        (("https://x.test/receipt.PNG?sig=abc.pdf",), ("image_url",)),
        (("https://x.test/clip.mp4",), ("video_url",)),
        (("https://x.test/invoice.pdf",), ("file_url",)),
        (
            ("https://x.test/a.gif", "https://x.test/b.mov", "https://x.test/c.zip"),
            ("image_url", "video_url", "file_url"),
        ),
    ],
)
def test_media_goes_in_the_field_for_its_kind_on_twilio_sms(
    fake: SociocsFake, urls: tuple[str, ...], fields: tuple[str, ...]
) -> None:
    body = _sent(fake, media_urls=urls)

    assert body == {
        "provider": "twlo",
        "channel_key": SMS_CHANNEL_KEY,
        "to": TO,
        "text": "Your order A-1042 ships tomorrow",
        **dict(zip(fields, urls, strict=True)),
    }


@pytest.mark.parametrize(
    ("served", "field"),
    [
        ("image/png", "image_url"),
        ("video/mp4", "video_url"),
        ("application/octet-stream", "file_url"),
    ],
)
def test_media_without_an_extension_goes_in_the_field_its_server_names(
    fake: SociocsFake, served: str, field: str
) -> None:
    with MediaHost() as media:
        assert isinstance(media, MediaHost)
        url = media.serve("/download", served)

        body = _sent(fake, media_urls=(url,))

    assert body[field] == url and len(media.requests) == 1


def test_twilio_sms_connection_with_channel_mms_sends_media(fake: SociocsFake) -> None:
    # Seed 003, "Sending text & image": "provider": "twlo", …, "text": "message",
    # "image_url": "https://fastly.picsum.photos/…/300.jpg?…": media go out on Twilio SMS,
    # which delivers them as MMS, so the connection says channel = "mms".
    config = _config(fake, "twlo", Channel.MMS)
    SociocsProvider.check_config(config)
    message = OutboundMessage("k3x9p2ab", Channel.MMS, TO, "Look", media_urls=(JPG,))

    _send(fake, message, config)

    assert fake.sent == [
        {"provider": "twlo", "channel_key": SMS_CHANNEL_KEY, "to": TO, "text": "Look",
         "image_url": JPG}
    ]  # fmt: skip


def test_media_on_a_twilio_sms_connection_says_to_use_mms(fake: SociocsFake) -> None:
    message = OutboundMessage("k3x9p2ab", Channel.SMS, TO, "Look", media_urls=(JPG,))

    error = _error(fake, message, _config(fake, "twlo"))

    assert isinstance(error, ProviderUnsupportedError) and 'channel = "mms"' in str(error)
    assert fake.requests == []


def test_twilio_whatsapp_template_and_recipient_name_are_sent(fake: SociocsFake) -> None:
    template = ProviderTemplate("HXb5b62575e6e4ff6129ad7c8efe1f983e", {"1": "Ana", "2": "A-1042"})

    body = _sent(fake, "twlowa", template=template, recipient_name="Ana")

    assert body == {
        "provider": "twlowa",
        "channel_key": fake.channel_key("twlowa"),
        "to": TO,
        "name": "Ana",
        "template": {
            "id": "HXb5b62575e6e4ff6129ad7c8efe1f983e",
            "variables": {"1": "Ana", "2": "A-1042"},
        },
    }


MEDIA = "https://placehold.co/600x400"
JPG = "https://x.test/a.jpg"


@pytest.mark.parametrize(
    ("network", "parameters", "variables"),
    [
        ("twlowa", {}, None),  # `variables` only when the template has some (seed 003)
        (
            "gswa",
            {"MEDIA_URL": MEDIA, "Header.1": "Ana", "Body.1": "A-1042", "body.2": "Tue"},
            {"MEDIA_URL": MEDIA, "Header": {"1": "Ana"}, "Body": {"1": "A-1042", "2": "Tue"}},
        ),
        ("gswa", {"Buttons.1": "Track"}, {"Buttons": {"1": "Track"}}),
        ("gswa", {"1": "Ana", "2": "A-1042"}, {"Body": {"1": "Ana", "2": "A-1042"}}),
    ],
)
def test_template_variables_take_the_networks_shape(
    fake: SociocsFake, network: str, parameters: dict[str, str], variables: Any
) -> None:
    body = _sent(fake, network, template=ProviderTemplate("tpl_1", parameters))

    assert body["template"] == {"id": "tpl_1", **({"variables": variables} if variables else {})}
    assert "text" not in body


@pytest.mark.parametrize(
    ("extra", "saving"),
    [
        ({"save_contacts": True, "contact_list_id": 42}, {"save": True, "list_id": 42}),
        ({"save_contacts": True}, {"save": True}),
        ({"save_contacts": False}, None),
    ],
)
def test_contact_saving_is_sent_only_when_enabled(
    fake: SociocsFake, extra: dict[str, Any], saving: dict[str, Any] | None
) -> None:
    _send(fake, _message(), _config(fake, **extra))

    assert fake.sent[0].get("contact_saving") == saving


@pytest.mark.parametrize(
    ("network", "fields", "kind", "detail"),
    [
        ("twlo", {"media_urls": (JPG, JPG)}, ProviderUnsupportedError, "one image_url per"),
        ("twlowa", {"media_urls": (JPG,)}, ProviderUnsupportedError, "media only on Twilio SMS"),
        ("gswa", {"media_urls": (JPG,)}, ProviderUnsupportedError, "media only on Twilio SMS"),
        ("twlo", {"template": ProviderTemplate("HX1")}, ProviderUnsupportedError, "templates"),
        (
            "gswa",
            {"template": ProviderTemplate("t1", {"Footer.1": "x"})},
            ProviderRejectedError,
            "parameter 'Footer.1' is not MEDIA_URL, Header.N, Body.N or Buttons.N",
        ),
    ],
)
def test_what_the_network_cannot_take_is_refused_before_sending(
    fake: SociocsFake, network: str, fields: dict[str, Any], kind: type, detail: str
) -> None:
    message = _message(network, **fields)
    error = _error(fake, message, _config(fake, network, message.channel))

    assert type(error) is kind and detail in error.detail
    assert fake.requests == []


def test_message_for_another_channel_is_refused(fake: SociocsFake) -> None:
    error = _error(fake, _message("twlowa"), _config(fake, "twlo"))

    assert isinstance(error, ProviderUnsupportedError) and fake.requests == []


# -- answers and errors ---------------------------------------------------------


@pytest.mark.parametrize("status", [200, 400])
def test_error_body_is_a_rejection_with_every_message_even_on_200(
    fake: SociocsFake, status: int
) -> None:
    fake.refuse_next("to is required.", "text is required.", status=status)

    error = _error(fake, _message(), _config(fake))

    assert isinstance(error, ProviderRejectedError) and not error.retryable
    assert (error.status_code, error.detail) == (status, "to is required.; text is required.")
    assert error.raw == {
        "status": "error",
        "errors": [{"msg": "to is required."}, {"msg": "text is required."}],
    }


@pytest.mark.parametrize(
    ("network", "channel_key"), [("twlo", "nope"), ("twlowa", SMS_CHANNEL_KEY)]
)
def test_channel_key_not_of_this_network_names_the_key_to_check(
    fake: SociocsFake, network: str, channel_key: str
) -> None:
    error = _error(fake, _message(network), _config(fake, network, channel_key=channel_key))

    assert isinstance(error, ProviderRejectedError)
    assert str(error) == (
        "sociocs: Invalid channel_key (HTTP 400). Check channel_key in herald.toml "
        "(app.sociocs.com → Profile & settings → API)"
    )


def test_wrong_api_key_is_an_auth_error_naming_the_key_not_its_value(fake: SociocsFake) -> None:
    wrong = "e047nbp2UnWuHD9m:not-the-right-half"

    error = _error(fake, _message(), _config(fake, api_key=wrong))

    assert isinstance(error, ProviderAuthError) and error.status_code == 401
    assert error.detail == "Authentication failed. Check the apikey header."
    assert error.hint is not None and "api_key" in error.hint
    assert wrong not in f"{error} {error!r} {error.raw}"


@pytest.mark.parametrize(
    "msg",
    [
        "Failed to send freeform message because you are outside the allowed window. (63016)",
        "Message failed to send because more than 24 hours have passed since the customer "
        "last replied to this number.",
    ],
)
def test_whatsapp_window_error_hints_at_templates(fake: SociocsFake, msg: str) -> None:
    fake.refuse_next(msg, status=400)

    error = _error(fake, _message("twlowa"), _config(fake, "twlowa"))

    assert error.hint is not None
    assert "only approved templates can be sent: use --template" in error.hint


@pytest.mark.parametrize("answer", [{"ok": True}, {"status": "queued"}, "<html>OK</html>"])
def test_unexpected_answer_may_have_gone_out_and_is_not_retried(
    fake: SociocsFake, answer: Any
) -> None:
    # Seed 003 documents two answers, {"status": "success", "data": {"message_id": …}} and
    # {"status": "error", "errors": [{"msg": …}]}; anything else says neither yes nor no.
    fake.fail_next(200, answer)

    error = _error(fake, _message(), _config(fake))

    assert isinstance(error, ProviderOutcomeUnknownError) and not error.retryable
    assert "may or may not have gone out" in str(error)
    assert "app.sociocs.com" in str(error)


@pytest.mark.parametrize(
    ("change", "msg"),
    [
        ({"provider": None}, "provider is required."),
        ({"provider": "tlnx"}, "Invalid provider."),
        ({"image_url": "https://x.test/a.jpg", "provider": "gswa"}, "Invalid channel_key."),
        ({"text": None}, "One of text, image_url, video_url, file_url or template is required."),
        ({"template": {"id": "HX1"}}, "template is supported only for providers twlowa and gswa."),
        (
            {"provider": "gswa", "channel_key": GUPSHUP_WA_CHANNEL_KEY, "video_url": "https://x/v"},
            "video_url is supported only for provider twlo.",
        ),
    ],
)
def test_fake_refuses_bodies_the_doc_forbids(
    fake: SociocsFake, change: dict[str, Any], msg: str
) -> None:
    body = {"provider": "twlo", "channel_key": SMS_CHANNEL_KEY, "to": TO, "text": "hi", **change}
    body = {key: value for key, value in body.items() if value is not None}

    response = httpx.post(f"{fake.base_url}/message", json=body, headers={"apikey": API_KEY})

    assert response.status_code == 400
    assert response.json() == {"status": "error", "errors": [{"msg": msg}]}


# -- configuration --------------------------------------------------------------


def _check(network: Any, channel: Channel = Channel.SMS, **extra: Any) -> None:
    options = {"api_key": API_KEY, "channel_key": "ck", "sociocs_provider": network, **extra}
    SociocsProvider.check_config(ConnectionConfig("conn", "sociocs", channel, options=options))


@pytest.mark.parametrize(
    ("network", "channel"),
    [
        ("twlo", Channel.SMS),
        ("twlo", Channel.MMS),
        ("twlowa", Channel.WHATSAPP),
        ("gswa", Channel.WHATSAPP),
    ],
)
def test_config_accepts_each_network_on_its_channel(network: str, channel: Channel) -> None:
    _check(network, channel, webhook_secret="s", save_contacts=True, contact_list_id=0)


@pytest.mark.parametrize(
    ("network", "channel", "use"),
    [
        ("twlo", Channel.WHATSAPP, "'twlowa' or 'gswa'"),
        ("twlowa", Channel.SMS, "'twlo'"),
        ("gswa", Channel.SMS, "'twlo'"),
        ("gswa", Channel.MMS, "'twlo'"),
    ],
)
def test_config_refuses_a_network_on_the_other_channel(
    network: str, channel: Channel, use: str
) -> None:
    with pytest.raises(ProviderUnsupportedError) as caught:
        _check(network, channel)

    assert f"'channel' is {channel}; use 'sociocs_provider' {use} for" in caught.value.detail


@pytest.mark.parametrize(
    ("extra", "match"),
    [
        ({"sociocs_provider": "tlnx"}, "'sociocs_provider' is 'tlnx'; it must be one of"),
        ({"sociocs_provider": "TWLO"}, "'sociocs_provider' is 'TWLO'; it must be one of"),
        ({"sociocs_provider": None}, "'sociocs_provider' must be a non-empty string"),
        ({"save_contacts": "yes"}, "'save_contacts' must be true or false"),
        ({"save_contacts": True, "contact_list_id": "7"}, "'contact_list_id' must be a whole"),
        ({"save_contacts": True, "contact_list_id": True}, "'contact_list_id' must be a whole"),
        ({"save_contacts": True, "contact_list_id": -1}, "'contact_list_id' must be a whole"),
        ({"contact_list_id": 7}, "'contact_list_id' needs 'save_contacts = true'"),
        ({"webhook_secret": 123}, "'webhook_secret' must be a string"),
    ],
)
def test_config_refuses_wrong_values(extra: dict[str, Any], match: str) -> None:
    with pytest.raises(ProviderUnsupportedError, match=match):
        _check("twlo", **extra)


def _load(tmp_path: Path, **keys: Any) -> Any:
    table = "".join(f"{key} = {json.dumps(value)}\n" for key, value in keys.items())
    path = tmp_path / "herald.toml"
    path.write_text(f'[connections.wa]\nprovider = "sociocs"\n{table}', encoding="utf-8")
    env = {"SLACK_BOT_TOKEN": BOT_TOKEN, "SLACK_SIGNING_SECRET": SIGNING_SECRET}
    return load_settings(env, path)


KEYS = {"api_key": "k:v", "channel_key": "ck", "sociocs_provider": "gswa"}


def test_herald_toml_accepts_the_extra_keys(tmp_path: Path) -> None:
    extra = {"webhook_secret": "s", "save_contacts": True, "contact_list_id": 12}

    settings = _load(tmp_path, channel="whatsapp", **KEYS, **extra)

    assert settings.connections["wa"].options["contact_list_id"] == 12
