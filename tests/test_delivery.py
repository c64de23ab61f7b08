"""Delivery policy: retries with backoff, Retry-After, never retrying 4xx, failover, rate limits."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from pathlib import Path

import pytest

from bot.config.settings import load_settings
from bot.delivery.handover import Delivery
from bot.delivery.retries import RetryPolicy
from bot.delivery.throttling import RateLimiter
from bot.models import Message, MessageStatus
from bot.sending.requests import SendRequest, build_messages
from bot.storage.store import Store
from bot.templating.library import TemplateLibrary
from providers import (
    Channel,
    ConnectionConfig,
    OutboundMessage,
    Provider,
    ProviderError,
    ProviderRateLimitedError,
    ProviderRejectedError,
    ProviderUnavailableError,
    SendResult,
)
from tests.waiting import until

CONFIG = """
[connections.wa]
provider = "sandbox"
channel = "whatsapp"
fallback = "sms"
[connections.sms]
provider = "sandbox"
channel = "sms"
"""


class ScriptedProvider(Provider):
    """Answers each send with the next scripted outcome; records what it was given."""

    name = "scripted"
    channels = frozenset(Channel)

    def __init__(self, config: ConnectionConfig, script: list[ProviderError | None]) -> None:
        super().__init__(config, None, None)  # type: ignore[arg-type]
        self.script = script
        self.sent: list[OutboundMessage] = []

    async def send(self, message: OutboundMessage) -> SendResult:
        outcome = self.script.pop(0) if self.script else None
        if outcome is not None:
            raise outcome
        self.sent.append(message)
        return SendResult(f"p-{len(self.sent)}")


class Recorder:
    def __init__(self) -> None:
        self.seen: list[tuple[str, MessageStatus]] = []

    async def message_changed(self, message: Message) -> None:
        self.seen.append((message.id, message.status))


def _unavailable() -> ProviderError:
    return ProviderUnavailableError("down", provider="scripted", status_code=503)


class Rig:
    def __init__(
        self, tmp_path: Path, wa: list[ProviderError | None], sms: list[ProviderError | None]
    ):
        path = tmp_path / "herald.toml"
        path.write_text(CONFIG)
        self.settings = load_settings({}, path)
        self.store = Store(tmp_path / "h.db")
        self.waits: list[float] = []
        self.wa = ScriptedProvider(self.settings.connections["wa"], wa)
        self.sms = ScriptedProvider(self.settings.connections["sms"], sms)
        self.announced = Recorder()

        async def sleep(seconds: float) -> None:
            self.waits.append(seconds)

        self.delivery = Delivery(
            self.store,
            {"wa": self.wa, "sms": self.sms},
            self.settings.connections,
            lambda: self.announced,
            RetryPolicy(attempts=3, backoff=1.0, max_wait=20, sleep=sleep, random=lambda: 1.0),
            TemplateLibrary(tmp_path / "templates"),
        )

    def send(self, recipients: Sequence[str] = ("+31612345678",)) -> list[Message]:
        request = SendRequest("wa", list(recipients), "Hello", sender="U1", origin="slack")
        built = build_messages(request, self.settings, self.delivery.templates)
        return asyncio.run(self._store_and_deliver(built))

    async def _store_and_deliver(self, built: list[Message]) -> list[Message]:
        stored = await self.store.write(
            lambda tx: tx.add_messages(built, actor="U1", action="send")
        )
        return await self.delivery.deliver(stored)

    def history(self, message: Message) -> list[str]:
        return [f"{e.status.value}:{e.reason or ''}" for e in self.store.history(message.id)]


def test_retry_then_success_sends_exactly_once(tmp_path: Path) -> None:
    rig = Rig(tmp_path, wa=[_unavailable(), None], sms=[])

    (message,) = rig.send()

    assert message.status is MessageStatus.ACCEPTED and message.connection == "wa"
    assert len(rig.wa.sent) == 1 and rig.sms.sent == []
    assert rig.waits == [1.0]
    assert message.attempts == 2
    assert any("attempt 1 failed" in h and "retrying in 1.0s" in h for h in rig.history(message))


def test_backoff_doubles_and_honours_retry_after(tmp_path: Path) -> None:
    limited = ProviderRateLimitedError("slow down", provider="scripted", retry_after=5.0)
    rig = Rig(tmp_path, wa=[_unavailable(), limited, None], sms=[])

    rig.send()

    assert rig.waits == [1.0, 5.0]  # 1 s, then max(2 s, Retry-After 5 s)


def test_client_errors_are_never_retried_nor_failed_over(tmp_path: Path) -> None:
    refused = ProviderRejectedError("invalid number", provider="scripted", status_code=400)
    rig = Rig(tmp_path, wa=[refused], sms=[])

    (message,) = rig.send()

    assert message.status is MessageStatus.FAILED
    assert message.error == "scripted: invalid number (HTTP 400)"
    assert rig.waits == [] and rig.sms.sent == []


def test_exhausted_retries_fail_over_and_say_so(tmp_path: Path) -> None:
    rig = Rig(tmp_path, wa=[_unavailable()] * 3, sms=[])

    (message,) = rig.send()

    assert message.status is MessageStatus.ACCEPTED
    assert message.connection == "sms" and message.failover_from == "wa"
    assert message.channel is Channel.SMS
    assert len(rig.sms.sent) == 1 and rig.wa.sent == []
    assert any(h.startswith("queued:failing over to sms") for h in rig.history(message))


def test_failover_happens_once_and_then_fails_with_attempt_count(tmp_path: Path) -> None:
    rig = Rig(tmp_path, wa=[_unavailable()] * 3, sms=[_unavailable()] * 3)

    (message,) = rig.send()

    assert message.status is MessageStatus.FAILED
    assert message.error == "scripted: down (HTTP 503). Gave up after 3 attempts."


def test_total_wait_is_bounded(tmp_path: Path) -> None:
    rig = Rig(tmp_path, wa=[], sms=[])
    limited = ProviderRateLimitedError("slow down", provider="scripted", retry_after=60.0)
    rig.wa.script = [limited, None]

    (message,) = rig.send()

    assert rig.waits == []  # waiting 60 s would pass max_wait (20 s): fail over at once
    assert message.connection == "sms" and message.status is MessageStatus.ACCEPTED


def test_only_failing_recipients_are_retried(tmp_path: Path) -> None:
    rig = Rig(tmp_path, wa=[None, _unavailable(), None], sms=[])

    first, second = rig.send(["+31612345678", "+4915112345678"])

    assert first.status is second.status is MessageStatus.ACCEPTED
    assert [m.to for m in rig.wa.sent] == ["+31612345678", "+4915112345678"]


def test_rate_limiter_spaces_sends_by_the_configured_rate() -> None:
    now = [0.0]
    starts: list[float] = []

    async def sleep(seconds: float) -> None:
        now[0] += seconds

    async def burst() -> None:
        limiter = RateLimiter(2, clock=lambda: now[0], sleep=sleep)
        for _ in range(6):
            await limiter.acquire()
            starts.append(now[0])

    asyncio.run(burst())

    # two at once, then two more when those are a second old: never 3 within a second
    assert starts == pytest.approx([0, 0, 1.0, 1.0, 2.0, 2.0])


def test_fallback_must_exist_and_reach_the_same_kind_of_recipient(tmp_path: Path) -> None:
    from bot.errors import ConfigError

    path = tmp_path / "herald.toml"
    path.write_text(CONFIG.replace('fallback = "sms"', 'fallback = "smss"'))
    with pytest.raises(ConfigError, match="no connection named 'smss'"):
        load_settings({}, path)
    path.write_text(CONFIG.replace('channel = "sms"', 'channel = "email"'))
    with pytest.raises(ConfigError, match="cannot reach the recipients of 'wa'"):
        load_settings({}, path)


def test_rate_limit_spaces_each_send_not_the_batch(tmp_path: Path) -> None:
    rig = Rig(tmp_path, wa=[], sms=[])
    now = [0.0]
    sent_at: list[float] = []

    async def sleep(seconds: float) -> None:
        now[0] += seconds

    rig.delivery.limiters["wa"] = RateLimiter(2, clock=lambda: now[0], sleep=sleep)
    original = rig.wa.send

    async def timed(message: OutboundMessage) -> SendResult:
        sent_at.append(now[0])
        return await original(message)

    rig.wa.send = timed  # type: ignore[method-assign]

    rig.send(["+31612345678", "+4915112345678", "+31612345679", "+31612345670"])

    assert sent_at == pytest.approx([0, 0, 1.0, 1.0])


def test_acceptance_is_stored_while_the_next_send_is_in_flight(tmp_path: Path) -> None:
    rig = Rig(tmp_path, wa=[], sms=[])
    original = rig.wa.send

    def first_id_findable() -> bool:
        return any(m.provider_message_id == "p-1" for m in rig.store.recent(limit=10))

    async def second_waits(message: OutboundMessage) -> SendResult:
        if rig.wa.sent:  # the first went: this one waits until a receipt could find it
            await _until(first_id_findable, "the first acceptance stored")
        return await original(message)

    rig.wa.send = second_waits  # type: ignore[method-assign]

    first, second = rig.send(["+31612345678", "+4915112345678"])

    # a receipt for the first can find it before the send is over
    assert first.provider_message_id == "p-1" and second.status is MessageStatus.ACCEPTED


def test_a_receipt_during_a_failing_attempt_is_never_overwritten_nor_resent(
    tmp_path: Path,
) -> None:
    rig = Rig(tmp_path, wa=[], sms=[])

    async def delivered_then_503(message: OutboundMessage) -> SendResult:
        # the provider took it, reported delivery by our reference, then its answer was a 503
        await rig.store.set_status(message.reference, MessageStatus.DELIVERED, source="scripted")
        raise _unavailable()

    rig.wa.send = delivered_then_503  # type: ignore[method-assign]

    (message,) = rig.send()

    assert message.status is MessageStatus.DELIVERED
    assert rig.waits == [] and rig.sms.sent == []


def test_an_adapter_crash_fails_the_message_without_a_retry(tmp_path: Path) -> None:
    rig = Rig(tmp_path, wa=[], sms=[])

    async def broken(message: OutboundMessage) -> SendResult:
        raise KeyError("id")

    rig.wa.send = broken  # type: ignore[method-assign]

    (message,) = rig.send()

    assert message.status is MessageStatus.FAILED
    assert "adapter failed (KeyError)" in (message.error or "")
    assert rig.waits == [] and rig.sms.sent == []
    assert rig.announced.seen[-1] == (message.id, MessageStatus.FAILED)


def test_media_that_the_fallback_cannot_carry_fails_clearly(tmp_path: Path) -> None:
    rig = Rig(tmp_path, wa=[_unavailable()] * 3, sms=[])
    request = SendRequest(
        "wa",
        ["+31612345678"],
        "Look",
        sender="U1",
        origin="slack",
        media_urls=["https://cdn.example/a.png"],
    )
    built = build_messages(request, rig.settings, rig.delivery.templates)
    (message,) = asyncio.run(rig._store_and_deliver(built))

    assert message.status is MessageStatus.FAILED
    reason = message.error or ""
    assert "could not fail over to sms: Media needs an MMS, WhatsApp or e-mail connection" in reason
    assert "--" not in reason  # a failure reason names no option: the send was already made
    assert rig.sms.sent == []


def test_a_receipt_during_the_backoff_stops_the_resend(tmp_path: Path) -> None:
    rig = Rig(tmp_path, wa=[_unavailable()], sms=[])

    async def receipt_arrives_while_waiting(seconds: float) -> None:
        (message,) = rig.store.with_status(MessageStatus.QUEUED)
        await rig.store.set_status(message.id, MessageStatus.DELIVERED, source="scripted")

    rig.delivery.policy = RetryPolicy(
        attempts=3, backoff=1.0, sleep=receipt_arrives_while_waiting, random=lambda: 1.0
    )

    (message,) = rig.send()

    assert message.status is MessageStatus.DELIVERED
    assert rig.wa.sent == [] and rig.sms.sent == []  # the provider had it: never sent twice


def test_failover_of_a_template_with_an_email_subject_sends_no_subject(tmp_path: Path) -> None:
    from tests.conftest import TEMPLATES

    rig = Rig(tmp_path, wa=[_unavailable()] * 3, sms=[])
    rig.delivery.templates = TemplateLibrary(TEMPLATES)
    variables = {"name": "Jo", "order": "A1", "carrier": "DHL", "tracking_url": "https://t.ex/1"}
    request = SendRequest(
        "wa",
        ["+31612345678"],
        "",
        sender="U1",
        origin="slack",
        template="order_shipped",  # its header has an e-mail subject
        variables=variables,
    )
    built = build_messages(request, rig.settings, rig.delivery.templates)
    (message,) = asyncio.run(rig._store_and_deliver(built))

    assert message.status is MessageStatus.ACCEPTED and message.connection == "sms"
    assert [(m.subject, m.text[:16]) for m in rig.sms.sent] == [(None, "Hi Jo, good news")]


def test_failover_of_a_stored_template_message_keeps_it_free_of_a_subject(
    tmp_path: Path,
) -> None:
    """A WhatsApp message stored without a subject fails over to SMS without one."""
    from dataclasses import replace

    from tests.conftest import TEMPLATES

    rig = Rig(tmp_path, wa=[_unavailable()] * 3, sms=[])
    rig.delivery.templates = TemplateLibrary(TEMPLATES)
    (built,) = build_messages(
        SendRequest("wa", ["+31612345678"], "Hi", sender="U1", origin="slack"),
        rig.settings,
        rig.delivery.templates,
    )
    variables = {"name": "Jo", "order": "A1", "carrier": "DHL", "tracking_url": "https://t.ex/1"}
    built = replace(built, template="order_shipped", variables=variables)
    (message,) = asyncio.run(rig._store_and_deliver([built]))

    assert message.status is MessageStatus.ACCEPTED and message.connection == "sms"
    assert rig.sms.sent[0].subject is None and rig.sms.sent[0].text.startswith("Hi Jo")


_until = until


def _last_waits_for_an_announcement(rig: Rig, last: str) -> None:
    """The send to ``last`` is held until something was announced."""
    original = rig.wa.send

    async def waiting(message: OutboundMessage) -> SendResult:
        if message.to == last:
            await _until(lambda: rig.announced.seen, "an announcement")
        return await original(message)

    rig.wa.send = waiting  # type: ignore[method-assign]


def test_each_message_is_announced_as_soon_as_it_is_accepted(tmp_path: Path) -> None:
    rig = Rig(tmp_path, wa=[], sms=[])
    _last_waits_for_an_announcement(rig, "+31612345679")

    first, second, _ = rig.send(["+31612345678", "+4915112345678", "+31612345679"])

    # a stop while the later recipients are handed over must not cost the first its receipt
    assert set(rig.announced.seen[:2]) == {
        (first.id, MessageStatus.ACCEPTED),
        (second.id, MessageStatus.ACCEPTED),
    }


def test_a_refusal_is_announced_while_the_next_recipient_is_tried(tmp_path: Path) -> None:
    refused = ProviderRejectedError("invalid number", provider="scripted", status_code=400)
    rig = Rig(tmp_path, wa=[refused, None], sms=[])
    _last_waits_for_an_announcement(rig, "+4915112345678")

    first, second = rig.send(["+31612345678", "+4915112345678"])

    assert rig.announced.seen == [
        (first.id, MessageStatus.FAILED),
        (second.id, MessageStatus.ACCEPTED),
    ]
