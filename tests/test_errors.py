"""Structured input errors: a code and the fields involved, said in plain words by the
core and in options by the CLI and the slash command (`bot.options`)."""

from __future__ import annotations

import ast
import re
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest

from bot.cli import build_parser
from bot.config.settings import Settings, load_settings
from bot.errors import CODES, FIELDS, InputError, UnknownConnectionError
from bot.options import OPTIONS, phrase
from bot.sending.requests import SendRequest, build_messages, parse_variable
from bot.slack import grammar
from bot.templating.library import TemplateLibrary
from tests.conftest import TEMPLATES

ROOT = Path(__file__).resolve().parent.parent
CONNECTIONS = """
[connections.sandbox]
provider = "sandbox"
channel = "sms"
[connections.mail]
provider = "sandbox"
channel = "email"
"""
BASE = SendRequest("sandbox", ["+31612345678"], "Hi", sender="U1", origin="slack")


@pytest.fixture(scope="module")
def settings(tmp_path_factory: pytest.TempPathFactory) -> Settings:
    path = tmp_path_factory.mktemp("errors") / "herald.toml"
    path.write_text(f'[storage]\npath = "herald.db"\n{CONNECTIONS}', encoding="utf-8")
    return load_settings({}, path)


# Each refused send: its code, its fields, and what the CLI and the slash command say
# (the wording these front ends said before errors were structured, kept word for word).
REFUSED: list[tuple[dict[str, Any], str, tuple[str, ...], str]] = [
    (
        {"connection": "sandbx"},
        "unknown_connection",
        ("connection",),
        "There is no connection 'sandbx'. Did you mean 'sandbox'? Connections: sandbox, mail.",
    ),
    (
        {"template": "order_delayed"},
        "template_and_text",
        ("template", "text"),
        "Give either --template or the message text, not both: the template writes the text.",
    ),
    (
        {"variables": {"order": "1"}},
        "variables_without_template",
        ("variables", "template"),
        "--var fills a template: add --template NAME.",
    ),
    (
        {"text": "  "},
        "text_missing",
        ("text",),
        "Write the message text after the recipient, or send a template with --template NAME.",
    ),
    (
        {"connection": "mail", "recipients": ["a@example.com"]},
        "subject_missing",
        ("subject",),
        'E-mail needs a subject: add --subject "…".',
    ),
    (
        {"subject": "Hello"},
        "subject_not_for_channel",
        ("subject",),
        "--subject is for e-mail; 'sandbox' sends sms. "
        "Leave out --subject, or send through an e-mail connection.",
    ),
    (
        {"media_urls": ["https://cdn.example/a.png"]},
        "media_not_for_channel",
        ("media",),
        "--media needs an MMS, WhatsApp or e-mail connection; 'sandbox' sends sms.",
    ),
    (
        {
            "connection": "mail",
            "recipients": ["a@example.com"],
            "subject": "S",
            "media_urls": ["ftp://x/a.png"],
        },
        "media_not_public",
        ("media",),
        "--media must be a public http(s) URL, not 'ftp://x/a.png'.",
    ),
    (
        {"recipients": ["0612345678"]},
        "invalid_recipient",
        ("recipients",),
        "'0612345678' needs its country code: write it as +<country><number>, e.g. +31612345678",
    ),
    ({"recipients": []}, "recipient_missing", ("recipients",), "Add a recipient"),
    (
        {"recipients": [f"+316{n:08}" for n in range(10_001)]},
        "too_many_recipients",
        ("recipients",),
        "10,001 recipients is more than the 10,000 one send may have: split the list, or "
        "raise [limits] max_recipients in Herald's configuration.",
    ),
    (
        {"text": "Hi\u202eevil"},
        "invisible_character",
        ("text",),
        "The text holds an invisible control character (U+202E) after 'Hi'",
    ),
    (
        {"text": "", "template": "order_delayed", "variables": {"name": "Jo"}},
        "template_variables_missing",
        ("variables",),
        "Add them, e.g. --var order=A-1042 --var new_date=2026-12-01",
    ),
    (
        {"text": "", "template": "order_delayd"},
        "template_not_found",
        ("template",),
        "There is no template 'order_delayd'. Did you mean 'order_delayed' or 'order_shipped'?",
    ),
]


