"""The template library: headers, variables, the sandbox, filters, errors and the starter set."""

from __future__ import annotations

import re
import textwrap
from pathlib import Path

import jinja2
import pytest

import bot.templating.library
from bot.errors import InputError
from bot.options import phrase
from bot.templating.filters import format_date, format_datetime, format_money, format_time
from bot.templating.library import (
    MissingVariablesError,
    RenderingError,
    TemplateChannelError,
    TemplateHeaderError,
    TemplateLibrary,
    TemplateNotFoundError,
    TemplateRenderError,
    TemplateSyntaxError,
    TemplateValueError,
    UnknownVariablesError,
    UnsafeTemplateError,
)
from providers import Channel, ProviderTemplate

SHIPPED = Path(__file__).resolve().parent.parent / "templates"
STARTER_SET = {
    "order_shipped",
    "order_delayed",
    "appointment_reminder",
    "one_time_code",
    "payment_failed",
    "team_announcement",
}

ORDER_DELAYED = """\
{#-
description = "Tell a customer their order is delayed"
channels = ["sms", "whatsapp"]
subject = "Your order {{ order }} is delayed"

[samples]
name = "Jane"
order = "A-1042"
new_date = "2026-12-01"

[provider_templates.bird]
id = "7f1c-project"
version = "latest"
locale = "en"
parameters = { name = "{{ name }}", order = "{{ order }}", when = "{{ new_date | date }}" }
-#}
Hi {{ name }}, your order {{ order }} is delayed; it should arrive {{ new_date | date("%d %b") }}.
"""
DELAYED_VARS = {"name": "Jane", "order": "A-1042", "new_date": "2026-12-01"}


def write(directory: Path, name: str, text: str) -> Path:
    path = directory / f"{name}.j2"
    path.write_text(textwrap.dedent(text), encoding="utf-8")
    return path


@pytest.fixture
def library(tmp_path: Path) -> TemplateLibrary:
    write(tmp_path, "order_delayed", ORDER_DELAYED)
    return TemplateLibrary(tmp_path)


def render_body(tmp_path: Path, body: str, **variables: str) -> str:
    write(tmp_path, "t", body)
    return TemplateLibrary(tmp_path).render("t", variables).text


# The starter set


def test_every_shipped_template_passes_check() -> None:
    library = TemplateLibrary(SHIPPED)
    assert set(library.names()) >= STARTER_SET
    assert library.check() == []


@pytest.mark.parametrize("name", sorted(STARTER_SET))
def test_shipped_template_has_description_channels_and_samples(name: str) -> None:
    info = TemplateLibrary(SHIPPED).info(name)
    assert info.description
    assert info.channels != frozenset(Channel)
    assert info.samples
    assert info.variables <= set(info.samples)


@pytest.mark.parametrize("name", sorted(STARTER_SET))
def test_shipped_sms_template_fits_two_gsm7_segments(name: str) -> None:
    library = TemplateLibrary(SHIPPED)
    info = library.info(name)
    rendered = library.render(name, info.samples)
    assert Channel.SMS in info.channels
    assert rendered.sms.encoding == "GSM-7", rendered.sms.summary()
    assert rendered.sms.segments <= 2


def test_shipped_email_templates_have_a_subject() -> None:
    library = TemplateLibrary(SHIPPED)
    for name in STARTER_SET:
        info = library.info(name)
        if Channel.EMAIL in info.channels:
            assert library.render(name, info.samples).subject, name
    assert Channel.EMAIL in library.info("team_announcement").channels


def test_order_delayed_renders_as_the_product_spec_uses_it() -> None:
    library = TemplateLibrary(SHIPPED)
    rendered = library.render(
        "order_delayed", {"name": "Jane", "order": "A-1042", "new_date": "2026-12-01"}
    )
    assert "A-1042" in rendered.text
    assert "01 Dec" in rendered.text


# Listing and describing


def test_names_are_the_j2_files_sorted(tmp_path: Path) -> None:
    write(tmp_path, "b", "B")
    write(tmp_path, "a", "A")
    (tmp_path / "notes.txt").write_text("not a template", encoding="utf-8")
    (tmp_path / "sub").mkdir()
    write(tmp_path / "sub", "c", "C")
    assert TemplateLibrary(tmp_path).names() == ["a", "b"]


