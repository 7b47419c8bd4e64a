"""One rule for what looks like a name, in questions and in sentences alike.

A name is capitalised ("Coldplay", "New York", "CBS") and is not a month or a weekday
("July", "Thursday": dates are never people or places). At the start of a sentence or a
question every word is capitalised, so there a lone capitalised word is a name only when
it is written like one (capitals after its first letter: "CBS", "QuickBooks") or the
corpus knows it as one (writes it capitalised inside sentences and never in lower case).
"""

from __future__ import annotations

import re
from collections.abc import Callable
from functools import lru_cache

from quotebot.lexicon import CALENDAR

# Letters may carry combining accents (decomposed text: "A" + U+0301 for "Á").
_CAPITALISED = re.compile(r"[^\W\d_][\w\u0300-\u036f'’.-]*", re.UNICODE)

#: Tells whether the corpus knows a capitalised word as a name (see ``Forms``).
KnownName = Callable[[str], bool]


def is_capitalised(word: str) -> bool:
    """Starts with an upper-case letter ("Álvarez", "CBS", "McManus")."""
    return bool(_CAPITALISED.fullmatch(word)) and word[:1].isupper()


def written_as_name(word: str) -> bool:
    """Capitals after the first letter: "CBS", "QuickBooks", "McManus"."""
    return len(word) >= 2 and word[:1].isupper() and any(ch.isupper() for ch in word[1:])


def is_acronym(word: str) -> bool:
    """All capitals: "CEO", "NFL", "TV"."""
    return len(word) >= 2 and word.isupper()


def is_calendar_word(word: str) -> bool:
    return word.casefold() in CALENDAR


@lru_cache(maxsize=1 << 16)
def can_be_name(word: str) -> bool:
    """Capitalised and not a month or a weekday: may be part of a name."""
    return is_capitalised(word) and not is_calendar_word(word)


def looks_like_name(word: str, *, at_start: bool, known: KnownName | None = None) -> bool:
    """The one rule (see the module's docstring) for a single word."""
    if not can_be_name(word):
        return False
    if not at_start:
        return True
    return written_as_name(word) or (known is not None and known(word))
