"""Answering questions by quoting: plan the query, retrieve, rerank, decide, extract.

``QuoteEngine.answer_question`` is the one code path behind every front end: the
CLI, the REPL, the HTTP API and the Telegram bot all call it (through a
:class:`~quotebot.session.Session` when a conversation is involved).
"""

from __future__ import annotations

import itertools
import logging
import os
import re
from collections import OrderedDict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np
import numpy.typing as npt

from quotebot import analysis
from quotebot.analysis import Token
from quotebot.bm25 import group_scores, lucene_idf, top_k_of
from quotebot.corpus import default_corpus_path, fingerprint, load_corpus, resolve_corpus_path
from quotebot.errors import IndexFileError
from quotebot.expansion import RELATED, correct
from quotebot.extract import extract, name_spans
from quotebot.models import Answer, Document, Quote, ShortAnswer
from quotebot.question import WEAK_WORDS, Kind, Question, parse_question, validate_question
from quotebot.semantic import (
    AUTO_LIMIT,
    Encoder,
    SemanticUnavailable,
    SentenceVectors,
    passages,
    previous_vectors,
    remove_stale_vectors,
    resolve_mode,
    vectors_file,
)
from quotebot.store import DocInfo, Progress, SentenceIndex

log = logging.getLogger(__name__)

#: How many recent answers are remembered (answers are pure functions of question and index).
ANSWER_CACHE = 4096
#: How many BM25 candidates are reranked.
CANDIDATES = 60
#: Weight of a related word relative to the question's own word.
EXPANSION_WEIGHT = 0.6
#: How much a question word found only elsewhere in the sentence's paragraph counts
#: towards coverage, and (times its idf) towards the score; how far to look either side.
CONTEXT_WEIGHT = 0.4
CONTEXT_SCORE = 0.5
CONTEXT_SPAN = 8
#: Weight of the paragraph's own BM25 score in a sentence's score.
PARAGRAPH_WEIGHT = 0.3
#: Reranking weights: words close together and in order; a sentence holding the answer type.
PROXIMITY_WEIGHT = 0.5
TYPE_WEIGHT = 0.25
#: Share of a "what" question's words a sentence must hold before its gap is an answer.
LITERAL_FOR_WHAT = 0.9
#: Weight of words that frame a question rather than carry it.
WEAK_WEIGHT = 0.3
#: Share of the question's evidence (idf mass of its words) the best sentence must cover.
MIN_COVERAGE = 0.35
#: With semantic vectors, a candidate's final score weighs: its lexical score (relative to
#: the best candidate's; it already counts coverage and proximity), whether it holds the
#: answer type, and the cosine of the question with the sentence, with the sentence and
#: the one before it, and with its paragraph. The weights are those of a listwise logistic
#: model fitted on SQuAD questions over one long article (five-fold, rounded); adding
#: coverage again won nothing on held-out folds and let a loosely matching sentence win.
#: A number or a date where one is asked for is strong evidence; a name is weak, as most
#: sentences of an article name someone.
SEMANTIC_WEIGHTS = {"lexical": 5.75, "number_type": 2.75, "name_type": 0.4, "sentence": 3.5,
                    "window": 3.5, "paragraph": 3.5}
_NUMBER_KINDS = frozenset({Kind.HOW_MANY, Kind.WHEN})
#: Meaning as evidence, by the best passage's cosine with the question (the closest of the
#: sentence, its window and its paragraph). Unlike BM25 scores, this model's cosines mean
#: the same on any corpus: at or above CLOSE_SIMILARITY the passage is about the question
#: and MIN_COVERAGE_CLOSE of its words will do; below MIN_SIMILARITY it is about something
#: else, unless the words alone say otherwise (names the model has never seen).
CLOSE_SIMILARITY = 0.45
MIN_COVERAGE_CLOSE = 0.25
MIN_SIMILARITY = 0.25
WORDS_ALONE_COVERAGE = 0.6


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

    @property
    def searched_for(self) -> str | None:
        """The words searched for, when any were corrected (for "searched for: …")."""
        if not any(c.corrected_from for c in self.concepts):
            return None
        return " ".join(c.label for c in self.concepts)

    def term_sets(self, vocab: Sequence[str]) -> list[tuple[frozenset[str], frozenset[str]]]:
        """Per concept: (its own terms, its related terms), as strings."""
        return [(frozenset(vocab[t] for t in c.terms), frozenset(vocab[t] for t in c.related))
                for c in self.concepts]

    def groups(self) -> list[list[tuple[int, float]]]:
        return [
            [(t, c.weight) for t in c.terms] + [(t, c.weight * EXPANSION_WEIGHT)
                                                 for t in c.related]
            for c in self.concepts
            if c.terms or c.related
        ]


