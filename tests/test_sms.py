"""SMS encoding and segment counting (GSM 03.38 / UCS-2)."""

from __future__ import annotations

import pytest

from bot.templating.sms import GSM7_BASIC, GSM7_EXTENSION, SmsAnalysis, analyze_sms

EXTENSION_CHARACTERS = ["€", "[", "]", "{", "}", "^", "~", "|", "\\", "\f"]


def test_tables_are_the_gsm_03_38_ones() -> None:
    assert len(GSM7_BASIC) == 127  # 128 positions less the escape
    assert set(EXTENSION_CHARACTERS) == GSM7_EXTENSION
    assert not GSM7_BASIC & GSM7_EXTENSION
    assert {"@", "£", "$", "¥", "è", "é", "Ç", "Ø", "Δ", "¤", "¡", "§", "¿", "à", "\n", "\r"} <= (
        GSM7_BASIC
    )


def test_empty_text_is_zero_segments() -> None:
    assert analyze_sms("") == SmsAnalysis("GSM-7", 0, 0, ())


@pytest.mark.parametrize(
    ("length", "segments"), [(1, 1), (160, 1), (161, 2), (306, 2), (307, 3), (459, 3), (460, 4)]
)
def test_gsm7_segments_are_160_then_153(length: int, segments: int) -> None:
    analysis = analyze_sms("a" * length)
    assert (analysis.encoding, analysis.characters, analysis.segments) == (
        "GSM-7",
        length,
        segments,
    )


@pytest.mark.parametrize(
    ("length", "segments"), [(1, 1), (70, 1), (71, 2), (134, 2), (135, 3), (201, 3), (202, 4)]
)
def test_ucs2_segments_are_70_then_67(length: int, segments: int) -> None:
    analysis = analyze_sms("ж" * length)
    assert (analysis.encoding, analysis.characters, analysis.segments) == (
        "UCS-2",
        length,
        segments,
    )


@pytest.mark.parametrize("character", EXTENSION_CHARACTERS)
def test_extension_characters_count_two_septets(character: str) -> None:
    fits = analyze_sms("a" * 158 + character)
    assert (fits.encoding, fits.characters, fits.segments) == ("GSM-7", 160, 1)
    spills = analyze_sms("a" * 159 + character)
    assert (spills.characters, spills.segments) == (161, 2)


def test_escape_pair_is_never_split_across_segments() -> None:
    # 306 septets would be two segments, but the € cannot straddle the first boundary.
    analysis = analyze_sms("a" * 152 + "€" + "a" * 152)
    assert (analysis.characters, analysis.segments) == (306, 3)


def test_emoji_counts_two_code_units() -> None:
    fits = analyze_sms("a" * 68 + "😀")
    assert (fits.encoding, fits.characters, fits.segments) == ("UCS-2", 70, 1)
    assert analyze_sms("a" * 69 + "😀").segments == 2


def test_surrogate_pair_is_never_split_across_segments() -> None:
    analysis = analyze_sms("a" * 66 + "😀" + "a" * 66)
    assert (analysis.characters, analysis.segments) == (134, 3)


def test_one_character_outside_gsm7_switches_the_whole_text_to_ucs2() -> None:
    analysis = analyze_sms("a" * 100 + "’")
    assert (analysis.encoding, analysis.characters, analysis.segments) == ("UCS-2", 101, 2)


@pytest.mark.parametrize("character", ["ç", "`", "’", "“", "–", "…", "\u00a0", "ж", "😀"])
def test_characters_outside_the_gsm7_tables_need_ucs2(character: str) -> None:
    assert analyze_sms(f"Hi {character}").encoding == "UCS-2"


def test_ucs2_characters_are_listed_once_in_order_of_first_appearance() -> None:
    analysis = analyze_sms("It’s 😀 time — it’s 😀 é")
    assert analysis.ucs2_characters == ("’", "😀", "—")


def test_summary_for_gsm7() -> None:
    assert analyze_sms("x" * 42).summary() == "GSM-7 · 42 characters · 1 segment"
    assert analyze_sms("x").summary() == "GSM-7 · 1 character · 1 segment"


def test_summary_names_what_forced_ucs2() -> None:
    text = "Café’s new menu 😀 " + "a" * 56
    assert (
        analyze_sms(text).summary() == "UCS-2 (because of '’', '😀') · 75 characters · 2 segments"
    )


def test_summary_shows_invisible_characters_by_code_point() -> None:
    assert analyze_sms("10\u00a0EUR").summary().startswith("UCS-2 (because of U+00A0) ·")


def test_summary_shortens_a_long_list_of_characters() -> None:
    summary = analyze_sms("你好世界再见朋友").summary()
    assert summary.startswith("UCS-2 (because of '你', '好', '世', '界', '再', 3 more) ·")
