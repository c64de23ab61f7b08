"""Configuration: the file, ${VAR} interpolation, the environment and the embedded default."""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
import tzlocal

from bot.cli import main
from bot.config.settings import SchedulingSettings, load_settings
from bot.errors import ConfigError
from providers import Channel


def _write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "herald.toml"
    path.write_text(text, encoding="utf-8")
    return path


def test_no_config_file_gives_one_sandbox_connection(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)

    settings = load_settings({})

    assert list(settings.connections) == ["sandbox"]
    assert settings.connections["sandbox"].channel is Channel.SMS
    assert settings.db_path == tmp_path / "data" / "herald.db"
    assert settings.slack.command == "/send"
    assert settings.port == 3000
    assert settings.mask_recipients is True


def test_variables_are_interpolated_from_the_environment(tmp_path: Path) -> None:
    path = _write(
        tmp_path,
        '[connections.sms]\nprovider = "sandbox"\nchannel = "sms"\n'
        'webhook_token = "${HOOK_TOKEN}-x"\n',
    )

    settings = load_settings({"HOOK_TOKEN": "abc"}, path)

    assert settings.connections["sms"].webhook_token == "abc-x"


def test_missing_variable_is_a_startup_error_naming_it(tmp_path: Path) -> None:
    path = _write(
        tmp_path,
        '[connections.sms]\nprovider = "sandbox"\nchannel = "sms"\n'
        'webhook_token = "${BIRD_ACCESS_KEY}"\n',
    )

    with pytest.raises(ConfigError) as error:
        load_settings({}, path)

    assert "BIRD_ACCESS_KEY" in str(error.value)
    assert "connections.sms.webhook_token" in str(error.value)