@dataclass(frozen=True, slots=True)
class _Analysed:
    """A sentence's tokens, and where each index term occurs among them."""

    tokens: tuple[Token, ...]
    where: dict[str, list[int]]

    def positions(self, terms: frozenset[str]) -> list[int]:
        found = [i for term in terms for i in self.where.get(term, ())]
        return sorted(set(found)) if len(terms) > 1 else found


@dataclass(frozen=True, slots=True)
class Ranked:
    """A sentence with its final score and the evidence behind it."""

    sid: int
    score: float
    coverage: float
    #: How strongly each concept of the plan matched (1 own word, <1 related word, 0 none).
    hits: tuple[float, ...]
    #: The same, counting words found elsewhere in the sentence's paragraph for part.
    evidence: tuple[float, ...]
    #: Sentence token index → index of the concept it matched.
    matched: dict[int, int]
    tokens: tuple[Token, ...]
    answer_span: tuple[int, int] | None
    #: Closest cosine of the question to the sentence, its window or its paragraph
    #: (None without semantic vectors).
    similarity: float | None = None


class QuoteEngine:
    """Answers questions over one :class:`SentenceIndex`.

    With ``vectors`` and ``encoder`` (see :mod:`quotebot.semantic`), BM25's candidates are
    reranked by meaning as well as by words.
    """

    def __init__(self, index: SentenceIndex, *, vectors: SentenceVectors | None = None,
                 encoder: Encoder | None = None) -> None:
        self.index = index
        self.vectors = vectors if encoder is not None else None
        self.encoder = encoder if vectors is not None else None
        n = max(index.n_sentences, 1)
        self._unknown_idf = float(lucene_idf(0, n))
        self._token_cache: dict[int, _Analysed] = {}
        self._names: dict[tuple[int, str], bool] = {}
        self._answers: OrderedDict[tuple[str, int, int, str | None], Answer] = OrderedDict()
        self._para_start: npt.NDArray[np.int64] | None = None
        self._para_ids: npt.NDArray[np.int64] | None = None
        self._para_len: npt.NDArray[np.float64] | None = None

    # -- opening ------------------------------------------------------------------

    @classmethod
    def open(
        cls,
        corpus: str | os.PathLike[str] | None = None,
        *,
        index_dir: str | os.PathLike[str] | None = None,
        progress: Progress | None = None,
        semantic: str | None = None,
    ) -> QuoteEngine:
        """An engine over ``corpus`` (default: ``$QUOTEBOT_CORPUS`` or the shipped article).

        With ``index_dir`` alone, the saved index there is used as it is (it holds
        the documents' text). Otherwise the corpus is read, and a saved index in the
        cache is reused when its fingerprint matches, or built and saved.
        ``semantic`` is ``auto``, ``on`` or ``off`` (default: ``$QUOTEBOT_SEMANTIC`` or auto).
        """
        mode = resolve_mode(semantic)
        if index_dir is not None and corpus is None:
            index, directory = SentenceIndex.load(index_dir), Path(index_dir)
        else:
            docs = load_corpus(corpus)
            directory = Path(index_dir) if index_dir is not None else default_index_dir(corpus)
            index = load_or_build(docs, directory, progress=progress)
        engine = cls(index)
        engine.attach_semantic(mode, directory)
        return engine

    def attach_semantic(self, mode: str = "auto", directory: Path | None = None, *,
                        progress: Progress | None = None) -> bool:
        """Load (or compute and save in ``directory``) the index's semantic vectors.

        ``auto`` skips quietly when the model is not installed and, with a log line, for
        corpora over :data:`~quotebot.semantic.AUTO_LIMIT` sentences; ``on`` raises
        SemanticUnavailable instead. Returns whether reranking by meaning is on.
        """
        if mode == "off" or self.index.n_sentences == 0:
            return False
        if mode == "auto" and self.index.n_sentences > AUTO_LIMIT:
            log.info("semantic reranking off: %d sentences is over %d (set %s=on to embed "
                     "them anyway)", self.index.n_sentences, AUTO_LIMIT, "QUOTEBOT_SEMANTIC")
            return False
        try:
            encoder = Encoder.load()
        except SemanticUnavailable as exc:
            if mode == "on":
                raise
            log.info("semantic reranking off: %s", exc.message)
            return False
        para_of = self._paragraph_ids()
        n_paragraphs = int(para_of[-1]) + 1
        path = vectors_file(directory, self.index.fingerprint) if directory else None
        vectors = (SentenceVectors.load(path, (self.index.n_sentences, n_paragraphs), para_of)
                   if path is not None else None)
        if vectors is None:
            log.info("embedding %d sentences for semantic reranking", self.index.n_sentences)
            vectors = SentenceVectors.compute(
                passages(self.index, para_of), encoder, progress=progress,
                previous=previous_vectors(directory) if directory is not None else None)
            if path is not None:
                try:
                    vectors.save(path)
                    remove_stale_vectors(path.parent, keep=path)
                except OSError as exc:
                    log.info("could not save semantic vectors to %s (%s)", path, exc)
        self.vectors, self.encoder = vectors, encoder
        self._answers.clear()
        return True

    # -- corpus ---------------------------------------------------------------------

    @property
    def documents(self) -> list[DocInfo]:
        return list(self.index.docs)

    def document(self, doc_id: str) -> Document:
        """A document by id (raises UnknownDocument)."""
        return self.index.document(doc_id)

    # -- answering ------------------------------------------------------------------

    def answer_question(
        self, question: str, k: int = 3, *, offset: int = 0, entity: str | None = None
    ) -> Answer:
        """Quote the ``k`` best sentences answering ``question`` (after the first ``offset``).

        ``entity`` is a name that a pronoun in the question stands for (from a
        conversation); it is searched for as one concept.
        """
        question = validate_question(question)
        k = max(1, min(int(k), 50))
        # Answers depend only on these inputs and the (read-only) index, and people ask the
        # same questions again and again: remember the latest ones.
        key = (question, k, offset, entity)
        cached = self._answers.get(key)
        if cached is not None:
            self._answers.move_to_end(key)
            return cached
        answer = self._answer(question, k, offset, entity)
        self._answers[key] = answer
        if len(self._answers) > ANSWER_CACHE:
            self._answers.popitem(last=False)
        return answer

    def _answer(self, question: str, k: int, offset: int, entity: str | None) -> Answer:
        plan = self.plan(question, entity=entity)
        ranked = self.rank(plan, limit=offset + k)
        answered, reason = self._decide(plan, ranked)
        if not answered:
            closest = tuple(self._quote(r, plan) for r in ranked[:k])
            return Answer(question=question, answered=False, reason=reason, closest=closest,
                          searched_for=plan.searched_for)
        page = ranked[offset:offset + k]
        if not page:
            return Answer(question=question, answered=False, continued=offset > 0,
                          reason="There are no more passages about this.",
                          searched_for=plan.searched_for)
        quotes = tuple(self._quote(r, plan) for r in page)
        short = None
        first = page[0]
        if offset == 0 and first.answer_span is not None:
            sent = self.index.sentence(first.sid)
            a, b = first.answer_span
            short = ShortAnswer(text=sent.text[a:b], start=sent.start + a, end=sent.start + b)
        return Answer(question=question, answered=True, quotes=quotes, short=short,
                      reason=reason, searched_for=plan.searched_for, continued=offset > 0)

    def answer_many(self, questions: Iterable[str], k: int = 3) -> list[Answer]:
        """Answer each question independently (no conversation state)."""
        return [self.answer_question(q, k) for q in questions]

    # -- the steps ------------------------------------------------------------------

    def plan(self, question: str, *, entity: str | None = None) -> QueryPlan:
        """Turn a question into concepts: its content words, corrected and expanded."""
        parsed = parse_question(question)
        vocab = self.index.term_ids
        concepts: list[Concept] = []
        entity_norms: set[str] = set()
        if entity:
            entity_tokens = [t for t in analysis.tokenize(entity) if not t.is_stop]
            entity_norms = {t.norm for t in entity_tokens}
            ids = tuple(dict.fromkeys(
                vocab[term] for t in entity_tokens for term in t.terms if term in vocab))
            concepts.append(replace(self._concept(entity, ids, ()), proper=True,
                                    surface=entity))
        acronyms = self._acronyms(parsed)
        seen: set[str] = set()
        for position, token in enumerate(parsed.tokens):
            if token not in parsed.content:
                continue
            if token.norm in entity_norms or token.norm in seen:
                continue
            seen.add(token.norm)
            label, corrected_from = token.norm, None
            token_terms = token.terms
            if not any(term in vocab for term in token_terms) and not self._has_related(label):
                fixed = correct(token.norm, self.index.words)
                if fixed is not None:
                    label, corrected_from = fixed, token.norm
                    token_terms = tuple(analysis.terms(fixed))
            ids = tuple(dict.fromkeys(vocab[t] for t in token_terms if t in vocab))
            related = tuple(dict.fromkeys(
                vocab[term]
                for word in (*RELATED.get(label, ()), *acronyms.get(position, ()))
                for term in analysis.terms(word)
                if term in vocab and vocab[term] not in ids
            ))
            concept = self._concept(label, ids, related, corrected_from)
            if token.norm in WEAK_WORDS:
                concept = replace(concept, idf=concept.idf * WEAK_WEIGHT, weight=WEAK_WEIGHT)
            if position > 0 and _looks_like_name(token.surface) and not corrected_from:
                concept = replace(concept, proper=True)
            concept = replace(concept, surface=token.surface)
            concepts.append(concept)
        if any(c.corrected_from for c in concepts):
            # Read the question as corrected, so that "new yrok" is about New York throughout
            # (a corrected word is no new name in an answer, and means what it should).
            parsed = parse_question(_corrected(question, concepts))
        return QueryPlan(parsed, tuple(concepts))

    def _acronyms(self, question: Question) -> dict[int, tuple[str, ...]]:
        """Acronyms the corpus uses for names in the question ("Most Valuable Player" → MVP),
        by the position of each word of the name."""
        tokens = question.tokens
        out: dict[int, tuple[str, ...]] = {}
        for first, last in name_spans(question.text, tokens):
            words = [t for t in tokens[first:last + 1] if t.norm not in ("of", "and", "the", "for")]
            if len(words) < 2:
                continue
            initials = "".join(t.norm[0] for t in words)
            if initials in self.index.term_ids:
                for i in range(first, last + 1):
                    out[i] = (initials,)
        return out

    def _has_related(self, word: str) -> bool:
        vocab = self.index.term_ids
        return any(term in vocab for w in RELATED.get(word, ()) for term in analysis.terms(w))

    def _concept(self, label: str, ids: tuple[int, ...], related: tuple[int, ...],
                 corrected_from: str | None = None) -> Concept:
        if ids:
            df = self.index.matrix.df[list(ids)]
            idf = float(lucene_idf(int(df.min()), self.index.n_sentences))
        else:
            idf = self._unknown_idf
        return Concept(label, ids, related, idf, bool(ids or related), corrected_from)

    def rank(self, plan: QueryPlan, limit: int) -> list[Ranked]:
        """Sentences best first: BM25 candidates reranked by coverage, proximity and answer type."""
        groups = plan.groups()
        if not groups:
            return []
        ids, scores = group_scores(self.index.matrix, groups)
        ids, scores = top_k_of(ids, scores, max(CANDIDATES, limit))
        para_of = self._paragraph_ids()
        para_score = self._paragraph_scores(groups, para_of[ids]) if PARAGRAPH_WEIGHT else None
        ranked = []
        term_sets = plan.term_sets(self.index.vocab)
        for n, (sid, score) in enumerate(zip(ids.tolist(), scores.tolist(), strict=True)):
            boost = PARAGRAPH_WEIGHT * float(para_score[n]) if para_score is not None else 0.0
            ranked.append(self._rerank(plan, term_sets, sid, score + boost))
        if self.vectors is not None and ranked:
            ranked = self._rerank_by_meaning(plan, ranked)
        ranked.sort(key=lambda r: (-r.score, r.sid))
        return ranked

    def _rerank_by_meaning(self, plan: QueryPlan, ranked: list[Ranked]) -> list[Ranked]:
        """Final scores from words and meaning together (see SEMANTIC_WEIGHTS)."""
        assert self.vectors is not None and self.encoder is not None
        question = self.encoder.encode([plan.question.text])[0]
        sids = np.fromiter((r.sid for r in ranked), dtype=np.int64, count=len(ranked))
        sentence, window, paragraph = self.vectors.similarities(question, sids)
        best_lexical = max(r.score for r in ranked) or 1.0
        w = SEMANTIC_WEIGHTS
        type_weight = w["number_type"] if plan.question.kind in _NUMBER_KINDS else w["name_type"]
        out = []
        for n, r in enumerate(ranked):
            score = (w["lexical"] * r.score / best_lexical
                     + type_weight * (r.answer_span is not None)
                     + w["sentence"] * float(sentence[n]) + w["window"] * float(window[n])
                     + w["paragraph"] * float(paragraph[n]))
            similarity = max(float(sentence[n]), float(window[n]), float(paragraph[n]))
            out.append(replace(r, score=score, similarity=similarity))
        return out

    def _paragraph_ids(self) -> npt.NDArray[np.int64]:
        """A paragraph number per sentence, unique across the corpus."""
        if self._para_ids is None:
            doc, para = np.asarray(self.index.doc_idx), np.asarray(self.index.paragraph)
            change = np.ones(doc.shape[0], dtype=bool)
            change[1:] = (doc[1:] != doc[:-1]) | (para[1:] != para[:-1])
            self._para_ids = np.cumsum(change) - 1
        return self._para_ids

    def _paragraph_scores(self, groups: Sequence[Sequence[tuple[int, float]]],
                          paragraphs: npt.NDArray[np.int64]) -> npt.NDArray[np.float64]:
        """BM25 of the given paragraphs (as if each paragraph were one document).

        Questions are often about a paragraph's topic, named once in its first
        sentence; this lets the other sentences of that paragraph share the topic.
        """
        matrix = self.index.matrix
        para_of = self._paragraph_ids()
        n_paras = int(para_of[-1]) + 1 if para_of.size else 0
        para_len = self._para_len
        if para_len is None:
            para_len = np.bincount(para_of, weights=np.asarray(matrix.doc_len, dtype=np.float64),
                                   minlength=n_paras).astype(np.float64)
            self._para_len = para_len
        avg = float(para_len.mean()) or 1.0
        wanted = np.unique(paragraphs)
        norm = matrix.k1 * (1 - matrix.b + matrix.b * para_len[wanted] / avg)
        total = np.zeros(wanted.size)
        for group in groups:
            best = np.zeros(wanted.size)
            for term, weight in group:
                lo, hi = int(matrix.indptr[term]), int(matrix.indptr[term + 1])
                if lo == hi:
                    continue
                # Sentence ids follow paragraph order, so a term's paragraph ids come out
                # sorted: its paragraph frequencies are differences of a running sum, and
                # the work follows the term's postings, not the number of paragraphs.
                pids = para_of[np.asarray(matrix.indices[lo:hi])]
                df = 1 + int(np.count_nonzero(pids[1:] != pids[:-1]))
                idf = float(lucene_idf(df, n_paras))
                running = np.zeros(hi - lo + 1)
                np.cumsum(matrix.tf[lo:hi], out=running[1:])
                tf = (running[np.searchsorted(pids, wanted, "right")]
                      - running[np.searchsorted(pids, wanted, "left")])
                best = np.maximum(best, weight * idf * tf / (tf + norm))
            total += best
        return total[np.searchsorted(wanted, paragraphs)]

    def _tokens(self, sid: int) -> _Analysed:
        """A sentence's tokens and the positions of each term in it (cached)."""
        cached = self._token_cache.get(sid)
        if cached is None:
            tokens = tuple(analysis.tokenize(self.index.sentence(sid).text))
            where: dict[str, list[int]] = {}
            for i, token in enumerate(tokens):
                for term in token.terms:
                    where.setdefault(term, []).append(i)
            cached = _Analysed(tokens, where)
            if len(self._token_cache) > 50_000:
                self._token_cache.clear()
            self._token_cache[sid] = cached
        return cached

    def _capitalised_in_document(self, doc_pos: int, word: str) -> bool:
        """True when the document capitalises ``word`` inside sentences and never writes it
        in lower case: "Anderson was the leading rusher" opens with a name, "Despite …" not."""
        key = (doc_pos, word)
        known = self._names.get(key)
        if known is None:
            text = self.index.texts(doc_pos)
            inside = re.search(rf"[a-z,]\s+{re.escape(word)}\b", text) is not None
            known = inside and re.search(rf"\b{re.escape(word.lower())}\b", text) is None
            if len(self._names) > 100_000:
                self._names.clear()
            self._names[key] = known
        return known

    def _paragraph_neighbours(self, sid: int) -> range:
        """The sentences of ``sid``'s paragraph (a few either side at most, itself included)."""
        para_of = self._paragraph_ids()
        if self._para_start is None:
            starts = np.flatnonzero(np.diff(para_of, prepend=-1))
            self._para_start = np.append(starts, para_of.size)
        pid = int(para_of[sid])
        lo, hi = int(self._para_start[pid]), int(self._para_start[pid + 1])
        return range(max(lo, sid - CONTEXT_SPAN), min(hi, sid + CONTEXT_SPAN + 1))

    def _resolve_leading_pronoun(
        self, plan: QueryPlan, concept_terms: Sequence[tuple[frozenset[str], frozenset[str]]],
        sid: int, tokens: Sequence[Token], positions: list[list[int]], strength: list[float],
    ) -> None:
        """"She said …" right after a sentence naming Amara Okafor is about Amara Okafor:
        a name the sentence lacks counts as found when the sentence opens with a pronoun
        and the sentence before (in the same document) names it."""
        if not tokens or tokens[0].norm not in _LEADING_PRONOUNS or sid == 0:
            return
        if self.index.doc_idx[sid - 1] != self.index.doc_idx[sid]:
            return
        before = self._tokens(sid - 1).where
        for n, concept in enumerate(plan.concepts):
            if concept.proper and strength[n] == 0.0 and concept_terms[n][0] & before.keys():
                strength[n] = 1.0
                positions[n] = [0]

    def _rerank(self, plan: QueryPlan, concept_terms: Sequence[tuple[frozenset[str],
                                                                      frozenset[str]]],
                sid: int, bm25: float) -> Ranked:
        analysed = self._tokens(sid)
        tokens = analysed.tokens
        positions: list[list[int]] = []
        strength: list[float] = []
        matched: dict[int, int] = {}
        for order, (own, related) in enumerate(concept_terms):
            pos_own = analysed.positions(own)
            pos_rel = [] if pos_own else analysed.positions(related)
            positions.append(pos_own or pos_rel)
            strength.append(1.0 if pos_own else EXPANSION_WEIGHT if pos_rel else 0.0)
            for i in pos_own or pos_rel:
                matched.setdefault(i, order)
        self._resolve_leading_pronoun(plan, concept_terms, sid, tokens, positions, strength)
        # Words the sentence lacks but its paragraph has ("Super Bowl 50" said once, up front)
        # count for part: the sentence is about the same thing.
        context = [0.0] * len(plan.concepts)
        missing = [n for n, hit in enumerate(strength) if hit < 1.0]
        if missing:
            for other in self._paragraph_neighbours(sid):
                if other == sid:
                    continue
                other_terms = self._tokens(other).where.keys()
                for n in missing:
                    own, related = concept_terms[n]
                    if own & other_terms:
                        context[n] = 1.0
                    elif related & other_terms:
                        context[n] = max(context[n], EXPANSION_WEIGHT)
        idfs = [c.idf for c in plan.concepts]
        total = sum(idfs) or 1.0
        effective = [max(h, CONTEXT_WEIGHT * c) for h, c in zip(strength, context, strict=True)]
        coverage = sum(w * e for w, e in zip(idfs, effective, strict=True)) / total
        context_score = sum(w * CONTEXT_WEIGHT * c for w, c, h in zip(idfs, context, strength,
                                                                     strict=True) if h == 0.0)
        proximity = _proximity(positions)
        text = self.index.sentence(sid).text
        literal = sum(w * h for w, h in zip(idfs, strength, strict=True)) / total
        doc_pos = int(self.index.doc_idx[sid])
        # Filling a "what" gap is only safe when the sentence says nearly what the question
        # says; for paraphrases the gap is usually something else.
        span = extract(plan.question, text, tokens, matched,
                       lambda word: self._capitalised_in_document(doc_pos, word),
                       fill_gaps=literal >= LITERAL_FOR_WHAT)
        mean_idf = total / max(len(plan.concepts), 1)
        type_bonus = TYPE_WEIGHT * mean_idf if span is not None and (
            plan.question.kind in _TYPED_KINDS) else 0.0
        score = _score(bm25, context_score, proximity, coverage, type_bonus)
        return Ranked(sid, score, coverage, tuple(strength), tuple(effective), matched, tokens,
                      span)

    def _decide(self, plan: QueryPlan, ranked: Sequence[Ranked]) -> tuple[bool, str]:
        """Answer only on evidence, never on a raw score.

        The best sentence (with its paragraph) must cover enough of the question's
        evidence (idf mass of its words); a name in the question that the corpus never
        mentions means the corpus is about something else; and "who is the X?" needs X.
        With semantic vectors, meaning is evidence too: a passage close in meaning needs
        fewer of the question's words, and one far from it needs many.
        """
        if not ranked:
            return False, "No sentence shares a word with the question."
        best = ranked[0]
        if not any(c.known for c in plan.concepts):
            return False, "None of the question's words occur in the corpus."
        unknown_names = [c.surface for c in plan.concepts if c.proper and not c.known]
        if unknown_names:
            return False, f"The corpus never mentions {', '.join(unknown_names[:3])}."
        similarity = best.similarity
        close = similarity is not None and similarity >= CLOSE_SIMILARITY
        if best.coverage < (MIN_COVERAGE_CLOSE if close else MIN_COVERAGE):
            missing = [c.surface or c.label for c, ev in zip(plan.concepts, best.evidence,
                                                             strict=True) if not ev]
            return False, (f"The best passage covers only {best.coverage:.0%} of the question; "
                           f"nothing near it mentions {', '.join(missing[:4]) or 'its key words'}.")
        if similarity is not None and similarity < MIN_SIMILARITY and (
                best.coverage < WORDS_ALONE_COVERAGE):
            return False, (f"The closest passage shares some words but is about something else "
                           f"(similarity {similarity:.2f}).")
        matched = sum(1 for ev in best.evidence if ev > 0)
        unknown = [c for c in plan.concepts if not c.known and c.weight == 1.0]
        if matched == 1 and unknown:
            return False, (f"Only one word of the question occurs near the best passage; "
                           f"nothing mentions {unknown[0].surface or unknown[0].label}.")
        question = plan.question
        if question.kind is Kind.WHO and question.head and not close:
            for concept, evidence in zip(plan.concepts, best.evidence, strict=True):
                if concept.label == question.head and evidence == 0.0:
                    return False, f"Nothing here mentions the {concept.surface or concept.label}."
        return True, f"Covers {best.coverage:.0%} of the question."

    def _quote(self, ranked: Ranked, plan: QueryPlan) -> Quote:
        sentence = self.index.sentence(ranked.sid)
        info = self.index.docs[int(self.index.doc_idx[ranked.sid])]
        highlights = tuple((ranked.tokens[i].start, ranked.tokens[i].end)
                           for i in sorted(ranked.matched))
        return Quote(
            text=sentence.text, doc=sentence.doc, title=info.title,
            paragraph=sentence.paragraph, sentence=sentence.sentence,
            start=sentence.start, end=sentence.end, score=round(ranked.score, 4),
            highlights=highlights,
        )