def test_names_of_a_missing_directory_are_empty(tmp_path: Path) -> None:
    assert TemplateLibrary(tmp_path / "nowhere").names() == []


def test_info_reads_the_header(library: TemplateLibrary) -> None:
    info = library.info("order_delayed")
    assert info.name == "order_delayed"
    assert info.description == "Tell a customer their order is delayed"
    assert info.channels == frozenset({Channel.SMS, Channel.WHATSAPP})
    assert dict(info.samples) == DELAYED_VARS
    assert info.subject == "Your order {{ order }} is delayed"
    assert info.provider_templates["bird"] == ProviderTemplate(
        id="7f1c-project",
        version="latest",
        locale="en",
        parameters={"name": "{{ name }}", "order": "{{ order }}", "when": "{{ new_date | date }}"},
    )


def test_variables_come_from_body_subject_and_provider_parameters(tmp_path: Path) -> None:
    write(
        tmp_path,
        "t",
        """\
        {#-
        subject = "About {{ topic }}"
        [provider_templates.callbell]
        id = "uuid-1"
        parameters = { first = "{{ first_name }}" }
        -#}
        {% set greeting = "Hi" %}{{ greeting }} {{ name }}
        {% for item in items %}{{ item }}{% endfor %}
        """,
    )
    info = TemplateLibrary(tmp_path).info("t")
    assert info.variables == {"topic", "first_name", "name", "items"}
    assert info.variable_order == ("name", "items", "topic", "first_name")


def test_variables_guarded_by_default_or_defined_are_optional(tmp_path: Path) -> None:
    body = "{{ code }}{% if note is defined %} {{ note }}{% endif %} {{ minutes | default('10') }}"
    write(tmp_path, "t", body)
    library = TemplateLibrary(tmp_path)
    info = library.info("t")
    assert info.variables == {"code"}
    assert info.optional_variables == {"note", "minutes"}
    assert library.render("t", {"code": "1"}).text == "1 10"
    assert library.render("t", {"code": "1", "note": "hi", "minutes": "5"}).text == "1 hi 5"


def test_samples_may_be_toml_dates_and_numbers(tmp_path: Path) -> None:
    write(
        tmp_path,
        "t",
        """\
        {#-
        [samples]
        day = 2026-12-01
        at = 2026-12-01T09:30:00+01:00
        amount = 12.5
        count = 3
        -#}
        {{ day | date }} {{ at | time }} {{ amount | money }} {{ count }}
        """,
    )
    library = TemplateLibrary(tmp_path)
    assert dict(library.info("t").samples) == {
        "day": "2026-12-01",
        "at": "2026-12-01T09:30:00+01:00",
        "amount": "12.5",
        "count": "3",
    }
    assert library.check() == []


def test_file_without_header_is_a_template_for_every_channel(tmp_path: Path) -> None:
    write(tmp_path, "plain", "Hello {{ name }}!\n")
    library = TemplateLibrary(tmp_path)
    info = library.info("plain")
    assert (info.description, info.subject, dict(info.samples)) == (None, None, {})
    assert info.channels == frozenset(Channel)
    assert info.provider_templates == {}
    assert library.render("plain", {"name": "Jane"}, channel=Channel.ZALO).text == "Hello Jane!"


def test_ordinary_comment_at_the_top_is_not_a_header(tmp_path: Path) -> None:
    write(tmp_path, "t", "{# Used by the billing team. #}\nHello {{ name }}")
    library = TemplateLibrary(tmp_path)
    assert library.info("t").description is None
    assert library.render("t", {"name": "Jane"}).text == "Hello Jane"


# Rendering


def test_render_returns_text_subject_and_sms_analysis(library: TemplateLibrary) -> None:
    rendered = library.render("order_delayed", DELAYED_VARS, channel=Channel.SMS)
    assert rendered.name == "order_delayed"
    assert rendered.text == "Hi Jane, your order A-1042 is delayed; it should arrive 01 Dec."
    assert rendered.subject == "Your order A-1042 is delayed"
    assert rendered.provider_template is None
    assert rendered.sms.summary() == "GSM-7 · 63 characters · 1 segment"


