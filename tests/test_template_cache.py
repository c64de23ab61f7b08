"""What the template library keeps between renders, and how soon it sees changes on disk.

The clock is driven by hand: what was read is trusted for ``RECHECK_AFTER`` seconds,
then looked at again; nothing here sleeps.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from bot.templating import sms
from bot.templating.files import RECHECK_AFTER
from bot.templating.library import (
    MissingVariablesError,
    TemplateChannelError,
    TemplateLibrary,
    TemplateNotFoundError,
    TemplateRenderError,
    TemplateSyntaxError,
    UnknownVariablesError,
    UnsafeTemplateError,
)
from bot.templating.sms import GSM7_BASIC, GSM7_EXTENSION, SmsAnalysis, analyze_sms
from providers import Channel

JUST_BEFORE = RECHECK_AFTER - 0.001


class Clock:
    """A monotonic clock that moves only when told."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


@pytest.fixture
def clock() -> Clock:
    return Clock()


def write(directory: Path, name: str, text: str) -> Path:
    path = directory / f"{name}.j2"
    path.write_text(text, encoding="utf-8")
    return path


def library_of(directory: Path, clock: Clock, **templates: str) -> TemplateLibrary:
    for name, text in templates.items():
        write(directory, name, text)
    return TemplateLibrary(directory, clock=clock)


# Edits, additions and deletions on disk


def test_edit_is_used_once_the_recheck_interval_has_passed(tmp_path: Path, clock: Clock) -> None:
    library = library_of(tmp_path, clock, t="Old {{ a }}")
    assert library.render("t", {"a": "1"}).text == "Old 1"

    write(tmp_path, "t", "New {{ b }}")
    clock.advance(JUST_BEFORE)
    assert library.render("t", {"a": "1"}).text == "Old 1"
    clock.advance(0.001)
    assert library.render("t", {"b": "2"}).text == "New 2"


def test_renders_within_the_interval_neither_list_nor_read_the_directory(
    tmp_path: Path, clock: Clock
) -> None:
    templates = tmp_path / "templates"
    templates.mkdir()
    library = library_of(templates, clock, t="Hi {{ a }}")
    library.render("t", {"a": "1"})

    shutil.rmtree(templates)
    clock.advance(JUST_BEFORE)
    assert library.render("t", {"a": "2"}).text == "Hi 2"


def test_header_change_is_used_after_the_interval(tmp_path: Path, clock: Clock) -> None:
    library = library_of(tmp_path, clock, t='{#- channels = ["sms"] -#}\nHi')
    assert library.render("t", {}, channel=Channel.SMS).text == "Hi"

    write(tmp_path, "t", '{#-\ndescription = "Now"\nchannels = ["email"]\n-#}\nHi')
    clock.advance(RECHECK_AFTER)
    assert library.info("t").description == "Now"
    with pytest.raises(TemplateChannelError, match="Template 't' is for email, not sms"):
        library.render("t", {}, channel=Channel.SMS)


def test_quick_second_save_with_the_same_size_and_mtime_is_seen(
    tmp_path: Path, clock: Clock
) -> None:
    library = library_of(tmp_path, clock, t="Hi A")
    path = tmp_path / "t.j2"
    before = path.stat()
    assert library.render("t", {}).text == "Hi A"

    path.write_text("Hi B", encoding="utf-8")
    os.utime(path, ns=(before.st_atime_ns, before.st_mtime_ns))
    clock.advance(RECHECK_AFTER)
    assert library.render("t", {}).text == "Hi B"


def test_file_added_is_found_at_once(tmp_path: Path, clock: Clock) -> None:
    library = library_of(tmp_path, clock, a="A")
    assert library.names() == ["a"]
    library.render("a", {})

    write(tmp_path, "b", "B")
    assert library.render("b", {}).text == "B"
    assert library.names() == ["a", "b"]


