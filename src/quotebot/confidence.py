"""How likely a short answer is right, and whether it is shown.

A short answer in bold over the quotes looks certain, so it is shown only when it is very
likely right; below that the quotes alone answer. The likelihood is a logistic model over
evidence about the answer found in its sentence (:data:`FEATURES`): what kind of answer
the question asks for, how much of the question the sentence holds, how close the
question's words are to the answer and whether they share its clause, whether the
sentence offers rivals of the same shape (two years for one "when"), how far the first
passage leads the second, whether the next passages give the same short answer or others,
whether ranking by words and by meaning both put the passage first, and how close in
meaning the passage is. Its weights and thresholds (one with vectors, one by words alone)
come from ``[answer]`` in ``data/weights.toml``, fitted by ``benchmarks/fit_weights.py``
leave-one-group-out for the precision of shown answers the file records.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Collection, Mapping, Sequence
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from quotebot.analysis import Token
from quotebot.analysis import terms as analyse_terms
from quotebot.extract import RULE_NAMES
from quotebot.extract.grammar import NOUN, VERB, word_classes
from quotebot.lexicon import antonyms, is_negation
from quotebot.question import Kind, Question
from quotebot.tuning import Answer

FloatArray = npt.NDArray[np.float64]

#: The evidence about a short answer, in the order of the model's weights.
FEATURES = (
    "bias",
    # What the question asks for (one of these, or none of them: "what"/"which").
    "asks_number", "asks_time", "asks_person", "asks_place", "asks_clause",
    # How much of the question the sentence's own words hold (0..1).
    "literal",
    # log(1 + tokens) from the answer to the nearest of the question's words.
    "distance",
    # Share of the answer's tokens that are the question's own words.
    "overlap",
    # log(1 + tokens of the answer).
    "length",
    # log(1 + words of the answer's shape elsewhere in the sentence: numbers for a number,
    # capitalised words for a name).
    "rivals",
    # Share of the question's words in the sentence that stand in the answer's clause.
    "clause_share",
    # How far the first passage's score leads the second's, relative to the first.
    "margin",
    # The second passage gives the same short answer.
    "agreement",
    # The closest cosine of the question to the passage (0 without vectors), and whether
    # there were vectors at all.
    "similarity", "has_vectors",
    # The cosine of the answer alone to its sentence (0 without vectors): a fragment of a
    # phrase ("The old", "TV") carries little of what the sentence says, a whole answer
    # much.
    "span_meaning",
    # The answer's first word is a number; is capitalised (not opening the sentence).
    "starts_number", "starts_capital",
    # Share of the answer's words the question itself has (or abbreviates: "UMC" for
    # "United Methodist Church"): an answer the question already gives is not its answer.
    "in_question",
    # How rare the answer's words are in the corpus (mean idf relative to the rarest
    # possible): the article's own subject, named everywhere, is rarely what is asked.
    "rarity",
    # A "how many X" answer whose number counts X (1), counts something else (-1: "160
    # years" for "how many people"), or no counted noun asked (0).
    "counts_asked",
    # Share of the answer's words that may stand in a noun phrase (nouns, adjectives,
    # numbers), and whether its last word may not ("unless", "made"): a fragment cut at
    # the wrong place.
    "noun_share", "ends_outside_phrase",
    # The cosines of the answer alone to the question, and to the noun the question asks
    # for ("what [force]", "who is the [CEO]"): whether it is the kind of thing asked
    # (0 without vectors, or without such a noun).
    "answer_question", "answer_type",
    # log(1 + how many of the next best passages also hold the answer's words): agreement
    # between passages.
    "support",
    # Share of the question's evidence (idf mass of its words) the passage covers.
    "coverage",
    # The question's verbs ("lose", "commended") that the sentence lacks, by share of the
    # question's verbs: a sentence about another act ("gained", "criticized") answers
    # another question.
    "missing_verbs",
    # The question's words the corpus lacks, by share of the question's idf mass: a
    # question about something the corpus never names only seems to be answered.
    "unknown_words",
    # The relative idf (0..1) of the rarest of the question's words the corpus has but the
    # passage lacks (0 when it lacks none): a passage without the question's most telling
    # word answers another question.
    "missing_rarest",
    # log(1 + sentences of the answer's document): a short story, a press release or a
    # long article.
    "doc_sentences",
    # log(1 + passages found that hold the kind of answer asked for, a number or a time;
    # 0 when the question asks for neither): how many rivals the answer had to beat.
    "typed_candidates",
    # log(1 + how many of the next best passages give a short answer of their own that is
    # not this one), and log(1 + how many give this one): rivals and agreement between the
    # top passages' candidates.
    "rival_answers", "agreeing_answers",
    # The answer's passage is also the first by its words alone (BM25), and by meaning
    # alone (0 without vectors): the ways of ranking agree on where the answer is.
    "lexical_first", "meaning_first",
    # Share of the question's words in the sentence that come before the answer.
    "after_question",
    # Whether the answer has the shape asked for: a capitalised name for "who" and
    # "where" (1), or not (-1); 0 for other questions (a number or a time is always
    # asked of a sentence that holds one).
    "shape_match",
    # log(1 + the question's concepts): a question of few words is easily answered by a
    # sentence about something else.
    "question_words",
    # The passage's BM25 score relative to the question's idf mass (what a sentence holding
    # every word of it many times would score): a passage that only seems to answer, its
    # answering sentences absent, scores low for the question.
    "score_share",
    # Share of the question's consecutive words found close together and in order in the
    # passage (quotebot.features).
    "proximity",
    # Share of the question's names and numbers that neither the answer's sentence nor its
    # paragraph holds: a question about another name or year than the passage's only seems
    # answered by it.
    "missing_names",
    # The question is negated ("not", "never", "didn't") and the answer's sentence is not,
    # or the other way round: it says the opposite of what is asked.
    "negation_differs",
    # The sentence has the opposite (the antonyms list: "lost" for "won") of a word of the
    # question that it lacks.
    "opposite_words",
    # Share of the question's names and numbers that the answer's passage holds but not
    # its sentence: both things are named there, the relation asked between them may not
    # be.
    "names_elsewhere",
    # Which extraction rule found the answer (quotebot.extract.RULE_NAMES).
    *(f"rule_{name}" for name in RULE_NAMES),
)
_AT = {name: n for n, name in enumerate(FEATURES)}
_RULE_AT = {name: _AT[f"rule_{name}"] for name in RULE_NAMES}

_CLAUSE_MARK = re.compile(r"[,;:.!?()]|\s[-–—]\s")
_NORM = re.compile(r"\W+")


@dataclass(frozen=True, slots=True)
class Gate:
    """The fitted model: a weight per feature and the probability to reach."""

    weights: tuple[float, ...]
    threshold: float
    #: Below ``threshold``, at or above this: withheld, for a conversation to learn from.
    lead: float = 0.0
    #: The probability to reach when the engine answers by words alone (no vectors).
    words_threshold: float | None = None

    @classmethod
    def of(cls, section: Answer) -> Gate:
        """The gate the ``[answer]`` section of the weights file describes."""
        unknown = set(section.weights) - set(FEATURES)
        if unknown:
            raise ValueError(f"weights.toml [answer] weights: unknown {sorted(unknown)}")
        return cls(tuple(float(section.weights.get(name, 0.0)) for name in FEATURES),
                   float(section.threshold), float(section.lead),
                   float(section.words_threshold))

    def threshold_for(self, has_vectors: bool) -> float:
        """The probability a short answer must reach, with vectors or by words alone."""
        if has_vectors or self.words_threshold is None:
            return self.threshold
        return self.words_threshold

    def probability(self, x: FloatArray) -> float:
        z = float(np.dot(np.asarray(self.weights, dtype=np.float64), x))
        return 1.0 / (1.0 + math.exp(-max(min(z, 40.0), -40.0)))


def evidence(question: Question, kind_asked: str | None, text: str, tokens: Sequence[Token],
             matched: Mapping[int, int], span: tuple[int, int], rule: str, *,
             literal: float, margin: float, agreement: bool, similarity: float | None,
             span_meaning: float | None, rarity: Callable[[Token], float | None],
             answer_question: float | None = None, answer_type: float | None = None,
             support: int = 0, coverage: float = 0.0, missing_verbs: float = 0.0,
             unknown_words: float = 0.0, missing_rarest: float = 0.0,
             doc_sentences: int = 0, typed_candidates: int = 0, rival_answers: int = 0,
             agreeing_answers: int = 0, lexical_first: bool = False,
             meaning_first: bool = False, question_words: int = 0,
             score_share: float = 0.0, proximity: float = 0.0,
             missing_names: float = 0.0, names_elsewhere: float = 0.0) -> FloatArray:
    """The features of the short answer at ``span`` (sentence offsets) of a sentence
    (``text``, its ``tokens``, the tokens ``matched`` to the question's concepts).

    ``kind_asked`` is "number", "time" or None (see :func:`quotebot.extract.needs`);
    ``rule`` the extraction rule that found the answer; ``span_meaning`` the cosine of the
    answer's text to its sentence (None without vectors), ``answer_question`` and
    ``answer_type`` its cosines to the question and to the noun it asks for; ``support``
    how many of the next best passages hold the answer too; ``coverage`` the share of the
    question's evidence the passage covers; ``missing_verbs`` the share of the question's
    verbs it lacks (:func:`missing_verbs`); ``unknown_words`` and ``missing_rarest`` what
    of the question the corpus and the passage lack (:func:`missing_words`);
    ``doc_sentences`` the length of the answer's document in sentences;
    ``typed_candidates`` how many passages found hold the kind of answer asked for;
    ``rival_answers`` and ``agreeing_answers`` how many of the next best passages give
    another short answer or this one; ``lexical_first`` and ``meaning_first`` whether the
    passage is also the first by words alone and by meaning alone; ``question_words`` how
    many concepts the question has; ``score_share`` the passage's BM25 relative to the
    question's idf mass and ``proximity`` how close together and in order it holds the
    question's words; ``missing_names`` the share of the question's names and numbers it
    lacks (:func:`missing_names`) and ``names_elsewhere`` the share it holds only outside
    the answer's sentence (:func:`names_elsewhere`)."""
    a, b = span
    inside = [i for i, t in enumerate(tokens) if t.start >= a and t.end <= b]
    kind = question.kind
    x = np.zeros(len(FEATURES), dtype=np.float64)
    x[_AT["bias"]] = 1.0
    x[_AT["asks_number"]] = kind_asked == "number"
    x[_AT["asks_time"]] = kind_asked == "time"
    x[_AT["asks_person"]] = kind is Kind.WHO and kind_asked is None
    x[_AT["asks_place"]] = kind is Kind.WHERE
    x[_AT["asks_clause"]] = kind in (Kind.WHY, Kind.HOW) and kind_asked is None
    x[_AT["literal"]] = literal
    outside = [m for m in matched if m not in inside]
    if inside and outside:
        lo, hi = inside[0], inside[-1]
        nearest = min(lo - m if m < lo else m - hi for m in outside)
    else:
        nearest = 50
    x[_AT["distance"]] = math.log1p(max(nearest, 0))
    x[_AT["overlap"]] = (sum(1 for i in inside if i in matched) / len(inside)
                         if inside else 1.0)
    x[_AT["length"]] = math.log1p(len(inside))
    x[_AT["rivals"]] = math.log1p(_rivals(tokens, inside, matched))
    clause = _clause(text, a, b)
    concepts = set(matched.values())
    in_clause = {c for m, c in matched.items() if clause[0] <= tokens[m].start < clause[1]}
    x[_AT["clause_share"]] = len(in_clause) / len(concepts) if concepts else 0.0
    x[_AT["margin"]] = margin
    x[_AT["agreement"]] = float(agreement)
    x[_AT["similarity"]] = similarity if similarity is not None else 0.0
    x[_AT["has_vectors"]] = similarity is not None
    x[_AT["span_meaning"]] = span_meaning if span_meaning is not None else 0.0
    if inside:
        first = tokens[inside[0]].surface
        x[_AT["starts_number"]] = first[:1].isdigit()
        x[_AT["starts_capital"]] = first[:1].isupper() and inside[0] > 0
    words = [tokens[i] for i in inside if not tokens[i].is_stop] or [tokens[i] for i in inside]
    if words:
        x[_AT["in_question"]] = sum(1 for t in words if _in_question(t, question)) / len(words)
        if len(words) > 1 and "".join(t.norm[:1] for t in words) in _question_words(question):
            x[_AT["in_question"]] = 1.0
        rare = [r for r in (rarity(t) for t in words) if r is not None]
        x[_AT["rarity"]] = sum(rare) / len(rare) if rare else 1.0
    counted = _counted(question) if kind_asked == "number" else None
    if counted and inside:
        noun = set(analyse_terms(counted))
        after = tokens[inside[-1]:inside[-1] + 3]
        x[_AT["counts_asked"]] = 1.0 if any(noun & set(t.terms) for t in after) else -1.0
    if inside:
        classes = word_classes(tokens)
        x[_AT["noun_share"]] = sum(1 for i in inside if classes[i] == NOUN) / len(inside)
        x[_AT["ends_outside_phrase"]] = classes[inside[-1]] != NOUN
    x[_AT["answer_question"]] = answer_question if answer_question is not None else 0.0
    x[_AT["answer_type"]] = answer_type if answer_type is not None else 0.0
    x[_AT["support"]] = math.log1p(support)
    x[_AT["coverage"]] = coverage
    x[_AT["missing_verbs"]] = missing_verbs
    x[_AT["unknown_words"]] = unknown_words
    x[_AT["missing_rarest"]] = missing_rarest
    x[_AT["doc_sentences"]] = math.log1p(doc_sentences)
    x[_AT["typed_candidates"]] = math.log1p(typed_candidates)
    x[_AT["rival_answers"]] = math.log1p(rival_answers)
    x[_AT["agreeing_answers"]] = math.log1p(agreeing_answers)
    x[_AT["lexical_first"]] = float(lexical_first)
    x[_AT["meaning_first"]] = float(meaning_first)
    if inside and outside:
        x[_AT["after_question"]] = sum(1 for m in outside if m < inside[0]) / len(outside)
    if inside and kind_asked is None and kind in (Kind.WHO, Kind.WHERE):
        x[_AT["shape_match"]] = 1.0 if tokens[inside[0]].surface[:1].isupper() else -1.0
    x[_AT["question_words"]] = math.log1p(question_words)
    x[_AT["score_share"]] = score_share
    x[_AT["proximity"]] = proximity
    x[_AT["missing_names"]] = missing_names
    x[_AT["negation_differs"]] = _negated(question.tokens) != _negated(tokens)
    x[_AT["opposite_words"]] = _has_opposite(question.tokens, tokens)
    x[_AT["names_elsewhere"]] = names_elsewhere
    x[_RULE_AT[rule]] = 1.0
    return x


def missing_verbs(question: Question, concepts: Sequence[str], matched: Mapping[int, int]
                  ) -> float:
    """The share of the question's verbs (content words read as verbs) whose concepts
    (``concepts``: each concept's word as written) no token of the sentence ``matched``;
    0 for a question without such verbs."""
    found = set(matched.values())
    classes = word_classes(question.tokens)
    verbs = {t.norm for t, c in zip(question.tokens, classes, strict=True)
             if c == VERB and not t.is_stop}
    asked = [n for n, surface in enumerate(concepts) if surface.casefold() in verbs]
    return sum(1 for n in asked if n not in found) / len(asked) if asked else 0.0


def missing_words(idfs: Sequence[float], known: Sequence[bool], found: Sequence[float],
                  rarest: float) -> tuple[float, float]:
    """What of the question's concepts (each one's ``idfs``, whether the corpus ``known``
    it, how strongly the passage ``found`` it) is missing: the share of their idf mass the
    corpus lacks, and the idf of the rarest the corpus has but the passage lacks, relative
    to ``rarest`` (the idf of a word no sentence has). A word the corpus lacks is often
    misspelt; one it has elsewhere tells that the passage is about something else."""
    mass = sum(idfs)
    unknown = sum(w for w, k in zip(idfs, known, strict=True) if not k) / mass if mass else 0.0
    lacking = [w for w, k, f in zip(idfs, known, found, strict=True) if k and f <= 0]
    return unknown, (min(max(lacking) / rarest, 1.0) if lacking and rarest > 0 else 0.0)


def _names_and_numbers(labels: Sequence[str], proper: Sequence[bool]) -> list[int]:
    """The question's names (concepts ``proper``) and numbers (``labels`` starting with a
    digit), by their concepts' numbers."""
    return [n for n, (label, name) in enumerate(zip(labels, proper, strict=True))
            if name or label[:1].isdigit()]


def missing_names(labels: Sequence[str], proper: Sequence[bool], found: Sequence[float]
                  ) -> float:
    """The share of the question's names (concepts ``proper``) and numbers (``labels``
    starting with a digit) that the passage does not hold (``found`` 0); 0 for a question
    without either."""
    if len(found) != len(labels):
        raise ValueError("one found weight per concept")
    asked = _names_and_numbers(labels, proper)
    return sum(1 for n in asked if found[n] <= 0) / len(asked) if asked else 0.0


def names_elsewhere(labels: Sequence[str], proper: Sequence[bool], found: Sequence[float],
                    in_sentence: Collection[int]) -> float:
    """The share of the question's names (concepts ``proper``) and numbers (``labels``
    starting with a digit) that the passage holds (``found`` above 0) but the answer's
    sentence does not (their concepts' numbers not ``in_sentence``); 0 for a question
    without either."""
    asked = _names_and_numbers(labels, proper)
    return (sum(1 for n in asked if found[n] > 0 and n not in in_sentence) / len(asked)
            if asked else 0.0)


def _negated(tokens: Sequence[Token]) -> bool:
    return any(is_negation(t) for t in tokens)


def _has_opposite(question: Sequence[Token], tokens: Sequence[Token]) -> bool:
    """Whether the sentence (``tokens``) has the opposite of a word of the question that
    it lacks ("lost" where "won" is asked)."""
    table = antonyms()
    terms = {term for t in tokens for term in t.terms}
    return any(set(analyse_terms(other)) & terms for t in question if t.norm in table
               and not set(t.terms) & terms for other in table[t.norm])


def asked_noun(question: Question) -> str | None:
    """The noun naming the kind of answer asked for: "what [force]", "which [channel]",
    "who is the [CEO]", "how many [people]"."""
    return question.wh_noun or question.head or _counted(question)


def _counted(question: Question) -> str | None:
    """The noun a "how many X" question counts."""
    if question.wh_noun:
        return question.wh_noun
    norms = [t.norm for t in question.tokens]
    for i in range(len(norms) - 2):
        if norms[i] == "how" and norms[i + 1] in ("many", "much"):
            return None if question.tokens[i + 2].is_stop else norms[i + 2]
    return None


def _question_words(question: Question) -> set[str]:
    return {t.norm for t in question.tokens}


def _in_question(token: Token, question: Question) -> bool:
    """Whether the question has ``token``'s word (the same term, or the same number)."""
    terms = set(token.terms)
    return any(terms & set(t.terms) or token.norm == t.norm for t in question.tokens)


def _rivals(tokens: Sequence[Token], inside: Sequence[int], matched: Mapping[int, int]
            ) -> int:
    """Words elsewhere in the sentence of the answer's shape: numbers for an answer that
    starts with one, capitalised words (not the sentence's first) for one that starts
    capitalised."""
    if not inside:
        return 0
    first = tokens[inside[0]].surface
    taken = set(inside) | set(matched)
    if first[:1].isdigit():
        return sum(1 for i, t in enumerate(tokens)
                   if i not in taken and t.surface[:1].isdigit())
    if first[:1].isupper():
        return sum(1 for i, t in enumerate(tokens)
                   if i not in taken and i > 0 and t.surface[:1].isupper())
    return 0


def _clause(text: str, a: int, b: int) -> tuple[int, int]:
    """The clause of ``text`` around ``text[a:b]``: from the clause mark before it to the
    one after it."""
    start = 0
    for match in _CLAUSE_MARK.finditer(text, 0, a):
        start = match.end()
    after = _CLAUSE_MARK.search(text, b)
    return start, after.start() if after is not None else len(text)


def same_answer(a: str | None, b: str | None) -> bool:
    """Whether two short answers say the same, ignoring case and punctuation."""
    if a is None or b is None:
        return False
    return _NORM.sub(" ", a.casefold()).strip() == _NORM.sub(" ", b.casefold()).strip()
