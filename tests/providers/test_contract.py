"""The contract every provider adapter keeps, run against its strict local fake."""

from __future__ import annotations

import logging
import secrets
from typing import Any, TypeVar
from urllib.parse import quote

import httpx
import pytest

from providers import (
    PROVIDERS,
    Channel,
    ConnectionConfig,
    DeliveryStatus,
    OutboundMessage,
    ProviderAuthError,
    ProviderError,
    ProviderOutcomeUnknownError,
    ProviderRateLimitedError,
    ProviderRejectedError,
    ProviderTimeoutError,
    ProviderUnavailableError,
    ProviderUnsupportedError,
)
from tests.fakes.provider_fake import ProviderFake
from tests.providers.cases import ProviderCase, load_cases, no_receipts, run_provider

T = TypeVar("T")
CASES = load_cases()
pytestmark = pytest.mark.parametrize("case", CASES, ids=[c.name for c in CASES])


_run = run_provider


def _message(case: ProviderCase) -> OutboundMessage:
    return OutboundMessage(
        reference="k3x9p2ab",
        channel=case.channel,
        to=case.recipient,
        text="Your order A-1042 ships tomorrow",
        subject="Your order" if case.channel == "email" else None,
    )


def _send(case: ProviderCase, fake: ProviderFake, **kwargs: Any) -> Any:
    return _run(case, fake, lambda p: p.send(_message(case)), **kwargs)


def _error(case: ProviderCase, fake: ProviderFake, **kwargs: Any) -> ProviderError:
    with pytest.raises(ProviderError) as caught:
        _send(case, fake, **kwargs)
    return caught.value


def test_provider_is_registered(case: ProviderCase) -> None:
    assert PROVIDERS[case.name] is case.provider


def test_send_is_accepted_with_one_request(case: ProviderCase) -> None:
    with case.fake() as fake:
        result = _send(case, fake)

        assert result.status in (DeliveryStatus.ACCEPTED, DeliveryStatus.SENT)
        assert len(fake.requests) == 1


def test_wrong_credentials_raise_auth_error(case: ProviderCase) -> None:
    with case.fake() as fake:
        error = _error(case, fake, options=case.wrong_options(fake))

    assert isinstance(error, ProviderAuthError)
    assert not error.retryable
    assert error.provider == case.name


def test_rate_limit_is_retryable_and_carries_retry_after(case: ProviderCase) -> None:
    with case.fake() as fake:
        fake.rate_limit_next(retry_after=7)
        error = _error(case, fake)

    assert isinstance(error, ProviderRateLimitedError)
    assert error.retryable and error.retry_after == 7


def test_server_error_is_retryable(case: ProviderCase) -> None:
    with case.fake() as fake:
        fake.fail_next(503, {"message": "Service Unavailable"})
        error = _error(case, fake)

    assert isinstance(error, ProviderUnavailableError)
    assert error.retryable and error.status_code == 503


@pytest.mark.parametrize("status", [502, 504])
def test_gateway_failure_may_have_gone_out_and_is_not_retried(
    case: ProviderCase, status: int
) -> None:
    # A proxy forwarded the request, then gave up on the API's answer: the API may have
    # taken the message, so a retry could reach the customer twice.
    with case.fake() as fake:
        fake.fail_next(status, "<html><body><h1>Bad Gateway</h1></body></html>")
        error = _error(case, fake)

    assert isinstance(error, ProviderOutcomeUnknownError)
    assert not error.retryable and error.status_code == status
    assert "may or may not have gone out" in str(error) and "<html>" not in str(error)


@pytest.mark.parametrize("text", ["", "  \n "])
def test_empty_message_is_refused_before_sending(case: ProviderCase, text: str) -> None:
    message = OutboundMessage(
        reference="k3x9p2ab",
        channel=case.channel,
        to=case.recipient,
        text=text,
        subject="Your order" if case.channel == "email" else None,
    )
    with case.fake() as fake:
        with pytest.raises(ProviderRejectedError) as caught:
            _run(case, fake, lambda p: p.send(message))

        assert fake.requests == []
    assert "empty" in str(caught.value) and not caught.value.retryable


def test_hanging_api_times_out_without_a_retry_that_could_send_twice(case: ProviderCase) -> None:
    with case.fake() as fake:
        fake.hang_next()
        error = _error(case, fake, timeout=0.3)

    assert isinstance(error, ProviderTimeoutError)
    assert not error.retryable
    assert "may or may not have gone out" in str(error)


def test_unreachable_api_is_retryable(case: ProviderCase) -> None:
    with case.fake() as fake:
        closed = ProviderFake()
        url = closed.base_url
        closed.server.server_close()
        error = _error(case, fake, base_url=url)

    assert isinstance(error, ProviderUnavailableError) and error.retryable


def test_client_error_is_a_rejection_with_the_providers_words(case: ProviderCase) -> None:
    with case.fake() as fake:
        fake.fail_next(400, {"message": "Receiver is not a valid number"})
        error = _error(case, fake)

    assert isinstance(error, ProviderRejectedError)
    assert not error.retryable
    assert error.status_code == 400


# -- secrets: the base class redacts them for every adapter (providers.redaction) --------

