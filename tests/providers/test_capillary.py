"""The Capillary adapter against its strict fake: wire format, auth, batches, config, errors."""

from __future__ import annotations

import asyncio
import base64
import hashlib
from collections.abc import Awaitable, Callable, Iterator
from typing import Any, TypeVar

import httpx
import pytest

from providers import (
    Channel,
    ConnectionConfig,
    DeliveryStatus,
    OutboundMessage,
    ProviderAuthError,
    ProviderError,
    ProviderOutcomeUnknownError,
    ProviderRejectedError,
    ProviderTimeoutError,
    ProviderUnavailableError,
    ProviderUnsupportedError,
    SendResult,
)
from providers.capillary import CapillaryProvider, basic_authorization
from tests.fakes.capillary_api import CASE, CapillaryFake, status_envelope
from tests.providers.cases import load_cases

T = TypeVar("T")
TEXT = "Your order A-1042 ships tomorrow"
NUMBER, WIRE_NUMBER = "+919591471711", "919591471711"


class Clock:
    """A clock the test moves by hand; the adapter and the fake share it."""

    now = 1_000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def fake(clock: Clock) -> Iterator[CapillaryFake]:
    running = CapillaryFake(clock=clock)
    running.start()
    yield running
    running.stop()


async def _no_receipts(receipts: Any) -> None:
    return None


def basic(fake: CapillaryFake, **extra: str) -> dict[str, str]:
    return {"username": fake.username, "password": fake.password, **extra}


def oauth(fake: CapillaryFake) -> dict[str, str]:
    return {"oauth_key": fake.oauth_key, "oauth_secret": fake.oauth_secret}


def message(to: str = NUMBER, channel: Channel = Channel.SMS, **more: Any) -> OutboundMessage:
    return OutboundMessage(reference="k3x9p2ab", channel=channel, to=to, text=TEXT, **more)


def run(
    fake: CapillaryFake,
    call: Callable[[CapillaryProvider], Awaitable[T]],
    *,
    options: dict[str, str] | None = None,
    channel: Channel = Channel.SMS,
    timeout: float = 5.0,
) -> T:
    keys = basic(fake) if options is None else options
    config = ConnectionConfig("capillary-eu", "capillary", channel, fake.base_url, options=keys)
    CapillaryProvider.check_config(config)

    async def go() -> T:
        async with httpx.AsyncClient(timeout=httpx.Timeout(timeout)) as client:
            provider = CapillaryProvider(config, client, _no_receipts, clock=fake.clock)
            try:
                return await call(provider)
            finally:
                await provider.aclose()

    return asyncio.run(go())


def send(fake: CapillaryFake, *messages: OutboundMessage, **kwargs: Any) -> Any:
    """`send` for one message (its result, or it raises), `send_many` for several."""
    if len(messages) == 1:
        return run(fake, lambda p: p.send(messages[0]), **kwargs)
    return run(fake, lambda p: p.send_many(messages), **kwargs)


def error_of(fake: CapillaryFake, *messages: OutboundMessage, **kwargs: Any) -> ProviderError:
    with pytest.raises(ProviderError) as caught:
        send(fake, *messages, **kwargs)
    return caught.value


def test_case_joins_the_contract_suite() -> None:
    assert CASE in load_cases()


# -- wire format ----------------------------------------------------------------

SMS = {"to": WIRE_NUMBER, "body": TEXT}
CHAT = {"receiver": WIRE_NUMBER, "template": TEXT}
EMAIL = message("ana@example.com", Channel.EMAIL, subject="Your order")
MAIL = {"to": "ana@example.com", "from": "shop@example.com", "subject": "Your order"}
WA, ZALO = message(channel=Channel.WHATSAPP), message(channel=Channel.ZALO)
WIRE = {  # channel, connection keys besides the credentials, message, what goes in "root"
    "sms": (Channel.SMS, {"sender": "HERALD"}, message(), {"sms": [SMS | {"sender": "HERALD"}]}),
    "sms-default-sender": (Channel.SMS, {}, message(), {"sms": [SMS]}),
    "email": (Channel.EMAIL, {"from": MAIL["from"]}, EMAIL, {"email": [MAIL | {"body": TEXT}]}),
    "whatsapp": (Channel.WHATSAPP, {}, WA, {"whatsappMessage": [CHAT]}),
    "zalo": (Channel.ZALO, {}, ZALO, {"zaloMessage": [CHAT]}),
}


