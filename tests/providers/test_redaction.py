"""`providers.redaction`: secrets and URL userinfo never leave a provider, written once in
the base class for every adapter (the contract suite checks each adapter end to end)."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from typing import Any

import pytest

from providers import (
    Channel,
    ConnectionConfig,
    OutboundMessage,
    Provider,
    ProviderError,
    ProviderOutcomeUnknownError,
    ProviderRejectedError,
    SendResult,
    WebhookError,
    WebhookRequest,
    WebhookResult,
)
from providers.errors import DETAIL_LIMIT
from providers.redaction import REDACTED, Redactor, scrub_error

SECRET = 's3cr3t/key+"with" spaces&more'


@pytest.mark.parametrize(
    "quoted",
    [
        SECRET,
        "s3cr3t%2Fkey%2B%22with%22%20spaces%26more",  # percent-encoded, as in a URL
        "s3cr3t%2Fkey%2B%22with%22+spaces%26more",  # form-encoded
        's3cr3t/key+\\"with\\" spaces&more',  # in a JSON string
        's3cr3t\\/key+\\"with\\" spaces&more',  # in a JSON string that escapes "/"
        SECRET.replace(" ", "\n  "),  # white space the detail folds
    ],
)
def test_secret_is_redacted_in_the_forms_an_answer_quotes_it(quoted: str) -> None:
    error = ProviderRejectedError(f"bad key {quoted}!", provider="p")

    scrub_error(error, Redactor([SECRET]))

    assert "s3cr3t" not in str(error) and REDACTED in error.detail


def test_url_userinfo_is_redacted_but_the_host_kept() -> None:
    text = Redactor([]).text("see https://ann:pw@cdn.example.com/a.png and mailto:ann@x.org")

    assert text == f"see https://{REDACTED}@cdn.example.com/a.png and mailto:ann@x.org"


def test_a_secret_inside_another_is_redacted_whole() -> None:
    assert Redactor(["abc", "abcdef"]).text("key abcdef") == f"key {REDACTED}"


@pytest.mark.parametrize("empty", ["", "   "])
def test_an_empty_secret_redacts_nothing(empty: str) -> None:
    assert Redactor([empty]).text("all words stay") == "all words stay"


def test_a_secret_cut_by_the_detail_limit_leaves_none_of_it() -> None:
    # The detail is trimmed to DETAIL_LIMIT; redacting after the trim would miss the
    # start of a secret the trim cut in two.
    secret = "tok_" + "9" * 20
    error = ProviderRejectedError("x" * (DETAIL_LIMIT - 10) + secret, provider="p")

    scrub_error(error, Redactor([secret]))

    assert "tok_" not in error.detail and len(error.detail) <= DETAIL_LIMIT


def test_raw_answer_hint_and_cause_are_redacted() -> None:
    cause = ProviderRejectedError("inner key=k-123456", provider="p", raw=["k-123456"])
    try:
        try:
            raise cause
        except ProviderError as exc:
            raise ProviderOutcomeUnknownError(
                "outer", provider="p", raw={"k-123456": {"echo": b"k-123456"}}, hint="k-123456"
            ) from exc
    except ProviderError as outer:
        scrub_error(outer, Redactor(["k-123456"]))
        error = outer

    assert error.raw == {REDACTED: {"echo": REDACTED.encode()}}
    assert error.hint == REDACTED and cause.detail == f"inner key={REDACTED}"
    assert cause.raw == [REDACTED] and error.args == (error.detail,)


def test_raw_nested_past_the_recursion_limit_is_dropped() -> None:
    deep: Any = "k-123456"
    for _ in range(5000):
        deep = [deep]
    error = ProviderRejectedError("x", provider="p", raw=deep)

    scrub_error(error, Redactor(["k-123456"]))

    assert error.raw is None


class _Leaky(Provider):
    """A new adapter that redacts nothing itself: the base must do it for it."""

    name = "leaky"
    channels = frozenset({Channel.SMS})
    optional_keys = ("api_key",)
    secret_keys = ("api_key",)

    async def send(self, message: OutboundMessage) -> SendResult:
        raise ProviderRejectedError(f"key {self.config.option('api_key')}", provider=self.name)

    async def send_many(
        self, messages: Sequence[OutboundMessage]
    ) -> list[SendResult | ProviderError]:
        return [ProviderRejectedError(f"key {self.config.option('api_key')}", provider=self.name)]

    def parse_webhook(self, request: WebhookRequest) -> WebhookResult:
        raise WebhookError(f"token {self.config.webhook_token} is wrong", provider=self.name)


async def _no_receipts(receipts: Any) -> None:
    return None


def _leaky() -> _Leaky:
    config = ConnectionConfig(
        "c", "leaky", Channel.SMS, webhook_token="wt-987654", options={"api_key": "ak-123456"}
    )
    return _Leaky(config, None, _no_receipts)  # type: ignore[arg-type]


MESSAGE = OutboundMessage("ref", Channel.SMS, "+31612345678", "hi")


def test_every_adapters_send_is_redacted_by_the_base() -> None:
    with pytest.raises(ProviderError) as caught:
        asyncio.run(_leaky().send(MESSAGE))

    assert "ak-123456" not in str(caught.value) and REDACTED in str(caught.value)


def test_errors_send_many_returns_are_redacted_by_the_base() -> None:
    (outcome,) = asyncio.run(_leaky().send_many([MESSAGE]))

    assert isinstance(outcome, ProviderError) and "ak-123456" not in str(outcome)


def test_webhook_errors_never_show_the_webhook_token() -> None:
    with pytest.raises(WebhookError) as caught:
        _leaky().parse_webhook(WebhookRequest("https://h/webhooks/c", {}, b""))

    assert "wt-987654" not in str(caught.value)


def test_redact_is_there_for_an_adapters_log_lines() -> None:
    line = _leaky().redact("posting with ak-123456 to https://u:p@h/x, token wt-987654")

    assert line == f"posting with {REDACTED} to https://{REDACTED}@h/x, token {REDACTED}"