def test_file_added_after_a_miss_is_found_at_once(tmp_path: Path, clock: Clock) -> None:
    library = library_of(tmp_path, clock, a="A")
    with pytest.raises(TemplateNotFoundError):
        library.render("b", {})

    write(tmp_path, "b", "B")
    assert library.render("b", {}).text == "B"


def test_file_deleted_is_not_found_after_the_interval(tmp_path: Path, clock: Clock) -> None:
    library = library_of(tmp_path, clock, order_delayed="Late", other="Other")
    library.render("order_delayed", {})

    (tmp_path / "order_delayed.j2").unlink()
    clock.advance(RECHECK_AFTER)
    with pytest.raises(TemplateNotFoundError) as caught:
        library.render("order_delayed", {})
    assert str(caught.value) == "There is no template 'order_delayed'. The templates are other."
    assert library.names() == ["other"]


def test_file_deleted_and_written_again_is_used(tmp_path: Path, clock: Clock) -> None:
    library = library_of(tmp_path, clock, t="One")
    library.render("t", {})
    (tmp_path / "t.j2").unlink()
    clock.advance(RECHECK_AFTER)
    with pytest.raises(TemplateNotFoundError):
        library.render("t", {})

    write(tmp_path, "t", "Two")
    assert library.render("t", {}).text == "Two"


def test_name_outside_the_directory_is_not_found_from_the_cache(
    tmp_path: Path, clock: Clock
) -> None:
    templates = tmp_path / "templates"
    templates.mkdir()
    write(tmp_path, "secret", "secret")
    library = library_of(templates, clock, t="T")
    library.render("t", {})
    with pytest.raises(TemplateNotFoundError):
        library.render("../secret", {})


def test_unchanged_file_is_not_compiled_again(tmp_path: Path, clock: Clock) -> None:
    library = library_of(tmp_path, clock, t='{#- description = "D" -#}\nHi {{ a }}')
    info = library.info("t")

    write(tmp_path, "t", '{#- description = "D" -#}\nHi {{ a }}')  # saved again, same text
    clock.advance(RECHECK_AFTER * 3)
    assert library.info("t") is info


def test_recheck_after_zero_looks_at_disk_on_every_render(tmp_path: Path, clock: Clock) -> None:
    write(tmp_path, "t", "Old")
    library = TemplateLibrary(tmp_path, clock=clock, recheck_after=0)
    assert library.render("t", {}).text == "Old"
    write(tmp_path, "t", "New")
    assert library.render("t", {}).text == "New"


# Included files


def test_included_file_edited_is_used_after_the_interval(tmp_path: Path, clock: Clock) -> None:
    library = library_of(tmp_path, clock, footer="Reply STOP.", t="Hi. {% include 'footer.j2' %}")
    assert library.render("t", {}).text == "Hi. Reply STOP."

    write(tmp_path, "footer", "Text STOP to 1234.")
    clock.advance(JUST_BEFORE)
    assert library.render("t", {}).text == "Hi. Reply STOP."
    clock.advance(0.001)
    assert library.render("t", {}).text == "Hi. Text STOP to 1234."


def test_included_file_deleted_is_an_error_after_the_interval(tmp_path: Path, clock: Clock) -> None:
    library = library_of(tmp_path, clock, footer="Reply STOP.", t="Hi.\n{% include 'footer.j2' %}")
    library.render("t", {})

    (tmp_path / "footer.j2").unlink()
    clock.advance(RECHECK_AFTER)
    with pytest.raises(TemplateRenderError) as caught:
        library.render("t", {})
    assert str(caught.value) == (
        f"Template 't' ({tmp_path.name}/t.j2, line 2) includes 'footer.j2', which is not a "
        f"file in {tmp_path.name}/. Fix the template file and try again."
    )


# Errors are the same from the cache as on first use