@pytest.mark.parametrize(("channel", "keys", "outbound", "root"), WIRE.values(), ids=WIRE)
def test_request_is_the_documented_wire_format(
    fake: CapillaryFake, channel: Channel, keys: dict[str, str], outbound: Any, root: Any
) -> None:
    send(fake, outbound, channel=channel, options=basic(fake, **keys))

    (request,) = fake.requests
    assert (request.method, request.path) == ("POST", "/v1.1/communications/sendMessage")
    assert request.query == {"channel": [channel.value]}
    assert request.headers["content-type"] == request.headers["accept"] == "application/json"
    assert request.headers["authorization"] == basic_authorization(fake.username, fake.password)
    assert request.json() == {"root": root}  # and never a scheduledTime: Herald schedules


@pytest.mark.parametrize(("issue_ids", "expected"), [(False, None), (True, "1706734307814")])
def test_message_id_is_kept_only_when_the_answer_has_one(
    fake: CapillaryFake, issue_ids: bool, expected: str | None
) -> None:
    fake.issue_ids = issue_ids  # §1.5: the JSON examples show none; the XML one an nsAdminId

    result = send(fake, message())

    assert result.provider_message_id == expected
    assert result.status is DeliveryStatus.ACCEPTED
    assert result.raw["smsList"][0]["sms"]["to"] == WIRE_NUMBER


# -- Basic auth -----------------------------------------------------------------


def test_basic_header_hashes_the_password_with_md5() -> None:
    # §1.2's worked example (Capillary's page prints another hash; the algorithm wins).
    expected = "Basic c3RvcmUxMjM6MmYyM2ZhMzU3OWYzZjc1MTc1NzkzNjQ5MTE1YzFiMjU="

    assert basic_authorization("store123", "Pass123") == expected


def test_wrong_password_is_an_auth_error_that_mentions_md5(fake: CapillaryFake) -> None:
    error = error_of(fake, message(), options={"username": fake.username, "password": "nope-x1"})

    assert isinstance(error, ProviderAuthError) and error.status_code == 401
    assert "md5-hashed" in str(error)
    digest = hashlib.md5(b"nope-x1", usedforsecurity=False).hexdigest()
    for secret in ("nope-x1", digest, basic_authorization(fake.username, "nope-x1")):
        assert secret not in str(error) + repr(error) + str(error.raw)


# -- OAuth ----------------------------------------------------------------------


def test_oauth_token_is_fetched_once_for_several_sends(fake: CapillaryFake) -> None:
    async def three(provider: CapillaryProvider) -> None:
        for _ in range(3):
            await provider.send(message())

    run(fake, three, options=oauth(fake))

    (token_request,) = fake.token_requests
    assert token_request.json() == {"key": fake.oauth_key, "secret": fake.oauth_secret}
    (token,) = fake.tokens
    assert [r.headers.get("x-cap-api-oauth-token") for r in fake.sends] == [token] * 3
    assert not any("authorization" in r.headers for r in fake.requests)


def test_concurrent_sends_share_one_token_fetch(fake: CapillaryFake) -> None:
    async def five(provider: CapillaryProvider) -> list[SendResult]:
        return await asyncio.gather(*(provider.send(message()) for _ in range(5)))

    results = run(fake, five, options=oauth(fake))

    assert len(results) == len(fake.sends) == 5
    assert len(fake.token_requests) == 1


