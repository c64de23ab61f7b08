"""The Jinja side of message templates: the sandbox they render in, and the variables they need."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import jinja2
from jinja2 import meta, nodes
from jinja2.exceptions import SecurityError
from jinja2.runtime import Context
from jinja2.sandbox import ImmutableSandboxedEnvironment

from bot.templating.files import RECHECK_AFTER, Clock, RecheckingLoader
from bot.templating.filters import FILTERS

_GUARDING_TESTS = frozenset({"defined", "undefined"})
_GUARDING_FILTERS = frozenset({"default", "d"})


class MessageEnvironment(ImmutableSandboxedEnvironment):
    """Jinja's sandbox for plain-text messages, with the message filters.

    The sandbox refuses Python internals (``__class__``, ``__globals__``, …) and
    changing objects (``list.append``); this also refuses the arithmetic that
    could exhaust memory or CPU (``"x" * 10**9``, ``2 ** 10**9``). It is not a
    resource limit: templates are written by the team, not by customers. A
    missing variable is an error, never an empty string. An ``{% include %}``d file
    is looked at again at most every ``recheck_after`` seconds (`bot.templating.files`).
    """

    intercepted_binops = frozenset({"*", "**"})
    max_power_bits = 10_000
    max_repeat = 10_000

    def __init__(
        self, directory: Path, clock: Clock = time.monotonic, recheck_after: float = RECHECK_AFTER
    ) -> None:
        super().__init__(
            loader=RecheckingLoader(directory, clock, recheck_after),  # for {% include %}
            undefined=jinja2.StrictUndefined,
            autoescape=False,  # plain-text messages, not HTML
            keep_trailing_newline=False,
            auto_reload=True,
        )
        self.filters.update(FILTERS)

    def call_binop(self, context: Context, operator: str, left: Any, right: Any) -> Any:
        power = operator == "**" and isinstance(left, int) and isinstance(right, int)
        if power and abs(left) > 1 and left.bit_length() * right > self.max_power_bits:
            raise SecurityError(f"raising {left} to the power {right} is not allowed")
        if operator == "*":
            size = next((len(x) for x in (left, right) if isinstance(x, str | list | tuple)), 0)
            count = next((x for x in (left, right) if isinstance(x, int)), 0)
            if size * count > self.max_repeat:
                raise SecurityError(f"repeating something {count} times is not allowed")
        return super().call_binop(context, operator, left, right)


def find_variables(
    asts: list[nodes.Template], globals_: set[str]
) -> tuple[frozenset[str], frozenset[str], tuple[str, ...]]:
    """Required and optional variables of ``asts``, and all of them in order of first use.

    A variable is optional when the template guards it somewhere with ``is defined``,
    ``is undefined`` or ``| default(…)``.
    """
    undeclared: set[str] = set()
    for ast in asts:
        undeclared |= meta.find_undeclared_variables(ast)
    undeclared -= globals_
    guarded = {
        node.node.name
        for ast in asts
        for node in ast.find_all((nodes.Test, nodes.Filter))
        if isinstance(node.node, nodes.Name)
        and node.name in (_GUARDING_TESTS if isinstance(node, nodes.Test) else _GUARDING_FILTERS)
    }
    names = (node.name for ast in asts for node in ast.find_all(nodes.Name))
    order = tuple(dict.fromkeys(name for name in names if name in undeclared))
    return frozenset(undeclared - guarded), frozenset(undeclared & guarded), order
