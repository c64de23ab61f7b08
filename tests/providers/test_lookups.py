"""Status lookups (`Provider.lookup`): what each provider's lookup asks, how its answer
becomes the same `Receipt`s its webhooks give, and the contract every lookup keeps
(auth errors, 429, 5xx, timeouts, secrets), against the strict fakes.

Where an adapter and its fake could share a misreading of the documents, the test
quotes the document instead: seed 001's status enum, §4.5's polling answer and §1.7's
interaction answer, verbatim.
"""

from __future__ import annotations

import asyncio
import json
from datetime import UTC, datetime, timedelta
from functools import partial
from typing import Any, TypeVar

import httpx
import pytest

from providers import (
    PROVIDERS,
    Channel,
    ConnectionConfig,
    DeliveryStatus,
    OutboundMessage,
    Provider,
    ProviderAuthError,
    ProviderRateLimitedError,
    ProviderRejectedError,
    ProviderUnavailableError,
    ProviderUnsupportedError,
    Receipt,
    SentRef,
)
from providers.capillary_interactions import interaction_receipts
from tests.fakes.bird_api import STATUSES as BIRD_FAKE_STATUSES
from tests.fakes.bird_api import BirdFake
from tests.fakes.callbell_api import CallbellFake
from tests.fakes.capillary_api import CapillaryFake
from tests.fakes.provider_fake import ProviderFake
from tests.providers.cases import ProviderCase, load_cases, no_receipts, run_provider

T = TypeVar("T")
CASES = [case for case in load_cases() if case.provider.supports_lookup]
REFERENCE = "k3x9p2ab"


_run = partial(run_provider, in_process=True)


def _sent(case: ProviderCase, fake: ProviderFake) -> SentRef:
    """Send one message through the fake; what a lookup of it knows."""
    message = OutboundMessage(REFERENCE, case.channel, case.recipient, "Your order ships")
    result = _run(case, fake, lambda p: p.send(message))
    return SentRef(
        REFERENCE, result.provider_message_id, case.channel, case.recipient, datetime.now(UTC)
    )


def _mark(fake: ProviderFake, sent: SentRef, word: str) -> None:
    if isinstance(fake, CapillaryFake):
        fake.set_status(fake.interactions[-1]["id"], word)
    else:
        assert isinstance(fake, BirdFake | CallbellFake)
        fake.set_status(sent.provider_message_id or "", word)


def _lookup(case: ProviderCase, fake: ProviderFake, sent: SentRef, **kwargs: Any) -> list[Receipt]:
    return _run(case, fake, lambda p: p.lookup(sent), **kwargs)


def _error(case: ProviderCase, fake: ProviderFake, sent: SentRef, **kwargs: Any) -> Exception:
    with pytest.raises(Exception) as caught:
        _lookup(case, fake, sent, **kwargs)
    return caught.value


# Each provider's status words (as its documents spell them) and the receipt they give.
WORDS: dict[str, list[tuple[str, DeliveryStatus | None]]] = {
    "bird": [
        ("accepted", DeliveryStatus.ACCEPTED),
        ("processing", DeliveryStatus.ACCEPTED),
        ("scheduled", DeliveryStatus.ACCEPTED),
        ("sent", DeliveryStatus.SENT),
        ("delivered", DeliveryStatus.DELIVERED),
        ("rejected", DeliveryStatus.FAILED),
        ("sending_failed", DeliveryStatus.FAILED),
        ("delivery_failed", DeliveryStatus.FAILED),
        ("deleted", None),
    ],
    "callbell": [
        ("enqueued", DeliveryStatus.ACCEPTED),
        ("sent", DeliveryStatus.SENT),
        ("delivered", DeliveryStatus.DELIVERED),
        ("read", DeliveryStatus.READ),
        ("failed", DeliveryStatus.FAILED),
        ("mismatch", None),
        ("deleted", None),
    ],
    "capillary": [
        ("DELIVERED", DeliveryStatus.DELIVERED),
        ("NOT-DELIVERED", DeliveryStatus.FAILED),
        ("SOFT_BOUNCED", DeliveryStatus.FAILED),
    ],
}
WORD_CASES = [(case, word, status) for case in CASES for word, status in WORDS[case.name]]


