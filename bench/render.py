"""Rendering speed: one template with its SMS analysis, against a bare Jinja sandbox.

Renders the shipped ``order_delayed`` with its samples through
``TemplateLibrary.render`` (variables checked, sandbox, filters, SMS analysis, hot
reload) and the same source with the same variables through a bare
``jinja2.sandbox.SandboxedEnvironment`` holding the same filters, in the same run.
Prints renders per second for each (best of ``ROUNDS`` rounds of ``RENDERS``) and
their ratio; the target for Herald is ≥ 20,000 renders/s with analysis on 2 cores.
A third line renders with a different value each time, so the SMS analysis is
never served from its cache (per-recipient variables).

Run: ``make bench`` (or ``python bench/render.py``; ``BENCH_RENDERS``, ``BENCH_ROUNDS``,
``BENCH_TEMPLATE``).
"""

from __future__ import annotations

import os
import sys
import time
from collections.abc import Callable
from pathlib import Path

import jinja2
from jinja2.sandbox import SandboxedEnvironment

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bot.templating import TemplateLibrary
from bot.templating.filters import FILTERS

TEMPLATES = Path(__file__).resolve().parent.parent / "templates"
NAME = os.environ.get("BENCH_TEMPLATE", "order_delayed")
RENDERS = int(os.environ.get("BENCH_RENDERS", "20000"))
ROUNDS = int(os.environ.get("BENCH_ROUNDS", "5"))
TARGET = 20_000


def rate(render: Callable[[int], object]) -> float:
    """Renders per second: the best of ``ROUNDS`` rounds of ``RENDERS`` renders."""
    best = 0.0
    for _ in range(ROUNDS):
        start = time.perf_counter()
        for i in range(RENDERS):
            render(i)
        best = max(best, RENDERS / (time.perf_counter() - start))
    return best


def main() -> None:
    library = TemplateLibrary(TEMPLATES)
    variables = dict(library.info(NAME).samples)
    bare_env = SandboxedEnvironment(undefined=jinja2.StrictUndefined, autoescape=False)
    bare_env.filters.update(FILTERS)
    bare = bare_env.from_string((TEMPLATES / f"{NAME}.j2").read_text(encoding="utf-8"))
    expected = library.render(NAME, variables).text
    assert bare.render(variables).strip() == expected, "the two renders differ"
    first = next(iter(variables))
    varied = [{**variables, first: f"{variables[first]} {i}"} for i in range(RENDERS)]

    herald = rate(lambda i: library.render(NAME, variables).sms)
    fresh = rate(lambda i: library.render(NAME, varied[i]).sms)
    jinja = rate(lambda i: bare.render(variables).strip())
    print(f"render {NAME} ({len(expected)} characters), best of {ROUNDS} x {RENDERS}:")
    print(f"  Herald render + SMS analysis     : {herald:9,.0f}/s (target ≥ {TARGET:,})")
    print(f"  the same, a new text every time  : {fresh:9,.0f}/s")
    print(f"  bare Jinja SandboxedEnvironment  : {jinja:9,.0f}/s")
    print(f"  Herald / bare Jinja              : {herald / jinja:9.2f}")


if __name__ == "__main__":
    main()