def test_oauth_token_is_renewed_shortly_before_its_ttl_ends(
    fake: CapillaryFake, clock: Clock
) -> None:
    async def across_the_ttl(provider: CapillaryProvider) -> None:
        await provider.send(message())
        clock.now += 300 - 31  # the fake's TTL is 300 s; the adapter renews 30 s early
        await provider.send(message())
        clock.now += 2
        await provider.send(message())

    run(fake, across_the_ttl, options=oauth(fake))

    called = " ".join(r.path.rsplit("/", 1)[-1] for r in fake.requests)
    assert called == "generate sendMessage sendMessage generate sendMessage"


def test_token_refused_by_the_api_is_renewed_once_and_the_send_retried(
    fake: CapillaryFake,
) -> None:
    async def across_a_revocation(provider: CapillaryProvider) -> SendResult:
        await provider.send(message())
        fake.expire_tokens()
        return await provider.send(message())

    result = run(fake, across_a_revocation, options=oauth(fake))

    assert isinstance(result, SendResult)
    assert len(fake.token_requests) == 2 and len(fake.sends) == 3
    first, refused, retried = (r.headers["x-cap-api-oauth-token"] for r in fake.sends)
    assert refused == first and retried != first


def test_fresh_token_refused_again_is_an_auth_error_after_one_retry(fake: CapillaryFake) -> None:
    fake.ttl_seconds = 0  # every token the fake issues is dead on arrival

    error = error_of(fake, message(), options=oauth(fake))

    assert isinstance(error, ProviderAuthError) and error.status_code == 401
    assert "oauth_key" in str(error)
    assert len(fake.token_requests) == len(fake.sends) == 2
    for secret in [fake.oauth_secret, *fake.tokens]:
        assert secret not in str(error) + repr(error) + str(error.raw)


def test_answer_echoing_the_oauth_token_never_shows_it(fake: CapillaryFake) -> None:
    # The token is a credential Herald derives (§1.2): the base redacts it only because
    # the adapter adds it to its secret values.
    async def twice(provider: CapillaryProvider) -> ProviderError:
        await provider.send(message())  # fetches the token
        fake.echo_next(400)
        with pytest.raises(ProviderError) as caught:
            await provider.send(message())
        return caught.value

    error = run(fake, twice, options=oauth(fake))

    (token,) = fake.tokens
    assert fake.requests[-1].headers["x-cap-api-oauth-token"] == token  # what was echoed
    assert token not in str(error) + repr(error) + str(error.raw)
    assert "[redacted]" in str(error.raw)


def test_wrong_oauth_secret_is_an_auth_error_without_a_send(fake: CapillaryFake) -> None:
    options = {"oauth_key": fake.oauth_key, "oauth_secret": "not-the-secret"}

    error = error_of(fake, message(), options=options)

    assert isinstance(error, ProviderAuthError) and error.status_code == 401
    assert "Invalid key/secret" in str(error) and "oauth_secret" in str(error)
    assert "not-the-secret" not in str(error) + repr(error)
    assert fake.sends == []


# -- batches --------------------------------------------------------------------


def test_batch_with_one_refused_recipient_gives_two_results_and_one_rejection(
    fake: CapillaryFake,
) -> None:
    fake.refused = {"919000000002"}

    outcomes = send(fake, message("+919000000001"), message("+919000000002"), message())

    (request,) = fake.requests
    sent_to = [item["to"] for item in request.json()["root"]["sms"]]
    assert sent_to == ["919000000001", "919000000002", WIRE_NUMBER]
    assert [type(o) for o in outcomes] == [SendResult, ProviderRejectedError, SendResult]
    assert outcomes[1].status_code == 201  # §1.5: a partial failure answers 201
    assert outcomes[1].detail == "Unable to send message (code 4101)"
    assert outcomes[0].raw["smsList"][0]["sms"]["to"] == "919000000001"


def test_batch_where_every_item_fails_rejects_each_with_its_reason(fake: CapillaryFake) -> None:
    fake.refused = {"919000000001"}

    outcomes = send(fake, message("+919000000001"), message("+1234"))

    assert all(isinstance(o, ProviderRejectedError) and o.status_code == 400 for o in outcomes)
    assert [o.detail for o in outcomes] == [
        "Unable to send message (code 4101)",
        "Invalid mobile number '1234' (code 4101)",
    ]


