"""`loggable`: how a value that came in with a request is written into a log line.

Callback bodies, ids and error details are chosen by whoever sends the request. Written
raw, a newline in a provider id starts a forged log line, an ANSI escape rewrites the
operator's terminal, and a 900 KB id fills the log. Every request value a log line
carries goes through `loggable` first.
"""

from __future__ import annotations

LOG_VALUE_LIMIT = 80


def loggable(value: object, limit: int = LOG_VALUE_LIMIT) -> str:
    """``value`` on one line: control and invisible characters escaped (``\\n``,
    ``\\x1b``, ``\\u202e``), clipped to ``limit`` characters with the full length noted."""
    text = str(value)
    # repr() escapes exactly what str.isprintable() rejects: C0/C1 controls, line and
    # paragraph separators, bidi overrides, zero-width characters. Its quotes are dropped.
    shown = repr(text[:limit])[1:-1]
    if len(text) > limit:
        shown += f"…[{len(text)} chars]"
    return shown
