"""The slash command grammar, parsed without Slack."""

from __future__ import annotations

import re

import pytest

from bot.errors import InputError
from bot.options import phrase
from bot.slack import grammar


def test_quick_send_keeps_words_and_apostrophes() -> None:
    parsed = grammar.parse("sms +4915112345678 Running 10 min late, don't wait")

    assert parsed == grammar.QuickSend("sms", ["+4915112345678"], "Running 10 min late, don't wait")


def test_options_anywhere_after_the_recipient_with_shell_quotes() -> None:
    parsed = grammar.parse(
        "wa +31612345678,+4915112345678 --template order_delayed --var order=A-1042 "
        '--var "name=Jane Doe" --var city=\'Den Haag\' --at "in 10m" Extra words'
    )

    assert isinstance(parsed, grammar.QuickSend)
    assert parsed.recipients == ["+31612345678", "+4915112345678"]
    assert parsed.template == "order_delayed"
    assert parsed.variables == {"order": "A-1042", "name": "Jane Doe", "city": "Den Haag"}
    assert parsed.at == "in 10m"
    assert parsed.text == "Extra words"


def test_curly_quotes_from_slack_clients_group_words() -> None:
    parsed = grammar.parse("mail a@b.co --subject “Your order” Hello")

    assert isinstance(parsed, grammar.QuickSend)
    assert parsed.subject == "Your order"


def test_option_with_equals_form_and_repeated_media() -> None:
    parsed = grammar.parse(
        "mms +31612345678 Look --media=https://x.test/a.png --media https://x.test/b.png"
    )

    assert isinstance(parsed, grammar.QuickSend)
    assert parsed.media == ["https://x.test/a.png", "https://x.test/b.png"]
    assert parsed.text == "Look"


def test_slack_escapes_and_links_are_undone() -> None:
    parsed = grammar.parse("mail <mailto:jane@example.com|jane@example.com> Fish &amp; chips &lt;3")

    assert isinstance(parsed, grammar.QuickSend)
    assert parsed.recipients == ["jane@example.com"]
    assert parsed.text == "Fish & chips <3"


@pytest.mark.parametrize(
    ("text", "command"),
    [
        ("", grammar.Compose()),
        ("help", grammar.Help()),
        ("HELP", grammar.Help()),
        ("list", grammar.ListScheduled()),
        ("templates", grammar.Templates()),
        ("status #k3x9p2ab", grammar.Status("#k3x9p2ab")),
        ("cancel k3x9p2ab", grammar.Cancel("k3x9p2ab")),
    ],
)
def test_subcommands(text: str, command: grammar.Command) -> None:
    assert grammar.parse(text) == command


@pytest.mark.parametrize(
    ("text", "problem"),
    [
        ("sms", "Add a recipient after 'sms'"),
        ("sms --at 9am", "Add a recipient"),
        ("sms +31612345678 hi --colour red", "Unknown option --colour"),
        ("sms +31612345678 hi --at", "--at needs a value"),
        ("sms +31612345678 hi --var novalue", "--var takes KEY=VALUE"),
        ("sms +31612345678 hi --at 9am --at 10am", "--at is given twice"),
        ("status", "Give one id"),
        ("list everything", "`list --all` shows everyone.s. It takes nothing else"),
    ],
)
def test_mistakes_say_what_to_fix(text: str, problem: str) -> None:
    with pytest.raises(InputError) as caught:
        grammar.parse(text)
    assert re.search(problem, phrase(caught.value))  # as the slash command says it


def test_message_text_keeps_line_breaks_quotes_and_spacing() -> None:
    parsed = grammar.parse(
        'mail a@b.co Hi Jane,\n\nYour code is "1234".  Thanks --subject "Your code"'
    )

    assert isinstance(parsed, grammar.QuickSend)
    assert parsed.text == 'Hi Jane,\n\nYour code is "1234".  Thanks'
    assert parsed.subject == "Your code"


def test_one_quoted_text_loses_its_quotes() -> None:
    parsed = grammar.parse('sms +31612345678 "Running late"')

    assert isinstance(parsed, grammar.QuickSend)
    assert parsed.text == "Running late"


def test_a_quoted_word_is_text_even_when_it_looks_like_an_option() -> None:
    parsed = grammar.parse('sms +31612345678 Type "--help" to see the options')

    assert isinstance(parsed, grammar.QuickSend)
    assert parsed.text == 'Type "--help" to see the options'


@pytest.mark.parametrize(
    "text", ['payload={"type":1}', 'Code:"1234"', "{'a':1}", '"unbalanced', "it's"]
)
def test_quotes_inside_a_one_word_text_are_kept(text: str) -> None:
    # Only a text that is one whole quoted string loses its quotes: these are the
    # customer's characters and must arrive as typed.
    parsed = grammar.parse(f"sms +31612345678 {text}")

    assert isinstance(parsed, grammar.QuickSend)
    assert parsed.text == text
