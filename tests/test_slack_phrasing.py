"""How the slash command says what went wrong: in its options, with a mistyped sub-command
or connection suggested, and typed values shown as text, never read as Slack markup."""

from __future__ import annotations

import pytest

from bot.errors import InputError, UnknownConnectionError
from bot.slack import blocks, grammar
from bot.slack.phrasing import problem_text
from tests.conftest import RunningHerald

CONNECTIONS = ["sandbox", "sms"]


def _refused(text: str) -> InputError:
    with pytest.raises(InputError) as caught:
        grammar.parse(text)
    return caught.value


@pytest.mark.parametrize(
    ("error", "said"),
    [
        # a sub-command mistyped reads as a connection: suggest the sub-command
        (
            UnknownConnectionError.naming("stauts", CONNECTIONS),
            "There is no connection or command 'stauts'. Did you mean `/send status`? "
            "Connections: sandbox, sms.",
        ),
        # ... unless a connection is closer
        (
            UnknownConnectionError.naming("smss", CONNECTIONS),
            "There is no connection 'smss'. Did you mean 'sms'? Connections: sandbox, sms.",
        ),
        # one word, not a connection: that is the problem, not the missing recipient
        (
            _refused("hlep"),
            "There is no connection or command 'hlep'. Did you mean `/send help`? "
            "Connections: sandbox, sms.",
        ),
        (_refused("smss"), "There is no connection 'smss'. Did you mean 'sms'?"),
        (_refused("sms"), "Add a recipient after 'sms', e.g. +31612345678."),
        (_refused("sms +31612345678 Hi --subjet x"), "Unknown option --subjet. Did you mean "),
        (_refused("sms +31612345678 Hi --var x"), "--var takes KEY=VALUE, not 'x'."),
    ],
)
def test_the_slash_command_says_an_error_in_its_own_words(error: InputError, said: str) -> None:
    assert said in problem_text(error, "/send", CONNECTIONS)


def test_an_unknown_option_is_suggested_and_the_options_listed() -> None:
    error = _refused("sms +31612345678 Hi --subjet x")

    assert str(error) == (
        "Unknown option --subjet. Did you mean --subject? "
        "Options: --template, --var, --at, --every, --until, --subject, --media."
    )
    assert (error.code, error.details["suggestion"]) == ("unknown_option", "--subject")


def test_typed_values_in_an_error_are_shown_not_read_as_markup() -> None:
    error = UnknownConnectionError.naming("<!here>", CONNECTIONS)

    text = blocks.error_text(problem_text(error, "/send", CONNECTIONS), "/send", was_send=True)

    assert "&lt;!here&gt;" in text and "<!here>" not in text
    assert text.startswith(":warning: There is no connection") and "Nothing was sent." in text


def test_a_mistyped_sub_command_is_suggested_end_to_end(running: RunningHerald) -> None:
    body = running.slash("stauts k3x9p2ab").json()

    assert body["response_type"] == "ephemeral"
    assert "Did you mean `/send status`?" in body["text"]


def test_a_number_written_without_country_code_is_shown_as_typed(running: RunningHerald) -> None:
    body = running.slash("sandbox 0612345678 Hello").json()

    # "+<country><number>" would be read by Slack as two broken links
    assert "+&lt;country&gt;&lt;number&gt;" in body["text"]
    assert "Nothing was sent" in body["text"]
