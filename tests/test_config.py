"""Configuration: the file, ${VAR} interpolation, the environment and the embedded default."""

from __future__ import annotations

from pathlib import Path

import pytest

from bot.cli import main
from bot.config import load_settings
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
            "max_per_second must be a positive number",
        ),
        (
            "[delivery]\nretry_attempts = 0\n",
            "delivery.retry_attempts must be a whole number",
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
    from bot.server import webhook_urls

    path = _write(
        tmp_path,
        '[server]\npublic_url = "https://herald.example.com/"\n'
        '[connections.sms]\nprovider = "sandbox"\nchannel = "sms"\nwebhook_token = "t0ps3cret"\n',
    )

    lines = webhook_urls(load_settings({}, path))

    assert lines == ["sms → https://herald.example.com/webhooks/sms?token=<its webhook_token>"]
