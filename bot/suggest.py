"""One "did you mean …?" rule for every near miss Herald answers.

Config keys, providers and channels, unknown connections, templates, template
variables, slash command options and sub-commands and the CLI's commands all
suggest through `close_names`, so a typo is caught the same way wherever it is
typed. A name is close when it differs only in case, is a clear abbreviation
(the start of exactly one choice, at least two letters), or is similar enough by
`difflib`'s ratio (``smss`` → ``sms``, ``sandbx`` → ``sandbox``). Nothing is
suggested for a name like none of the choices: the caller lists them instead.
"""

from __future__ import annotations

import difflib
from collections.abc import Iterable

# difflib's own default: high enough that 'smss' is not taken for 'sandbox' (0.18),
# low enough for one wrong, missing or swapped letter in a short name ('smz' → 'sms', 0.67).
CUTOFF = 0.6
MIN_PREFIX = 2


def close_names(word: str, choices: Iterable[str], n: int = 1) -> list[str]:
    """Up to ``n`` of ``choices`` that ``word`` was probably meant to be, best first."""
    options = sorted(dict.fromkeys(choices))
    if not word or not options or n < 1:
        return []
    folded = word.casefold()
    by_folded: dict[str, str] = {}
    for choice in options:
        by_folded.setdefault(choice.casefold(), choice)
    found: list[str] = []
    if folded in by_folded and by_folded[folded] != word:
        found.append(by_folded[folded])
    starting = [c for f, c in by_folded.items() if f.startswith(folded) and f != folded]
    if len(folded) >= MIN_PREFIX and len(starting) == 1:
        found.append(starting[0])
    similar = difflib.get_close_matches(folded, list(by_folded), n=n, cutoff=CUTOFF)
    found += [by_folded[f] for f in similar if by_folded[f] != word]
    return list(dict.fromkeys(found))[:n]


def closest(word: str, choices: Iterable[str]) -> str | None:
    """The one of ``choices`` that ``word`` was probably meant to be, or None."""
    found = close_names(word, choices)
    return found[0] if found else None


def did_you_mean(word: str, choices: Iterable[str]) -> str:
    """`` (did you mean 'sms'?)`` for a close choice, else ``""``: to follow a name."""
    close = closest(word, choices)
    return f" (did you mean {close!r}?)" if close is not None else ""
