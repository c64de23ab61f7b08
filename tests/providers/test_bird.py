"""The Bird adapter against its strict fake: wire format, connection keys, errors and hints."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from providers import (
    BirdProvider,
    Channel,
    ConnectionConfig,
    DeliveryStatus,
    OutboundMessage,
    ProviderAuthError,
    ProviderError,
    ProviderRejectedError,
    ProviderTemplate,
    ProviderUnsupportedError,
    SendResult,
)
from providers.base import WHATSAPP_WINDOW_HINT as WINDOW_HINT
from providers.bird import AUTH_HINT, MMS_HINT, NOT_FOUND_HINT, TEMPLATE_HINT
from tests.fakes.bird_api import BirdFake
from tests.fakes.provider_fake import MediaHost

TEXT = "Your order A-1042 ships tomorrow"
PROJECT = "ce6a2fd6-b2fa-4f5a-a2cd-f3bd15883318"
RECIPIENTS = {Channel.EMAIL: "ana@example.com", Channel.MMS: "+14155550123"}
JPG, PNG = "https://cdn.example.com/a/photo.jpg", "https://cdn.example.com/b%2Fmap.png?alt=media"
MP4, PDF = "https://cdn.example.com/clip.mp4", "https://cdn.example.com/docs/invoice.pdf"
WINDOW_REFUSAL = "Free-form messages cannot be sent outside the 24 hour customer service window"


@pytest.fixture
def fake() -> Iterator[BirdFake]:
    with BirdFake() as running:
        assert isinstance(running, BirdFake)
        yield running


@pytest.fixture
def media() -> Iterator[MediaHost]:
    with MediaHost() as running:
        assert isinstance(running, MediaHost)
        yield running


async def _no_receipts(receipts: Any) -> None:
    return None


def _config(fake: BirdFake, channel: Channel = Channel.SMS, **extra: Any) -> ConnectionConfig:
    keys = {"access_key": fake.access_key, "workspace_id": fake.workspace_id}
    options = {**keys, "channel_id": fake.channel_id, **extra}
    options = {key: value for key, value in options.items() if value is not None}
    return ConnectionConfig("bird", "bird", channel, base_url=fake.base_url, options=options)


def _message(channel: Channel = Channel.SMS, **fields: Any) -> OutboundMessage:
    fields.setdefault("to", RECIPIENTS.get(channel, "+31612345678"))
    return OutboundMessage(reference="k3x9p2ab", channel=channel, text=TEXT, **fields)


def _send(
    fake: BirdFake, message: OutboundMessage, timeout: float = 5.0, **extra: Any
) -> SendResult:
    config = _config(fake, message.channel, **extra)
    BirdProvider.check_config(config)

    async def go() -> SendResult:
        async with httpx.AsyncClient(timeout=httpx.Timeout(timeout)) as client:
            return await BirdProvider(config, client, _no_receipts).send(message)

    return asyncio.run(go())


def _error(fake: BirdFake, message: OutboundMessage, **extra: Any) -> ProviderError:
    with pytest.raises(ProviderError) as caught:
        _send(fake, message, **extra)
    return caught.value


def _sent(fake: BirdFake) -> Any:
    assert len(fake.requests) == 1
    return fake.requests[0].json()


def _wire(fake: BirdFake, message: OutboundMessage, **extra: Any) -> Any:
    """What Bird received for one accepted send."""
    _send(fake, message, **extra)
    return _sent(fake)


def _receiver(to: str = "+31612345678", key: str = "phonenumber") -> dict[str, Any]:
    return {"contacts": [{"identifierKey": key, "identifierValue": to}]}


@pytest.mark.parametrize("channel", [Channel.SMS, Channel.WHATSAPP, Channel.MMS])
def test_text_goes_as_a_text_body(fake: BirdFake, channel: Channel) -> None:
    assert _wire(fake, _message(channel)) == {
        "receiver": _receiver(RECIPIENTS.get(channel, "+31612345678")),
        "reference": "k3x9p2ab",
        "body": {"type": "text", "text": {"text": TEXT}},
    }


def test_send_posts_to_the_channel_with_access_key_auth(fake: BirdFake) -> None:
    _send(fake, _message())

    (request,) = fake.requests
    path = f"/workspaces/{fake.workspace_id}/channels/{fake.channel_id}/messages"
    assert (request.method, request.path) == ("POST", path)
    assert request.headers["authorization"] == f"AccessKey {fake.access_key}"
    assert request.headers["accept"] == request.headers["content-type"] == "application/json"


def test_send_returns_birds_message_id_as_accepted(fake: BirdFake) -> None:
    result = _send(fake, _message())

    assert [result.provider_message_id] == list(fake.messages)
    assert result.status is DeliveryStatus.ACCEPTED
    assert result.raw["reference"] == "k3x9p2ab" and result.raw["status"] == "accepted"


@pytest.mark.parametrize(
    ("answered", "status"),
    [
        ("sent", DeliveryStatus.SENT),
        ("delivered", DeliveryStatus.DELIVERED),
        ("processing", DeliveryStatus.ACCEPTED),
    ],
)
def test_answer_that_says_the_message_went_further_keeps_that_status(
    answered: str, status: DeliveryStatus
) -> None:
    # Seed 001's response: "status*Status-3 (enum) accepted rejected processing scheduled
    # sent sending_failed delivered delivery_failed deleted".
    with BirdFake(answer_status=answered) as fake:
        assert _send(fake, _message()).status is status


@pytest.mark.parametrize("channel", [Channel.MMS, Channel.WHATSAPP])
def test_images_go_as_one_image_body_with_the_text_as_caption(
    fake: BirdFake, channel: Channel
) -> None:
    assert _wire(fake, _message(channel, media_urls=(JPG, PNG)))["body"] == {
        "type": "image",
        "image": {"images": [{"mediaUrl": JPG}, {"mediaUrl": PNG}], "text": TEXT},
    }


def test_other_media_go_as_files_with_content_types_from_the_urls(
    fake: BirdFake, media: MediaHost
) -> None:
    odd = media.serve("/blob.xyz", "application/octet-stream")  # neither says a type
    types = {MP4: "video/mp4", PDF: "application/pdf", JPG: "image/jpeg"}
    types[odd] = "application/octet-stream"
    sent = _wire(fake, _message(Channel.MMS, media_urls=tuple(types)))

    files = [{"mediaUrl": url, "contentType": t} for url, t in types.items()]
    assert sent["body"] == {"type": "file", "file": {"files": files, "text": TEXT}}
    assert [r.path for r in media.requests] == ["/blob.xyz"]  # known extensions: no HEAD


@pytest.mark.parametrize("channel", [Channel.MMS, Channel.WHATSAPP])
def test_image_url_without_an_extension_goes_as_an_image(
    fake: BirdFake, media: MediaHost, channel: Channel
) -> None:
    # A CDN link like seed 001's ".../uploads%2F...%2Fimage2.avif?alt=media", less the
    # extension: only the server can say it is an image.
    url = media.serve("/v0/b/o/uploads%2Fparcel", "image/jpeg; charset=binary")

    sent = _wire(fake, _message(channel, media_urls=(url,)))

    assert sent["body"] == {"type": "image", "image": {"images": [{"mediaUrl": url}], "text": TEXT}}
    (asked,) = media.requests
    assert asked.method == "HEAD" and "authorization" not in asked.headers


def test_media_type_follows_http_redirects_only(fake: BirdFake, media: MediaHost) -> None:
    clip = media.serve("/store/clip", "video/mp4")
    short = media.redirect("/s/1", clip)
    sneaky = media.redirect("/s/2", "file:///etc/passwd")

    sent = _wire(fake, _message(Channel.MMS, media_urls=(short, sneaky)))

    assert sent["body"]["file"]["files"] == [
        {"mediaUrl": short, "contentType": "video/mp4"},
        {"mediaUrl": sneaky, "contentType": "application/octet-stream"},
    ]
    assert sorted(r.path for r in media.requests) == ["/s/1", "/s/2", "/store/clip"]


def test_media_type_comes_from_a_get_when_head_is_refused(fake: BirdFake, media: MediaHost) -> None:
    media.refuse_head = True
    url = media.serve("/render", "image/png")

    sent = _wire(fake, _message(Channel.MMS, media_urls=(url,)))

    assert sent["body"]["type"] == "image"
    assert [r.method for r in media.requests] == ["HEAD", "GET"]


def test_media_url_that_is_not_there_is_refused_before_sending(
    fake: BirdFake, media: MediaHost
) -> None:
    error = _error(fake, _message(Channel.MMS, media_urls=(media.base_url + "/gone",)))

    assert isinstance(error, ProviderRejectedError) and "HTTP 404" in str(error)
    assert fake.requests == []


def test_media_server_that_does_not_answer_costs_one_timeout(
    fake: BirdFake, media: MediaHost
) -> None:
    media.hang_next()
    url = media.serve("/slow", "image/png")

    sent = _wire(fake, _message(Channel.MMS, media_urls=(url,)), timeout=0.3)

    assert sent["body"]["file"]["files"] == [
        {"mediaUrl": url, "contentType": "application/octet-stream"}
    ]


def test_more_than_ten_images_are_refused_before_sending(fake: BirdFake) -> None:
    error = _error(fake, _message(Channel.MMS, media_urls=(JPG,) * 11))

    assert isinstance(error, ProviderUnsupportedError) and "at most 10 images" in str(error)
    assert fake.requests == []


def test_email_subject_goes_in_the_body_part_as_the_seed_shows(fake: BirdFake) -> None:
    # Seed 001 shows the subject inside the body part: "text": {"text": "text",
    # "attachments": [...], "metadata": {"subject": "text", ...}}, and "Single image
    # message with text and title": "metadata": {"subject": "Message subject"}. Its schema
    # also has meta.email.subject, which providers.md §2.4 could not verify: both go.
    assert _wire(fake, _message(Channel.EMAIL, subject="Your order")) == {
        "receiver": _receiver("ana@example.com", "emailaddress"),
        "reference": "k3x9p2ab",
        "body": {"type": "text", "text": {"text": TEXT, "metadata": {"subject": "Your order"}}},
        "meta": {"email": {"subject": "Your order"}},
    }


def test_fake_refuses_an_email_whose_subject_is_only_in_meta(fake: BirdFake) -> None:
    body = {
        "receiver": _receiver("ana@example.com", "emailaddress"),
        "body": TEXT_BODY,
        "meta": {"email": {"subject": "Your order"}},
    }

    response = _post(fake, body)

    assert response.status_code == 422
    assert response.json()["details"][0]["field"] == "body.text.metadata.subject"


def test_email_media_go_as_attachments(fake: BirdFake) -> None:
    sent = _wire(fake, _message(Channel.EMAIL, subject="Invoice", media_urls=(PDF, PNG)))

    files = [{"mediaUrl": PDF, "filename": "invoice.pdf"}, {"mediaUrl": PNG, "filename": "map.png"}]
    assert sent["body"]["text"] == {
        "text": TEXT, "attachments": files, "metadata": {"subject": "Invoice"}
    }  # fmt: skip


@pytest.mark.parametrize("channel", [Channel.WHATSAPP, Channel.SMS])
def test_template_replaces_the_body(fake: BirdFake, channel: Channel) -> None:
    template = ProviderTemplate(PROJECT, {"name": "Robert", "order": "A-1042"}, "v3", "nl")
    sent = _wire(fake, _message(channel, template=template))

    parameters = [
        {"type": "string", "key": "name", "value": "Robert"},
        {"type": "string", "key": "order", "value": "A-1042"},
    ]
    assert "body" not in sent
    assert sent["template"] == {
        "projectId": PROJECT, "version": "v3", "locale": "nl", "parameters": parameters
    }  # fmt: skip


@pytest.mark.parametrize(
    ("template", "keys", "expected"),
    [
        (ProviderTemplate(PROJECT), {}, {"version": "latest"}),
        (ProviderTemplate(PROJECT), {"template_locale": "de", "template_version": "v7"},
         {"version": "v7", "locale": "de"}),
        (ProviderTemplate(PROJECT, version="v3", locale="nl"), {"template_locale": "de"},
         {"version": "v3", "locale": "nl"}),
    ],
)  # fmt: skip
def test_template_version_and_locale_fall_back_to_the_connection(
    fake: BirdFake, template: ProviderTemplate, keys: dict[str, str], expected: dict[str, str]
) -> None:
    sent = _wire(fake, _message(template=template), **keys)

    assert sent["template"] == {"projectId": PROJECT, **expected}


def test_template_with_media_is_refused_before_sending(fake: BirdFake) -> None:
    message = _message(Channel.WHATSAPP, template=ProviderTemplate(PROJECT), media_urls=(JPG,))

    assert isinstance(_error(fake, message), ProviderUnsupportedError)
    assert fake.requests == []


def test_connection_extras_go_on_every_message(fake: BirdFake) -> None:
    extras = {"tags": ["Orders", "orders", "VIP"], "validity": 3600, "sender": "Herald"}
    sent = _wire(fake, _message(), **extras)

    assert sent["tags"] == ["orders", "vip"]
    assert sent["validity"] == 3600
    assert sent["sender"] == {"connector": {"identifierValue": "Herald"}}
    assert "scheduledFor" not in sent


@pytest.mark.parametrize("template", [None, ProviderTemplate(PROJECT)])
def test_short_links_domain_shortens_sms_links(
    fake: BirdFake, template: ProviderTemplate | None
) -> None:
    sent = _wire(fake, _message(template=template), short_links_domain="Go.Example.com")

    # With a template Bird reads the template's own shortLinks (seed 001). Bird's e-mail
    # documentation shows {"enabled": true, "domain": …} (providers.md §2.3: "enabled"?:
    # bool); the fake shortens only what says enabled, so a domain alone would not do.
    shape = {"enabled": True, "domain": "go.example.com"}
    assert (sent["template"] if template else sent)["shortLinks"] == shape
    assert ("shortLinks" in sent) is (template is None)
    assert list(fake.short_links.values()) == ["go.example.com"]


def test_all_connection_keys_are_accepted(fake: BirdFake) -> None:
    extras: dict[str, Any] = {"signing_key": "s", "tags": ["a"], "validity": 600, "sender": "x"}
    extras |= {"short_links_domain": "x.io", "template_locale": "en", "template_version": "1"}

    BirdProvider.check_config(_config(fake, **extras))
    assert set(extras) <= set(BirdProvider.optional_keys)


@pytest.mark.parametrize(
    ("key", "value", "channel", "words"),
    [
        ("tags", [f"t{n}" for n in range(11)], Channel.SMS, "at most 10"),
        ("tags", "orders", Channel.SMS, "list of non-empty strings"),
        ("validity", "3600", Channel.SMS, "whole number of seconds"),
        ("validity", True, Channel.SMS, "whole number of seconds"),
        ("validity", 0, Channel.SMS, "positive"),
        ("workspace_id", "my-workspace", Channel.SMS, "must be a UUID"),
        ("channel_id", "", Channel.SMS, "non-empty string"),
        ("access_key", None, Channel.SMS, "is missing"),
        ("short_links_domain", "https://go.example.com", Channel.SMS, "a domain like"),
        ("short_links_domain", "go.example.com", Channel.WHATSAPP, "this connection sends"),
        ("sender", 42, Channel.SMS, "non-empty string"),
        ("template_locale", " ", Channel.SMS, "non-empty string"),
    ],
)
def test_bad_connection_key_is_refused_naming_it(
    fake: BirdFake, key: str, value: Any, channel: Channel, words: str
) -> None:
    with pytest.raises(ProviderUnsupportedError) as caught:
        BirdProvider.check_config(_config(fake, channel, **{key: value}))

    shown = str(caught.value)
    assert f"'{key}'" in shown and words in shown and fake.access_key not in shown


def test_settings_repr_hides_credentials(fake: BirdFake) -> None:
    config = _config(fake, signing_key=fake.signing_key)
    provider = BirdProvider(config, httpx.AsyncClient(), _no_receipts)

    shown = repr(provider) + repr(provider.settings)
    assert fake.access_key not in shown and fake.signing_key not in shown


@pytest.mark.parametrize(
    ("keys", "status", "hint"),
    [({"access_key": "ak_wrong"}, 401, AUTH_HINT), ({"channel_id": PROJECT}, 404, NOT_FOUND_HINT)],
)
def test_refused_connection_keys_get_a_next_step(
    fake: BirdFake, keys: dict[str, str], status: int, hint: str
) -> None:
    error = _error(fake, _message(), **keys)

    assert isinstance(error, ProviderAuthError if status == 401 else ProviderRejectedError)
    assert (error.status_code, error.hint) == (status, hint)
    assert "ak_wrong" not in str(error) and fake.access_key not in str(error)


@pytest.mark.parametrize(
    ("body", "detail"),
    [
        ({"code": "Invalid", "message": "Bad", "details": [{"field": "to", "message": "unset"}]},
         "Bad (Invalid): to: unset"),
        ({"message": "Invalid", "details": {"tags": ["too many"]}}, "Invalid: tags: too many"),
        ({"error": {"code": "E01001", "message": "Bad receiver"}}, "Bad receiver (E01001)"),
        ({"errors": [{"path": "receiver", "description": "not valid"}]}, "receiver: not valid"),
        ({"title": "Unprocessable", "detail": "Template not approved"}, "Template not approved"),
        ("Bad Request: nope", "Bad Request: nope"),
    ],
)  # fmt: skip
def test_error_detail_reads_birds_words_whatever_the_shape(
    fake: BirdFake, body: Any, detail: str
) -> None:
    fake.fail_next(422, body)
    error = _error(fake, _message())

    assert isinstance(error, ProviderRejectedError) and error.detail == detail


def test_whatsapp_free_form_outside_the_window_gets_the_template_hint() -> None:
    fake = BirdFake(free_form_refusal=WINDOW_REFUSAL)
    with fake:
        error = _error(fake, _message(Channel.WHATSAPP))

    assert isinstance(error, ProviderRejectedError) and error.hint == WINDOW_HINT
    assert str(error) == f"bird: {WINDOW_REFUSAL} (MessageNotAllowed) (HTTP 422). {WINDOW_HINT}"


@pytest.mark.parametrize(
    ("message", "refusal", "hint"),
    [
        (_message(Channel.SMS), WINDOW_REFUSAL, None),
        (_message(Channel.WHATSAPP, template=ProviderTemplate(PROJECT)), "Template not found",
         TEMPLATE_HINT),
        (_message(Channel.MMS, media_urls=(JPG,)), "Channel does not support MMS", MMS_HINT),
    ],
)  # fmt: skip
def test_known_refusals_get_a_next_step(
    fake: BirdFake, message: OutboundMessage, refusal: str, hint: str | None
) -> None:
    fake.fail_next(422, {"message": refusal})

    assert _error(fake, message).hint == hint


def test_refused_status_in_an_accepted_answer_is_a_rejection(fake: BirdFake) -> None:
    answer = {"id": str(uuid.uuid4()), "status": "rejected"}
    fake.fail_next(202, {**answer, "failure": {"description": "Unsupported media type"}})
    error = _error(fake, _message())

    assert isinstance(error, ProviderRejectedError) and error.detail == "Unsupported media type"


def test_answer_without_a_body_is_accepted_without_an_id(fake: BirdFake) -> None:
    fake.fail_next(202, "")

    assert _send(fake, _message()) == SendResult(None, DeliveryStatus.ACCEPTED)


def test_error_detail_never_echoes_credentials(fake: BirdFake) -> None:
    fake.fail_next(400, {"message": f"Access key {fake.access_key} is not allowed here"})
    error = _error(fake, _message())

    assert fake.access_key not in str(error) and "[redacted]" in error.detail


# -- the fake is as strict as the API ---------------------------------------------


def _post(fake: BirdFake, body: Any, auth: str | None = None) -> Any:
    url = f"/workspaces/{fake.workspace_id}/channels/{fake.channel_id}/messages"
    headers = {"Authorization": auth or f"AccessKey {fake.access_key}"}
    return httpx.post(fake.base_url + url, json=body, headers=headers, timeout=5.0)


TEXT_BODY = {"type": "text", "text": {"text": "hi"}}
VALID = {"receiver": _receiver(), "body": TEXT_BODY}
IMAGES = {"type": "image", "image": {"images": [{"mediaUrl": JPG}] * 11}}


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"body": TEXT_BODY}, "receiver"),
        ({**VALID, "template": {"projectId": PROJECT}}, "template"),
        ({"receiver": _receiver()}, "body"),
        ({**VALID, "sendAt": "2030-01-01T00:00:00Z"}, "sendAt"),
        ({**VALID, "tags": [f"t{n}" for n in range(11)]}, "tags"),
        ({**VALID, "body": IMAGES}, "body.image.images"),
        ({**VALID, "body": {"type": "video", "video": {}}}, "body.type"),
        ({**VALID, "body": {"type": "file", "file": {"files": [{"mediaUrl": MP4}]}}},
         "body.file.files[0].contentType"),
        ({"receiver": _receiver(), "template": {"projectId": "welcome"}}, "template.projectId"),
    ],
)  # fmt: skip
def test_fake_refuses_what_bird_refuses(fake: BirdFake, body: Any, field: str) -> None:
    response = _post(fake, body)

    assert response.status_code == 422
    assert field in [problem["field"] for problem in response.json()["details"]]


@pytest.mark.parametrize(
    ("jwt", "auth", "status"),
    [(None, "AccessKey wrong", 401), (None, "Bearer j1", 401), (None, "Basic x", 401),
     ("j1", "Bearer j1", 202)],
)  # fmt: skip
def test_fake_takes_only_its_access_key_or_a_configured_jwt(
    jwt: str | None, auth: str, status: int
) -> None:
    fake = BirdFake(jwt=jwt)
    with fake:
        assert _post(fake, VALID, auth=auth).status_code == status
