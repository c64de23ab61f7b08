"""The providers the contract suite runs over.

Each ``tests/fakes/<name>_api.py`` defines ``CASE = ProviderCase(...)``; a
provider joins the suite by appearing in `CASE_MODULES`.
"""

from __future__ import annotations

import asyncio
import importlib
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any, TypeVar

import httpx

from bot.config.settings import ConnectionConfig
from providers import Channel, Provider
from tests.fakes.provider_fake import ProviderFake

T = TypeVar("T")

CASE_MODULES = ("bird", "callbell", "sociocs", "capillary")


@dataclass(frozen=True)
class ProviderCase:
    name: str  # registry key
    provider: type[Provider]
    fake: type[ProviderFake]
    channel: Channel  # a channel the provider carries
    recipient: str  # a valid recipient on that channel
    options: Callable[[ProviderFake], dict[str, Any]]  # connection keys the fake accepts
    wrong_options: Callable[[ProviderFake], dict[str, Any]]  # keys the fake refuses (401/403)
    # A success-coded answer (status, body) in which the provider refuses the message in
    # the given words, as its documents show one (the words land in the error's detail).
    refusal: Callable[[str], tuple[int, Any]]
    # Connection keys the fake accepts that, between them, give every one of the
    # provider's `secret_keys` a value (default: `options` alone).
    secret_options: Callable[[ProviderFake], list[dict[str, Any]]] | None = None
    unsupported_channel: Channel | None = None  # a channel it must refuse at startup

    def option_sets(self, fake: ProviderFake) -> list[dict[str, Any]]:
        return self.secret_options(fake) if self.secret_options else [self.options(fake)]


def load_cases() -> list[ProviderCase]:
    """Import the fakes now (not when this module loads: the fakes import `ProviderCase`)."""
    cases = []
    for name in CASE_MODULES:
        try:
            module = importlib.import_module(f"tests.fakes.{name}_api")
        except ModuleNotFoundError as exc:
            if exc.name != f"tests.fakes.{name}_api":
                raise
            continue
        cases.append(module.CASE)
    return cases


async def no_receipts(receipts: Any) -> None:
    return None


def run_provider(
    case: ProviderCase,
    fake: ProviderFake,
    call: Callable[[Provider], Awaitable[T]],
    *,
    options: dict[str, Any] | None = None,
    channel: Channel | None = None,
    base_url: str | None = None,
    timeout: float = 5.0,
    webhook_token: str | None = None,
    in_process: bool = False,
) -> T:
    """``call`` on ``case``'s provider, configured for ``fake`` (``in_process``: through
    the fake's transport, else over loopback HTTP), closed afterwards."""
    config = ConnectionConfig(
        name="conn",
        provider=case.name,
        channel=channel or case.channel,
        base_url=base_url or fake.base_url,
        webhook_token=webhook_token,
        options=case.options(fake) if options is None else options,
    )

    async def go() -> T:
        transport = {"transport": fake.transport()} if in_process else {}
        async with httpx.AsyncClient(timeout=httpx.Timeout(timeout), **transport) as client:
            provider = case.provider(config, client, no_receipts)
            try:
                return await call(provider)
            finally:
                await provider.aclose()

    return asyncio.run(go())
