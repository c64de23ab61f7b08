"""Reading a delivery callback's body as JSON without letting its shape hurt the server.

Callback bodies come from the internet, and are read before (Callbell's connection
checks) or right after their signature is checked. ``json.loads`` alone raises
``RecursionError`` on deep nesting (a body of ten thousand ``[`` is enough), takes
``NaN`` and ``Infinity`` (not JSON), and builds structures that a later recursive walk,
such as the ``json.dumps`` that stores a receipt's raw payload, may not survive.
`loads` turns each of those into a `CallbackJSONError`, a ``ValueError`` every
parser already answers with 400; `load_object` also refuses anything but an object, which
every provider's callback is. `text_of` reads a field that should be text.
"""

from __future__ import annotations

import json
from typing import Any

# Real callbacks nest a handful of levels (Meta's error objects inside Callbell's
# messageStatusPayload are the deepest seen, about 8); 32 leaves room for any provider
# while staying far below Python's recursion limit wherever the value travels next.
MAX_DEPTH = 32


class CallbackJSONError(ValueError):
    """The body is not JSON Herald will read; ``str()`` says why, without the body."""


def loads(body: bytes | str) -> Any:
    """The body as JSON; `CallbackJSONError` if it is not JSON, holds ``NaN`` or
    ``Infinity``, or nests deeper than `MAX_DEPTH`."""
    try:
        value = json.loads(body, parse_constant=_no_constants)
    except RecursionError:
        raise CallbackJSONError(_too_deep()) from None
    except CallbackJSONError:
        raise
    except ValueError:  # JSONDecodeError, UnicodeDecodeError, an int past 4300 digits
        raise CallbackJSONError("the body is not JSON") from None
    if not _within_depth(value):
        raise CallbackJSONError(_too_deep())
    return value


def load_object(body: bytes | str) -> dict[str, Any]:
    """The body as a JSON object; `CallbackJSONError` as `loads`, or if it is not an object."""
    value = loads(body)
    if not isinstance(value, dict):
        raise CallbackJSONError("the body is not a JSON object")
    return value


def text_of(value: Any) -> str | None:
    """A callback field as text: a non-blank string, stripped; None for anything else."""
    return value.strip() or None if isinstance(value, str) else None


def _no_constants(name: str) -> Any:
    raise CallbackJSONError(f"the body holds {name}, which JSON does not allow")


def _too_deep() -> str:
    return f"the body nests deeper than {MAX_DEPTH} levels"


def _within_depth(value: Any) -> bool:
    # A loop, not recursion: the point is not to recurse on what a stranger sent.
    stack: list[tuple[Any, int]] = [(value, 1)] if isinstance(value, dict | list) else []
    while stack:
        item, depth = stack.pop()
        if depth > MAX_DEPTH:
            return False
        children = item.values() if isinstance(item, dict) else item
        stack.extend((child, depth + 1) for child in children if isinstance(child, dict | list))
    return True
