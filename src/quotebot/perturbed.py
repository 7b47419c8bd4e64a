"""Questions changed so that the text no longer answers them, to fit the short-answer gate.

Questions people write to look answerable while the article does not answer them are
asked about a paragraph that is there, with an answer of the right kind nearby, but with
one thing changed: a name, a number, a word the paragraph does not have. Leaving out the
paragraph that answers makes an easier kind of question that only seems answered; this
makes the harder kind from any question the article answers: one word of the question
that the answering paragraph holds (a name, a year, another number, a noun or a verb) is
replaced by another word of the same kind from elsewhere in the article, one the answering
paragraph does not hold. The paragraph stays, so any short answer the engine gives to the
changed question is wrong.

The word replaced and its replacement are drawn by a generator seeded with the question's
id: the same data give the same questions.
"""

from __future__ import annotations

import random
import re
from collections.abc import Collection, Iterable, Sequence
from dataclasses import dataclass

from quotebot.analysis import Token, tokenize
from quotebot.extract.grammar import NOUN, VERB, word_classes

_YEAR = re.compile(r"1[0-9]{3}|20[0-9]{2}")
#: The shortest word (not a number) worth replacing: shorter ones are mostly initials.
_MIN_LETTERS = 3


@dataclass(frozen=True, slots=True)
class Perturbed:
    """A question with one word replaced: the new question, the word and its replacement."""

    question: str
    replaced: str
    replacement: str
    kind: str


def word_kind(token: Token, tag: str, first: bool) -> str | None:
    """The kind of word ``token`` is (its class ``tag`` read in its sentence; ``first``:
    it opens the sentence) for a replacement to be of the same kind: "year", "number",
    "name", a noun or a verb with the ending it has ("noun-s", "verb-ed"), or None for a
    word not worth replacing (a stop word, a capitalised word opening a sentence)."""
    surface = token.surface
    if token.is_stop:
        return None
    if surface[:1].isdigit():
        return "year" if _YEAR.fullmatch(surface) else "number"
    if not surface.isalpha() or len(surface) < _MIN_LETTERS:
        return None
    if surface[:1].isupper():
        return None if first else "name"
    ending = next((e for e in ("ing", "ed", "s") if surface.endswith(e)), "")
    if tag == NOUN:
        return f"noun-{ending}"
    if tag == VERB:
        return f"verb-{ending}"
    return None


def kinds_of(tokens: Sequence[Token]) -> list[str | None]:
    """Each token's :func:`word_kind`."""
    return [word_kind(t, tag, i == 0) for i, (t, tag)
            in enumerate(zip(tokens, word_classes(tokens), strict=True))]


@dataclass(frozen=True, slots=True)
class WordPool:
    """The words of a corpus by kind (:func:`word_kind`), each with its index terms."""

    words: dict[str, dict[str, frozenset[str]]]

    @classmethod
    def of(cls, sentences: Iterable[str]) -> WordPool:
        words: dict[str, dict[str, frozenset[str]]] = {}
        for text in sentences:
            tokens = tokenize(text)
            for token, kind in zip(tokens, kinds_of(tokens), strict=True):
                if kind is not None:
                    words.setdefault(kind, {})[token.surface] = frozenset(token.terms)
        return cls(words)

    def others(self, kind: str, absent: Collection[str]) -> list[str]:
        """The words of ``kind`` none of whose terms is in ``absent``, in a fixed order."""
        return sorted(w for w, terms in self.words.get(kind, {}).items()
                      if terms and not terms & set(absent))


def perturb(question: str, seed: str, paragraph_terms: Collection[str], pool: WordPool,
            keep: Collection[str] = ()) -> Perturbed | None:
    """``question`` with one of its words that the answering paragraph holds (its index
    terms among ``paragraph_terms``) replaced by another word of the same kind from
    ``pool`` that neither the paragraph nor the question holds; words whose terms are in
    ``keep`` (the answer's own) are not replaced. The word and its replacement are drawn
    by a generator seeded with ``seed``. None when no word can be replaced."""
    tokens = tokenize(question)
    held = set(paragraph_terms)
    kept = set(keep)
    asked = {term for t in tokens for term in t.terms}
    places = [(t, kind) for t, kind in zip(tokens, kinds_of(tokens), strict=True)
              if kind is not None and set(t.terms) & held and not set(t.terms) & kept]
    rng = random.Random(seed)
    rng.shuffle(places)
    for token, kind in places:
        choices = pool.others(kind, held | asked)
        if choices:
            replacement = rng.choice(choices)
            return Perturbed(question[:token.start] + replacement + question[token.end:],
                             token.surface, replacement, kind)
    return None
