"""Names in a sentence: capitalised phrases ("New York Police Department"), and the names
that are new to the question, which "who", "which" and "where" answers are made of."""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence

from quotebot.analysis import Token
from quotebot.extract.spans import adjacent, in_question, is_cap
from quotebot.lexicon import ABBREVIATIONS, NAME_CONNECTORS, STOP_WORDS, TITLES
from quotebot.names import KnownName, looks_like_name
from quotebot.question import Question


def name_spans(text: str, tokens: Sequence[Token],
               is_name: KnownName | None = None) -> list[tuple[int, int]]:
    """(first, last) token indices of capitalised phrases ("New York Police Department").

    A lone capitalised word at the start of a sentence counts when it is written like a
    name ("CBS", "QuickBooks") or ``is_name`` says so (the corpus capitalises it
    elsewhere); connectors ("of", "and", "for", "the") may join capitalised words.
    """
    spans: list[tuple[int, int]] = []
    i, n = 0, len(tokens)
    while i < n:
        if not is_cap(tokens[i]):
            i += 1
            continue
        j = i
        while j + 1 < n:
            if is_cap(tokens[j + 1]) and _in_one_name(text, tokens[j], tokens[j + 1]):
                j += 1
            elif (
                j + 2 < n
                and tokens[j + 1].norm in NAME_CONNECTORS
                and is_cap(tokens[j + 2])
                and adjacent(text, tokens[j], tokens[j + 1])
                and adjacent(text, tokens[j + 1], tokens[j + 2])
            ):
                j += 2
            else:
                break
        first = i
        if i == 0 and j == 0 and (tokens[0].norm in STOP_WORDS or not looks_like_name(
                tokens[0].surface, at_start=True, known=is_name)):
            i = j + 1
            continue  # a lone capital at the start of a sentence is usually just a word
        if tokens[first].norm in STOP_WORDS and first < j:
            first += 1  # "The Mayor" → "Mayor"
        while first < j - 1 and tokens[first].norm in TITLES:
            first += 1  # "Critic Paul Hay" → "Paul Hay"
        spans.append((first, j))
        i = j + 1
    return spans


def _in_one_name(text: str, a: Token, b: Token) -> bool:
    """Whether two capitalised words may be one name: only spaces between them, or the
    full stop of an abbreviation ("St. George's Church"), or "&" ("Tiffany & Co")."""
    gap = text[a.end:b.start].strip()
    abbreviated = a.norm in ABBREVIATIONS and len(a.surface) <= 3
    initial = len(a.surface) == 1 and a.surface.isupper()  # "Albert C. Outler"
    return gap == "" or gap == "&" or (gap == "." and (abbreviated or initial))


_ROMAN = re.compile(r"[IVXLCDM]+")


def new_names(text: str, tokens: Sequence[Token], q: Question, matched: Mapping[int, int],
              keep: frozenset[str] = frozenset(), is_name: KnownName | None = None
              ) -> list[tuple[int, int]]:
    """Name spans with the question's own words cut out ("Super Bowl XLVIII" → "XLVIII"
    is then dropped as a bare numeral; "New England Patriots" stays whole). Words matched
    to the question through related words or acronyms ("Most Valuable Player" for "MVP")
    are the question's words too."""
    out = []
    for first, last in name_spans(text, tokens, is_name):
        run: list[int] = []
        for i in [*range(first, last + 1), None]:
            if i is not None and (not (in_question(tokens[i], q) or i in matched) or (
                    tokens[i].norm.rstrip("s") in keep)):
                run.append(i)
                continue
            while run and tokens[run[0]].norm in NAME_CONNECTORS:
                run.pop(0)
            while run and tokens[run[-1]].norm in NAME_CONNECTORS:
                run.pop()
            if run == [0] and not looks_like_name(tokens[0].surface, at_start=True,
                                                  known=is_name):
                run = []  # "[Despite] Denver's …": a word at the start, not a name
            if run and _name_like(tokens, run[0], run[-1]):
                out.append((run[0], run[-1]))
            run = []
    return out


def _name_like(tokens: Sequence[Token], first: int, last: int) -> bool:
    words = tokens[first:last + 1]
    if len(words) == 1:
        word = words[0].surface
        return len(word) >= 2 and not _ROMAN.fullmatch(word) and "." not in word
    return True
