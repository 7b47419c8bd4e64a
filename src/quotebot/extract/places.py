"""Short answers to "where": a name after a place preposition ("in [New York]"), a place
without a name ("at various locations throughout the world"), or the name a "which state"
question asks for."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from quotebot.analysis import Token
from quotebot.extract.grammar import noun_phrase_after, word_classes
from quotebot.extract.naming import new_names
from quotebot.extract.spans import (
    CLAUSE_END,
    Span,
    adjacent,
    distance,
    in_question,
    is_cap,
    new_part,
    span_chars,
)
from quotebot.extract.times import TIME_RE
from quotebot.lexicon import PLACE_PREPOSITIONS, WHERE_NOUNS
from quotebot.names import KnownName
from quotebot.question import Question
from quotebot.tuning import Extraction


def where_answer(
    text: str, tokens: Sequence[Token], matched: Mapping[int, int], q: Question,
    limits: Extraction, is_name: KnownName | None = None,
) -> Span | None:
    """The name after a place preposition nearest the question's words ("in [the United
    States]"), else a place without a name, else (for "which state …?") the name right
    before the question's words."""
    best: tuple[int, tuple[int, int]] | None = None
    for first, last in new_names(text, tokens, q, matched, is_name=is_name):
        before = first - 1
        if before >= 0 and tokens[before].norm == "the":
            before -= 1
        if before < 0 or tokens[before].norm not in PLACE_PREPOSITIONS:
            continue
        dist = min(distance(first, matched), distance(last, matched))
        if best is None or dist < best[0]:
            best = (dist, (first, last))
    if best is None or best[0] > limits.place_distance:
        place = _place_phrase(text, tokens, matched, q)
        if place is not None:
            return place
        if q.wh_noun is not None and q.wh_noun in WHERE_NOUNS and matched:
            # "Which state has the most members?" → "[Texas] has …": the name right before
            # the question's first word.
            lo = min(matched)
            for first, last in new_names(text, tokens, q, matched, is_name=is_name):
                if 0 < lo - last <= 3 and all(tokens[k].is_stop for k in range(last + 1, lo)) and (
                        adjacent(text, tokens[last], tokens[last + 1])):
                    return span_chars(tokens, (first, last))
        return None
    first, last = best[1]
    if first > 0 and tokens[first - 1].norm == "the":
        first -= 1
    return span_chars(tokens, (first, last))


def _place_phrase(text: str, tokens: Sequence[Token], matched: Mapping[int, int],
                  q: Question) -> Span | None:
    """A place without a name: the phrase after a place preposition right after the
    question's words ("began … [within] the Church of England", "meets [at] various
    locations throughout the world")."""
    if not matched:
        return None
    tags: list[str] | None = None  # (read once a preposition follows the question's words)
    for i, token in enumerate(tokens):
        if token.norm not in PLACE_PREPOSITIONS or i + 1 >= len(tokens) or i in matched:
            continue
        near = [m for m in matched if 0 < i - m <= 5]
        if not near or not adjacent(text, token, tokens[i + 1]) or any(
                CLAUSE_END.search(text, tokens[k].end, tokens[k + 1].start)
                for k in range(max(near), i)):
            continue
        if tags is None:
            tags = word_classes(tokens)
        found = noun_phrase_after(text, tokens, tags, i + 1)
        # Named places are the name rule's; "in 1767" and "in March" are times.
        if found is None or is_cap(tokens[found[1]]) or any(
                tokens[k].surface[:1].isdigit() or TIME_RE.match(text, tokens[k].start)
                for k in range(found[0], found[1] + 1)):
            continue
        words = [k for k in range(found[0], found[1] + 1) if not tokens[k].is_stop]
        if 2 * sum(in_question(tokens[k], q) for k in words) > len(words):
            continue  # "dropped from [the crow's nest of a ship]": where it was, in the question
        new = new_part(tokens, found, q)
        if new is not None:
            return new
    return None
