"""Short answers to "what" and "which": the noun phrase the question's shape asks for (the
subject, the object, what a copula says), the phrase the question's noun heads, a role or a
colour."""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence

from quotebot.analysis import Token, analyse_word
from quotebot.extract.grammar import (
    AUX,
    DET,
    FUNC,
    NOUN,
    VERB,
    noun_phrase,
    noun_phrase_after,
    noun_phrase_before,
    word_classes,
)
from quotebot.extract.naming import name_spans
from quotebot.extract.shape import Shape
from quotebot.extract.spans import (
    COPULAS,
    Span,
    adjacent,
    in_question,
    is_cap,
    new_part,
    same_word,
    span_chars,
)
from quotebot.lexicon import COLOURS, NAMING_WORDS, TITLES
from quotebot.question import Question


def colour_answer(tokens: Sequence[Token], q: Question) -> Span | None:
    """The one colour the sentence names, as a word or the first part of one ("gold" of
    "gold-themed"); none when it names two."""
    found: dict[str, Span] = {}
    for t in tokens:
        word = t.norm.split("-", 1)[0]
        if word in COLOURS and not in_question(t, q) and word not in q.focus_norms:
            found.setdefault(word, (t.start, t.start + len(word)))
    # "golden" is gold: one colour, named by its shortest word.
    colours = {w: span for w, span in found.items()
               if not any(w != other and w.startswith(other) for other in found)}
    return next(iter(colours.values())) if len(colours) == 1 else None


def phrase_answer(text: str, tokens: Sequence[Token], matched: Mapping[int, int],
                  q: Question, shape: Shape) -> Span | None:
    """The noun phrase a "what" question's shape asks for: the subject before its verb
    ("[General relativity] offers …"), the agent after it ("offered by [Newtonian
    mechanics]"), the object ("Lady Gaga performed [the national anthem]"), or what a
    copula says."""
    if not matched or not tokens:
        return None
    tags = word_classes(tokens)
    anchor = None
    if shape.verb is not None:
        verbs = [i for i in sorted(matched) if same_word(tokens[i], shape.verb)]
        doers = [i for i in matched if any(same_word(tokens[i], t) for t in shape.subject)]
        # Of several, the verb right after the question's subject ("the gravitational force
        # [acts] between masses", not the electromagnetic force's).
        def closeness(v: int) -> tuple[int, int]:
            near = {tokens[d].norm for d in doers if v - 4 <= d < v}
            return -len(near), min((v - d for d in doers if d < v), default=99)

        anchor = min(verbs, key=closeness, default=None)
    lo = min(matched)
    if shape.form == "subject":
        if anchor is not None:
            if anchor + 2 < len(tokens) and tokens[anchor + 1].norm == "by":
                after = noun_phrase_after(text, tokens, tags, anchor + 2)
                if after is not None:
                    return new_part(tokens, after, q)  # "… offered by [Newtonian mechanics]"
            return _phrase_before(text, tokens, tags, q, anchor, verb=False)
        return _phrase_before(text, tokens, tags, q, lo, verb=True)
    if shape.form == "copula":
        return (_copula_answer(text, tokens, tags, q, matched)
                or _phrase_before(text, tokens, tags, q, lo, verb=False)
                or _phrase_after(text, tokens, tags, q, max(matched), copula=True))
    if shape.form == "tail" and anchor is not None:
        return _phrase_after(text, tokens, tags, q, anchor, copula=False)
    if shape.form == "object":
        if anchor is not None:
            return _phrase_after(text, tokens, tags, q, anchor, copula=False)
        doers = [i for i in matched if any(same_word(tokens[i], t) for t in shape.subject)]
        if doers:
            return _phrase_after(text, tokens, tags, q, max(doers), copula=False, verb=True)
    return None


def headed_phrase(text: str, tokens: Sequence[Token], tags: Sequence[str], q: Question,
                  head: str) -> Span | None:
    """The phrase the question's noun heads in the sentence: its new modifiers ("[kinematic]
    measurements") or what it names ("the concept of inertia", "particles called gauge
    bosons")."""
    head_terms = set(analyse_word(head)[1])
    names = name_spans(text, tokens)
    for i, token in enumerate(tokens):
        if not head_terms & set(token.terms):
            continue
        # The noun ends a name: the whole name ("[St. George's United Methodist Church]").
        named = next(((f, la) for f, la in names if f < i == la), None)
        if named is not None and any(not in_question(tokens[k], q)
                                     for k in range(named[0], named[1] + 1)):
            return span_chars(tokens, named)
        # A title in quotes after the noun: 'his famous sermon, "The Use of Money,"'.
        quoted = _QUOTED_AFTER.match(text, token.end)
        if quoted is not None and quoted.group(2).strip(" ,.;:"):
            title = quoted.group(2).rstrip(" ,.;:")
            return quoted.start(2), quoted.start(2) + len(title)
        phrase = noun_phrase(text, tokens, tags, i)
        if phrase is not None:
            new = [k for k in range(phrase[0], i) if tags[k] == NOUN
                   and not in_question(tokens[k], q)]
            if new:
                return tokens[new[0]].start, tokens[i].end
        k = i + 1
        if k < len(tokens) and tokens[k].norm in NAMING_WORDS:
            k += 2 if tokens[k].norm in ("known", "such") else 1
            found = noun_phrase_after(text, tokens, tags, k) if k < len(tokens) else None
            if found is not None and adjacent(text, tokens[k - 1], tokens[k]):
                return new_part(tokens, found, q)
    return None


# A quoted title after a noun, across a comma or "called"/"named"/"titled".
_QUOTED_AFTER = re.compile(r"\s*,?\s*(?:(?:called|named|titled|entitled)\s+)?([\"“‘'])"
                           r"([^\"“”‘’']{1,80})[\"”’']")


