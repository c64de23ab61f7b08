"""The contract every provider adapter keeps, run against its strict local fake."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
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
    ProviderError,
    ProviderOutcomeUnknownError,
    ProviderRateLimitedError,
    ProviderRejectedError,
    ProviderTimeoutError,
    ProviderUnavailableError,
    ProviderUnsupportedError,
)
from tests.fakes.provider_fake import ProviderFake
from tests.providers.cases import ProviderCase, load_cases

T = TypeVar("T")
CASES = load_cases()
pytestmark = pytest.mark.parametrize("case", CASES, ids=[c.name for c in CASES])


async def _no_receipts(receipts: Any) -> None:
    return None


def _run(
    case: ProviderCase,
    fake: ProviderFake,
    call: Callable[[Provider], Awaitable[T]],
    *,
    options: dict[str, Any] | None = None,
    base_url: str | None = None,
    timeout: float = 5.0,
) -> T:
    config = ConnectionConfig(
        name="conn",
        provider=case.name,
        channel=case.channel,
        base_url=base_url or fake.base_url,
        options=case.options(fake) if options is None else options,
    )

    async def go() -> T:
        async with httpx.AsyncClient(timeout=httpx.Timeout(timeout)) as client:
            provider = case.provider(config, client, _no_receipts)
            try:
                return await call(provider)
            finally:
                await provider.aclose()

    return asyncio.run(go())


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


def test_secrets_never_appear_in_reprs_errors_or_logs(
    case: ProviderCase, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    shown: list[str] = []
    with case.fake() as fake:
        options = case.options(fake)
        secrets = [str(options[key]) for key in case.secret_keys]
        assert secrets, "a provider with credentials names its secret keys"
        for fault in (None, 400, 503):
            if fault:
                fake.fail_next(fault, {"message": "nope"})
            try:
                _send(case, fake)
            except ProviderError as exc:
                shown += [str(exc), repr(exc), str(exc.raw)]
        for wrong in (case.wrong_options(fake),):
            try:
                _send(case, fake, options=wrong)
            except ProviderError as exc:
                shown += [str(exc), repr(exc)]
        config = ConnectionConfig("conn", case.name, case.channel, options=options)
        shown += [repr(config), repr(case.provider(config, httpx.AsyncClient(), _no_receipts))]
    shown.append(caplog.text)

    for secret in secrets:
        for text in shown:
            assert secret not in text


def test_unsupported_channel_is_refused_at_startup(case: ProviderCase) -> None:
    if case.unsupported_channel is None:
        assert set(case.provider.channels) == set(Channel)
        return
    config = ConnectionConfig("conn", case.name, case.unsupported_channel)

    with pytest.raises(ProviderUnsupportedError):
        case.provider.check_config(config)
