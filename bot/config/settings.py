"""Settings: read once at startup from ``herald.toml`` and the environment.

`load_settings` returns a frozen `Settings`; nothing else in Herald reads the
environment. Every problem is a `ConfigError` whose one line names the file, the
key or the variable to fix, and never shows a value that came from a ``${VAR}``.
"""

from __future__ import annotations

import codecs
import os
import re
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import tzlocal

from bot.config.values import (
    MAX_RATE,
    MAX_RETRY_ATTEMPTS,
    MAX_RETRY_WAIT,
    MAX_TIMEOUT,
    check_url,
    kind,
    number,
    one_line,
    port,
    refuse_non_finite,
    resolve_path,
    scrub,
    text,
)
from bot.errors import ConfigError, InputError
from bot.scheduling.when import parse_duration
from bot.scheduling.zones import known_zone, zone_names
from bot.suggest import closest, did_you_mean
from providers import PROVIDERS, Channel, ConnectionConfig, ProviderError
from providers.base import DEFAULT_POLL_PER_SECOND

DEFAULT_CONFIG_FILE = "herald.toml"
DEFAULT_DB_PATH = "data/herald.db"
DEFAULT_TEMPLATES_DIR = "templates"
DEFAULT_LISTS_DIR = "lists"
DEFAULT_MAX_RECIPIENTS = 10_000
MAX_MAX_RECIPIENTS = 1_000_000  # a send is stored in one transaction
DEFAULT_COMMAND = "/send"
DEFAULT_PORT = 3000
DEFAULT_INDIVIDUAL_UP_TO = 5
MAX_INDIVIDUAL_UP_TO = 100  # receipts per send: more would flood the channel (~1 post/s)
DEFAULT_CONCURRENCY = 8
MAX_CONCURRENCY = 100  # requests in flight per connection

RESERVED_WORDS = frozenset({"help", "list", "cancel", "reschedule", "status", "templates"})
CONNECTION_NAME = re.compile(r"^[a-z0-9][a-z0-9_-]{0,31}$")
COMMON_CONNECTION_KEYS = (
    "provider",
    "channel",
    "base_url",
    "webhook_token",
    "fallback",
    "max_per_second",
    "max_concurrency",
    "connect_timeout",
    "read_timeout",
    "poll",
    "poll_per_second",
)
SECTIONS: dict[str, tuple[str, ...]] = {
    "slack": ("command",),
    "delivery": ("retry_attempts", "retry_backoff", "retry_max_wait"),
    "storage": ("path",),
    "templates": ("dir",),
    "server": ("public_url",),
    "privacy": ("mask_recipients",),
    "scheduling": ("timezone", "missed_grace", "horizon"),
    "lists": ("dir",),
    "limits": ("max_recipients",),
    "receipts": ("individual_up_to",),
    "connections": (),
}
_VAR = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)\}")
MIN_HORIZON = timedelta(minutes=1)
# listed among the zones on some systems, but no zone to read times in: "localtime" is
# whatever /etc/localtime is (and dateparser cannot look it up), "Factory" has no offset
# missed_grace may be zero (never send late); parse_duration refuses zero everywhere else
_ZERO = re.compile(
    r"0+(?:\.0+)?\s*(?:s|m|h|d|w|sec|secs|seconds?|mins?|minutes?|hrs?|hours?|days?|weeks?)?"
)


@dataclass(frozen=True)
class SlackSettings:
    command: str = DEFAULT_COMMAND
    bot_token: str | None = field(default=None, repr=False)
    signing_secret: str | None = field(default=None, repr=False)
    api_url: str | None = None
    app_token: str | None = field(default=None, repr=False)

    def require_credentials(self) -> tuple[str, str]:
        """The bot token and signing secret, or a `ConfigError` naming what is missing."""
        missing = [
            name
            for name, value in (
                ("SLACK_BOT_TOKEN", self.bot_token),
                ("SLACK_SIGNING_SECRET", self.signing_secret),
            )
            if not value
        ]
        if missing:
            raise ConfigError(
                f"{' and '.join(missing)} {'is' if len(missing) == 1 else 'are'} not set: "
                "create the Slack app from app_manifest.yaml (README, 'Creating the Slack app') "
                "and export its bot token and signing secret"
            )
        assert self.bot_token and self.signing_secret
        if not self.bot_token.startswith("xoxb-"):
            raise ConfigError("SLACK_BOT_TOKEN must be a bot token starting with 'xoxb-'")
        return self.bot_token, self.signing_secret