@pytest.mark.parametrize(
    ("case", "word", "status"), WORD_CASES, ids=[f"{c.name}-{w}" for c, w, _ in WORD_CASES]
)
def test_lookup_gives_the_receipt_of_the_providers_status(
    case: ProviderCase, word: str, status: DeliveryStatus | None
) -> None:
    with case.fake() as fake:
        sent = _sent(case, fake)
        _mark(fake, sent, word)
        receipts = _lookup(case, fake, sent)

    assert [r.status for r in receipts] == ([status] if status else [])
    for receipt in receipts:
        assert receipt.reference == REFERENCE
        assert receipt.reason is None or status is DeliveryStatus.FAILED


@pytest.mark.parametrize("case", CASES, ids=[c.name for c in CASES])
def test_lookup_with_wrong_credentials_is_an_auth_error(case: ProviderCase) -> None:
    with case.fake() as fake:
        sent = _sent(case, fake)
        error = _error(case, fake, sent, options=case.wrong_options(fake))

    assert isinstance(error, ProviderAuthError) and error.status_code == 401


@pytest.mark.parametrize("case", CASES, ids=[c.name for c in CASES])
def test_lookup_rate_limited_carries_retry_after(case: ProviderCase) -> None:
    with case.fake() as fake:
        sent = _sent(case, fake)
        fake.rate_limit_next(retry_after=7)
        error = _error(case, fake, sent)

    assert isinstance(error, ProviderRateLimitedError) and error.retry_after == 7


@pytest.mark.parametrize("status", [500, 502, 503, 504])
@pytest.mark.parametrize("case", CASES, ids=[c.name for c in CASES])
def test_lookup_server_and_gateway_errors_are_unavailable(case: ProviderCase, status: int) -> None:
    # A lookup sends nothing: a gateway's 502/504 is not "may have gone out" here.
    with case.fake() as fake:
        sent = _sent(case, fake)
        fake.fail_next(status, "<html><body>Bad Gateway</body></html>")
        error = _error(case, fake, sent)

    assert isinstance(error, ProviderUnavailableError) and error.retryable
    assert error.status_code == status and "may or may not" not in str(error)


@pytest.mark.parametrize("case", CASES, ids=[c.name for c in CASES])
def test_lookup_without_an_answer_in_time_is_unavailable(case: ProviderCase) -> None:
    with case.fake() as fake:
        sent = _sent(case, fake)
        fake.hang_next()
        error = _error(case, fake, sent)

    assert isinstance(error, ProviderUnavailableError) and error.retryable
    assert "the status lookup got no answer in time" in str(error)


@pytest.mark.parametrize("case", CASES, ids=[c.name for c in CASES])
def test_lookup_errors_never_quote_the_credentials(case: ProviderCase) -> None:
    with case.fake() as fake:
        sent = _sent(case, fake)
        for options in case.option_sets(fake):
            fake.echo_next(400, times=2)  # an OAuth token fetch answers too
            error = _error(case, fake, sent, options=options)
            secret_values = [str(options[k]) for k in case.provider.secret_keys if k in options]
            shown = f"{error} {error!r} {getattr(error, 'raw', '')}"
            assert secret_values and not any(value in shown for value in secret_values)


@pytest.mark.parametrize("case", CASES, ids=[c.name for c in CASES])
def test_a_lookup_asks_as_the_documents_say(case: ProviderCase) -> None:
    with case.fake() as fake:
        sent = _sent(case, fake)
        _lookup(case, fake, sent)
        (asked,) = fake.lookups  # type: ignore[attr-defined]

    assert asked.method == "GET" and asked.headers["accept"] == "application/json"
    if isinstance(fake, BirdFake):
        # §2.7: GET /workspaces/{ws}/channels/{ch}/messages/{messageId}
        path = f"/workspaces/{fake.workspace_id}/channels/{fake.channel_id}/messages"
        assert asked.path == f"{path}/{sent.provider_message_id}"
        assert asked.headers["authorization"] == f"AccessKey {fake.access_key}"
    elif isinstance(fake, CallbellFake):
        # §4.5: GET /v1/messages/status/{uuid}; base URLs end in /v1
        assert asked.path == f"/messages/status/{sent.provider_message_id}"
        assert asked.headers["authorization"] == f"Bearer {fake.token}"
    else:
        # §1.7: ?format=json&identifierName=mobile&identifierValue=…&type=…
        assert asked.path == "/v1.1/customer/interaction"
        assert asked.query == {
            "format": ["json"],
            "identifierName": ["mobile"],
            "identifierValue": ["919591471711"],
            "type": ["sms"],
        }
        assert asked.headers["authorization"].startswith("Basic ")


