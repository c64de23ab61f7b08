"""A typed recipient list is read one way (`bot.sending.recipients.take_recipients`) by
the slash command and by ``herald send``."""

from __future__ import annotations

import shlex
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bot.cli import main, recipients_and_text
from bot.sending.recipients import split_recipients, take_recipients
from bot.slack import grammar
from tests.conftest import write_config

# typed after the connection → the recipients, and the message text left after them
TYPED = [
    ("+31612345678 Hi", ["+31612345678"], "Hi"),
    ("+31612345678,+4915112345678 Hi", ["+31612345678", "+4915112345678"], "Hi"),
    ("+31612345678;+4915112345678 Hi", ["+31612345678", "+4915112345678"], "Hi"),
    # a space after the comma: the next number is a recipient, not the start of the text
    ("+31612345678, +4915112345678 Hi", ["+31612345678", "+4915112345678"], "Hi"),
    ("+31612345678 ,+4915112345678 Hi", ["+31612345678", "+4915112345678"], "Hi"),
    ("+31612345678 , +4915112345678 Hi", ["+31612345678", "+4915112345678"], "Hi"),
    ("a@example.com; b@example.com Hello", ["a@example.com", "b@example.com"], "Hello"),
    ("+31612345678,,+4915112345678 Hi", ["+31612345678", "+4915112345678"], "Hi"),
    # a stray comma before the text: the text stays the text
    ("+31612345678, Hi there", ["+31612345678"], "Hi there"),
    # a number without its country code still counts as one, to be refused by name
    ("+31612345678, 0612345678 Hi", ["+31612345678", "0612345678"], "Hi"),
    # spaces inside one number are kept when it is quoted (one word)
    ('"+31 6 1234 5678" Hi', ["+31 6 1234 5678"], "Hi"),
    ('"+31 6 1234 5678, +49 151 1234 5678" Hi', ["+31 6 1234 5678", "+49 151 1234 5678"], "Hi"),
    # a list (@NAME) is one entry like any other, alone or among typed ones
    ("@customers Doors open", ["@customers"], "Doors open"),
    ("@vip, +31612345678 Hi", ["@vip", "+31612345678"], "Hi"),
    ("+31612345678, @vip Hi", ["+31612345678", "@vip"], "Hi"),
]


@pytest.mark.parametrize(("typed", "recipients", "text"), TYPED)
def test_the_slash_command_and_the_cli_read_a_recipient_list_alike(
    typed: str, recipients: list[str], text: str
) -> None:
    parsed = grammar.parse(f"sandbox {typed}")
    words = shlex.split(typed)  # what a shell gives the CLI

    assert isinstance(parsed, grammar.QuickSend)
    assert (parsed.recipients, parsed.text) == (recipients, text)
    assert recipients_and_text(words[0], words[1:]) == (recipients, text)


def test_an_option_ends_the_list() -> None:
    assert take_recipients(["+31612345678,", "--template", "t"]) == (["+31612345678"], 1)
    parsed = grammar.parse("sandbox +31612345678, --template order_delayed")
    assert isinstance(parsed, grammar.QuickSend)
    assert (parsed.recipients, parsed.template) == (["+31612345678"], "order_delayed")


@pytest.mark.parametrize(
    ("typed", "entries"),
    [
        ("+31612345678", ["+31612345678"]),
        (" +31612345678 ;\n+4915112345678 ", ["+31612345678", "+4915112345678"]),
        ("a@example.com,\r\nb@example.com", ["a@example.com", "b@example.com"]),
        ("+31 6 1234 5678", ["+31 6 1234 5678"]),
        (", ;", []),
    ],
)
def test_commas_semicolons_and_line_breaks_separate_recipients(
    typed: str, entries: list[str]
) -> None:
    assert split_recipients(typed) == entries


PHONE = st.from_regex(r"\+[1-9][0-9]{7,12}", fullmatch=True)
EMAIL = st.from_regex(r"[a-z][a-z0-9.]{0,8}@[a-z]{1,8}\.(com|nl)", fullmatch=True)
SEPARATOR = st.sampled_from([",", ";", ", ", " ,", " , ", "; ", ",\n", " ;  "])


@settings(database=None)
@given(
    st.lists(PHONE | EMAIL, min_size=1, max_size=6),
    st.lists(SEPARATOR, min_size=5, max_size=5),
    st.sampled_from(["Hi", "Running late, sorry", "2 for 1 today"]),
)
def test_any_list_however_separated_reads_back_alike_in_both_front_ends(
    recipients: list[str], separators: list[str], text: str
) -> None:
    typed = recipients[0] + "".join(
        sep + r for sep, r in zip(separators, recipients[1:], strict=False)
    )
    parsed = grammar.parse(f"sandbox {typed} {text}")
    words = typed.split() + text.split()  # what a shell gives the CLI, unquoted

    assert isinstance(parsed, grammar.QuickSend)
    assert (parsed.recipients, parsed.text) == (recipients, text)
    assert recipients_and_text(words[0], words[1:]) == (recipients, text)
    assert take_recipients(typed.split())[0] == recipients


def test_herald_send_sends_to_each_recipient_after_a_comma_and_a_space(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    config = write_config(tmp_path)

    argv = ["--config", str(config), "send", "sandbox", "+31612345678,", "+4915112345678", "Hi"]
    assert main(argv) == 0

    lines = capsys.readouterr().out.splitlines()
    assert sorted(line.split()[2] for line in lines) == ["+31612345678", "+4915112345678"]