def _score(bm25: float, context: float, proximity: float, coverage: float,
           type_bonus: float) -> float:
    """A sentence's final score: BM25 (plus its paragraph's words it lacks), raised for
    question words close together and in order, scaled by how much of the question it
    covers, plus a bonus when it holds the kind of answer asked for."""
    return (bm25 + CONTEXT_SCORE * context) * (1.0 + PROXIMITY_WEIGHT * proximity) * (
        0.5 + coverage) + type_bonus

_TYPED_KINDS = frozenset({Kind.HOW_MANY, Kind.WHO, Kind.WHEN, Kind.WHERE})


_LEADING_PRONOUNS = frozenset({"he", "she", "they", "his", "her", "their", "it", "its"})

_CALENDAR = frozenset(
    """january february march april may june july august september october november december
    monday tuesday wednesday thursday friday saturday sunday""".split()
)


def _corrected(question: str, concepts: Sequence[Concept]) -> str:
    """The question with its corrected words put right ("new yrok" → "new york")."""
    for concept in concepts:
        if concept.corrected_from and concept.surface:
            question = question.replace(concept.surface, concept.label, 1)
    return question


def _looks_like_name(word: str) -> bool:
    """Capitalised like a name ("Coldplay"), not an acronym ("TV") or a month ("July")."""
    return (len(word) >= 3 and word[:1].isupper() and not word.isupper()
            and word.casefold() not in _CALENDAR)