def test_bird_and_callbell_answer_404_for_a_message_they_never_took() -> None:
    for name in ("bird", "callbell"):
        case = next(c for c in CASES if c.name == name)
        with case.fake() as fake:
            sent = SentRef(REFERENCE, "3f0c2d5e9b1a4c7d8e6f", case.channel, case.recipient)
            error = _error(case, fake, sent)
        assert isinstance(error, ProviderRejectedError) and error.status_code == 404


def test_a_lookup_needs_the_providers_id_where_the_provider_finds_messages_by_it() -> None:
    for name in ("bird", "callbell"):
        case = next(c for c in CASES if c.name == name)
        assert case.provider.lookup_needs_id
        with case.fake() as fake:
            receipts = _lookup(case, fake, SentRef(REFERENCE, None, case.channel, case.recipient))
            assert receipts == [] and fake.requests == []


# -- Bird: seed 001 ------------------------------------------------------------------

# Seed 001 (bird-channels-send-message.txt), the response's status, verbatim:
SEED_001_STATUS = (
    "status*Status-3 (enum)\n"
    "acceptedrejectedprocessingscheduledsentsending_faileddelivereddelivery_faileddeleted"
)
SEED_001_WORDS = (
    *("accepted", "rejected", "processing", "scheduled", "sent", "sending_failed"),
    *("delivered", "delivery_failed", "deleted"),
)


def test_bird_statuses_are_seed_001s_enum() -> None:
    assert "".join(SEED_001_WORDS) == SEED_001_STATUS.splitlines()[1]
    assert set(SEED_001_WORDS) == BIRD_FAKE_STATUSES == {word for word, _ in WORDS["bird"]}


def test_bird_failure_reason_is_bird_s_words() -> None:
    case = next(c for c in CASES if c.name == "bird")
    with BirdFake() as fake:
        sent = _sent(case, fake)
        fake.set_status(
            sent.provider_message_id or "",
            "delivery_failed",
            reason="bounceHard",
            failure="Mailbox does not exist",
        )
        (receipt,) = _lookup(case, fake, sent)

    assert receipt.status is DeliveryStatus.FAILED
    assert receipt.reason == "Mailbox does not exist (bounceHard)"
    assert (
        receipt.occurred_at is not None and receipt.provider_message_id == sent.provider_message_id
    )


def test_bird_refuses_a_status_word_outside_seed_001() -> None:
    with BirdFake() as fake, pytest.raises(ValueError, match="seed 001"):
        fake.set_status("any", "read")


# -- Callbell: §4.5 ------------------------------------------------------------------

# §4.5 "Polling": GET /v1/messages/status/{uuid} →, verbatim but for the elided values:
CALLBELL_POLLING_ANSWER = """
{"message": {"uuid": "adf3d1216d4c4dcd908199d6700f2381", "status": "enqueued",
   "messageStatusPayload": {"id": "gBGGM2MSRxl_", "type": "enqueued",
   "payload": {"type": "session", "whatsappMessageId": "wamid.1"}, "destination": "1122334455"}}}
"""


def _callbell_answering(body: str) -> list[Receipt]:
    def answer(request: httpx.Request) -> httpx.Response:
        assert request.url.path == "/v1/messages/status/adf3d1216d4c4dcd908199d6700f2381"
        return httpx.Response(200, content=body, headers={"content-type": "application/json"})

    config = ConnectionConfig(
        "wa",
        "callbell",
        Channel.WHATSAPP,
        options={"token": "test_gshuPaZoeEG6ovbc8M79w0QyM", "channel_uuid": "c"},
    )

    async def go() -> list[Receipt]:
        async with httpx.AsyncClient(transport=httpx.MockTransport(answer)) as client:
            provider = PROVIDERS["callbell"](config, client, no_receipts)
            uuid = "adf3d1216d4c4dcd908199d6700f2381"
            return await provider.lookup(SentRef(REFERENCE, uuid, Channel.WHATSAPP, "+3311"))

    return asyncio.run(go())