def test_batch_over_the_limit_is_a_clear_rejection_for_everyone(fake: CapillaryFake) -> None:
    fake.batch_limit = 2

    outcomes = send(fake, message(), message(), message())

    assert len(outcomes) == 3
    for outcome in outcomes:
        assert isinstance(outcome, ProviderRejectedError) and not outcome.retryable
        assert "batch limit size exceeded (code 1060)" in str(outcome)
        assert "fewer recipients" in str(outcome)


def test_single_refused_send_raises_the_items_rejection(fake: CapillaryFake) -> None:
    fake.refused = {WIRE_NUMBER}

    error = error_of(fake, message())

    assert isinstance(error, ProviderRejectedError)
    assert str(error) == "capillary: Unable to send message (code 4101) (HTTP 400)"


def test_each_channel_in_a_batch_goes_in_its_own_request(fake: CapillaryFake) -> None:
    outcomes = send(fake, message(), WA, message("+919000000001"))

    assert all(isinstance(o, SendResult) for o in outcomes)
    assert [r.query["channel"] for r in fake.sends] == [["sms"], ["whatsapp"]]
    assert len(fake.sends[0].json()["root"]["sms"]) == 2


UNSENDABLE = {"mms": message(channel=Channel.MMS), "media": message(media_urls=("https://x/y",))}


@pytest.mark.parametrize("unsendable", UNSENDABLE.values(), ids=UNSENDABLE)
def test_unsendable_item_is_refused_and_the_rest_still_goes(
    fake: CapillaryFake, unsendable: OutboundMessage
) -> None:
    outcomes = send(fake, unsendable, message())

    assert isinstance(outcomes[0], ProviderUnsupportedError)
    assert isinstance(outcomes[1], SendResult)
    assert len(fake.requests[0].json()["root"]["sms"]) == 1


def test_partial_failure_that_names_no_item_leaves_every_item_in_doubt(
    fake: CapillaryFake,
) -> None:
    # §1.5: 201 means some item failed; with no item list, nobody can be told theirs went,
    # nor that it did not.
    fake.fail_next(201, {"status": status_envelope(201, "Some requests have failed")})

    outcomes = send(fake, message(), message())

    assert all(isinstance(o, ProviderOutcomeUnknownError) for o in outcomes)


def test_partial_failure_of_a_single_item_is_its_rejection(fake: CapillaryFake) -> None:
    fake.fail_next(201, {"status": status_envelope(201, "Some requests have failed")})

    error = error_of(fake, message())

    assert isinstance(error, ProviderRejectedError)
    assert error.detail.startswith("Some requests have failed (code 201)")


# Seed 000's answer: {"status": {"count": 2, "statusCode": {"status": true, …}, "successCount":
# 2, …, "success": true}, "smsList": [{"sms": {…}, "errors": [], "warnings": []}, …]}. The
# block counts what went; an item with no "errors" is not proof it went if the block disagrees.


def test_batch_status_saying_nothing_went_rejects_items_without_errors(
    fake: CapillaryFake,
) -> None:
    fake.silently_refused = {WIRE_NUMBER, "919000000001"}

    outcomes = send(fake, message(), message("+919000000001"))

    (request,) = fake.requests
    answer = fake.handle(request).body  # what it answered: the fake is deterministic
    assert answer["status"]["successCount"] == 0 and answer["status"]["success"] is False
    assert all(entry["errors"] == [] for entry in answer["smsList"])
    assert all(isinstance(o, ProviderRejectedError) for o in outcomes)
    assert "All requests have failed" in outcomes[0].detail


def test_single_send_the_batch_status_counts_as_failed_is_refused(fake: CapillaryFake) -> None:
    fake.silently_refused = {WIRE_NUMBER}

    error = error_of(fake, message())

    assert isinstance(error, ProviderRejectedError) and not error.retryable