def test_render_strips_whitespace_and_keeps_text_unescaped(tmp_path: Path) -> None:
    text = render_body(tmp_path, "\n\n  {{ a }} & <b>{{ b }}</b>  \n\n", a="Tom & Jerry", b="<3")
    assert text == "Tom & Jerry & <b><3</b>"


def test_variable_values_are_not_rendered_as_templates(tmp_path: Path) -> None:
    assert render_body(tmp_path, "Hi {{ name }}", name="{{ 7 * 7 }}") == "Hi {{ 7 * 7 }}"


def test_subject_is_rendered_on_one_line(tmp_path: Path) -> None:
    write(tmp_path, "t", '{#- subject = "News  for {{ who }}" -#}\nBody')
    assert TemplateLibrary(tmp_path).render("t", {"who": "A\nB"}).subject == "News for A B"


def test_provider_template_parameters_are_rendered(library: TemplateLibrary) -> None:
    rendered = library.render("order_delayed", DELAYED_VARS, provider="bird")
    assert rendered.provider_template == ProviderTemplate(
        id="7f1c-project",
        version="latest",
        locale="en",
        parameters={"name": "Jane", "order": "A-1042", "when": "01 Dec 2026"},
    )
    assert list(rendered.provider_template.parameters) == ["name", "order", "when"]


def test_provider_without_a_provider_template_gets_none(library: TemplateLibrary) -> None:
    assert (
        library.render("order_delayed", DELAYED_VARS, provider="sociocs").provider_template is None
    )


def test_template_edited_on_disk_is_read_again(tmp_path: Path) -> None:
    # with the clock driven by hand, edits, additions and deletions: tests/test_template_cache.py
    path = write(tmp_path, "t", "Old {{ a }}")
    library = TemplateLibrary(tmp_path, recheck_after=0)
    assert library.render("t", {"a": "1"}).text == "Old 1"
    write(tmp_path, "t", '{#- description = "New" -#}\nNew {{ b }}')
    assert library.info("t").description == "New"
    assert library.render("t", {"b": "2"}).text == "New 2"
    path.unlink()
    with pytest.raises(TemplateNotFoundError):
        library.render("t", {"b": "2"})


def test_included_template_is_rendered_from_the_same_directory(tmp_path: Path) -> None:
    write(tmp_path, "footer", "Reply STOP to opt out.")
    assert render_body(tmp_path, "Hi. {% include 'footer.j2' %}") == "Hi. Reply STOP to opt out."


def test_include_cannot_leave_the_templates_directory(tmp_path: Path) -> None:
    templates = tmp_path / "templates"
    templates.mkdir()
    (tmp_path / "secret.j2").write_text("secret", encoding="utf-8")
    write(templates, "t", "{% include '../secret.j2' %}")
    with pytest.raises(TemplateRenderError) as caught:
        TemplateLibrary(templates).render("t", {})
    assert str(caught.value) == (
        "Template 't' (templates/t.j2, line 1) includes '../secret.j2', which is not a file "
        "in templates/. Fix the template file and try again."
    )


def test_message_that_renders_empty_is_refused(tmp_path: Path) -> None:
    write(tmp_path, "t", "{% if urgent is defined %}Now!{% endif %}")
    with pytest.raises(TemplateRenderError, match="renders an empty message"):
        TemplateLibrary(tmp_path).render("t", {})


# Variables


def test_missing_variables_are_named_with_an_example(library: TemplateLibrary) -> None:
    with pytest.raises(MissingVariablesError) as caught:
        library.render("order_delayed", {"name": "Jane"})
    assert caught.value.missing == ("order", "new_date")
    assert caught.value.unknown == ()
    assert caught.value.code == "template_variables_missing"
    assert caught.value.fields == ("variables",)
    assert caught.value.details["examples"] == ("A-1042", "2026-12-01")
    assert str(caught.value) == (
        "Template 'order_delayed' needs 2 variables you did not give: order, new_date. "
        "Add them, e.g. order=A-1042, new_date=2026-12-01"
    )
    assert phrase(caught.value) == (  # as the CLI and the slash command say it
        "Template 'order_delayed' needs 2 variables you did not give: order, new_date. "
        "Add them, e.g. --var order=A-1042 --var new_date=2026-12-01"
    )