def test_callbell_reads_the_documented_polling_answer() -> None:
    (receipt,) = _callbell_answering(CALLBELL_POLLING_ANSWER)

    assert receipt.status is DeliveryStatus.ACCEPTED
    assert receipt.provider_message_id == "adf3d1216d4c4dcd908199d6700f2381"
    assert receipt.reference == REFERENCE


def test_callbell_failure_reason_comes_from_the_bsp_payload() -> None:
    failed = json.loads(CALLBELL_POLLING_ANSWER)
    failed["message"]["status"] = "failed"
    failed["message"]["messageStatusPayload"]["payload"] = {
        "code": 1002,
        "reason": "Number Does Not Exists On WhatsApp",
    }
    (receipt,) = _callbell_answering(json.dumps(failed))

    assert receipt.status is DeliveryStatus.FAILED
    assert receipt.reason == "Number Does Not Exists On WhatsApp (code 1002)"


def test_callbell_answer_without_a_message_is_unavailable() -> None:
    with pytest.raises(ProviderUnavailableError, match="without a message"):
        _callbell_answering('{"status": "ok"}')


# -- Capillary: §1.7 -----------------------------------------------------------------

# §1.7 [CAP-INTERACT], the answer of GET /v1.1/customer/interaction, verbatim:
CAPILLARY_INTERACTIONS = """
{"name": "capillary", "interaction": [{"count": 8, "name": "email", "messageList": [
  {"id": 1685578741592, "receiver": "...", "subject": "...", "campaignId": -1,
   "status": "DELIVERED", "deliveredTime": "2023-06-02T09:24:40Z", "sentDate": "02-06-2023 09:24:40", "userId": 177269954}]}],
 "warnings": []}
"""  # noqa: E501
SENT_AT = datetime(2023, 6, 2, 9, 24, 40, tzinfo=UTC)


def _email(pid: str | None = None, accepted_at: datetime | None = SENT_AT) -> SentRef:
    return SentRef(REFERENCE, pid, Channel.EMAIL, "...", accepted_at)


def test_capillary_reads_the_documented_interaction_by_its_id() -> None:
    (receipt,) = interaction_receipts(json.loads(CAPILLARY_INTERACTIONS), _email("1685578741592"))

    assert receipt.status is DeliveryStatus.DELIVERED
    assert receipt.occurred_at == SENT_AT and receipt.reference == REFERENCE
    assert receipt.provider_message_id == "1685578741592"


@pytest.mark.parametrize(
    ("accepted", "found"),
    [(timedelta(seconds=-40), True), (timedelta(minutes=20), True), (timedelta(hours=2), False)],
    ids=["sent-40s-after-acceptance", "sent-before-acceptance-by-the-clocks", "hours-apart"],
)
def test_capillary_finds_a_message_without_id_by_its_time(accepted: timedelta, found: bool) -> None:
    receipts = interaction_receipts(
        json.loads(CAPILLARY_INTERACTIONS), _email(None, SENT_AT - accepted)
    )

    assert [r.status for r in receipts] == ([DeliveryStatus.DELIVERED] if found else [])


def test_capillary_does_not_guess_between_messages_that_disagree() -> None:
    body = json.loads(CAPILLARY_INTERACTIONS)
    entries = body["interaction"][0]["messageList"]
    entries.append({**entries[0], "id": 1685578741593, "status": "NOT-DELIVERED"})

    assert interaction_receipts(body, _email(None)) == []
    entries[1]["status"] = "DELIVERED"  # both delivered: either way it is delivered
    assert [r.status for r in interaction_receipts(body, _email(None))] == [
        DeliveryStatus.DELIVERED
    ]
    assert [r.provider_message_id for r in interaction_receipts(body, _email("1685578741593"))] == [
        "1685578741593"
    ]


