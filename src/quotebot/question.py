"""Question understanding: what kind of answer a question wants, and what it is about."""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from enum import StrEnum

from quotebot.analysis import Token, tokenize
from quotebot.errors import InvalidQuestion
from quotebot.lexicon import AUXILIARIES, COUNTERS, WHEN_NOUNS, WHERE_NOUNS, WHO_NOUNS

#: Longest question accepted, in characters (front ends document and enforce it too).
MAX_QUESTION_CHARS = 1000


class Kind(StrEnum):
    """The kind of answer a question asks for."""

    HOW_MANY = "how_many"
    WHO = "who"
    WHEN = "when"
    WHERE = "where"
    WHAT = "what"
    WHY = "why"
    HOW = "how"
    YES_NO = "yes_no"
    KEYWORDS = "keywords"


_LEADING_NOISE = re.compile(r"^\s*(?:and|but|so|ok|okay|well|tell me|please)[\s,]+", re.I)


@dataclass(frozen=True, slots=True)
class Question:
    """A parsed question: its kind, its tokens, and the content tokens that carry the search."""

    text: str
    kind: Kind
    tokens: tuple[Token, ...]
    #: Content tokens: not stop words, not the question word itself.
    content: tuple[Token, ...]
    #: The noun of "which N" / "what N" questions, if any (normalised).
    wh_noun: str | None = None
    #: "Who is X?" asks for the name that X describes, not for the doer of an action.
    copula: bool = False
    #: For "who is the X of …?": X's last word ("the 2015 NFL [MVP]"), normalised.
    head: str | None = None

    @property
    def focus_norms(self) -> frozenset[str]:
        return frozenset(t.norm for t in self.content)


def parse_question(text: str, tokens: Sequence[Token] | None = None) -> Question:
    """Recognise the question's kind and its content words (``tokens``: ``text``'s, when
    they were made already)."""
    tokens = list(tokens) if tokens is not None else tokenize(text)
    norms = [t.norm for t in tokens]
    kind, wh_noun, skip = _classify(_LEADING_NOISE.sub("", text).casefold(), norms)
    content = tuple(t for i, t in enumerate(tokens) if not t.is_stop and i not in skip)
    after = max(skip, default=-1) + 1
    copula = after < len(norms) and norms[after] in ("is", "was", "are", "were", "'s")
    head = _noun_phrase_head(tokens, after + 1) if copula else None
    return Question(text=text, kind=kind, tokens=tuple(tokens), content=content, wh_noun=wh_noun,
                    copula=copula, head=head)


def as_question(question: str | Question) -> Question:
    """``question`` parsed, unless it already is: a turn parses its question once and
    hands the parse down."""
    return question if isinstance(question, Question) else parse_question(question)


def _noun_phrase_head(tokens: list[Token], start: int) -> str | None:
    """The last word of the noun phrase starting at ``start`` (after "the"/"a")."""
    head = None
    for token in tokens[start:]:
        if token.is_stop:
            if head is None and token.norm in ("the", "a", "an"):
                continue
            break
        head = token.norm
    return head


def _classify(lowered: str, norms: list[str]) -> tuple[Kind, str | None, set[int]]:
    """(kind, which-noun, indices of tokens that are part of the question phrase)."""
    for i, norm in enumerate(norms[:6]):
        nxt = norms[i + 1] if i + 1 < len(norms) else ""
        if norm == "how":
            if nxt in ("many", "much"):
                after = norms[i + 2] if i + 2 < len(norms) else ""
                if after in COUNTERS:  # "how many people": counted, not searched for
                    return Kind.HOW_MANY, after, {i, i + 1, i + 2}
                return Kind.HOW_MANY, None, {i, i + 1}
            if nxt in ("long", "old", "far", "big", "large", "tall", "often"):
                return Kind.HOW_MANY, None, {i, i + 1}
            return Kind.HOW, None, {i}
        if norm in ("who", "whom", "whose"):
            return Kind.WHO, None, {i}
        if norm == "when":
            return Kind.WHEN, None, {i}
        if norm == "where":
            return Kind.WHERE, None, {i}
        if norm == "why":
            return Kind.WHY, None, {i}
        if norm in ("which", "what"):
            if nxt in ("number", "percentage", "amount"):
                return Kind.HOW_MANY, nxt, {i, i + 1}
            # The noun may come after modifiers: "which [NFL] team", "what [British TV] network".
            for j in range(i + 1, min(i + 4, len(norms))):
                noun = norms[j]
                if noun in AUXILIARIES:
                    break
                if noun in WHO_NOUNS:
                    return Kind.WHO, noun, {i}
                if noun in WHEN_NOUNS:
                    return Kind.WHEN, noun, {i, j} if j == i + 1 else {i}
                if noun in WHERE_NOUNS:
                    return Kind.WHERE, noun, {i}
            return Kind.WHAT, nxt or None, {i}
    if norms and norms[0] in AUXILIARIES:
        return Kind.YES_NO, None, set()
    if lowered.startswith(("name ", "list ")):
        return Kind.WHAT, None, {0}
    return Kind.KEYWORDS, None, set()


def validate_question(question: object) -> str:
    """The question, stripped; raises InvalidQuestion for empty, wordless or huge input."""
    if not isinstance(question, str):
        raise InvalidQuestion(f"The question must be text, not {type(question).__name__}.")
    text = question.strip()
    if not text:
        raise InvalidQuestion("The question is empty. Ask what the documents say, in words: "
                              "who, what, when, where, how many …?", code="empty_question")
    if len(text) > MAX_QUESTION_CHARS:
        raise InvalidQuestion(
            f"The question is {len(text):,} characters long; the limit is "
            f"{MAX_QUESTION_CHARS:,}. Ask a shorter question.", code="question_too_long")
    if _has_lone_surrogate(text):
        raise InvalidQuestion("The question contains invalid Unicode (a lone surrogate).",
                              code="invalid_unicode")
    if not any(ch.isalnum() for ch in text):
        raise InvalidQuestion("The question has no words in it. Ask what the documents say, "
                              "in words: who, what, when, where, how many …?",
                              code="no_words")
    return text


def _has_lone_surrogate(text: str) -> bool:
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return True
    return False
