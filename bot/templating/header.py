"""The optional TOML header of a message template (described in `bot.templating.library`).

`parse_header` reads and validates it and raises `HeaderProblem` with what is
wrong and, where known, the line in the file; `bot.templating.library` names the file.
"""

from __future__ import annotations

import re
import tomllib
from dataclasses import dataclass, field
from datetime import date, time
from typing import Any

from bot.suggest import did_you_mean
from providers import PROVIDERS, Channel, ProviderTemplate

# A Jinja comment at the very top of the file: "{#" or "{#-" … "#}" or "-#}".
_HEADER = re.compile(r"\A\s*\{#[-+]?(?P<toml>.*?)[-+]?#\}", re.DOTALL)
# A top comment is the header when a line in it reads like TOML or names a header key;
# any other comment there is an ordinary Jinja comment.
_LOOKS_LIKE_HEADER = re.compile(
    r"^\s*(\[|[\w\"'.-]+\s*=|(description|channels|subject|confidential|samples|provider_templates)\b)",
    re.MULTILINE,
)
_TOML_POSITION = re.compile(r"\s*\(at (?:line (\d+), column \d+|end of document)\)$")
_KEYS = ("description", "channels", "subject", "confidential", "samples", "provider_templates")
_PROVIDER_KEYS = ("id", "version", "locale", "parameters")


class HeaderProblem(ValueError):
    """What is wrong with a header; ``line`` counts from the top of the file when known."""

    def __init__(self, message: str, line: int | None = None) -> None:
        super().__init__(message)
        self.line = line


@dataclass(frozen=True)
class TemplateHeader:
    """A parsed header; provider parameters are still Jinja source."""

    description: str | None = None
    channels: frozenset[Channel] = frozenset(Channel)
    subject: str | None = None
    confidential: bool = False  # receipts in Slack do not show the text (one-time codes)
    samples: dict[str, str] = field(default_factory=dict)
    provider_templates: dict[str, ProviderTemplate] = field(default_factory=dict)


def parse_header(source: str) -> TemplateHeader:
    """The header at the top of ``source``, or the defaults when there is none."""
    match = _HEADER.match(source)
    if match is None or not _LOOKS_LIKE_HEADER.search(match["toml"]):
        return TemplateHeader()
    lines_before = source.count("\n", 0, match.start("toml"))
    last_line = source.count("\n", 0, match.end("toml")) + 1
    try:
        data = tomllib.loads(match["toml"])
    except tomllib.TOMLDecodeError as exc:
        message = str(exc)
        position = _TOML_POSITION.search(message)
        line = None
        if position:
            line = int(position[1]) + lines_before if position[1] else last_line
        problem = _TOML_POSITION.sub("", message)
        raise HeaderProblem(
            f"the header (the comment at the top) is not valid TOML: {problem}", line
        ) from None
    _refuse_unknown(data, _KEYS, "the header")
    channels = data.get("channels", [c.value for c in Channel])
    if not isinstance(channels, list) or not channels:
        raise HeaderProblem('channels must be a list like ["sms", "whatsapp"]')
    confidential = data.get("confidential", False)
    if not isinstance(confidential, bool):
        raise HeaderProblem("confidential must be true or false")
    return TemplateHeader(
        description=_text(data, "description"),
        confidential=confidential,
        channels=frozenset(_channel(c) for c in channels),
        subject=_text(data, "subject"),
        samples={k: _sample(k, v) for k, v in _table(data, "samples").items()},
        provider_templates={
            p: _provider_template(p, _table(t, "", f"provider_templates.{p}"))
            for p, t in _table(data, "provider_templates").items()
        },
    )


def _provider_template(provider: str, data: dict[str, Any]) -> ProviderTemplate:
    where = f"provider_templates.{provider}"
    if provider not in PROVIDERS:
        raise HeaderProblem(
            f"[{where}] names an unknown provider{did_you_mean(provider, PROVIDERS)}; "
            f"providers are {', '.join(PROVIDERS)}"
        )
    _refuse_unknown(data, _PROVIDER_KEYS, f"[{where}]")
    template_id = _text(data, "id", where)
    if not template_id:
        raise HeaderProblem(f'[{where}] needs the provider\'s template id: id = "…"')
    parameters = _table(data, "parameters", where)
    for key, value in parameters.items():
        if not isinstance(value, str):
            raise HeaderProblem(
                f'{where}.parameters.{key} must be text in quotes, like "{{{{ name }}}}"'
            )
    return ProviderTemplate(
        id=template_id,
        parameters=parameters,
        version=_text(data, "version", where),
        locale=_text(data, "locale", where),
    )


def _channel(value: Any) -> Channel:
    try:
        return Channel(value)
    except ValueError:
        names = ", ".join(c.value for c in Channel)
        raise HeaderProblem(
            f"channels lists {value!r}, which is not a channel; use {names}"
        ) from None


def _sample(key: str, value: Any) -> str:
    if isinstance(value, str):
        return value
    if isinstance(value, int | float) and not isinstance(value, bool):
        return str(value)
    if isinstance(value, date | time):  # TOML dates and times (datetime is a date)
        return value.isoformat()
    raise HeaderProblem(f'samples.{key} must be text, a number or a date, like {key} = "…"')


def _text(data: dict[str, Any], key: str, where: str = "") -> str | None:
    value = data.get(key)
    if value is None or isinstance(value, str):
        return value
    raise HeaderProblem(f'{_dotted(where, key)} must be text in quotes, like {key} = "…"')


def _table(data: dict[str, Any], key: str, where: str = "") -> dict[str, Any]:
    value = data if not key else data.get(key, {})
    if isinstance(value, dict):
        return value
    raise HeaderProblem(f"{_dotted(where, key)} must be a table, written [{_dotted(where, key)}]")


def _refuse_unknown(data: dict[str, Any], known: tuple[str, ...], where: str) -> None:
    for key in data:
        if key not in known:
            raise HeaderProblem(
                f"{where} has an unknown key {key!r}{did_you_mean(key, known)}; "
                f"the keys are {', '.join(known)}"
            )


def _dotted(where: str, key: str) -> str:
    return ".".join(part for part in (where, key) if part)