def test_syntax_error_from_an_edit_names_file_and_line_until_fixed(
    tmp_path: Path, clock: Clock
) -> None:
    library = library_of(tmp_path, clock, t="Hi {{ a }}")
    library.render("t", {"a": "1"})

    write(tmp_path, "t", "Hi\n{{ a }\n")
    clock.advance(RECHECK_AFTER)
    for _ in range(2):
        with pytest.raises(TemplateSyntaxError) as caught:
            library.render("t", {"a": "1"})
        assert str(caught.value) == (
            f"{tmp_path.name}/t.j2, line 2: unexpected '}}'. Fix the template file and try again."
        )

    write(tmp_path, "t", "Hi {{ a }}!")
    assert library.render("t", {"a": "1"}).text == "Hi 1!"  # a broken file is never cached


def test_file_that_stops_being_utf8_is_an_error_after_the_interval(
    tmp_path: Path, clock: Clock
) -> None:
    library = library_of(tmp_path, clock, t="Cafe")
    library.render("t", {})

    (tmp_path / "t.j2").write_bytes(b"Caf\xe9")
    clock.advance(RECHECK_AFTER)
    with pytest.raises(TemplateSyntaxError, match=r"t\.j2 cannot be read .* Save it as UTF-8"):
        library.render("t", {})


def test_variable_errors_are_the_same_when_served_from_the_cache(
    tmp_path: Path, clock: Clock
) -> None:
    library = library_of(tmp_path, clock, t="Hi {{ name }}, order {{ order }}")
    messages = []
    for _ in range(2):
        with pytest.raises(MissingVariablesError) as missing:
            library.render("t", {"name": "Jane"})
        with pytest.raises(UnknownVariablesError) as unknown:
            library.render("t", {"name": "Jane", "order": "1", "ordr": "1"})
        messages.append((str(missing.value), str(unknown.value)))
    assert messages[0] == messages[1]
    assert messages[0] == (
        "Template 't' needs 1 variable you did not give: order. Add it, e.g. order=…",
        "Template 't' has no variable 'ordr' (did you mean 'order'?). "
        "Its variables are name, order.",
    )


def test_sandbox_refuses_internals_when_served_from_the_cache(tmp_path: Path, clock: Clock) -> None:
    library = library_of(tmp_path, clock, t="{{ ''.__class__ }}")
    for _ in range(2):
        with pytest.raises(UnsafeTemplateError, match="tries something templates may not do"):
            library.render("t", {})


# SMS analysis


def _analysis_per_character(text: str) -> SmsAnalysis:
    """The analysis written the plain way, one character at a time: the reference."""
    ucs2 = tuple(dict.fromkeys(c for c in text if c not in GSM7_BASIC | GSM7_EXTENSION))
    if ucs2:
        sizes = [2 if ord(c) > 0xFFFF else 1 for c in text]
        single, per_segment = 70, 67
    else:
        sizes = [2 if c in GSM7_EXTENSION else 1 for c in text]
        single, per_segment = 160, 153
    total = sum(sizes)
    segments, used = (1 if total else 0), 0
    if total > single:
        for size in sizes:
            if used + size > per_segment:
                segments, used = segments + 1, 0
            used += size
    return SmsAnalysis("UCS-2" if ucs2 else "GSM-7", total, segments, ucs2)


SMS_TEXT = st.text(
    st.sampled_from(sorted(GSM7_BASIC) + sorted(GSM7_EXTENSION) + ["ë", "’", "—", "😀", "\u00a0"])
    | st.characters(),
    max_size=700,
)


@given(SMS_TEXT)
def test_cached_sms_analysis_equals_a_fresh_one(text: str) -> None:
    fresh = _analysis_per_character(text)
    assert sms._analyze(text) == fresh
    assert analyze_sms(text) == fresh
    assert analyze_sms(text) == fresh  # the second time from the cache


def test_render_analyzes_its_text_once_and_receipts_reuse_it(tmp_path: Path, clock: Clock) -> None:
    library = library_of(tmp_path, clock, t="Ciao {{ name }} — à bientôt")
    rendered = library.render("t", {"name": "Zoë"})
    assert rendered.sms == _analysis_per_character(rendered.text)
    assert analyze_sms(rendered.text) is rendered.sms  # what a receipt computes is the same
