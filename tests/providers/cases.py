"""The providers the contract suite runs over.

Each ``tests/fakes/<name>_api.py`` defines ``CASE = ProviderCase(...)``; a
provider joins the suite by appearing in `CASE_MODULES`.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from providers import Channel, Provider
from tests.fakes.provider_fake import ProviderFake

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
