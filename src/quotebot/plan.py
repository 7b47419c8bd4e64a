"""The query plan: a parsed question turned into concepts to search for.

Each content word of the question becomes a concept: the index terms that stand for it
(its stem, its parts, an irregular form's lemma), related words and acronyms the corpus
uses for it at a lower weight, its evidence weight (idf), and whether it is a name the
answer must be about. A word the corpus lacks is corrected against the corpus's words.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace
from functools import cache

import numpy as np

from quotebot import analysis
from quotebot.bm25 import idf_of
from quotebot.correction import correct
from quotebot.extract import name_spans
from quotebot.lexicon import WEAK_WORDS, abbreviation_expansions, related_words
from quotebot.names import is_acronym, looks_like_name
from quotebot.question import Question, parse_question
from quotebot.store.model import SentenceIndex
from quotebot.tuning import Tuning

#: Concepts one question searches for, at most: the rarest are kept. Retrieval and every
#: feature cost grow with the concepts times their postings, so a question of 200 common
#: words once took two seconds of a 5 MB library (an ordinary one 11 ms); no question of
#: the shared question sets (3,105) has more than 17 content words.
MAX_CONCEPTS = 24


@dataclass(frozen=True, slots=True)
class Concept:
    """One word of the question (or a resolved name) and the index terms that stand for it."""

    label: str
    #: Term ids of the word itself (whole and parts), weight 1.
    terms: tuple[int, ...]
    #: Term ids of related words, weighted below the word itself.
    related: tuple[int, ...]
    #: Evidence weight: the idf of the word (an unknown word weighs as the rarest).
    idf: float
    known: bool
    #: The word as the user typed it, when it was corrected to ``label``.
    corrected_from: str | None = None
    #: Below 1 for words that frame the question rather than carry it ("name", "prior").
    weight: float = 1.0
    #: A capitalised word inside the question: a name the answer must be about.
    proper: bool = False
    #: The word as written in the question, for messages.
    surface: str = ""


@dataclass(frozen=True, slots=True)
class QueryPlan:
    """A question turned into concepts to search for."""

    question: Question
    concepts: tuple[Concept, ...]
    #: Weight of a related word relative to the question's own word.
    expansion_weight: float

    @property
    def searched_for(self) -> str | None:
        """The words searched for, when any were corrected (for "searched for: …")."""
        if not any(c.corrected_from for c in self.concepts):
            return None
        return " ".join(c.label for c in self.concepts)

    def groups(self) -> list[list[tuple[int, float]]]:
        """Per concept with terms: (term id, query weight) pairs, for BM25."""
        return [
            [(t, c.weight) for t in c.terms]
            + [(t, c.weight * self.expansion_weight) for t in c.related]
            for c in self.concepts
            if c.terms or c.related
        ]

    @property
    def idfs(self) -> list[float]:
        return [c.idf for c in self.concepts]


def plan_question(question: Question, index: SentenceIndex, tuning: Tuning, *,
                  entity: str | None = None) -> QueryPlan:
    """Turn a parsed question into concepts: its content words, corrected and expanded.

    ``entity`` is a name that a pronoun of the question stands for (from a
    conversation); it is searched for as one concept.
    """
    vocab = index.term_ids
    related_table = related_words()
    n_sentences = max(index.n_sentences, 1)
    unknown_idf = idf_of(0, n_sentences)
    df = index.matrix.df

    def concept(label: str, ids: tuple[int, ...], related: tuple[int, ...],
                corrected_from: str | None = None) -> Concept:
        idf = idf_of(int(df[list(ids)].min()), n_sentences) if ids else unknown_idf
        return Concept(label, ids, related, idf, bool(ids or related), corrected_from)

    concepts: list[Concept] = []
    entity_norms: set[str] = set()
    if entity:
        entity_tokens = [t for t in analysis.tokenize(entity) if not t.is_stop]
        entity_norms = {t.norm for t in entity_tokens}
        ids = tuple(dict.fromkeys(
            vocab[term] for t in entity_tokens for term in t.terms if term in vocab))
        concepts.append(replace(concept(entity, ids, ()), proper=True, surface=entity))
    acronyms = _acronyms(question, index)
    expanded = _expansions(question, index)
    seen: set[str] = set()
    corrected = 0
    for position, token in enumerate(question.tokens):
        if token not in question.content or token.norm in entity_norms or token.norm in seen:
            continue
        seen.add(token.norm)
        label, corrected_from = token.norm, None
        token_terms = token.terms
        if (corrected < tuning.correction.max_words
                and not any(term in vocab for term in token_terms)
                and not _has_related(label, index) and position not in expanded):
            fixed = correct(token.norm, index.words, tuning.correction,
                            typed_lower=token.surface.islower())
            if fixed is not None:
                label, corrected_from = fixed, token.norm
                token_terms = tuple(analysis.terms(fixed))
                corrected += 1
        ids = tuple(dict.fromkeys([*(vocab[t] for t in token_terms if t in vocab),
                                   *expanded.get(position, ())]))
        related = tuple(dict.fromkeys(
            vocab[term]
            for word in (*related_table.get(label, ()), *acronyms.get(position, ()))
            for term in analysis.terms(word)
            if term in vocab and vocab[term] not in ids
        ))
        item = concept(label, ids, related, corrected_from)
        if token.norm in WEAK_WORDS:
            weak = tuning.retrieval.weak_weight
            item = replace(item, idf=item.idf * weak, weight=weak)
        if (not corrected_from and len(token.surface) >= 3 and not is_acronym(token.surface)
                and looks_like_name(token.surface, at_start=position == 0)):
            item = replace(item, proper=True)
        concepts.append(replace(item, surface=token.surface))
    concepts = _rarest(concepts, MAX_CONCEPTS, keep_first=bool(entity))
    if any(c.corrected_from for c in concepts):
        # Read the question as corrected, so that "new yrok" is about New York throughout
        # (a corrected word is no new name in an answer, and means what it should).
        question = parse_question(_corrected(question.text, concepts))
    return QueryPlan(question, tuple(concepts), tuning.retrieval.expansion_weight)


def _rarest(concepts: list[Concept], limit: int, *, keep_first: bool) -> list[Concept]:
    """At most ``limit`` of ``concepts``, in their order: the first when ``keep_first`` (a
    name a pronoun stands for), then those of the highest idf."""
    if len(concepts) <= limit:
        return concepts
    kept = set(range(int(keep_first)))
    by_idf = sorted(range(len(kept), len(concepts)), key=lambda i: (-concepts[i].idf, i))
    kept.update(by_idf[:limit - len(kept)])
    return [c for i, c in enumerate(concepts) if i in kept]


def _acronyms(question: Question, index: SentenceIndex) -> dict[int, tuple[str, ...]]:
    """Acronyms the corpus uses for names in the question ("Most Valuable Player" → MVP),
    by the position of each word of the name."""
    tokens = question.tokens
    out: dict[int, tuple[str, ...]] = {}
    for first, last in name_spans(question.text, tokens):
        words = [t for t in tokens[first:last + 1] if t.norm not in ("of", "and", "the", "for")]
        if len(words) < 2:
            continue
        initials = "".join(t.norm[0] for t in words)
        if initials in index.term_ids:
            for i in range(first, last + 1):
                out[i] = (initials,)
    return out


def _expansions(question: Question, index: SentenceIndex) -> dict[int, tuple[int, ...]]:
    """Term ids that stand for a word of the question as well as its own, by the word's
    position: an abbreviation's long form, when the corpus writes its words together
    ("CEO" → "chief executive"), and for the words of a long form its abbreviation
    ("chief executive" → "CEO"). Both are the same concept: found as fully as the word."""
    vocab = index.term_ids
    table = abbreviation_expansions()
    tokens = question.tokens
    out: dict[int, list[int]] = {}
    for position, token in enumerate(tokens):
        for form in table.get(token.norm, ()):
            words = analysis.tokenize(form)
            if _written_together(words, index):
                out.setdefault(position, []).extend(
                    vocab[term] for w in words if not w.is_stop for term in w.terms)
    norms = [t.norm for t in tokens]
    asked = set(norms)
    for short, long_forms in _long_forms():
        # The first long form the question writes, longest first (most questions write
        # none: their words tell, before the vocabulary is asked).
        for form_norms in long_forms:
            at = (_find(norms, form_norms) if not form_norms or form_norms[0] in asked
                  else None)
            if at is not None:
                break
        else:
            continue
        short_ids = [vocab[term] for term in analysis.terms(short) if term in vocab]
        if not short_ids:
            continue
        for position in range(at, at + len(form_norms)):
            if not tokens[position].is_stop:
                out.setdefault(position, []).extend(short_ids)
    return {position: tuple(dict.fromkeys(ids)) for position, ids in out.items()}


@cache
def _long_forms() -> tuple[tuple[str, tuple[tuple[str, ...], ...]], ...]:
    """Each abbreviation with the normalised words of its long forms, longest first."""
    return tuple((short, tuple(tuple(w.norm for w in analysis.tokenize(form))
                               for form in sorted(forms, key=len, reverse=True)))
                 for short, forms in abbreviation_expansions().items())


#: How many sentences holding all the words of a long form are checked for the words
#: written together.
_PHRASE_CHECKS = 200


def _written_together(words: Sequence[analysis.Token], index: SentenceIndex) -> bool:
    """Whether some sentence of the corpus writes ``words`` one after the other."""
    vocab = index.term_ids
    content = [w for w in words if not w.is_stop]
    if not content or any(not w.terms or w.terms[0] not in vocab for w in content):
        return False
    sids = index.matrix.postings(vocab[content[0].terms[0]])
    for w in content[1:]:
        sids = np.intersect1d(sids, index.matrix.postings(vocab[w.terms[0]]),
                              assume_unique=True)
    for sid in sids[:_PHRASE_CHECKS].tolist():
        tokens = index.sentence_tokens(sid)
        for start in range(len(tokens) - len(words) + 1):
            if all(_same_word(tokens[start + k], w) for k, w in enumerate(words)):
                return True
    return False


def _same_word(token: analysis.Token, word: analysis.Token) -> bool:
    if word.is_stop:
        return token.norm == word.norm
    return bool(set(token.terms) & set(word.terms))


def _find(norms: Sequence[str], words: Sequence[str]) -> int | None:
    """Where ``words`` occur one after the other in ``norms``, if they do."""
    n = len(words)
    for start in range(len(norms) - n + 1):
        if list(norms[start:start + n]) == list(words):
            return start
    return None


def _has_related(word: str, index: SentenceIndex) -> bool:
    vocab = index.term_ids
    return any(term in vocab for w in related_words().get(word, ())
               for term in analysis.terms(w))


def _corrected(question: str, concepts: Sequence[Concept]) -> str:
    """The question with its corrected words put right ("new yrok" → "new york")."""
    for item in concepts:
        if item.corrected_from and item.surface:
            question = question.replace(item.surface, item.label, 1)
    return question