WEBHOOK_TOKEN = "whtok_" + secrets.token_urlsafe(16)
USERINFO_URL = "https://media-user:media-pass@cdn.example.com/a.png"
# The faults whose detail is the provider's own words (502/504 name the failure instead).
WORDED_FAULTS = (400, 401, 403, 404, 422, 429, 500, 503)
# Bird AccessKey, Callbell Bearer, Capillary Basic: authorization; Sociocs: apikey (§3.2);
# Capillary OAuth: X-CAP-API-OAUTH-TOKEN (§1.2).
CREDENTIAL_HEADERS = ("authorization", "apikey", "x-cap-api-oauth-token")


def _secrets(case: ProviderCase, options: dict[str, Any]) -> list[str]:
    return [str(options[key]) for key in case.provider.secret_keys if key in options]


def _echo(words: list[str]) -> str:
    # Each secret as sent and percent-encoded, then a URL with a user name and password.
    quoted = " ".join(f"{w} ({quote(w, safe='')})" for w in words)
    return f"refused for key {quoted}; media at {USERINFO_URL}"


def _shown(error: ProviderError) -> str:
    return "\n".join((str(error), repr(error), error.detail, str(error.hint), str(error.raw)))


def _outcome(case: ProviderCase, fake: ProviderFake, options: dict[str, Any]) -> str:
    try:
        _send(case, fake, options=options, webhook_token=WEBHOOK_TOKEN)
    except ProviderError as exc:
        return _shown(exc)
    return ""


def _assert_hidden(shown: str, hidden: list[str]) -> None:
    for secret in hidden:
        assert secret not in shown
        assert quote(secret, safe="") not in shown
    assert "media-user" not in shown and "media-pass" not in shown


def test_secret_keys_are_the_providers_credential_keys(case: ProviderCase) -> None:
    keys = case.provider.secret_keys
    assert keys, "a provider with credentials names its secret keys"
    assert set(keys) <= {*case.provider.required_keys, *case.provider.optional_keys}
    with case.fake() as fake:
        given = {key for options in case.option_sets(fake) for key, v in options.items() if v}
    assert set(keys) <= given, "the case gives every secret key a value"


@pytest.mark.parametrize("status", WORDED_FAULTS)
def test_error_answers_quoting_secrets_never_show_them(
    case: ProviderCase, status: int, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    with case.fake() as fake:
        for options in case.option_sets(fake):
            hidden = [*_secrets(case, options), WEBHOOK_TOKEN]
            fake.fail_next(status, {"message": _echo(hidden), "error": _echo(hidden)})
            shown = _outcome(case, fake, options)

            _assert_hidden(shown + caplog.text, hidden)
            assert "[redacted]" in shown  # the words reached the error, scrubbed


@pytest.mark.parametrize("status", [400, 401, 422])
def test_answers_echoing_the_request_never_show_its_credentials(
    case: ProviderCase, status: int
) -> None:
    # An undocumented error body may quote the request: its auth headers and JSON body.
    with case.fake() as fake:
        for options in case.option_sets(fake):
            fake.requests.clear()
            fake.echo_next(status, times=2)
            shown = _outcome(case, fake, options)
            sent = [
                request.headers[name].rpartition(" ")[2]  # "Basic …", "Bearer …": the secret
                for request in fake.requests
                for name in CREDENTIAL_HEADERS
                if request.headers.get(name)
            ]
            in_bodies = [
                v for v in _secrets(case, options) for r in fake.requests if v.encode() in r.body
            ]
            assert sent or in_bodies, "the echoed request carried a credential"

            _assert_hidden(shown, [*_secrets(case, options), *sent])
            assert "[redacted]" in shown


def test_refusals_in_a_success_answer_never_show_secrets(case: ProviderCase) -> None:
    # `options` alone: with others (Capillary's OAuth) the first answer is not the send's.
    with case.fake() as fake:
        options = case.options(fake)
        hidden = [*_secrets(case, options), WEBHOOK_TOKEN]
        fake.fail_next(*case.refusal(_echo(hidden)))
        shown = _outcome(case, fake, options)

    _assert_hidden(shown, hidden)
    assert "[redacted]" in shown


def test_secrets_never_appear_in_reprs_errors_or_logs(
    case: ProviderCase, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    shown: list[str] = []
    with case.fake() as fake:
        hidden: list[str] = [WEBHOOK_TOKEN]
        for options in case.option_sets(fake):
            hidden += _secrets(case, options)
            for fault in (None, 400, 503, 502):
                if fault:
                    fake.fail_next(fault, {"message": "nope"})
                shown.append(_outcome(case, fake, options))
            config = ConnectionConfig(
                "conn", case.name, case.channel, webhook_token=WEBHOOK_TOKEN, options=options
            )
            provider = case.provider(config, httpx.AsyncClient(), no_receipts)
            shown += [repr(config), repr(provider), str(vars(provider).get("settings"))]
        shown.append(_outcome(case, fake, case.wrong_options(fake)))
    shown.append(caplog.text)

    _assert_hidden("\n".join(shown), hidden)


def test_unsupported_channel_is_refused_at_startup(case: ProviderCase) -> None:
    if case.unsupported_channel is None:
        assert set(case.provider.channels) == set(Channel)
        return
    config = ConnectionConfig("conn", case.name, case.unsupported_channel)

    with pytest.raises(ProviderUnsupportedError):
        case.provider.check_config(config)