def test_missing_variables_are_reported_before_anything_renders(tmp_path: Path) -> None:
    # Rendering would fail in the filter first; the missing variable must win.
    write(tmp_path, "t", "{{ when | date }} {{ name }}")
    with pytest.raises(MissingVariablesError) as caught:
        TemplateLibrary(tmp_path).render("t", {"when": "not a date"})
    assert re.search(r"name\. Add it, e\.g\. --var name=…", phrase(caught.value))


def test_example_quotes_sample_values_with_spaces(tmp_path: Path) -> None:
    write(tmp_path, "t", '{#-\n[samples]\nname = "Jane Doe"\n-#}\nHi {{ name }}')
    with pytest.raises(MissingVariablesError) as caught:
        TemplateLibrary(tmp_path).render("t", {})
    assert "--var name='Jane Doe'" in phrase(caught.value)  # quoted for a shell


def test_unknown_variable_is_refused_with_a_suggestion(library: TemplateLibrary) -> None:
    with pytest.raises(UnknownVariablesError) as caught:
        library.render("order_delayed", {"name": "Jane", "ordr": "A-1042", "new_date": "x"})
    assert caught.value.unknown == ("ordr",)
    assert caught.value.missing == ("order",)
    assert str(caught.value) == (
        "Template 'order_delayed' has no variable 'ordr' (did you mean 'order'?). "
        "Its variables are name, order, new_date."
    )


def test_variables_for_a_template_without_any_are_refused(tmp_path: Path) -> None:
    write(tmp_path, "t", "Static text")
    with pytest.raises(UnknownVariablesError) as caught:
        TemplateLibrary(tmp_path).render("t", {"x": "1"})
    assert str(caught.value).endswith("'x'. It takes no variables; leave them out.")
    assert phrase(caught.value).endswith("'x'. It takes no variables; leave out --var.")


# Channels


def test_channel_outside_the_templates_channels_is_refused(library: TemplateLibrary) -> None:
    with pytest.raises(TemplateChannelError) as caught:
        library.render("order_delayed", DELAYED_VARS, channel=Channel.EMAIL)
    assert str(caught.value) == (
        "Template 'order_delayed' is for sms, whatsapp, not email. "
        "Choose a template for email, or a connection that sends sms, whatsapp."
    )


# Not found


def test_unknown_template_suggests_close_names(library: TemplateLibrary) -> None:
    with pytest.raises(TemplateNotFoundError) as caught:
        library.render("order_delay", {})
    assert isinstance(caught.value, LookupError)
    assert str(caught.value) == "There is no template 'order_delay'. Did you mean 'order_delayed'?"


def test_unknown_template_without_close_names_lists_them(library: TemplateLibrary) -> None:
    with pytest.raises(TemplateNotFoundError, match=r"The templates are order_delayed\.$"):
        library.info("welcome")


def test_template_names_cannot_reach_outside_the_directory(tmp_path: Path) -> None:
    templates = tmp_path / "templates"
    templates.mkdir()
    write(tmp_path, "secret", "secret")
    with pytest.raises(TemplateNotFoundError):
        TemplateLibrary(templates).render("../secret", {})


def test_empty_directory_says_there_are_no_templates(tmp_path: Path) -> None:
    with pytest.raises(TemplateNotFoundError, match="There are no templates in"):
        TemplateLibrary(tmp_path).info("x")


# Syntax and header errors


def test_syntax_error_names_file_and_line(tmp_path: Path) -> None:
    write(tmp_path, "t", '{#-\ndescription = "x"\n-#}\nHi {{ name }}\n{% if name %}\n{{ name }\n')
    with pytest.raises(TemplateSyntaxError) as caught:
        TemplateLibrary(tmp_path).info("t")
    message = str(caught.value)
    assert (
        message
        == f"{tmp_path.name}/t.j2, line 6: unexpected '}}'. Fix the template file and try again."
    )
    assert isinstance(caught.value.__cause__, jinja2.TemplateSyntaxError)