def test_capillary_lookup_for_someone_not_a_customer_reports_nothing() -> None:
    case = next(c for c in CASES if c.name == "capillary")
    with CapillaryFake() as fake:
        sent = _sent(case, fake)
        fake.customers.clear()
        assert _lookup(case, fake, sent) == []
        assert fake.lookups[-1].path == "/v1.1/customer/interaction"


def test_capillary_lookup_renews_an_expired_oauth_token_once() -> None:
    case = next(c for c in CASES if c.name == "capillary")
    with CapillaryFake() as fake:
        oauth = {"oauth_key": fake.oauth_key, "oauth_secret": fake.oauth_secret}
        message = OutboundMessage(REFERENCE, Channel.SMS, case.recipient, "Hi")

        async def send_then_look_up(provider: Provider) -> list[Receipt]:
            result = await provider.send(message)
            fake.set_status(fake.interactions[-1]["id"], "DELIVERED")
            fake.expire_tokens()
            sent = SentRef(
                REFERENCE,
                result.provider_message_id,
                Channel.SMS,
                case.recipient,
                datetime.now(UTC),
            )
            return await provider.lookup(sent)

        (receipt,) = _run(case, fake, send_then_look_up, options=oauth)
        assert receipt.status is DeliveryStatus.DELIVERED
        assert len(fake.token_requests) == 2


def test_capillary_lookup_of_an_email_asks_by_email() -> None:
    case = next(c for c in CASES if c.name == "capillary")
    with CapillaryFake() as fake:
        options = {**case.options(fake), "from": "shop@example.com"}
        message = OutboundMessage(
            REFERENCE, Channel.EMAIL, "Ana@Example.com", "Hi", subject="Your order"
        )

        async def go(provider: Provider) -> list[Receipt]:
            await provider.send(message)
            fake.set_status(fake.interactions[-1]["id"], "SOFT_BOUNCED")
            sent = SentRef(REFERENCE, None, Channel.EMAIL, "Ana@Example.com", datetime.now(UTC))
            return await provider.lookup(sent)

        (receipt,) = _run(case, fake, go, options=options, channel=Channel.EMAIL)
        assert fake.lookups[-1].query["identifierName"] == ["email"]
        assert fake.lookups[-1].query["identifierValue"] == ["ana@example.com"]
    assert receipt.status is DeliveryStatus.FAILED and "SOFT_BOUNCED" in (receipt.reason or "")


def test_capillary_refuses_a_status_word_outside_its_documents() -> None:
    with CapillaryFake() as fake, pytest.raises(ValueError, match=r"§1\.6"):
        fake.set_status(1, "READ")


# -- providers without a lookup ------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "says"),
    [
        ("sociocs", "Sociocs has no per-message status lookup"),
        ("sandbox", "the sandbox reports its receipts by itself"),
    ],
)
def test_providers_without_a_lookup_say_why(name: str, says: str) -> None:
    provider_class = PROVIDERS[name]
    assert not provider_class.supports_lookup
    options = (
        {"api_key": "k", "channel_key": "ck", "sociocs_provider": "twlo"}
        if name == "sociocs"
        else {}
    )
    config = ConnectionConfig("c", name, Channel.SMS, options=options)

    async def go() -> None:
        async with httpx.AsyncClient() as client:
            provider = provider_class(config, client, no_receipts)
            assert not provider.poll_enabled()
            with pytest.raises(ProviderUnsupportedError, match=says):
                await provider.lookup(SentRef(REFERENCE, "x", Channel.SMS, "+31612345678"))

    asyncio.run(go())
    with pytest.raises(ProviderUnsupportedError, match=says):
        provider_class.check_config(
            ConnectionConfig("c", name, Channel.SMS, options=options, poll=True)
        )


def test_a_secret_in_a_lookup_answer_is_redacted() -> None:
    case = next(c for c in CASES if c.name == "callbell")
    with CallbellFake() as fake:
        sent = _sent(case, fake)
        fake.fail_next(400, {"error": f"bad token {fake.token}", "code": "x"})
        error = _error(case, fake, sent)
        assert fake.token not in str(error) and "[redacted]" in str(error)
