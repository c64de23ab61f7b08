"""Template sends end to end: signed slash commands, the CLI, and every way they go wrong."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from pathlib import Path

import pytest

from bot.cli import main
from providers import Channel
from tests.conftest import FAST_SANDBOX, TEMPLATES, RunningHerald, run_herald, write_config
from tests.fakes.slack_api import BOT_TOKEN, FakeSlack
from tests.slack_signing import SIGNING_SECRET

ORDER_DELAYED = (
    "--template order_delayed --var name=Jane --var order=A-1042 --var new_date=2026-12-01"
)


def _sent_texts(running: RunningHerald) -> list[str]:
    with sqlite3.connect(running.settings.db_path) as db:
        return [row[0] for row in db.execute("SELECT text FROM messages")]


def test_template_send_renders_and_shows_the_sms_cost(running: RunningHerald) -> None:
    answer = running.slash(f"sandbox +31612345678 {ORDER_DELAYED}")

    assert answer.status_code == 200 and answer.text == ""
    receipt = running.slack.wait_for(
        lambda s: next((r for r in s.receipts() if r.text.startswith("delivered")), None)
    )
    expected = (
        "Hi Jane, your order A-1042 is delayed; it should now arrive on Tue 01 Dec. "
        "Sorry for the wait!"
    )
    assert _sent_texts(running) == [expected]
    shown = str(receipt.blocks)
    assert "Hi Jane, your order A-1042 is delayed" in shown
    assert "GSM-7 · 94 characters · 1 segment" in shown
    outbox = running.herald.providers["sandbox"].outbox  # type: ignore[attr-defined]
    assert [m.text for m in outbox] == [expected]


def test_missing_variable_is_named_and_nothing_is_sent(running: RunningHerald) -> None:
    body = running.slash("sandbox +31612345678 --template order_delayed --var order=A-1").json()

    assert "needs 2 variables you did not give: name, new_date" in body["text"]
    assert "--var name=Jane" in body["text"]
    assert "Nothing was sent" in body["text"]
    assert _sent_texts(running) == []


def test_misspelt_variable_is_caught(running: RunningHerald) -> None:
    body = running.slash(f"sandbox +31612345678 {ORDER_DELAYED} --var ordr=x").json()

    assert "has no variable 'ordr' (did you mean 'order'?)" in body["text"]
    assert _sent_texts(running) == []


def test_unknown_template_suggests_the_closest(running: RunningHerald) -> None:
    body = running.slash("sandbox +31612345678 --template order_delay --var order=1").json()

    assert "There is no template 'order_delay'. Did you mean 'order_delayed'" in body["text"]


def test_template_and_text_together_are_refused(running: RunningHerald) -> None:
    body = running.slash(f"sandbox +31612345678 Hello {ORDER_DELAYED}").json()

    assert "either --template or the message text" in body["text"]


def test_var_without_template_is_refused(running: RunningHerald) -> None:
    body = running.slash("sandbox +31612345678 Hello --var order=1").json()

    assert "--var fills a template: add --template NAME" in body["text"]


def test_templates_lists_names_descriptions_and_variables(running: RunningHerald) -> None:
    text = running.slash("templates").json()["text"]

    for path in TEMPLATES.glob("*.j2"):
        assert f"`{path.stem}`" in text
    assert "Tell a customer their order is delayed" in text
    assert "needs `name` `order` `new_date`" in text


def test_templates_name_previews_with_samples(running: RunningHerald) -> None:
    text = running.slash("templates order_delayed").json()["text"]

    assert "> Hi Jane, your order A-1042 is delayed" in text
    assert "SMS: GSM-7 · 94 characters · 1 segment" in text
    assert "--template order_delayed --var name=Jane --var order=A-1042" in text


@pytest.fixture
def hostile(tmp_path: Path, fake_slack: FakeSlack) -> Iterator[RunningHerald]:
    templates = tmp_path / "templates"
    templates.mkdir()
    (templates / "sneaky.j2").write_text("{{ ''.__class__.__mro__[1].__subclasses__() }}")
    (templates / "broken.j2").write_text("Hi {{ name }\n")
    from bot.config.settings import load_settings

    env = {
        "SLACK_BOT_TOKEN": BOT_TOKEN,
        "SLACK_SIGNING_SECRET": SIGNING_SECRET,
        "SLACK_API_URL": fake_slack.api_url,
    }
    settings = load_settings(env, write_config(tmp_path, FAST_SANDBOX, templates))
    yield from run_herald(settings, fake_slack)


def test_templates_cannot_reach_python_internals(hostile: RunningHerald) -> None:
    body = hostile.slash("sandbox +31612345678 --template sneaky").json()

    assert "tries something templates may not do" in body["text"]
    assert "subclasses" not in body["text"].split("(")[0]
    assert _sent_texts(hostile) == []


def test_syntax_error_names_file_and_line(hostile: RunningHerald) -> None:
    body = hostile.slash("sandbox +31612345678 --template broken --var name=x").json()

    assert "broken.j2, line 1" in body["text"]
    assert _sent_texts(hostile) == []


def test_cli_sends_a_template(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    config = write_config(tmp_path)
    args = ["--config", str(config), "send", "sandbox", "+31612345678"]

    code = main([*args, *ORDER_DELAYED.split()])

    assert code == 0
    assert " accepted " in capsys.readouterr().out


def test_cli_templates_check_passes_for_every_shipped_template(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code = main(["--config", str(write_config(tmp_path)), "templates", "check"])

    out = capsys.readouterr().out
    assert code == 0
    assert f"{len(list(TEMPLATES.glob('*.j2')))} template(s)" in out and "0 problem(s)" in out


def test_cli_templates_check_fails_on_a_broken_template(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    templates = tmp_path / "templates"
    templates.mkdir()
    (templates / "broken.j2").write_text("Hi {{ name }\n")

    code = main(
        ["--config", str(write_config(tmp_path, templates=templates)), "templates", "check"]
    )

    assert code == 1
    assert "broken.j2, line 1" in capsys.readouterr().err


def test_cli_templates_render_prints_text_and_sms_analysis(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    args = ["--config", str(write_config(tmp_path)), "templates", "render", "order_delayed"]

    code = main([*args, "--var", "name=Zoë"])

    captured = capsys.readouterr()
    assert code == 0
    assert captured.out.startswith("Hi Zoë, your order A-1042 is delayed")
    assert "UCS-2 (because of 'ë')" in captured.err and "2 segments" in captured.err


def test_cli_templates_list_shows_variables(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["--config", str(write_config(tmp_path)), "templates", "list"]) == 0
    out = capsys.readouterr().out
    assert "order_delayed" in out and "needs: name, order, new_date" in out


def test_confidential_template_text_never_reaches_slack(running: RunningHerald) -> None:
    running.slash(
        "sandbox +31612345678 --template one_time_code --var code=739154 --var service=Acme"
    )

    receipt = running.slack.wait_for(
        lambda s: next((r for r in s.receipts() if r.text.startswith("delivered")), None)
    )
    (text,) = _sent_texts(running)
    assert "739154" in text  # the customer gets the code …
    status = running.slash(f"status {receipt.text.split('#')[1].split()[0]}").json()
    for shown in (receipt.text, str(receipt.blocks), *[str(e) for e in receipt.edits], str(status)):
        assert "739154" not in shown  # … Slack never shows it
    assert "`one_time_code` is confidential" in str(receipt.blocks)


def test_confidential_must_be_true_or_false(tmp_path: Path) -> None:
    from bot.templating.library import TemplateLibrary

    (tmp_path / "otp.j2").write_text('{#-\nconfidential = "yes"\n-#}\nCode {{ code }}')

    problems = TemplateLibrary(tmp_path).check()

    assert any("confidential must be true or false" in p for p in problems)


def _shipped_template_channels() -> list[tuple[str, Channel]]:
    from bot.templating.library import TemplateLibrary

    library = TemplateLibrary(TEMPLATES)
    return [
        (name, channel)
        for name in library.names()
        for channel in sorted(library.info(name).channels, key=lambda c: c.value)
    ]


ONE_SANDBOX_PER_CHANNEL = "".join(
    f'[connections.{channel.value}]\nprovider = "sandbox"\nchannel = "{channel.value}"\n'
    for channel in Channel
)


@pytest.mark.parametrize(("name", "channel"), _shipped_template_channels())
def test_every_shipped_template_sends_on_every_channel_it_declares(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], name: str, channel: Channel
) -> None:
    from bot.templating.library import TemplateLibrary

    info = TemplateLibrary(TEMPLATES).info(name)
    config = write_config(tmp_path, ONE_SANDBOX_PER_CHANNEL)
    recipient = "jane@example.com" if channel is Channel.EMAIL else "+31612345678"
    pairs = [arg for key, value in info.samples.items() for arg in ("--var", f"{key}={value}")]

    code = main(
        ["--config", str(config), "send", channel.value, recipient, "--template", name, *pairs]
    )

    captured = capsys.readouterr()
    assert code == 0, captured.err
    assert captured.out.split()[1:3] == ["accepted", recipient]
    with sqlite3.connect(tmp_path / "herald.db") as db:
        ((stored_channel, subject, text),) = db.execute(
            "SELECT channel, subject, text FROM messages"
        ).fetchall()
    assert stored_channel == channel.value and text
    if channel is Channel.EMAIL:
        assert subject  # the template's subject is the e-mail's subject
    else:
        assert subject is None  # an e-mail subject in the header is not a --subject on SMS


def test_a_template_subject_does_not_stop_an_sms_send_from_slack(running: RunningHerald) -> None:
    answer = running.slash(
        "sandbox +31612345678 --template order_shipped --var name=Jo --var order=A1 "
        "--var carrier=DHL --var tracking_url=https://t.example/1"
    )

    assert answer.status_code == 200 and answer.text == ""
    running.slack.wait_for(
        lambda s: next((r for r in s.receipts() if r.text.startswith("delivered")), None)
    )
    outbox = running.herald.providers["sandbox"].outbox  # type: ignore[attr-defined]
    assert [(m.subject, m.text.startswith("Hi Jo, good news")) for m in outbox] == [(None, True)]