def test_unclosed_block_is_a_syntax_error(tmp_path: Path) -> None:
    write(tmp_path, "t", "Hi\n{% if name %}\n{{ name }}\n")
    with pytest.raises(TemplateSyntaxError) as caught:
        TemplateLibrary(tmp_path).info("t")
    assert "Unexpected end of template." in str(caught.value)
    assert "is 'if'. Fix the template file" in str(caught.value)


def test_syntax_error_in_the_subject_is_named(tmp_path: Path) -> None:
    write(tmp_path, "t", '{#- subject = "Hi {{ name }" -#}\nBody')
    with pytest.raises(TemplateSyntaxError, match=r"t\.j2 \(subject\), line 1: unexpected '}'"):
        TemplateLibrary(tmp_path).info("t")


def test_invalid_toml_header_names_file_and_line(tmp_path: Path) -> None:
    write(tmp_path, "t", '{#-\ndescription = "x"\nchannels = [sms]\n-#}\nBody')
    with pytest.raises(TemplateHeaderError) as caught:
        TemplateLibrary(tmp_path).info("t")
    message = str(caught.value)
    assert message.startswith(f"{tmp_path.name}/t.j2, line 3: the header")
    assert "not valid TOML: Invalid value" in message
    assert message.endswith("Fix the header, the {#- … -#} comment at the top of the file.")


@pytest.mark.parametrize(
    ("header", "problem"),
    [
        ('descripton = "x"', "unknown key 'descripton' (did you mean 'description'?)"),
        ("description = 3", 'description must be text in quotes, like description = "…"'),
        ('channels = ["sms", "fax"]', "channels lists 'fax', which is not a channel; use sms,"),
        ('channels = "sms"', 'channels must be a list like ["sms", "whatsapp"]'),
        ("samples = 3", "samples must be a table, written [samples]"),
        ("[samples]\nok = true", 'samples.ok must be text, a number or a date, like ok = "…"'),
        ('[provider_templates.brid]\nid = "x"', "unknown provider (did you mean 'bird'?)"),
        ('[provider_templates.bird]\nlocale = "en"', "[provider_templates.bird] needs"),
        ('[provider_templates.bird]\nid = "x"\nlang = "en"', "unknown key 'lang'"),
        ('[provider_templates.bird]\nid = "x"\nparameters = { a = 1 }', "parameters.a must be"),
    ],
)
def test_invalid_header_says_what_is_wrong(tmp_path: Path, header: str, problem: str) -> None:
    write(tmp_path, "t", f"{{#-\n{header}\n-#}}\nBody")
    with pytest.raises(TemplateHeaderError) as caught:
        TemplateLibrary(tmp_path).info("t")
    assert problem in str(caught.value)
    assert str(caught.value).startswith(f"{tmp_path.name}/t.j2 (header): ")


def test_file_that_is_not_utf8_is_reported(tmp_path: Path) -> None:
    (tmp_path / "t.j2").write_bytes(b"Caf\xe9")
    with pytest.raises(TemplateSyntaxError, match="Save it as UTF-8 text"):
        TemplateLibrary(tmp_path).info("t")


# The sandbox


@pytest.mark.parametrize(
    "expression",
    [
        "''.__class__.__mro__",
        "''.__class__.__mro__[1].__subclasses__()",
        "cycler.__init__.__globals__",
        "joiner.__init__.__globals__.os",
        "lipsum.__globals__",
        "namespace.__init__.__globals__",
        "name.__class__",
        "name | attr('__class__')",
        "'{0.__class__}'.format(name)",
        "self._TemplateReference__context",
        "[].append(1)",
        "{}.update(a=1)",
        "'x' * 100000000",
        "2 ** 100000",
        "9 ** 99 ** 99",
    ],
)
def test_sandbox_refuses_reaching_python_internals(tmp_path: Path, expression: str) -> None:
    write(tmp_path, "t", f"Hi {{{{ name }}}}\n{{{{ {expression} }}}}")
    with pytest.raises(UnsafeTemplateError) as caught:
        TemplateLibrary(tmp_path).render("t", {"name": "Jane"})
    assert str(caught.value).startswith(f"Template 't' ({tmp_path.name}/t.j2, line 2) tries")
    assert "Remove that expression: templates can use variables and filters" in str(caught.value)
    assert isinstance(caught.value.__cause__, jinja2.exceptions.SecurityError)