@pytest.mark.parametrize(
    ("change", "code", "fields", "typed"), REFUSED, ids=[case[1] for case in REFUSED]
)
def test_a_refused_send_names_its_code_and_fields_and_the_typed_front_ends_say_options(
    settings: Settings, change: dict[str, Any], code: str, fields: tuple[str, ...], typed: str
) -> None:
    with pytest.raises(InputError) as caught:
        build_messages(replace(BASE, **change), settings, TemplateLibrary(TEMPLATES))

    error = caught.value
    assert (error.code, error.fields) == (code, fields)
    assert typed in phrase(error)
    assert not re.search(r"--[a-z]", str(error)), str(error)  # the core names no option


def test_an_error_carries_the_values_needed_to_phrase_it(settings: Settings) -> None:
    request = replace(BASE, connection="mail", recipients=["a@example.com"], subject="S")
    with pytest.raises(InputError) as caught:
        build_messages(replace(request, media_urls=["x.png"]), settings, TemplateLibrary(TEMPLATES))
    assert dict(caught.value.details) == {"url": "x.png"}
    assert str(caught.value) == "A media URL must be a public http(s) URL, not 'x.png'."

    with pytest.raises(UnknownConnectionError) as unknown:
        build_messages(replace(BASE, connection="smss"), settings, TemplateLibrary(TEMPLATES))
    assert unknown.value.details["connection"] == "smss"
    assert unknown.value.details["choices"] == ("sandbox", "mail")
    assert unknown.value.details["suggestion"] == ""  # nothing like 'smss' here


def test_codes_and_fields_come_from_one_vocabulary() -> None:
    assert len(set(CODES)) == len(CODES) and all(re.fullmatch(r"[a-z_]+", c) for c in CODES)
    assert set(OPTIONS) <= set(FIELDS)
    with pytest.raises(InputError) as caught:
        parse_variable("novalue")
    assert caught.value.code in CODES and set(caught.value.fields) <= set(FIELDS)


def test_a_variable_is_read_alike_by_both_front_ends() -> None:
    assert parse_variable(" name =Jane Doe") == ("name", "Jane Doe")
    assert parse_variable("url=https://x.test/?a=1") == ("url", "https://x.test/?a=1")
    for typed in ("novalue", "=x"):
        with pytest.raises(InputError) as caught:
            parse_variable(typed)
        assert phrase(caught.value) == f"--var takes KEY=VALUE, not {typed!r}."
        assert str(caught.value) == f"A template variable is written NAME=VALUE, not {typed!r}."


def test_the_option_table_is_what_both_typed_front_ends_accept() -> None:
    send = next(
        action.choices["send"]
        for action in build_parser()._actions
        if isinstance(action.choices, dict) and "send" in action.choices
    )
    cli_options = set(send._option_string_actions)
    assert set(OPTIONS.values()) <= cli_options
    assert [f"--{o}" for o in grammar.VALUE_OPTIONS] == list(OPTIONS.values())


def _strings(tree: ast.AST) -> list[str]:
    """The string constants of a module that are not docstrings."""
    docstrings = {
        id(node.body[0].value)
        for node in ast.walk(tree)
        if isinstance(node, ast.Module | ast.ClassDef | ast.FunctionDef | ast.AsyncFunctionDef)
        and node.body
        and isinstance(node.body[0], ast.Expr)
        and isinstance(node.body[0].value, ast.Constant)
    }
    return [
        node.value
        for node in ast.walk(tree)
        if isinstance(node, ast.Constant)
        and isinstance(node.value, str)
        and id(node) not in docstrings
    ]


def test_the_core_never_spells_a_command_line_option() -> None:
    # The CLI (bot/cli/), the slash command (bot/slack/) and their shared wording
    # (bot/options.py) speak in options; everything else speaks in plain words, so the
    # compose modal can show the same errors.
    typed = {ROOT / "bot" / "options.py"}
    front_ends = (ROOT / "bot" / "cli", ROOT / "bot" / "slack")
    core = [
        p
        for p in (ROOT / "bot").rglob("*.py")
        if p not in typed and not any(f in p.parents for f in front_ends)
    ]
    option = re.compile(r"(?<![\w-])--[a-z]")
    found = [
        f"{path.relative_to(ROOT)}: {text!r}"
        for path in core
        for text in _strings(ast.parse(path.read_text()))
        if option.search(text)
    ]
    assert found == []


def test_the_core_never_imports_the_typed_wording() -> None:
    front_ends = (ROOT / "bot" / "cli", ROOT / "bot" / "slack")
    for path in (ROOT / "bot").rglob("*.py"):
        if any(f in path.parents for f in front_ends):
            continue
        imported = [
            node.module
            for node in ast.walk(ast.parse(path.read_text()))
            if isinstance(node, ast.ImportFrom)
        ]
        assert "bot.options" not in imported, path.name