@dataclass(frozen=True)
class DeliverySettings:
    """How hard Herald tries before a message fails (or fails over)."""

    retry_attempts: int = 4
    retry_backoff: float = 0.5
    retry_max_wait: float = 30.0


@dataclass(frozen=True)
class SchedulingSettings:
    """Scheduled sends: the zone CLI times are read in, and the two limits on time.

    ``missed_grace`` is how late a send that fell due while Herald was down may still go
    out (0 = never late: it fails as missed); ``horizon`` how far ahead one may be set.
    """

    timezone: ZoneInfo | None = None
    missed_grace: timedelta = timedelta(hours=1)
    horizon: timedelta = timedelta(days=400)

    def zone(self) -> ZoneInfo:
        """The configured zone, else the system's, else UTC."""
        if self.timezone is not None:
            return self.timezone
        try:
            found = tzlocal.get_localzone()
        except Exception:  # an unreadable /etc/localtime or TZ: times are read in UTC
            return ZoneInfo("UTC")
        # dateparser reads phrases by the zone's name, so a zone without a key will not do
        if isinstance(found, ZoneInfo) and found.key:
            return found
        return ZoneInfo("UTC")


@dataclass(frozen=True)
class LimitsSettings:
    """How big one send may be: typed recipients and list rows alike."""

    max_recipients: int = DEFAULT_MAX_RECIPIENTS


@dataclass(frozen=True)
class ReceiptSettings:
    """Receipts in Slack: a send to more than ``individual_up_to`` recipients gets one
    summary receipt instead of one receipt per message."""

    individual_up_to: int = DEFAULT_INDIVIDUAL_UP_TO


@dataclass(frozen=True)
class Settings:
    slack: SlackSettings
    db_path: Path
    templates_dir: Path
    connections: Mapping[str, ConnectionConfig]
    delivery: DeliverySettings = field(default_factory=DeliverySettings)
    scheduling: SchedulingSettings = field(default_factory=SchedulingSettings)
    public_url: str | None = None
    mask_recipients: bool = True
    port: int = DEFAULT_PORT
    config_path: Path | None = None
    lists_dir: Path = Path(DEFAULT_LISTS_DIR)  # recipient lists: NAME.csv, sent to as @NAME
    limits: LimitsSettings = field(default_factory=LimitsSettings)
    receipts: ReceiptSettings = field(default_factory=ReceiptSettings)


def load_settings(
    environ: Mapping[str, str] | None = None, config_path: Path | str | None = None
) -> Settings:
    """Read the config file (or the embedded default) and the environment."""
    env = dict(os.environ if environ is None else environ)
    substituted: dict[str, str] = {}  # ${VAR} name → value, kept out of every error
    try:
        return _load(env, config_path, substituted)
    except ConfigError as exc:
        problem = str(exc)
    # Raised outside the except block, so the unscrubbed error is not kept as its context.
    raise ConfigError(one_line(scrub(problem, substituted)))


