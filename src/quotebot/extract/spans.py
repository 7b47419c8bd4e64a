"""What every rule of extraction shares: character spans of a sentence's tokens, whether two
tokens are written next to each other, how far a token is from the question's words, and
whether a word is the question's own."""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence

from quotebot.analysis import Token
from quotebot.names import can_be_name
from quotebot.question import Question

#: A short answer: start and end characters in the sentence.
Span = tuple[int, int]


def is_cap(token: Token) -> bool:
    """Capitalised and not a month or a weekday: may be part of a name."""
    return can_be_name(token.surface)


def adjacent(text: str, a: Token, b: Token) -> bool:
    """True when only spaces separate two tokens (no comma, quote or full stop)."""
    gap = text[a.end:b.start]
    return gap.strip() == ""


def span_chars(tokens: Sequence[Token], span: tuple[int, int]) -> Span:
    """The characters from token ``span[0]`` to token ``span[1]``, both included."""
    return tokens[span[0]].start, tokens[span[1]].end


def distance(i: int, matched: Mapping[int, int]) -> int:
    """How many tokens lie between token ``i`` and the nearest of the question's words."""
    return min((abs(i - m) for m in matched), default=99)


def in_question(token: Token, question: Question) -> bool:
    """Whether a sentence's token is one of the question's words (same stem or focus)."""
    return token.norm in question.focus_norms or any(
        term in {t for q in question.content for t in q.terms} for term in token.terms
    )


def same_word(a: Token, b: Token) -> bool:
    """Whether two tokens share a term (the same word, however inflected)."""
    return bool(set(a.terms) & set(b.terms))


def new_part(tokens: Sequence[Token], span: tuple[int, int], q: Question) -> Span | None:
    """``span`` without the question's own words at its edges, or None when nothing of it
    is new."""
    first, last = span
    while first <= last and ((tokens[first].is_stop and tokens[first].norm not in (
            "the", "a", "an")) or in_question(tokens[first], q)):
        first += 1
    while last >= first and (tokens[last].is_stop or in_question(tokens[last], q)):
        last -= 1
    if first > last or all(tokens[k].is_stop for k in range(first, last + 1)):
        return None
    if tokens[first].norm in ("the", "a", "an") and first == last:
        return None
    return tokens[first].start, tokens[last].end


#: Forms of "be" that say what something is.
COPULAS = frozenset({"is", "are", "was", "were"})
#: What ends a clause between two tokens: punctuation, quotes, brackets, a spaced dash.
CLAUSE_END = re.compile(r"[,;:.!?\"“”()]|\s[-–—]\s")
