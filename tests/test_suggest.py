"""One rule for "did you mean" (`bot.suggest`) at every near miss, wherever it is typed."""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bot.cli import main
from bot.config.settings import load_settings
from bot.errors import ConfigError
from bot.slack.grammar import SUBCOMMANDS
from bot.suggest import close_names, closest, did_you_mean

NAMES = ["sandbox", "sms", "whatsapp", "email"]


@pytest.mark.parametrize(
    ("typed", "choices", "meant"),
    [
        ("smss", ["sandbox", "sms"], "sms"),  # one letter too many
        ("smss", ["sandbox"], None),  # like nothing there: the caller lists the choices
        ("sandbx", ["sandbox"], "sandbox"),  # one letter missing
        ("snadbox", ["sandbox"], "sandbox"),  # two letters swapped
        ("smz", NAMES, "sms"),  # one letter wrong, in a short name
        ("SMS", NAMES, "sms"),  # only the case differs
        ("sa", NAMES, "sandbox"),  # the start of one name
        ("whats", NAMES, "whatsapp"),
        ("s", NAMES, None),  # the start of several, and too short to tell
        ("mail", NAMES, "email"),
        ("fax", NAMES, None),
        ("stauts", SUBCOMMANDS, "status"),
        ("hlep", SUBCOMMANDS, "help"),
        ("tempaltes", SUBCOMMANDS, "templates"),
        ("chanel", ["provider", "channel", "fallback"], "channel"),
        ("", NAMES, None),
        ("sms", [], None),
    ],
)
def test_closest_suggests_a_near_miss_and_nothing_far(
    typed: str, choices: list[str], meant: str | None
) -> None:
    assert closest(typed, choices) == meant


def test_several_close_names_come_best_first() -> None:
    names = ["order_delayed", "order_shipped", "one_time_code"]
    assert close_names("order_delayd", names, n=3) == ["order_delayed", "order_shipped"]
    assert close_names("order_delayd", names, n=1) == ["order_delayed"]


def test_did_you_mean_follows_a_name() -> None:
    assert did_you_mean("chanel", ["channel"]) == " (did you mean 'channel'?)"
    assert did_you_mean("zzz", ["channel"]) == ""


@settings(database=None)
@given(st.text(max_size=12), st.lists(st.text(min_size=1, max_size=12), max_size=6))
def test_a_suggestion_is_always_one_of_the_choices_and_never_the_word(
    typed: str, choices: list[str]
) -> None:
    found = close_names(typed, choices, n=3)
    assert set(found) <= set(choices) and typed not in found
    assert len(found) == len(set(found)) <= 3


def test_a_mistyped_config_value_is_suggested(tmp_path: Path) -> None:
    path = tmp_path / "herald.toml"
    for body, problem in [
        ('provider = "brid"\nchannel = "sms"', "unknown provider 'brid' (did you mean 'bird'?)"),
        ('provider = "sandbox"\nchannel = "whatsap"', "(did you mean 'whatsapp'?)"),
        (
            'provider = "sandbox"\nchannel = "sms"\nfallback = "smss"\n'
            '[connections.sms]\nprovider = "sandbox"\nchannel = "sms"',
            "no connection named 'smss' (did you mean 'sms'?)",
        ),
    ]:
        path.write_text(f"[connections.a]\n{body}\n")
        with pytest.raises(ConfigError) as caught:
            load_settings({}, path)
        assert problem in str(caught.value)


def test_the_cli_suggests_a_command_a_choice_and_an_option(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    for argv, hint in [
        (["stauts", "k3x9p2ab"], "invalid choice: 'stauts'; did you mean 'status'?"),
        (["templates", "lst"], "invalid choice: 'lst'; did you mean 'list'?"),
        (["send", "sandbox", "+31612345678", "Hi", "--subjet", "x"], "(did you mean --subject?)"),
    ]:
        with pytest.raises(SystemExit) as stopped:
            main(argv)
        assert stopped.value.code == 2
        assert hint in capsys.readouterr().err


def test_the_cli_suggests_a_connection(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from tests.conftest import write_config

    config = write_config(tmp_path)

    assert main(["--config", str(config), "send", "sandbx", "+31612345678", "Hi"]) == 2
    assert "There is no connection 'sandbx'. Did you mean 'sandbox'?" in capsys.readouterr().err