def _load(
    env: Mapping[str, str], config_path: Path | str | None, substituted: dict[str, str]
) -> Settings:
    path = _config_path(env, config_path)
    raw: dict[str, Any] = {}
    where = "embedded default"
    if path is not None:
        where = str(path)
        raw = _read_toml(path)
        refuse_non_finite(raw, where)
        raw = _interpolate(raw, env, where, "", substituted)
    _check_keys(raw, SECTIONS, where, "")
    base = path.parent if path is not None else Path.cwd()

    slack_raw = raw.get("slack", {})
    command = text(slack_raw.get("command"), f"{where}: slack.command") or DEFAULT_COMMAND
    if not re.fullmatch(r"/[a-z0-9_-]{1,31}", command):
        raise ConfigError(f"{where}: slack.command must look like '/send', not {command!r}")
    api_url = env.get("SLACK_API_URL") or None
    if api_url is not None:
        check_url(api_url, "SLACK_API_URL")
    slack = SlackSettings(
        command=command,
        bot_token=env.get("SLACK_BOT_TOKEN") or None,
        signing_secret=env.get("SLACK_SIGNING_SECRET") or None,
        api_url=api_url,
        app_token=env.get("SLACK_APP_TOKEN") or None,
    )
    if slack.app_token and not slack.app_token.startswith("xapp-"):
        raise ConfigError("SLACK_APP_TOKEN must be an app-level token starting with 'xapp-'")

    db_value = env.get("HERALD_DB") or text(
        raw.get("storage", {}).get("path"), f"{where}: storage.path"
    )
    templates_value = text(raw.get("templates", {}).get("dir"), f"{where}: templates.dir")
    mask = raw.get("privacy", {}).get("mask_recipients", True)
    if not isinstance(mask, bool):
        raise ConfigError(f"{where}: privacy.mask_recipients must be true or false")
    public_url = text(raw.get("server", {}).get("public_url"), f"{where}: server.public_url")
    if public_url is not None:
        check_url(public_url, f"{where}: server.public_url")

    connections = _connections(raw.get("connections"), where, path is None)
    _check_fallbacks(connections, where)
    return Settings(
        slack=slack,
        delivery=_delivery(raw.get("delivery", {}), where),
        scheduling=_scheduling(raw.get("scheduling", {}), where),
        receipts=_receipts(raw.get("receipts", {}), where),
        db_path=Path(env["HERALD_DB"])
        if env.get("HERALD_DB")
        else resolve_path(base, db_value or DEFAULT_DB_PATH, f"{where}: storage.path"),
        templates_dir=resolve_path(
            base, templates_value or DEFAULT_TEMPLATES_DIR, f"{where}: templates.dir"
        ),
        connections=connections,
        lists_dir=resolve_path(
            base,
            text(raw.get("lists", {}).get("dir"), f"{where}: lists.dir") or DEFAULT_LISTS_DIR,
            f"{where}: lists.dir",
        ),
        limits=LimitsSettings(
            max_recipients=int(
                number(
                    raw.get("limits", {}).get("max_recipients", DEFAULT_MAX_RECIPIENTS),
                    f"{where}: limits.max_recipients",
                    high=MAX_MAX_RECIPIENTS,
                    low=1,
                    unit="recipients",
                    whole=True,
                )
            )
        ),
        public_url=public_url.rstrip("/") if public_url else None,
        mask_recipients=mask,
        port=port(env.get("PORT"), DEFAULT_PORT),
        config_path=path,
    )


def _config_path(env: Mapping[str, str], explicit: Path | str | None) -> Path | None:
    # the core names no command-line option: a path given explicitly is the caller's own
    named_by = ""
    if explicit is not None:
        chosen = Path(explicit)
    elif env.get("HERALD_CONFIG"):
        chosen, named_by = Path(env["HERALD_CONFIG"]), " (set by HERALD_CONFIG)"
    else:
        default = Path(DEFAULT_CONFIG_FILE)
        return default.resolve() if default.is_file() else None
    if chosen.is_dir():
        raise ConfigError(f"config file {chosen} is a directory{named_by}")
    if not chosen.is_file():
        raise ConfigError(f"config file {chosen} does not exist{named_by}")
    return chosen.resolve()


def _read_toml(path: Path) -> dict[str, Any]:
    """The config file as a table; a file that cannot be read as UTF-8 TOML is one line."""
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise ConfigError(f"{path}: cannot read it: {exc.strerror or exc}") from None
    # a byte-order mark (some Windows editors write one) is not an error
    data = data.removeprefix(codecs.BOM_UTF8)
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = data[: exc.start].count(b"\n") + 1
        raise ConfigError(
            f"{path}: line {line} is not UTF-8 text (byte 0x{data[exc.start]:02x}); "
            "save the file as UTF-8"
        ) from None
    try:
        return tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{path}: not valid TOML: {exc}") from None


def _interpolate(
    value: Any, env: Mapping[str, str], where: str, key: str, substituted: dict[str, str]
) -> Any:
    """``value`` with each ``${VAR}`` replaced from ``env``; records each in ``substituted``."""
    if isinstance(value, dict):
        return {
            k: _interpolate(v, env, where, f"{key}.{k}" if key else k, substituted)
            for k, v in value.items()
        }
    if isinstance(value, list):
        return [_interpolate(v, env, where, key, substituted) for v in value]
    if isinstance(value, str):

        def substitute(match: re.Match[str]) -> str:
            name = match.group(1)
            if name not in env:
                raise ConfigError(
                    f"{where}: {key} uses ${{{name}}}, but the environment variable "
                    f"{name} is not set"
                )
            substituted[name] = env[name]
            return env[name]

        return _VAR.sub(substitute, value)
    return value


def _check_keys(
    table: Mapping[str, Any], allowed: Mapping[str, Any] | tuple[str, ...], where: str, prefix: str
) -> None:
    for key in table:
        if key not in allowed:
            choices = ", ".join(allowed)
            raise ConfigError(
                f"{where}: unknown key '{prefix}{key}'{did_you_mean(key, allowed)}; "
                f"known keys: {choices}"
            )
    if isinstance(allowed, Mapping):
        for section, keys in allowed.items():
            if section != "connections" and section in table:
                if not isinstance(table[section], dict):
                    raise ConfigError(f"{where}: [{section}] must be a table")
                _check_keys(table[section], keys, where, f"{section}.")


