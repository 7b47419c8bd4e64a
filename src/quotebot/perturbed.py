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

Questions people write that way change other things too (Rajpurkar, Jia and Liang, "Know
What You Don't Know", 2018), and :func:`variants` makes each of them where it can: a
negation added or taken away ("When did the war not end?"), a word turned into its
opposite from the antonyms list ("won" / "lost"), a name of the question swapped for
another name the paragraph gives (a relation the text does not assert between two things
it names), and a qualifier the text does not state (an adjective from elsewhere in the
article before one of the question's nouns: "the ancient island").

The word replaced and its replacement are drawn by a generator seeded with the question's
id: the same data give the same questions.
"""

from __future__ import annotations

import random
import re
from collections.abc import Collection, Iterable, Sequence
from dataclasses import dataclass

from quotebot.analysis import Token, tokenize
from quotebot.analysis import terms as analyse_terms
from quotebot.extract.grammar import NOUN, VERB, may_be_adjective, word_classes
from quotebot.lexicon import AUXILIARIES, NEGATIONS, antonyms

#: What :func:`variants` changes, in the order it tries them.
CHANGES = ("word", "negation", "antonym", "swap", "qualifier")
#: Contracted negations whose auxiliary is not the contraction's first part.
_CONTRACTED = {"can't": "can", "won't": "will", "shan't": "shall"}

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
    #: What was changed (one of :data:`CHANGES`).
    change: str = "word"


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
        """The words of ``sentences`` by kind; adjectives also under "adjective"."""
        words: dict[str, dict[str, frozenset[str]]] = {}
        for text in sentences:
            tokens = tokenize(text)
            for token, kind in zip(tokens, kinds_of(tokens), strict=True):
                if kind is not None:
                    words.setdefault(kind, {})[token.surface] = frozenset(token.terms)
                    if kind.startswith("noun") and may_be_adjective(token.norm):
                        words.setdefault("adjective", {})[token.surface] = frozenset(
                            token.terms)
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


def negate(question: str) -> Perturbed | None:
    """``question`` with its negation taken away ("Who did not win?" → "Who did win?"), or
    with "not" added after its first auxiliary ("When did the war end?" → "When did not
    the war end?": word order matters little to a search by words); None when it has
    neither."""
    tokens = tokenize(question)
    for token in tokens:
        norm = token.norm
        if norm in NEGATIONS:
            before = question[:token.start].rstrip()
            return Perturbed(before + question[token.end:], token.surface, "", "negation",
                             "negation")
        if norm.endswith("n't"):
            plain = _CONTRACTED.get(norm, token.surface[:-3])
            return Perturbed(question[:token.start] + plain + question[token.end:],
                             token.surface, plain, "negation", "negation")
    for token in tokens:
        if token.norm in AUXILIARIES:
            return Perturbed(question[:token.end] + " not" + question[token.end:],
                             token.surface, token.surface + " not", "negation", "negation")
    return None


def opposite(question: str, paragraph_terms: Collection[str], keep: Collection[str] = ()
             ) -> Perturbed | None:
    """``question`` with its first word that has an opposite (the antonyms list), whose
    terms the answering paragraph holds (``paragraph_terms``) and the opposite's it does
    not, turned into that opposite ("Who won?" → "Who lost?"); words of the answer
    (``keep``) stay. None when no word can be."""
    held, kept = set(paragraph_terms), set(keep)
    table = antonyms()
    for token in tokenize(question):
        terms = set(token.terms)
        if not terms & held or terms & kept:
            continue
        for other in table.get(token.norm, ()):
            if set(analyse_terms(other)) & held:
                continue
            written = other.capitalize() if token.surface[:1].isupper() else other
            return Perturbed(question[:token.start] + written + question[token.end:],
                             token.surface, written, "antonym", "antonym")
    return None


def name_phrases(text: str, tokens: Sequence[Token] | None = None) -> list[tuple[int, int]]:
    """The spans of ``text``'s names: runs of capitalised words (:func:`word_kind` "name")
    with only spaces between them, a sentence's first word left out. ``tokens``: the
    tokens of ``text``, when they were made already."""
    if tokens is None:
        tokens = tokenize(text)
    spans: list[tuple[int, int]] = []
    previous: Token | None = None
    for token, kind in zip(tokens, kinds_of(tokens), strict=True):
        opens = previous is not None and any(m in text[previous.end:token.start]
                                             for m in ".!?")
        if kind == "name" and not opens:
            if spans and previous is not None and spans[-1][1] == previous.end and (
                    not text[previous.end:token.start].strip()):
                spans[-1] = (spans[-1][0], token.end)
            else:
                spans.append((token.start, token.end))
        previous = token
    return spans


def swap_name(question: str, seed: str, paragraph: str, keep: Collection[str] = (),
              paragraph_tokens: Sequence[Token] | None = None) -> Perturbed | None:
    """``question`` with one of its names that the answering ``paragraph`` gives replaced
    by another name the paragraph gives, one the question and the answer (``keep``) do
    not have: the two things are both there, the relation asked between them is not.
    Drawn by a generator seeded with ``seed``; None when there is no such pair.
    ``paragraph_tokens``: the tokens of ``paragraph``, when they were made already."""
    kept = set(keep)
    if paragraph_tokens is None:
        paragraph_tokens = tokenize(paragraph)
    asked = {term for t in tokenize(question) for term in t.terms}
    held = {term for t in paragraph_tokens for term in t.terms}
    own = [(a, b) for a, b in name_phrases(question)
           if (terms := set(analyse_terms(question[a:b]))) and terms <= held
           and not terms & kept]
    others = sorted({paragraph[a:b] for a, b in name_phrases(paragraph, paragraph_tokens)
                     if (terms := set(analyse_terms(paragraph[a:b])))
                     and not terms & (asked | kept)})
    if not own or not others:
        return None
    rng = random.Random(seed)
    a, b = rng.choice(own)
    replacement = rng.choice(others)
    return Perturbed(question[:a] + replacement + question[b:], question[a:b], replacement,
                     "name", "swap")


def qualify(question: str, seed: str, paragraph_terms: Collection[str], pool: WordPool,
            keep: Collection[str] = ()) -> Perturbed | None:
    """``question`` with an adjective from elsewhere in the article, one neither the
    answering paragraph (``paragraph_terms``) nor the question holds, put before one of
    its nouns the paragraph holds ("the island" → "the ancient island"): a condition the
    text does not state. Drawn by a generator seeded with ``seed``; None when there is no
    such noun or adjective."""
    tokens = tokenize(question)
    held, kept = set(paragraph_terms), set(keep)
    asked = {term for t in tokens for term in t.terms}
    nouns = [t for t, kind in zip(tokens, kinds_of(tokens), strict=True)
             if kind is not None and kind.startswith("noun") and set(t.terms) & held
             and not set(t.terms) & kept]
    choices = pool.others("adjective", held | asked)
    if not nouns or not choices:
        return None
    rng = random.Random(seed)
    noun = rng.choice(nouns)
    adjective = rng.choice(choices).lower()
    return Perturbed(question[:noun.start] + adjective + " " + question[noun.start:],
                     noun.surface, f"{adjective} {noun.surface}", "adjective", "qualifier")


def variants(question: str, seed: str, paragraph: str, pool: WordPool,
             keep: Collection[str] = ()) -> list[Perturbed]:
    """Every change :data:`CHANGES` names that can be made to ``question``, asked of the
    answering ``paragraph`` (words of the answer, ``keep``, stay), one question each."""
    tokens = tokenize(paragraph)  # analysed once for every change
    held = {term for t in tokens for term in t.terms}
    made = (perturb(question, seed, held, pool, keep), negate(question),
            opposite(question, held, keep),
            swap_name(question, seed, paragraph, keep, paragraph_tokens=tokens),
            qualify(question, seed, held, pool, keep))
    return [v for v in made if v is not None and v.question != question]
