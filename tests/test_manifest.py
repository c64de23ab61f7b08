"""app_manifest.yaml creates a working app: every command is handled and documented."""

from __future__ import annotations

from pathlib import Path

import yaml

from tests.conftest import RunningHerald

ROOT = Path(__file__).resolve().parent.parent
MANIFEST = yaml.safe_load((ROOT / "app_manifest.yaml").read_text())
README = (ROOT / "README.md").read_text()


def test_every_manifest_command_has_a_handler_and_a_readme_row(running: RunningHerald) -> None:
    commands = [c["command"] for c in MANIFEST["features"]["slash_commands"]]

    assert commands == [running.settings.slack.command]
    for command in commands:
        assert f"| `{command} " in README, f"README has no row for {command}"
        answer = running.slash("help")
        assert answer.status_code == 200 and command in answer.json()["text"]


def test_all_request_urls_point_at_slack_events() -> None:
    settings = MANIFEST["settings"]
    urls = [c["url"] for c in MANIFEST["features"]["slash_commands"]]
    urls += [
        settings["event_subscriptions"]["request_url"],
        settings["interactivity"]["request_url"],
    ]

    assert all(url.endswith("/slack/events") for url in urls)
    assert settings["interactivity"]["is_enabled"] is True


def test_app_home_and_its_event_are_enabled() -> None:
    assert MANIFEST["features"]["app_home"]["home_tab_enabled"] is True
    assert MANIFEST["features"]["app_home"]["messages_tab_enabled"] is True
    assert MANIFEST["settings"]["event_subscriptions"]["bot_events"] == ["app_home_opened"]


def test_bot_scopes_are_the_minimal_set() -> None:
    assert sorted(MANIFEST["oauth_config"]["scopes"]["bot"]) == [
        "chat:write",
        "chat:write.public",
        "commands",
        "users:read",
        "users:read.email",
    ]


def test_readme_quick_start_has_the_two_commands_and_ci_runs_the_test_one() -> None:
    quick = README.split("## Quick start", 1)[1].split("##", 1)[0]
    block = quick.split("```sh", 1)[1].split("```", 1)[0]
    lines = [line.split("#")[0].strip() for line in block.strip().splitlines()]

    assert len(lines) == 2
    assert lines[0].endswith("make run") and lines[1] == "make test"
    assert "make test" in (ROOT / ".ci" / "run").read_text()