def _connections(raw: Any, where: str, embedded: bool) -> dict[str, ConnectionConfig]:
    if raw is None:
        if not embedded:
            raise ConfigError(f"{where}: no [connections.NAME] table; add at least one connection")
        return {"sandbox": ConnectionConfig("sandbox", "sandbox", Channel.SMS)}
    if not isinstance(raw, dict) or not raw:
        raise ConfigError(f"{where}: [connections] must hold at least one [connections.NAME] table")
    return {name: _connection(name, table, where) for name, table in raw.items()}


def _connection(name: str, table: Any, where: str) -> ConnectionConfig:
    prefix = f"connections.{name}"
    if not CONNECTION_NAME.match(name):
        raise ConfigError(
            f"{where}: connection name '{name}' must be lower-case letters, digits, '-' or '_'"
        )
    if name in RESERVED_WORDS:
        raise ConfigError(
            f"{where}: '{name}' is a /send sub-command; name the connection otherwise"
        )
    if not isinstance(table, dict):
        raise ConfigError(f"{where}: {prefix} must be a table")
    provider_name = text(table.get("provider"), f"{where}: {prefix}.provider")
    if provider_name is None:
        raise ConfigError(f"{where}: {prefix}: missing key 'provider' ({', '.join(PROVIDERS)})")
    provider = PROVIDERS.get(provider_name)
    if provider is None:
        raise ConfigError(
            f"{where}: {prefix}.provider: unknown provider '{provider_name}'"
            f"{did_you_mean(provider_name, PROVIDERS)}; "
            f"known: {', '.join(PROVIDERS)}"
        )
    allowed = COMMON_CONNECTION_KEYS + provider.required_keys + provider.optional_keys
    _check_keys(table, allowed, where, f"{prefix}.")
    channel_value = text(table.get("channel"), f"{where}: {prefix}.channel")
    channels = ", ".join(c.value for c in Channel)
    if channel_value is None:
        raise ConfigError(f"{where}: {prefix}: missing key 'channel' (one of {channels})")
    try:
        channel = Channel(channel_value)
    except ValueError:
        raise ConfigError(
            f"{where}: {prefix}.channel: '{channel_value}' is not one of {channels}"
            + did_you_mean(channel_value, [c.value for c in Channel])
        ) from None
    missing = [key for key in provider.required_keys if not table.get(key)]
    if missing:
        raise ConfigError(
            f"{where}: {prefix}: provider '{provider_name}' needs "
            + ", ".join(f"'{key}'" for key in missing)
        )
    base_url = text(table.get("base_url"), f"{where}: {prefix}.base_url")
    if base_url is not None:
        check_url(base_url, f"{where}: {prefix}.base_url")
    # An empty webhook_token (say, from an empty ${VAR}) would leave callbacks open.
    webhook_token = text(table.get("webhook_token"), f"{where}: {prefix}.webhook_token")
    options = {key: value for key, value in table.items() if key not in COMMON_CONNECTION_KEYS}
    rate = table.get("max_per_second")
    config = ConnectionConfig(
        name=name,
        provider=provider_name,
        channel=channel,
        base_url=base_url.rstrip("/") if base_url else None,
        webhook_token=webhook_token,
        options=options,
        fallback=text(table.get("fallback"), f"{where}: {prefix}.fallback"),
        max_per_second=None
        if rate is None
        else number(rate, f"{where}: {prefix}.max_per_second", high=MAX_RATE, unit="sends"),
        max_concurrency=int(
            number(
                table.get("max_concurrency", DEFAULT_CONCURRENCY),
                f"{where}: {prefix}.max_concurrency",
                high=MAX_CONCURRENCY,
                unit="requests",
                whole=True,
                low=1,
            )
        ),
        connect_timeout=_timeout(table, "connect_timeout", 5.0, f"{where}: {prefix}"),
        read_timeout=_timeout(table, "read_timeout", 15.0, f"{where}: {prefix}"),
        **_polling(table, f"{where}: {prefix}"),
    )
    try:
        provider.check_config(config)
    except ProviderError as exc:
        raise ConfigError(f"{where}: {prefix}: {exc}") from None
    return config


