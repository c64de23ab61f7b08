"""Checking single configuration values: their type, range and form, and what an error shows.

Each check raises a `ConfigError` whose one line names the key and says what the
value must be. A message never carries what came from the environment: `scrub`
replaces every ``${VAR}`` value in it by the variable's name, whichever check (the
core's or a provider's) wrote it, and `one_line` escapes what would break the line.
"""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Mapping
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from bot.errors import ConfigError

MAX_TIMEOUT = 300.0  # seconds; a longer wait for one provider answer holds a send hostage
MAX_RATE = 1000.0  # sends per second per connection
MAX_RETRY_ATTEMPTS = 100
MAX_RETRY_WAIT = 3600.0  # seconds of waiting, in all, before a message fails


def kind(value: Any) -> str:
    """What a TOML value is, in words (never the value itself, which may be a secret)."""
    if isinstance(value, bool):
        return "true/false"
    if isinstance(value, int | float):
        return "a number"
    if isinstance(value, str):
        return "text"
    if isinstance(value, list):
        return "a list"
    if isinstance(value, dict):
        return "a table"
    if isinstance(value, dt.date | dt.time):
        return "a date or time"
    return type(value).__name__


def text(value: Any, name: str) -> str | None:
    """``value`` as text, or None when the key is absent; refuses other types and blanks."""
    if value is None:
        return None
    if not isinstance(value, str):
        raise ConfigError(f'{name} must be text in quotes ("…"), not {kind(value)}')
    if not value.strip():
        raise ConfigError(f"{name} is empty; give a value or leave the key out")
    return value


def number(
    value: Any, name: str, *, high: float, unit: str, whole: bool = False, low: float = 0
) -> float:
    """A finite number in (``low``, ``high``] (``[low, high]`` for ``whole`` numbers)."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise ConfigError(f"{name} must be a number of {unit}, not {kind(value)}")
    if whole and not isinstance(value, int):
        raise ConfigError(f"{name} must be a whole number of {unit}, not {value!r}")
    if not math.isfinite(value):
        raise ConfigError(f"{name} must be a finite number of {unit}, not {value!r}")
    above = value >= low if whole else value > low
    if not above or value > high:
        lowest = f"at least {low:g}" if whole else f"more than {low:g}"
        raise ConfigError(f"{name} must be {lowest} and at most {high:g} {unit}, not {value!r}")
    return float(value)


def refuse_non_finite(table: Mapping[str, Any], where: str, prefix: str = "") -> None:
    """No key of Herald's takes ``nan`` or ``inf`` (TOML allows both): name the first one.

    ``nan`` compares false with everything, so a range check alone lets it through
    (``max_per_second = nan`` turned the rate limit off).
    """
    for key, value in table.items():
        name = f"{prefix}{key}"
        values = value if isinstance(value, list) else [value]
        for item in values:
            if isinstance(item, dict):
                refuse_non_finite(item, where, f"{name}.")
            elif isinstance(item, float) and not math.isfinite(item):
                raise ConfigError(f"{where}: {name} is {item}; give a finite number")


def check_url(value: str, name: str) -> str:
    """``value`` if it is a plain http(s) URL: no credentials, query or fragment in it.

    Credentials in a URL (``https://user:pass@host``) would reach every log line that
    shows the URL (httpx logs each request's URL), exceptions and reprs; every provider
    takes its credentials in its own keys, which stay out of all of them.
    """
    try:
        parts = urlsplit(value)
        _ = parts.port  # reading it checks the port: ':99999' raises here
    except ValueError:
        raise ConfigError(
            f"{name} is not a usable URL; write it like https://api.example.com"
        ) from None
    if "@" in parts.netloc:
        raise ConfigError(
            f"{name} must not carry a user name or password (user:pass@…); put credentials "
            "in the connection's own keys from the environment, which never reach the logs"
        )
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ConfigError(
            f"{name} must be an http(s) URL like https://herald.example.com, not {value!r}"
        )
    if parts.query or parts.fragment or value.rstrip().endswith(("?", "#")):
        raise ConfigError(f"{name} must not have a query (?…) or fragment (#…): only a path")
    if any(not c.isprintable() or c.isspace() for c in value):
        raise ConfigError(f"{name} must not contain spaces or control characters")
    return value


def scrub(message: str, substituted: Mapping[str, str]) -> str:
    """``message`` with each ``${VAR}`` value in it written as ``${VAR}``.

    A value is replaced as written and as ``repr`` shows it; a value of one or two
    characters (no secret) only where it stands quoted, so the message stays readable.
    """
    for name, value in sorted(substituted.items(), key=lambda item: -len(item[1])):
        if not value:
            continue
        shown = "${" + name + "}"
        escaped = repr(value)[1:-1]
        for form in (f"'{escaped}'", f'"{escaped}"', f"'{value}'", f'"{value}"'):
            message = message.replace(form, f"'{shown}'")
        if len(value) >= 3:
            message = message.replace(value, shown).replace(escaped, shown)
    return message


def one_line(message: str) -> str:
    """``message`` with control characters escaped, so it prints on one line."""
    return "".join(c if c.isprintable() else repr(c)[1:-1] for c in message)


def resolve_path(base: Path, value: str, name: str) -> Path:
    """``value`` as a path; a relative one is relative to ``base`` (the config file's folder)."""
    try:
        path = Path(value).expanduser()
    except RuntimeError:  # "~someone/…" for a user that does not exist
        raise ConfigError(f"{name}: cannot find the home directory in {value!r}") from None
    return path if path.is_absolute() else base / path


def port(value: str | None, default: int) -> int:
    """The ``PORT`` variable as a TCP port (``default`` when unset)."""
    if not value:
        return default
    try:
        chosen = int(value)
    except ValueError:
        raise ConfigError(f"PORT must be a number, not {value!r}") from None
    if not 0 <= chosen <= 65535:
        raise ConfigError(f"PORT must be between 0 and 65535, not {chosen}")
    return chosen
