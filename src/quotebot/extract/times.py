"""Short answers to "when": a whole date or time ("Monday at 6pm", "6 March 2024", "the
1990s", "last month"), the one nearest the question's words."""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence

from quotebot.analysis import Token
from quotebot.extract.spans import Span, distance
from quotebot.lexicon import MONTH_ABBREVIATIONS, MONTHS, ORDINALS, WEEKDAYS
from quotebot.question import Question
from quotebot.tuning import Extraction

# A month's name, or its abbreviation with or without its full stop ("Sept."): a full name
# takes none, so a date never swallows the sentence's full stop ("from 2 April.").
_MONTHS = "|".join([*(rf"{w.capitalize()}\b" for w in MONTHS),
                    *(rf"{w.capitalize()}\b\.?" for w in MONTH_ABBREVIATIONS)])
_WEEKDAYS = "|".join(w.capitalize() for w in WEEKDAYS)
# A day of the month ("6", "6th"), never the first digits of a year ("January 2025").
_DAY = r"\d{1,2}(?:st|nd|rd|th)?(?!\d)"
_YEAR = r"(?:1[0-9]|20)\d{2}(?!\d)"
# A time of day: "6pm", "6.30 p.m.", "noon"; after "at" also "18:00".
_CLOCK = r"\d{1,2}(?:[:.]\d{2})?\s?(?:[ap]\.m\.|[ap]m\b)|noon|midnight"
_AT_CLOCK = rf"\s+at\s+(?:{_CLOCK}|\d{{1,2}}[:.]\d{{2}}(?!\d))"
_PART_OF_DAY = r"\s+(?:morning|afternoon|evening|night)"
_MONTH_DATE = (rf"(?:(?:early|late|mid)[- ])?(?:{_MONTHS})(?:\s+{_DAY}"
               rf"(?:\s*(?:to|-|–|and)\s*{_DAY})?)?(?:,?\s+{_YEAR})?")
_DAY_MONTH = rf"{_DAY}(?:\s*(?:to|-|–|and)\s*{_DAY})?\s+(?:{_MONTHS})(?:,?\s+{_YEAR})?"
_ORDINALS_RE = "|".join(ORDINALS)
_DATE = rf"(?:(?:{_WEEKDAYS})(?:,?\s+(?:{_DAY_MONTH}|{_MONTH_DATE}))?|{_DAY_MONTH}|{_MONTH_DATE})"
_ORDINALS = "|".join(ORDINALS)
#: Time expressions, whole: "Monday at 6pm", "6 March 2024", "January 2025", "the 1990s",
#: "last month", "in 2015" (the preposition is trimmed off the answer).
# A day that recurs: "on the second Tuesday of each month", "every Friday".
_RECURRING = (rf"\s+(?:on\s+the\s+(?:{_ORDINALS_RE}|last)\s+(?:{_WEEKDAYS})\s+of\s+"
              rf"(?:each|every|the)\s+month|(?:on\s+)?every\s+(?:{_WEEKDAYS}|day|week|month))")
_YEARS = r"(?:1[0-9]|20)\d{2}(?!\d)"
_TIME = (
    rf"\bbetween\s+{_YEARS}\s+and\s+{_YEARS}|\bfrom\s+{_YEARS}\s+(?:to|until)\s+{_YEARS}"
    rf"|\b{_DATE}(?:{_PART_OF_DAY})?(?:,?{_AT_CLOCK})?"
    rf"|\b(?:{_CLOCK})(?:\s+(?:on\s+)?{_DATE}|{_RECURRING})?"
    r"|\b(?:last|this|next|earlier this|later this|early this|late last|the past|the last|"
    r"the previous|the following)\s+(?:week|month|year|decade|century|season|weekend|"
    r"spring|summer|autumn|fall|winter|morning|afternoon|evening|night)\b"
    r"|\b(?:yesterday|today|tomorrow|tonight|recently)\b(?:" + _PART_OF_DAY + r")?"
    r"|\b(?:the\s+)?(?:(?:early|late|mid)[- ]?)?(?:1[0-9]|20)?\d0s\b"
    r"|\b(?:the\s+)?(?:(?:early|late|mid)[- ]?)?(?:[12]?\d(?:st|nd|rd|th)|" + _ORDINALS
    + r")[- ]century\b"
    r"|\b(?:in|since|by|until|before|after|during)\s+(?:the\s+)?(?:early\s+|late\s+|mid-?)?"
    r"(?:1[0-9]|20)\d{2}(?:s|[-–]\d{2,4})?\b"
    r"|\b(?:1[5-9]|20)\d{2}(?:[-–]\d{2,4})?\b"
)
#: The words a time expression of :data:`_TIME` may start with besides a digit, a month and
#: a weekday (capitalised) and an ordinal: a new kind of expression adds its first word here.
_OPENING_WORDS = ("between from early late mid noon midnight last this next earlier later "
                  "the yesterday today tomorrow tonight recently in since by until before "
                  "after during").split()
#: Every character a time expression can start with (the same matches: the check only
#: spares the engine trying each alternative at every other word of a sentence).
_FIRST = "".join(sorted({w[0] for w in (*_OPENING_WORDS, *ORDINALS)}
                        | {w[0].upper() for w in (*MONTHS, *MONTH_ABBREVIATIONS, *WEEKDAYS)}))
TIME_RE = re.compile(rf"\b(?=[\d{_FIRST}])(?:{_TIME})")


def time_answer(
    text: str, tokens: Sequence[Token], matched: Mapping[int, int], q: Question,
    limits: Extraction,
) -> Span | None:
    """The time expression nearest the question's words, without its preposition ("in
    2015" → "2015"); none the question names itself, none farther than
    ``limits.time_distance`` tokens."""
    question_lower = q.text.casefold()
    best: tuple[int, Span] | None = None
    for m in TIME_RE.finditer(text):
        if m.group().casefold() in question_lower:
            continue
        idx = [i for i, t in enumerate(tokens) if t.start >= m.start() and t.end <= m.end()]
        if not idx:
            continue
        dist = min(distance(i, matched) for i in idx)
        if best is None or dist < best[0]:
            best = (dist, _trim_preposition(text, m.start(), m.end()))
    if best is None or best[0] > limits.time_distance:
        return None
    return best[1]


def _trim_preposition(text: str, start: int, end: int) -> Span:
    m = re.match(r"(?:in|since|by|until|before|after|during)\s+", text[start:end], re.I)
    return (start + m.end(), end) if m else (start, end)