def _polling(table: Mapping[str, Any], prefix: str) -> dict[str, Any]:
    """``poll`` (true/false; absent: the provider's default) and ``poll_per_second``."""
    poll = table.get("poll")
    if poll is not None and not isinstance(poll, bool):
        raise ConfigError(f"{prefix}.poll must be true or false, not {kind(poll)}")
    rate = table.get("poll_per_second", DEFAULT_POLL_PER_SECOND)
    return {
        "poll": poll,
        "poll_per_second": number(rate, f"{prefix}.poll_per_second", high=MAX_RATE, unit="lookups"),
    }


def _check_fallbacks(connections: Mapping[str, ConnectionConfig], where: str) -> None:
    for config in connections.values():
        if config.fallback is None:
            continue
        prefix = f"{where}: connections.{config.name}.fallback"
        target = connections.get(config.fallback)
        if target is None:
            raise ConfigError(
                f"{prefix}: no connection named '{config.fallback}'"
                f"{did_you_mean(config.fallback, connections)}; "
                f"connections: {', '.join(connections)}"
            )
        if target.name == config.name:
            raise ConfigError(f"{prefix}: a connection cannot fall back to itself")
        if target.channel.uses_phone_numbers != config.channel.uses_phone_numbers:
            raise ConfigError(
                f"{prefix}: '{target.name}' sends {target.channel} and cannot reach the "
                f"recipients of '{config.name}' ({config.channel})"
            )


def _delivery(table: Mapping[str, Any], where: str) -> DeliverySettings:
    name = f"{where}: delivery"
    return DeliverySettings(
        retry_attempts=int(
            number(
                table.get("retry_attempts", 4),
                f"{name}.retry_attempts",
                high=MAX_RETRY_ATTEMPTS,
                low=1,
                unit="tries in all",
                whole=True,
            )
        ),
        retry_backoff=number(
            table.get("retry_backoff", 0.5), f"{name}.retry_backoff", high=60, unit="seconds"
        ),
        retry_max_wait=number(
            table.get("retry_max_wait", 30.0),
            f"{name}.retry_max_wait",
            high=MAX_RETRY_WAIT,
            unit="seconds",
        ),
    )


def _receipts(table: Mapping[str, Any], where: str) -> ReceiptSettings:
    up_to = number(
        table.get("individual_up_to", DEFAULT_INDIVIDUAL_UP_TO),
        f"{where}: receipts.individual_up_to",
        high=MAX_INDIVIDUAL_UP_TO,
        low=1,
        unit="recipients",
        whole=True,
    )
    return ReceiptSettings(individual_up_to=int(up_to))


def _timeout(table: Mapping[str, Any], key: str, default: float, prefix: str) -> float:
    return number(table.get(key, default), f"{prefix}.{key}", high=MAX_TIMEOUT, unit="seconds")


def _scheduling(table: Mapping[str, Any], where: str) -> SchedulingSettings:
    name = f"{where}: scheduling"
    defaults = SchedulingSettings()
    zone_name = text(table.get("timezone"), f"{name}.timezone")
    horizon = _duration(table.get("horizon"), f"{name}.horizon", defaults.horizon)
    if horizon < MIN_HORIZON:
        raise ConfigError(f"{name}.horizon must be at least 1m, not {table['horizon']!r}")
    return SchedulingSettings(
        timezone=None if zone_name is None else _zone(zone_name, f"{name}.timezone"),
        missed_grace=_duration(
            table.get("missed_grace"), f"{name}.missed_grace", defaults.missed_grace, zero=True
        ),
        horizon=horizon,
    )


def _zone(value: str, name: str) -> ZoneInfo:
    found = known_zone(value)
    if found is not None:
        return found
    close = closest(value, zone_names())
    hint = f"; did you mean '{close}'?" if close else " (a name like 'Europe/Amsterdam')"
    raise ConfigError(f"{name}: '{value}' is not a time zone{hint}")


def _duration(value: Any, name: str, default: timedelta, *, zero: bool = False) -> timedelta:
    """A duration in the units of ``--at``: ``"90s"``, ``"10m"``, ``"2h"``, ``"3d"``."""
    if value is None:
        return default
    if not isinstance(value, str):
        raise ConfigError(f'{name} must be a duration in quotes like "1h", not {kind(value)}')
    typed = text(value, name) or ""
    if zero and _ZERO.fullmatch(typed.strip().lower()):
        return timedelta(0)
    try:
        return parse_duration(typed)
    except InputError as exc:
        raise ConfigError(f"{name}: {exc}") from None