def test_cli_prints_the_config_error_on_one_line(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    path = _write(tmp_path, '[connections.sms]\nprovider = "sandbox"\nchannel = "${NOPE}"\n')
    monkeypatch.delenv("NOPE", raising=False)

    code = main(["--config", str(path), "send", "sms", "+31612345678", "hi"])

    err = capsys.readouterr().err
    assert code == 2
    assert err.count("\n") == 1 and "NOPE is not set" in err


def test_unknown_key_is_named_with_a_suggestion(tmp_path: Path) -> None:
    path = _write(tmp_path, '[connections.sms]\nprovider = "sandbox"\nchanel = "sms"\n')

    with pytest.raises(
        ConfigError, match=r"unknown key 'connections.sms.chanel' \(did you mean 'channel'\?\)"
    ):
        load_settings({}, path)


def test_unknown_provider_lists_the_known_ones(tmp_path: Path) -> None:
    path = _write(tmp_path, '[connections.sms]\nprovider = "twilio"\nchannel = "sms"\n')

    known = "bird, callbell, sociocs, capillary, sandbox"
    with pytest.raises(ConfigError, match=f"unknown provider 'twilio'; known: {known}"):
        load_settings({}, path)


def test_bad_channel_lists_the_channels(tmp_path: Path) -> None:
    path = _write(tmp_path, '[connections.sms]\nprovider = "sandbox"\nchannel = "fax"\n')

    with pytest.raises(ConfigError, match="'fax' is not one of sms, whatsapp, email, zalo, mms"):
        load_settings({}, path)


def test_connection_named_like_a_subcommand_is_refused(tmp_path: Path) -> None:
    path = _write(tmp_path, '[connections.help]\nprovider = "sandbox"\nchannel = "sms"\n')

    with pytest.raises(ConfigError, match="'help' is a /send sub-command"):
        load_settings({}, path)


def test_invalid_toml_is_reported_with_the_file(tmp_path: Path) -> None:
    path = _write(tmp_path, "[slack\n")

    with pytest.raises(ConfigError, match="not valid TOML"):
        load_settings({}, path)


def test_missing_config_file_named_by_herald_config(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="does not exist"):
        load_settings({"HERALD_CONFIG": str(tmp_path / "nope.toml")})


def test_environment_overrides_database_and_port(tmp_path: Path) -> None:
    path = _write(
        tmp_path,
        '[storage]\npath = "x.db"\n[connections.a]\nprovider = "sandbox"\nchannel = "email"\n',
    )

    settings = load_settings({"HERALD_DB": str(tmp_path / "y.db"), "PORT": "8080"}, path)

    assert settings.db_path == tmp_path / "y.db"
    assert settings.port == 8080


def test_relative_paths_are_relative_to_the_config_file(tmp_path: Path) -> None:
    path = _write(
        tmp_path,
        '[storage]\npath = "var/h.db"\n[connections.a]\nprovider = "sandbox"\nchannel = "sms"\n',
    )

    assert load_settings({}, path).db_path == tmp_path / "var" / "h.db"


def test_serve_without_slack_credentials_names_both(tmp_path: Path) -> None:
    settings = load_settings(
        {}, _write(tmp_path, '[connections.a]\nprovider = "sandbox"\nchannel = "sms"\n')
    )

    with pytest.raises(ConfigError, match="SLACK_BOT_TOKEN and SLACK_SIGNING_SECRET are not set"):
        settings.slack.require_credentials()


def test_secrets_stay_out_of_reprs(tmp_path: Path) -> None:
    path = _write(
        tmp_path,
        '[connections.a]\nprovider = "sandbox"\nchannel = "sms"\nwebhook_token = "hook-secret-1"\n',
    )
    settings = load_settings(
        {"SLACK_BOT_TOKEN": "xoxb-secret-2", "SLACK_SIGNING_SECRET": "signing-secret-3"}, path
    )

    shown = repr(settings)

    for secret in ("hook-secret-1", "xoxb-secret-2", "signing-secret-3"):
        assert secret not in shown


@pytest.mark.parametrize(
    ("table", "problem"),
    [
        (
            '[server]\npublic_url = "herald.example.com"\n',
            "server.public_url must be an http(s) URL",
        ),
        (
            '[connections.a]\nprovider = "sandbox"\nchannel = "sms"\nbase_url = "ftp://x"\n',
            "connections.a.base_url must be an http(s) URL",
        ),
        (
            '[connections.a]\nprovider = "sandbox"\nchannel = "sms"\nsent_after = "soon"\n',
            "'sent_after' must be a number of seconds",
        ),
        (
            '[connections.a]\nprovider = "sandbox"\nchannel = "sms"\nmax_per_second = 0\n',
            "max_per_second must be more than 0 and at most 1000 sends, not 0",
        ),
        (
            "[delivery]\nretry_attempts = 0\n",
            "delivery.retry_attempts must be at least 1 and at most 100 tries in all, not 0",
        ),
    ],
)
def test_bad_values_are_named_at_startup(tmp_path: Path, table: str, problem: str) -> None:
    if "[connections" not in table:
        table += '[connections.a]\nprovider = "sandbox"\nchannel = "sms"\n'

    with pytest.raises(ConfigError) as error:
        load_settings({}, _write(tmp_path, table))

    assert problem in str(error.value)


def test_webhook_urls_are_printed_without_tokens(tmp_path: Path) -> None:
    from bot.web.server import webhook_urls

    path = _write(
        tmp_path,
        '[server]\npublic_url = "https://herald.example.com/"\n'
        '[connections.sms]\nprovider = "sandbox"\nchannel = "sms"\nwebhook_token = "t0ps3cret"\n',
    )

    settings = load_settings({}, path)

    class Unsigned:  # a provider that signs nothing, like the sandbox
        def webhook_needs_token(self) -> bool:
            return True

    lines = webhook_urls(settings, {"sms": Unsigned()})  # type: ignore[dict-item]
    tokenless = replace(settings.connections["sms"], webhook_token=None)
    unprotected = webhook_urls(
        replace(settings, connections={"sms": tokenless}),
        {"sms": Unsigned()},  # type: ignore[dict-item]
    )

    assert lines == ["sms → https://herald.example.com/webhooks/sms?token=<its webhook_token>"]
    assert unprotected == ["sms refuses callbacks until it has a webhook_token"]


SANDBOX_A = '[connections.a]\nprovider = "sandbox"\nchannel = "sms"\n'


@pytest.mark.parametrize(
    ("extra", "problem"),
    [
        # nan compares false with everything: a range check alone lets it through
        ("max_per_second = nan", "connections.a.max_per_second is nan; give a finite number"),
        ("max_per_second = inf", "connections.a.max_per_second is inf"),
        ("max_per_second = -1", "max_per_second must be more than 0 and at most 1000 sends"),
        ("max_per_second = 1e6", "max_per_second must be more than 0 and at most 1000 sends"),
        ("max_per_second = true", "max_per_second must be a number of sends, not true/false"),
        ("read_timeout = inf", "connections.a.read_timeout is inf"),
        ("connect_timeout = -inf", "connections.a.connect_timeout is -inf"),
        ("read_timeout = 0", "read_timeout must be more than 0 and at most 300 seconds"),
        ("read_timeout = 86400", "read_timeout must be more than 0 and at most 300 seconds"),
        ('connect_timeout = "5"', "connect_timeout must be a number of seconds, not text"),
        ("sent_after = nan", "connections.a.sent_after is nan"),  # a provider's own key
        ("webhook_token = 12345", 'webhook_token must be text in quotes ("…"), not a number'),
        ('webhook_token = ""', "webhook_token is empty"),
        ("fallback = 3", "connections.a.fallback must be text in quotes"),
        ('base_url = "http://[::1"', "connections.a.base_url is not a usable URL"),
        ('base_url = "https://api.example.com:99999"', "base_url is not a usable URL"),
    ],
)
def test_connection_numbers_and_types_are_checked_at_startup(
    tmp_path: Path, extra: str, problem: str
) -> None:
    with pytest.raises(ConfigError) as error:
        load_settings({}, _write(tmp_path, SANDBOX_A + extra + "\n"))

    assert problem in str(error.value)
    assert "\n" not in str(error.value)


@pytest.mark.parametrize(
    ("table", "problem"),
    [
        ("[storage]\npath = 5", 'storage.path must be text in quotes ("…"), not a number'),
        ('[storage]\npath = ""', "storage.path is empty"),
        ('[storage]\npath = "~no-such-user-h3r4ld/h.db"', "storage.path: cannot find the home"),
        ('[templates]\ndir = ["a"]', "templates.dir must be text in quotes"),
        ("[server]\npublic_url = 8080", "server.public_url must be text in quotes"),
        ("[slack]\ncommand = 5", "slack.command must be text in quotes"),
        ("[delivery]\nretry_attempts = 2.5", "delivery.retry_attempts must be a whole number"),
        ("[delivery]\nretry_attempts = -1", "retry_attempts must be at least 1 and at most 100"),
        ("[delivery]\nretry_attempts = 1000", "retry_attempts must be at least 1 and at most 100"),
        ("[delivery]\nretry_backoff = nan", "delivery.retry_backoff is nan"),
        ("[delivery]\nretry_backoff = 0", "retry_backoff must be more than 0 and at most 60"),
        ("[delivery]\nretry_max_wait = inf", "delivery.retry_max_wait is inf"),
        ("[delivery]\nretry_max_wait = 1e9", "retry_max_wait must be more than 0 and at most 3600"),
        ("[delivery]\nretry_max_wait = false", "retry_max_wait must be a number of seconds"),
    ],
)
def test_section_values_are_checked_at_startup(tmp_path: Path, table: str, problem: str) -> None:
    with pytest.raises(ConfigError) as error:
        load_settings({}, _write(tmp_path, table + "\n" + SANDBOX_A))

    assert problem in str(error.value)
    assert "\n" not in str(error.value)


@pytest.mark.parametrize(
    ("extra", "provider_keys"),
    [
        ('provider = 5\nchannel = "sms"', "connections.a.provider must be text in quotes"),
        ('provider = "sandbox"\nchannel = 5', "connections.a.channel must be text in quotes"),
    ],
)
def test_provider_and_channel_must_be_text(tmp_path: Path, extra: str, provider_keys: str) -> None:
    with pytest.raises(ConfigError, match=provider_keys):
        load_settings({}, _write(tmp_path, f"[connections.a]\n{extra}\n"))


def test_sane_numbers_are_kept(tmp_path: Path) -> None:
    path = _write(
        tmp_path,
        "[delivery]\nretry_attempts = 1\nretry_backoff = 0.25\nretry_max_wait = 60\n"
        + SANDBOX_A
        + "max_per_second = 0.5\nconnect_timeout = 2\nread_timeout = 300\n",
    )

    settings = load_settings({}, path)

    connection = settings.connections["a"]
    assert (connection.max_per_second, connection.connect_timeout) == (0.5, 2.0)
    assert connection.read_timeout == 300.0
    assert settings.delivery.retry_attempts == 1 and settings.delivery.retry_max_wait == 60.0


def test_cli_prints_a_bad_number_on_one_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = _write(tmp_path, SANDBOX_A + "max_per_second = nan\n")

    code = main(["--config", str(path), "send", "a", "+31612345678", "hi"])

    err = capsys.readouterr().err
    assert code == 2
    assert err == f"herald: {path}: connections.a.max_per_second is nan; give a finite number\n"


SECRET = "s3cr3t-Value-9f2"


@pytest.mark.parametrize(
    ("body", "environ", "problem"),
    [
        (
            SANDBOX_A + f'base_url = "https://herald:{SECRET}@api.example.com"\n',
            {},
            "connections.a.base_url must not carry a user name or password",
        ),
        (
            SANDBOX_A + 'base_url = "${API_URL}"\n',
            {"API_URL": f"https://herald:{SECRET}@api.example.com"},
            "connections.a.base_url must not carry a user name or password",
        ),
        (
            SANDBOX_A + f'base_url = "ftp://herald:{SECRET}@api.example.com"\n',
            {},
            "must not carry a user name or password",
        ),
        (
            SANDBOX_A + f'base_url = "https://api.example.com/v1?api_key={SECRET}"\n',
            {},
            "base_url must not have a query",
        ),
        (
            f'[server]\npublic_url = "https://ops:{SECRET}@herald.example.com"\n' + SANDBOX_A,
            {},
            "server.public_url must not carry a user name or password",
        ),
        (SANDBOX_A, {"SLACK_API_URL": f"https://x:{SECRET}@slack.example/api/"}, "SLACK_API_URL"),
        # the value of ${VAR} is never shown, whichever check (core or provider) fails
        (
            '[connections.a]\nprovider = "sandbox"\nchannel = "${CHANNEL}"\n',
            {"CHANNEL": SECRET},
            "connections.a.channel: '${CHANNEL}' is not one of sms",
        ),
        (
            SANDBOX_A + 'base_url = "${API_URL}"\n',
            {"API_URL": f"api.example.com/{SECRET}"},
            "connections.a.base_url must be an http(s) URL",
        ),
        (SANDBOX_A + 'fallback = "${FB}"\n', {"FB": SECRET}, "no connection named '${FB}'"),
        (SANDBOX_A + 'sent_after = "${AFTER}"\n', {"AFTER": SECRET}, "'sent_after' must be a"),
        ('[slack]\ncommand = "${CMD}"\n' + SANDBOX_A, {"CMD": SECRET}, "slack.command must look"),
        (SANDBOX_A + 'webhook_token = "${HOOK}"\n', {"HOOK": ""}, "webhook_token is empty"),
    ],
)
def test_config_errors_never_show_secrets(
    tmp_path: Path, body: str, environ: dict[str, str], problem: str
) -> None:
    with pytest.raises(ConfigError) as error:
        load_settings(environ, _write(tmp_path, body))

    shown = str(error.value)
    assert problem in shown
    assert SECRET not in shown and SECRET.lower() not in shown.lower()
    assert error.value.__cause__ is None and error.value.__context__ is None  # nor chained


def test_a_value_with_a_newline_is_reported_on_one_line(tmp_path: Path) -> None:
    path = _write(
        tmp_path, '[connections.a]\nprovider = "sandbox"\nchannel = "fax\\nERROR forged"\n'
    )

    with pytest.raises(ConfigError) as error:
        load_settings({}, path)

    assert "\n" not in str(error.value) and "'fax\\nERROR forged' is not one of" in str(error.value)


def test_a_secret_in_a_base_url_never_reaches_the_cli_output(tmp_path: Path) -> None:
    import os

    from tests.serving import run_cli

    path = _write(tmp_path, SANDBOX_A + 'base_url = "${API_URL}"\n')
    env = {**os.environ, "API_URL": f"https://herald:{SECRET}@api.example.com"}

    for command in (["serve"], ["send", "a", "+31612345678", "Hi"]):
        done = run_cli("--config", str(path), *command, env=env)

        assert done.returncode == 2
        assert done.stderr.count("\n") == 1 and "must not carry a user name" in done.stderr
        assert SECRET not in done.stdout + done.stderr


# -- [scheduling] -----------------------------------------------------------------


def test_scheduling_defaults_without_a_section(tmp_path: Path) -> None:
    scheduling = load_settings({}, _write(tmp_path, SANDBOX_A)).scheduling

    assert scheduling == SchedulingSettings()
    assert scheduling.timezone is None
    assert scheduling.missed_grace == timedelta(hours=1)
    assert scheduling.horizon == timedelta(days=400)


def test_scheduling_values_are_read(tmp_path: Path) -> None:
    path = _write(
        tmp_path,
        '[scheduling]\ntimezone = "Europe/Amsterdam"\nmissed_grace = "30m"\nhorizon = "1w"\n'
        + SANDBOX_A,
    )

    scheduling = load_settings({}, path).scheduling

    assert scheduling.timezone == ZoneInfo("Europe/Amsterdam")
    assert scheduling.zone() == ZoneInfo("Europe/Amsterdam")
    assert scheduling.missed_grace == timedelta(minutes=30)
    assert scheduling.horizon == timedelta(weeks=1)


@pytest.mark.parametrize("zero", ["0s", "0", "0m", "0 minutes"])
def test_a_missed_grace_of_zero_never_sends_late(tmp_path: Path, zero: str) -> None:
    path = _write(tmp_path, f'[scheduling]\nmissed_grace = "{zero}"\n' + SANDBOX_A)

    assert load_settings({}, path).scheduling.missed_grace == timedelta(0)


@pytest.mark.parametrize(
    ("table", "problem"),
    [
        (
            'timezone = "Europe/Amsterdm"',
            "scheduling.timezone: 'Europe/Amsterdm' is not a time zone; "
            "did you mean 'Europe/Amsterdam'?",
        ),
        ('timezone = "europe/amsterdam"', "did you mean 'Europe/Amsterdam'?"),
        ('timezone = "../../etc/passwd"', "'../../etc/passwd' is not a time zone"),
        ('timezone = "localtime"', "'localtime' is not a time zone"),
        ("timezone = 1", 'scheduling.timezone must be text in quotes ("…"), not a number'),
        ('timezone = ""', "scheduling.timezone is empty"),
        ('missed_grace = "soon"', "scheduling.missed_grace: 'soon' is not a duration"),
        ('missed_grace = "-1h"', "scheduling.missed_grace: A duration must be more than zero"),
        ("missed_grace = 3600", 'scheduling.missed_grace must be a duration in quotes like "1h"'),
        ('horizon = "30s"', "scheduling.horizon must be at least 1m, not '30s'"),
        ('horizon = "0s"', "scheduling.horizon: A duration must be more than zero"),
        ('horizon = "200000d"', "scheduling.horizon: '200000d' is longer than 100 years"),
        ('timzone = "UTC"', "unknown key 'scheduling.timzone' (did you mean 'timezone'?)"),
    ],
)
def test_scheduling_values_are_checked_at_startup(tmp_path: Path, table: str, problem: str) -> None:
    with pytest.raises(ConfigError) as error:
        load_settings({}, _write(tmp_path, f"[scheduling]\n{table}\n" + SANDBOX_A))

    assert problem in str(error.value)
    assert "\n" not in str(error.value)


def test_the_zone_falls_back_to_the_system_zone_then_utc(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(tzlocal, "get_localzone", lambda: ZoneInfo("Asia/Kolkata"))
    assert SchedulingSettings().zone() == ZoneInfo("Asia/Kolkata")

    def unreadable() -> ZoneInfo:
        raise LookupError("no /etc/localtime")

    monkeypatch.setattr(tzlocal, "get_localzone", unreadable)
    assert SchedulingSettings().zone() == ZoneInfo("UTC")
    assert SchedulingSettings(timezone=ZoneInfo("America/New_York")).zone() == ZoneInfo(
        "America/New_York"
    )


def test_a_connection_cannot_be_named_reschedule(tmp_path: Path) -> None:
    path = _write(tmp_path, '[connections.reschedule]\nprovider = "sandbox"\nchannel = "sms"\n')

    with pytest.raises(ConfigError, match="'reschedule' is a /send sub-command"):
        load_settings({}, path)