def test_batch_status_counting_an_unnamed_failure_leaves_the_others_in_doubt(
    fake: CapillaryFake,
) -> None:
    fake.silently_refused = {"919000000002"}
    fake.refused = {"919000000003"}

    outcomes = send(
        fake, message("+919000000001"), message("+919000000002"), message("+919000000003")
    )

    # One failure is named (4101), one only counted: which of the other two it was is unknown.
    assert [type(o) for o in outcomes] == [
        ProviderOutcomeUnknownError,
        ProviderOutcomeUnknownError,
        ProviderRejectedError,
    ]
    shown = str(outcomes[0])
    assert "counts 1 of 3 as sent" in shown and "may or may not have gone out" in shown


def test_answer_without_items_or_counts_may_have_gone_out(fake: CapillaryFake) -> None:
    fake.fail_next(200, {"ok": True})

    outcomes = send(fake, message(), message())

    assert all(isinstance(o, ProviderOutcomeUnknownError) for o in outcomes)


def test_answer_without_items_that_counts_all_as_sent_is_accepted(fake: CapillaryFake) -> None:
    fake.fail_next(200, {"status": status_envelope(200, "Success", count=2, succeeded=2)})

    outcomes = send(fake, message(), message())

    assert all(isinstance(o, SendResult) for o in outcomes)


@pytest.mark.parametrize("fault", ["hang", 504])
def test_lost_token_answer_is_retryable_as_no_message_went(fake: CapillaryFake, fault: Any) -> None:
    if fault == "hang":
        fake.hang_next()
    else:
        fake.fail_next(fault, "<html>Gateway Time-out</html>")

    error = error_of(fake, message(), options=oauth(fake), timeout=0.3)

    assert isinstance(error, ProviderUnavailableError) and error.retryable
    assert not isinstance(error, ProviderTimeoutError) and fake.sends == []


# -- configuration --------------------------------------------------------------

EU = "https://eu.api.capillarytech.com"
UP, KS = {"username": "u", "password": "p"}, {"oauth_key": "k", "oauth_secret": "s"}


def _config(
    keys: dict[str, str], channel: Channel = Channel.SMS, url: str | None = EU
) -> ConnectionConfig:
    return ConnectionConfig("capillary-eu", "capillary", channel, base_url=url, options=keys)


CONFIG_PROBLEMS = {
    "no-base-url": (_config(UP, url=None), "needs 'base_url': the cluster host"),
    "no-scheme": (_config(UP, url="eu.api.capillarytech.com"), "must start with https://"),
    "versioned-path": (_config(UP, url=EU + "/v1.1"), "without /v1.1"),
    "no-credentials": (_config({}), "needs 'username' and 'password' (Basic) or 'oauth_key' and"),
    "half-basic": (_config({"username": "u"}), "needs 'password' with 'username'"),
    "half-oauth": (_config({"oauth_key": "k"}), "needs 'oauth_secret' with 'oauth_key'"),
    "both-pairs": (_config(UP | KS), "not both"),
    "email-without-from": (_config(UP, Channel.EMAIL), "channel email needs 'from'"),
    "sender-off-sms": (_config(UP | {"sender": "H"}, Channel.ZALO), "'sender' is an SMS sender"),
    "from-off-email": (_config(UP | {"from": "a@b.c"}), "'from' is the e-mail sender"),
}


@pytest.mark.parametrize(("config", "complaint"), CONFIG_PROBLEMS.values(), ids=CONFIG_PROBLEMS)
def test_config_problem_is_refused_with_what_to_fix(
    config: ConnectionConfig, complaint: str
) -> None:
    with pytest.raises(ProviderUnsupportedError) as caught:
        CapillaryProvider.check_config(config)

    assert complaint in str(caught.value)


GOOD_CONFIGS = {
    "basic-sms": _config(UP | {"sender": "HERALD"}),
    "oauth-email": _config(KS | {"from": "shop@example.com"}, Channel.EMAIL),
    "oauth-zalo": _config(KS, Channel.ZALO, url="https://apac2.api.capillarytech.com/"),
}