def role_answer(text: str, tokens: Sequence[Token], matched: Mapping[int, int]
                ) -> Span | None:
    """"What position does Von Miller play?": the role written before the person's name
    ("Denver linebacker Von Miller") or after it ("Rivera, a linebacker")."""
    people = sorted(m for m in matched if is_cap(tokens[m]))
    for m in people:
        for k in (m - 1, m - 2):
            if k >= 0 and tokens[k].norm in TITLES and (k + 1 in matched or k + 1 == m):
                return tokens[k].start, tokens[k].end
        for k in range(m + 1, min(m + 6, len(tokens))):
            if tokens[k].norm in TITLES and tokens[k - 1].norm in ("a", "an", "the"):
                return tokens[k].start, tokens[k].end
    return None


def _copula_answer(text: str, tokens: Sequence[Token], tags: Sequence[str], q: Question,
                   matched: Mapping[int, int]) -> Span | None:
    """"What is X?": what the sentence says X is ("[X] is [a mainline denomination]",
    "[X] is called [the General Conference]", "[the answer] is [X]"), on the side of the
    copula that holds fewer of the question's words."""
    n = len(tokens)
    best: tuple[int, Span] | None = None
    for c in range(1, n - 1):
        if tokens[c].norm not in COPULAS:
            continue
        # The question's words on each side, within the copula's clause.
        start, end = c, c
        while start > 0 and not _CLAUSE_BREAK.search(text, tokens[start - 1].end,
                                                      tokens[start].start):
            start -= 1
        while end + 1 < n and not _CLAUSE_BREAK.search(text, tokens[end].end,
                                                        tokens[end + 1].start):
            end += 1
        before = sum(1 for m in matched if start <= m < c)
        after = sum(1 for m in matched if c < m <= end)
        found: tuple[int, int] | None = None
        if before > after:
            k = c + 1
            while k < n and (tokens[k].norm.endswith("ly") or tokens[k].norm in (
                    "called", "named", "known", "as", "also", "still", "now")):
                k += 1  # "is decidedly Wesleyan", "is called the General Conference"
            found = noun_phrase_after(text, tokens, tags, k) if k < n else None
        elif after > before and adjacent(text, tokens[c - 1], tokens[c]):
            found = noun_phrase_before(text, tokens, tags, c - 1)
        new = new_part(tokens, found, q) if found is not None else None
        if new is not None and (best is None or abs(before - after) > best[0]):
            best = (abs(before - after), new)
    return best[1] if best else None


# The same without quotes and brackets, which sit inside a clause ("The Church (UMC) is …").
_CLAUSE_BREAK = re.compile(r"[,;:.!?]|\s[-–—]\s")


def _phrase_before(text: str, tokens: Sequence[Token], tags: Sequence[str], q: Question,
                   lo: int, *, verb: bool) -> Span | None:
    """The noun phrase before the question's first word in the sentence (and before the
    phrase that word is in), across auxiliaries and determiners, and (``verb``) one verb
    the question words differently ("[General relativity] offers an equivalence …" for
    "What has an equivalence …?")."""
    if not verb:
        # The question's word inside a longer name: the name ("[St. George's United
        # Methodist Church], located …, is the oldest Methodist church").
        named = next(((f, la) for f, la in name_spans(text, tokens) if f < lo <= la), None)
        if named is not None:
            return span_chars(tokens, named)
    own = noun_phrase(text, tokens, tags, lo) if verb else None
    k = (own[0] if own is not None else lo) - 1
    while k >= 0 and (tags[k] in (DET, AUX) or _is_adverb(tokens[k], tags[k])) and adjacent(
            text, tokens[k], tokens[k + 1]):
        k -= 1  # "the kinetic friction force [exactly] opposes", "[will] experience"
    if verb and k >= 0 and tags[k] == VERB and adjacent(text, tokens[k], tokens[k + 1]):
        k -= 1
        while k >= 0 and tags[k] == AUX and adjacent(text, tokens[k], tokens[k + 1]):
            k -= 1
    if k < 0 or not adjacent(text, tokens[k], tokens[k + 1]):
        return None
    found = noun_phrase_before(text, tokens, tags, k)
    return new_part(tokens, found, q) if found is not None else None


def _is_adverb(token: Token, tag: str) -> bool:
    return tag == FUNC and token.norm.endswith("ly")


def _phrase_after(text: str, tokens: Sequence[Token], tags: Sequence[str], q: Question,
                  hi: int, *, copula: bool, verb: bool = False) -> Span | None:
    """The noun phrase after the question's last word in the sentence: an object after its
    verb ("performed [the national anthem]"), or what a copula says ("… was [a fundamental
    error]")."""
    k = hi + 1
    n = len(tokens)
    if copula:
        if k >= n or tokens[k].norm not in ("is", "are", "was", "were"):
            return None
        k += 1
    else:
        if verb:  # after the doer: its verb, then the object
            while k < n and tags[k] == AUX:
                k += 1
            if k >= n or tags[k] != VERB:
                return None
            k += 1
        if k < n and tags[k] == FUNC and tokens[k].norm not in ("that", "which", "who"):
            k += 1  # "stayed [at] the San Jose Marriott"
    if k >= n or not adjacent(text, tokens[k - 1], tokens[k]):
        return None
    found = noun_phrase_after(text, tokens, tags, k)
    if found is None:
        return None
    new = new_part(tokens, found, q)
    if new is None and not copula and found[1] + 1 < n and adjacent(
            text, tokens[found[1]], tokens[found[1] + 1]):
        # "called [this experience] the New Birth": the question's own object, then the
        # phrase asked for.
        second = noun_phrase_after(text, tokens, tags, found[1] + 1)
        return new_part(tokens, second, q) if second is not None else None
    return new