def _proximity(positions: list[list[int]]) -> float:
    """Share of consecutive question words found close together and in order (0..1)."""
    pairs = list(itertools.pairwise(positions))
    if not pairs:
        return 0.0
    total = 0.0
    for a, b in pairs:
        if not a or not b:
            continue
        gap = min((j - i for i in a for j in b if j > i), default=None)
        if gap is None:
            continue
        total += 1.0 if gap <= 2 else 0.5 if gap <= 5 else 0.0
    return total / len(pairs)


# -- where saved indexes live -----------------------------------------------------------


def default_index_dir(corpus: str | os.PathLike[str] | None) -> Path:
    """Where the index of a corpus is cached: the package's build folder for the default
    article (when writable), else ``$XDG_CACHE_HOME/quotebot/<corpus name>``."""
    path = resolve_corpus_path(corpus).resolve()
    if path == default_corpus_path().resolve():
        from quotebot.index import BUILD_DIR

        if _writable(BUILD_DIR.parent):
            return Path(BUILD_DIR) / "default"
    cache_home = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache")
    safe = "".join(ch if ch.isalnum() or ch in "-_." else "_" for ch in path.as_posix())[-120:]
    return cache_home / "quotebot" / "indexes" / safe.strip("_")


def _writable(path: Path) -> bool:
    return os.access(path, os.W_OK)


def load_or_build(docs: Sequence[Document], cache: Path, *,
                  progress: Progress | None = None) -> SentenceIndex:
    """The saved index in ``cache`` if it matches ``docs``; otherwise build it and try to save."""
    wanted = fingerprint(docs)
    try:
        saved = SentenceIndex.load(cache)
    except IndexFileError as exc:
        if exc.code != "index_missing":
            log.warning("rebuilding the index: %s", exc.message)
    else:
        if saved.fingerprint == wanted and saved.analyzer_version == analysis.ANALYZER_VERSION:
            return saved
        log.info("the corpus changed since the index in %s was built; rebuilding", cache)
    index = SentenceIndex.build(docs, progress=progress)
    try:
        index.save(cache)
    except OSError as exc:
        log.info("could not save the index to %s (%s); using it in memory", cache, exc)
    return index