@pytest.mark.parametrize("config", GOOD_CONFIGS.values(), ids=GOOD_CONFIGS)
def test_complete_config_is_accepted(config: ConnectionConfig) -> None:
    CapillaryProvider.check_config(config)


# -- error mapping --------------------------------------------------------------

ACCESS = "The till or OAuth client needs WRITE access to the Communication access group"
FAILURES = {  # HTTP status, Capillary's status message, error type, how the user's text ends
    "invalid": (400, "Invalid input", ProviderRejectedError, "(code 400) (HTTP 400)"),
    "forbidden": (403, "Access denied", ProviderAuthError, f"(code 403) (HTTP 403). {ACCESS}"),
}


@pytest.mark.parametrize(("status", "said", "kind", "shown"), FAILURES.values(), ids=FAILURES)
def test_failure_is_explained_in_capillarys_words(
    fake: CapillaryFake, status: int, said: str, kind: type[ProviderError], shown: str
) -> None:
    fake.fail_next(status, {"status": status_envelope(status, said)})

    error = error_of(fake, message())

    assert type(error) is kind and not error.retryable
    assert str(error) == f"capillary: {said} {shown}"


# -- the fake's own strictness --------------------------------------------------


def post_raw(
    fake: CapillaryFake, query: str, body: Any, authorization: str | None = None
) -> httpx.Response:
    """A request straight to the fake: JSON, with Basic auth unless told otherwise."""
    return httpx.post(
        f"{fake.base_url}/v1.1/communications/sendMessage{query}",
        json=body,
        headers={
            "authorization": authorization or basic_authorization(fake.username, fake.password),
            "accept": "application/json",
        },
    )


REFUSALS = {
    "no-channel": ("", {"root": {"sms": [SMS]}}, "channel is required"),
    "unknown-channel": ("?channel=fax", {"root": {"sms": [SMS]}}, "Invalid channel"),
    "no-root": ("?channel=sms", {"sms": [SMS]}, "root is missing"),
    "wrong-array": ("?channel=whatsapp", {"root": {"sms": [SMS]}}, "needs root.whatsappMessage"),
    "sms-no-body": ("?channel=sms", {"root": {"sms": [{"to": WIRE_NUMBER}]}}, "'body' is required"),
    "email-no-subject": ("?channel=email", {"root": {"email": [MAIL | {"subject": ""}]}}, "'sub"),
    "zalo-no-template": ("?channel=zalo", {"root": {"zaloMessage": [{"receiver": "91"}]}}, "'tem"),
    "plus-in-number": ("?channel=sms", {"root": {"sms": [SMS | {"to": NUMBER}]}}, "Invalid mobile"),
    "misspelt-field": ("?channel=sms", {"root": {"sms": [SMS | {"txt": ""}]}}, "Unknown field"),
}


@pytest.mark.parametrize(("query", "body", "said"), REFUSALS.values(), ids=REFUSALS)
def test_fake_refuses_what_capillary_would(
    fake: CapillaryFake, query: str, body: dict[str, Any], said: str
) -> None:
    response = post_raw(fake, query, body)

    assert response.status_code == 400
    assert said in response.text


def test_fake_refuses_basic_auth_with_the_plain_password(fake: CapillaryFake) -> None:
    plain = base64.b64encode(f"{fake.username}:{fake.password}".encode()).decode()

    response = post_raw(fake, "?channel=sms", {"root": {"sms": [SMS]}}, f"Basic {plain}")

    assert response.status_code == 401


@pytest.mark.parametrize("spelling", ["scheduledTime", "scheduled_time"])
def test_fake_accepts_both_spellings_of_the_scheduled_time(
    fake: CapillaryFake, spelling: str
) -> None:
    item = MAIL | {spelling: "2024-02-22T00:25:06+05:30"}  # §1.3; and body is optional (§1.3)

    response = post_raw(fake, "?channel=EMAIL", {"root": {"email": [item]}})

    assert response.status_code == 200
    assert response.json()["emails"][0]["email"]["scheduledTime"] == "2024-02-22T00:25:06+05:30"
