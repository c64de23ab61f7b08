"""How a text travels as SMS: its encoding, its length and how many segments it costs.

An SMS carries 140 bytes. Text that fits the GSM 03.38 alphabet (3GPP TS 23.038)
is packed as 7-bit septets: 160 per message, or 153 per segment once it is split
(each segment spends 7 on the concatenation header). Characters of the extension
table (``€ [ ] { } ^ ~ | \\`` and form feed) take two septets, an escape and the
character. One character outside both tables switches the whole message to UCS-2:
70 UTF-16 code units per message, 67 per segment, and an emoji is two units.

Like carriers, a segment never splits an escape pair or a surrogate pair, so a
two-unit character that does not fit at the end of a segment starts the next one.

Every rendered text is analyzed, and the same text again for its Slack receipt, so
the analysis counts with set and string methods rather than per character in Python,
and the last `CACHED_TEXTS` distinct texts keep theirs (`SmsAnalysis` is immutable).
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from typing import Literal

GSM7_BASIC = frozenset(
    "@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞÆæßÉ !\"#¤%&'()*+,-./0123456789:;<=>?"
    "¡ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§¿abcdefghijklmnopqrstuvwxyzäöñüà"
)
"""The GSM 03.38 default alphabet: 128 positions less 0x1B, the escape to the extension table."""

GSM7_EXTENSION = frozenset("\f^{}\\[~]|€")
"""The extension table: each of these costs two septets (escape + character)."""

_GSM7 = GSM7_BASIC | GSM7_EXTENSION

Encoding = Literal["GSM-7", "UCS-2"]

CACHED_TEXTS = 1024

_LIMITS: dict[Encoding, tuple[int, int]] = {"GSM-7": (160, 153), "UCS-2": (70, 67)}
_SHOWN_CHARACTERS = 5


@dataclass(frozen=True)
class SmsAnalysis:
    """What a text costs as SMS.

    ``characters`` counts what the network counts: septets for GSM-7 (extension
    characters count 2), UTF-16 code units for UCS-2 (an emoji counts 2).
    ``ucs2_characters`` lists, in order of first appearance, the characters that
    forced UCS-2; replacing them brings the text back to GSM-7.
    """

    encoding: Encoding
    characters: int
    segments: int
    ucs2_characters: tuple[str, ...] = ()

    def summary(self) -> str:
        """One line for people, e.g. ``GSM-7 · 42 characters · 1 segment``."""
        encoding: str = self.encoding
        if self.ucs2_characters:
            shown = [_show(c) for c in self.ucs2_characters[:_SHOWN_CHARACTERS]]
            hidden = len(self.ucs2_characters) - len(shown)
            if hidden:
                shown.append(f"{hidden} more")
            encoding += f" (because of {', '.join(shown)})"
        return (
            f"{encoding} · {_plural(self.characters, 'character')} · "
            f"{_plural(self.segments, 'segment')}"
        )


def analyze_sms(text: str) -> SmsAnalysis:
    """Encoding, length and segment count of ``text`` sent as one SMS message."""
    return _analyze_cached(text)


def _analyze(text: str) -> SmsAnalysis:
    present = set(text)
    outside = present - _GSM7
    encoding: Encoding = "UCS-2" if outside else "GSM-7"
    ucs2: tuple[str, ...] = ()
    if outside:
        ucs2 = tuple(dict.fromkeys(c for c in text if c in outside))
        double = {c for c in outside if ord(c) > 0xFFFF}  # outside the BMP: a surrogate pair
    else:
        double = present & GSM7_EXTENSION  # an escape and the character
    characters = len(text) + sum(text.count(c) for c in double)
    return SmsAnalysis(
        encoding=encoding,
        characters=characters,
        segments=_segments(text, characters, double, *_LIMITS[encoding]),
        ucs2_characters=ucs2,
    )


_analyze_cached = lru_cache(maxsize=CACHED_TEXTS)(_analyze)


def _segments(
    text: str, characters: int, double: set[str] | frozenset[str], single: int, per_segment: int
) -> int:
    if characters <= single:
        return 1 if characters else 0
    if not double:
        return -(-characters // per_segment)
    segments, used = 1, 0
    for character in text:
        size = 2 if character in double else 1
        if used + size > per_segment:
            segments, used = segments + 1, 0
        used += size
    return segments


def _show(character: str) -> str:
    if character.isprintable() and not character.isspace():
        return f"'{character}'"
    return f"U+{ord(character):04X}"  # invisible ones (no-break space, zero-width joiner, …)


def _plural(count: int, word: str) -> str:
    return f"{count} {word}" if count == 1 else f"{count} {word}s"