def test_sandbox_still_allows_ordinary_expressions(tmp_path: Path) -> None:
    body = "{{ name | upper }} {{ '-' * 3 }} {{ 2 ** 10 }} {{ items | join(', ') }}"
    write(tmp_path, "t", body)
    assert TemplateLibrary(tmp_path).render("t", {"name": "jane", "items": "ab"}).text == (
        "JANE --- 1024 a, b"
    )


def test_other_runtime_failures_are_render_errors(tmp_path: Path) -> None:
    write(tmp_path, "t", "Hi\n{{ name.first }}")
    with pytest.raises(TemplateRenderError, match=r"Template 't' \(.*t\.j2, line 2\) cannot be"):
        TemplateLibrary(tmp_path).render("t", {"name": "Jane"})


# Filters


@pytest.mark.parametrize(
    ("expression", "expected"),
    [
        ('"2026-12-01" | date', "01 Dec 2026"),
        ('"2026-12-01" | date("%A %d %B", tz="Pacific/Kiritimati")', "Tuesday 01 December"),
        ('"2026-12-01T23:30Z" | date("%A %d %B", tz="Europe/Paris")', "Wednesday 02 December"),
        ('"2026-12-01T23:30Z" | date', "01 Dec 2026"),
        ('"2026-12-01T09:30+01:00" | time', "09:30"),
        ('"2026-12-01T09:30+01:00" | time(tz="America/New_York")', "03:30"),
        ('"2026-07-01T09:30+01:00" | time("%H:%M %Z", tz="Europe/London")', "09:30 BST"),
        ('"2026-12-01 09:30" | time("%H:%M %Z", tz="Europe/Amsterdam")', "09:30 CET"),
        ('"2026-12-01T09:30+01:00" | datetime', "01 Dec 2026 09:30"),
        ('"2026-12-01T09:30:00+00:00" | datetime("%d/%m %H:%M", tz="Asia/Tokyo")', "01/12 18:30"),
        ('"2026-12-01T09:30+01:00" | datetime("100%% on %a")', "100% on Tue"),
        ('"12.5" | money', "€12.50"),
        ('3 | money("USD")', "$3.00"),
        ('"7" | money("gbp")', "£7.00"),
        ('"12.5" | money("CHF")', "12.50 CHF"),
        ('"1500" | money("JPY")', "¥1500"),
        ('"1.2345" | money("KWD")', "1.235 KWD"),
        ('"0.125" | money', "€0.13"),
        ('"-4.5" | money("USD")', "-$4.50"),
        ('"1234567.891" | money', "€1234567.89"),
    ],
)
def test_filters_format_dates_times_and_money(
    tmp_path: Path, expression: str, expected: str
) -> None:
    assert render_body(tmp_path, f"{{{{ {expression} }}}}") == expected


def test_filter_examples_in_the_module_docstring_are_true(tmp_path: Path) -> None:
    examples = re.findall(r"``(\{\{.*?\}\})`` → ``(.*?)``", str(bot.templating.library.__doc__))
    assert len(examples) >= 8
    for expression, expected in examples:
        assert render_body(tmp_path, expression) == expected, expression


def test_filters_accept_python_values_too() -> None:
    from datetime import UTC, date, datetime
    from decimal import Decimal

    assert format_date(date(2026, 12, 1)) == "01 Dec 2026"
    assert format_time(datetime(2026, 12, 1, 8, 30, tzinfo=UTC), tz="Europe/Paris") == "09:30"
    assert format_datetime(datetime(2026, 12, 1, 8, 30)) == "01 Dec 2026 08:30"
    assert format_money(Decimal("2.5"), "EUR") == "€2.50"


@pytest.mark.parametrize(
    ("expression", "problem"),
    [
        ("when | date", "The date filter cannot read 'soon' as a date; use ISO 8601"),
        ("when | datetime", "The datetime filter cannot read 'soon' as a date"),
        ("day | time", "The time filter needs a time of day, but '2026-12-01' is only a date"),
        ("at | time(tz='Mars/Olympus')", "The time filter does not know the time zone 'Mars/"),
        ("at | date(tz='../../etc/passwd')", "The date filter does not know the time zone"),
        ("at | date(tz='Europe')", "does not know the time zone 'Europe'"),
        ("amount | money", "The money filter cannot read 'twelve' as an amount; write digits"),
        ("comma | money", "The money filter cannot read '12,50' as an amount"),
        ("'NaN' | money", "The money filter cannot read 'NaN' as an amount"),
        ("'1e999999' | money", "The money filter cannot read '1e999999' as an amount"),
        ("'1' | money('EURO')", "needs a three-letter currency code like EUR or USD, not 'EURO'"),
    ],
)
def test_filter_refuses_bad_input_naming_filter_and_value(
    tmp_path: Path, expression: str, problem: str
) -> None:
    write(tmp_path, "t", f"{{{{ {expression} }}}}")
    variables = {"when": "soon", "day": "2026-12-01", "at": "2026-12-01T09:30Z"}
    variables |= {"amount": "twelve", "comma": "12,50"}
    library = TemplateLibrary(tmp_path)
    used = {k: v for k, v in variables.items() if k in library.info("t").variables}
    with pytest.raises(TemplateValueError) as caught:
        library.render("t", used)
    assert problem in str(caught.value)
    assert str(caught.value).startswith(f"Template 't' ({tmp_path.name}/t.j2, line 1): The ")
    assert caught.value.fields == ("variables",)


# check()


def test_check_reports_each_broken_template(tmp_path: Path) -> None:
    write(tmp_path, "good", '{#-\n[samples]\nname = "Jane"\n-#}\nHi {{ name }}')
    write(tmp_path, "no_samples", "Hi {{ name }} {{ order }}")
    write(tmp_path, "bad_sample", '{#-\n[samples]\nwhen = "soon"\n-#}\n{{ when | date }}')
    write(tmp_path, "extra_sample", '{#-\n[samples]\nnmae = "Jane"\n-#}\nHi')
    write(tmp_path, "syntax", "{{ oops")
    write(tmp_path, "unsafe", "{{ ''.__class__ }}")
    problems = TemplateLibrary(tmp_path).check()
    assert len(problems) == 5
    assert problems[0].startswith("Template 'bad_sample' (")
    assert "The date filter cannot read 'soon'" in problems[0]
    assert problems[1].startswith("Template 'extra_sample' has no variable 'nmae'")
    assert problems[2] == (
        "Template 'no_samples' has no sample for name, order. Add them under [samples] "
        "in its header so previews and checks can render it."
    )
    assert problems[3].startswith(f"{tmp_path.name}/syntax.j2, line 1:")
    assert problems[4].startswith("Template 'unsafe' (")


def test_check_renders_provider_template_parameters(tmp_path: Path) -> None:
    write(
        tmp_path,
        "t",
        """\
        {#-
        [samples]
        when = "2026-12-01"
        [provider_templates.bird]
        id = "p"
        parameters = { when = "{{ when | time }}" }
        -#}
        {{ when | date }}
        """,
    )
    (problem,) = TemplateLibrary(tmp_path).check()
    assert "The time filter needs a time of day" in problem


# The error tree


def test_every_template_error_is_an_input_error() -> None:
    for error in (
        TemplateNotFoundError,
        TemplateHeaderError,
        TemplateSyntaxError,
        UnsafeTemplateError,
        TemplateChannelError,
        MissingVariablesError,
        UnknownVariablesError,
        TemplateValueError,
        TemplateRenderError,
    ):
        assert issubclass(error, RenderingError)
        assert issubclass(error, InputError)


def test_rendering_module_does_not_import_slack() -> None:
    import bot.templating.environment
    import bot.templating.errors
    import bot.templating.filters
    import bot.templating.header
    import bot.templating.sms

    for module in (
        bot.templating.library,
        bot.templating.sms,
        bot.templating.filters,
        bot.templating.errors,
        bot.templating.header,
        bot.templating.environment,
    ):
        source = Path(str(module.__file__)).read_text(encoding="utf-8")
        assert "slack_bolt" not in source
        assert "slack_sdk" not in source
