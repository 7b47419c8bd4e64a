"""The engine: one question through the pipeline, and the answer it makes.

``QuoteEngine.answer_question`` is the one code path behind every front end (the CLI,
the REPL, the HTTP API and the Telegram bot). It composes the stages, each in its own
module::

    question ─parse──▶ Question            (question.py)
             ─plan───▶ QueryPlan           (plan.py, correction.py)
             ─retrieve▶ Candidates         (retrieve.py, bm25.py)
             ─features▶ Features           (features.py)
             ─rerank──▶ order, scores      (rerank.py; extract.py for the answer type)
             ─decide──▶ Verdict            (decide.py)
             ─quote───▶ Answer             (quotes.py)
"""

from __future__ import annotations

import logging
import os
import sys
import threading
from collections import OrderedDict
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np
import numpy.typing as npt

from quotebot import context as conversation
from quotebot.analysis import Token
from quotebot.answer_overlap import token_f1
from quotebot.backends import RetrievalBackend
from quotebot.bm25 import idf_of
from quotebot.confidence import (
    Gate,
    asked_noun,
    evidence,
    missing_names,
    missing_verbs,
    missing_words,
    names_elsewhere,
    same_answer,
)
from quotebot.context import Context
from quotebot.decide import CONTRADICTIONS, Evidence, Verdict, decide
from quotebot.errors import InvalidQuestion, UnknownDocument
from quotebot.extract import extract_by_rule, needs
from quotebot.features import Features, compute_features, gather_evidence
from quotebot.models import Answer, Document, Quote, ShortAnswer
from quotebot.plan import QueryPlan, plan_question
from quotebot.question import Question, parse_question, validate_question
from quotebot.quotes import highlights, make_quote, make_short_answer
from quotebot.rerank import LexicalScorer, Scorer, SemanticScorer, rank
from quotebot.retrieve import Candidates, retrieve, retrieve_among
from quotebot.semantic import (
    AUTO_LIMIT,
    SEMANTIC_ENV,
    Encoder,
    ModelChanged,
    SemanticUnavailable,
    resolve_mode,
)
from quotebot.store.catalogue import compute_vectors, load_vectors, open_index
from quotebot.store.model import NUMBER, TIME, DocInfo, SentenceIndex
from quotebot.tuning import Retrieval, Tuning, default_tuning

log = logging.getLogger(__name__)

#: How many bytes of answers are remembered, per engine (answers are pure functions of the
#: question and the read-only index, and people ask the same questions again and again).
ANSWER_CACHE_BYTES = 16 * 1024 * 1024
#: What an answer and each of its quotes take besides their strings (measured with
#: tracemalloc, tests/test_answer_cache.py; rounded up).
_ANSWER_OVERHEAD = 640
_FLOAT_SIZE = sys.getsizeof(0.0)
#: How many passages after the first are read for the short answer's words (agreement
#: between passages; a bound, not a fit).
_SUPPORT = 5
#: A heading's section is looked for within this many sentences after it (headings under
#: headings).
_HEADINGS_IN_A_ROW = 8
#: Two short answers say the same when their token F1 reaches this (as a right one does).
_SAME_ANSWER_F1 = 0.5

Progress = Callable[[int, int], None]
#: (question, k, offset, entity, doc, prefer_doc, context): what an answer depends on.
_AnswerKey = tuple[str, int, int, str | None, str | None, str | None, Context | None]


@dataclass(frozen=True, slots=True)
class _Meaning:
    """Vectors and the model that made them, attached together."""

    vectors: object
    encoder: Encoder


class QuoteEngine:
    """Answers questions over one :class:`SentenceIndex`, by words alone or by words and
    meaning once vectors are attached (:meth:`attach_semantic`)."""

    def __init__(self, index: SentenceIndex, *, tuning: Tuning | None = None,
                 directory: Path | None = None, search: RetrievalBackend | None = None
                 ) -> None:
        self.index = index
        #: Where retrieval's candidates come from: the index itself, or a backend over
        #: remote shards of the same corpus (see :mod:`quotebot.backends`).
        self.search: RetrievalBackend = index if search is None else search
        #: The folder the index was loaded from or saved in, where its vectors belong.
        self.directory = directory
        self.tuning = tuning or default_tuning()
        self._lexical = LexicalScorer(self.tuning.lexical)
        self._gate = Gate.of(self.tuning.answer)
        self._meaning: _Meaning | None = None
        self._answers: OrderedDict[_AnswerKey, Answer] = OrderedDict()
        #: Tokens of recently quoted or examined sentences (the index is read-only).
        self._tokens: dict[int, tuple[Token, ...]] = {}
        self._answer_bytes = 0
        self._lock = threading.Lock()
        #: The retrieval numbers by words alone, and the numbers they were made from.
        self._by_words: tuple[Retrieval, Retrieval] | None = None

    @classmethod
    def open(cls, corpus: str | os.PathLike[str] | None = None, *,
             index_dir: str | os.PathLike[str] | None = None, progress: Progress | None = None,
             semantic: str | None = None) -> QuoteEngine:
        """An engine over ``corpus`` (default: ``$QUOTEBOT_CORPUS`` or the shipped article)
        or the saved index in ``index_dir`` (see :mod:`quotebot.store.catalogue`).
        ``semantic`` is ``auto``, ``on`` or ``off`` (default: ``$QUOTEBOT_SEMANTIC``)."""
        mode = resolve_mode(semantic)
        index, directory = open_index(corpus, index_dir, progress=progress)
        engine = cls(index, directory=directory)
        engine.attach_semantic(mode, progress=progress)
        return engine

    # -- meaning ------------------------------------------------------------------------

    @property
    def vectors(self) -> object | None:
        meaning = self._meaning
        return meaning.vectors if meaning is not None else None

    @property
    def semantic(self) -> bool:
        """Whether answers are reranked by meaning."""
        return self._meaning is not None

    def wants_semantic(self, mode: str) -> bool:
        """Whether ``mode`` asks for vectors for this index (raises for ``on`` without the
        model)."""
        if mode == "off" or self.index.n_sentences == 0:
            return False
        if mode == "auto" and self.index.n_sentences > AUTO_LIMIT:
            log.info("semantic reranking off: %d sentences is over %d (set %s=on to embed "
                     "them anyway)", self.index.n_sentences, AUTO_LIMIT, SEMANTIC_ENV)
            return False
        try:
            Encoder.load()
        except SemanticUnavailable as exc:
            if mode == "on":
                raise
            # A model that was installed but fails its check is worth a warning; one that
            # is simply not installed is a choice.
            report = log.warning if isinstance(exc, ModelChanged) else log.info
            report("semantic reranking off: %s", exc.message)
            return False
        return True

    def attach_semantic(self, mode: str = "auto", directory: Path | None = None, *,
                        progress: Progress | None = None, compute: bool = True) -> bool:
        """Load the vectors saved beside the index (or compute them, unless ``compute`` is
        False, and save them in ``directory``, by default the index's folder), and rerank
        by meaning from then on. Returns whether reranking by meaning is on."""
        if not self.wants_semantic(mode):
            return False
        directory = directory if directory is not None else self.directory
        encoder = Encoder.load()
        vectors = load_vectors(self.index, directory)
        if vectors is None:
            if not compute:
                return False
            log.info("embedding %d sentences for semantic reranking", self.index.n_sentences)
            vectors = compute_vectors(self.index, encoder, directory, progress=progress)
        self.use_vectors(vectors, encoder)
        return True

    def use_vectors(self, vectors: object, encoder: Encoder) -> None:
        """Rerank by meaning from now on with ``vectors`` (anything with
        :meth:`quotebot.semantic.SentenceVectors.similarities`: saved ones, or those of
        search shards) and the ``encoder`` that made them."""
        with self._lock:
            self._meaning = _Meaning(vectors, encoder)
            self._answers.clear()
            self._answer_bytes = 0

    @property
    def retrieval(self) -> Retrieval:
        """Retrieval's numbers as this engine reranks: by words alone, fewer of BM25's
        candidates (``words_candidates``)."""
        retrieval = self.tuning.retrieval
        if self._meaning is not None:
            return retrieval
        if self._by_words is None or self._by_words[0] is not retrieval:
            self._by_words = (retrieval, retrieval.by_words())
        return self._by_words[1]

    # -- corpus -------------------------------------------------------------------------

    @property
    def documents(self) -> list[DocInfo]:
        return list(self.index.docs)

    def document(self, doc_id: str) -> Document:
        """A document by id (raises UnknownDocument)."""
        return self.index.document(doc_id)

    # -- answering ----------------------------------------------------------------------

    def answer_question(self, question: str | Question, k: int = 3, *, offset: int = 0,
                        entity: str | None = None, doc: str | None = None,
                        prefer_doc: str | None = None, context: Context | None = None
                        ) -> Answer:
        """Quote the ``k`` best sentences answering ``question`` (after the first ``offset``).

        ``entity`` is a name that a pronoun in the question stands for (from a
        conversation); it is searched for as one concept. ``doc`` answers from that
        document alone (UnknownDocument when there is none); ``prefer_doc`` puts that
        document's sentences first among equal scores (the document a conversation is about).
        ``context`` is what the conversation so far tells retrieval (the last turns' words,
        where the last answer was; see :mod:`quotebot.context`). ``question`` may come
        parsed (a conversation parses its turn's question once for every stage).
        """
        parsed = question if isinstance(question, Question) else None
        question = validate_question(parsed.text if parsed is not None else question)
        if parsed is not None and parsed.text != question:
            parsed = None
        k = max(1, min(int(k), 50))
        if doc is not None:
            self.index.doc_position(doc)  # raises UnknownDocument
        if prefer_doc is not None:
            try:
                self.index.doc_position(prefer_doc)
            except UnknownDocument:  # a conversation about a document since removed
                prefer_doc = None
        context = context or None
        key = (question, k, offset, entity, doc, prefer_doc, context)
        with self._lock:
            cached = self._answers.get(key)
            if cached is not None:
                self._answers.move_to_end(key)
                return cached
        answer = self._answer(question, k, offset, entity, doc, prefer_doc, context,
                              parsed=parsed)
        self._remember(key, answer)
        return answer

    def _remember(self, key: _AnswerKey, answer: Answer) -> None:
        with self._lock:
            if key in self._answers:
                return
            self._answers[key] = answer
            self._answer_bytes += _answer_size(answer)
            while self._answer_bytes > ANSWER_CACHE_BYTES and self._answers:
                _, old = self._answers.popitem(last=False)
                self._answer_bytes -= _answer_size(old)

    def sentence_tokens(self, sid: int) -> tuple[Token, ...]:
        """The tokens of sentence ``sid`` (remembered: a few thousand sentences at most)."""
        found = self._tokens.get(sid)
        if found is None:
            found = self.index.sentence_tokens(sid)
            if len(self._tokens) >= 4096:
                self._tokens.clear()
            self._tokens[sid] = found
        return found

    def highlights(self, sid: int, matched: dict[int, int]) -> tuple[tuple[int, int], ...]:
        """The offsets of sentence ``sid``'s words that ``matched`` maps to the question's
        (from its tokens when they are remembered: most quotes' tokens are not needed)."""
        return highlights(self.index, sid, matched, self._tokens.get(sid))

    def plan(self, question: str, *, entity: str | None = None) -> QueryPlan:
        """The query plan of ``question`` (for people and tools that want to look inside)."""
        return plan_question(parse_question(validate_question(question)), self.index,
                             self.tuning, entity=entity)

    def _headings(self, sids: npt.NDArray[np.int64]) -> npt.NDArray[np.bool_]:
        """Which of sentences ``sids`` are headings (``## Section`` lines of a document)."""
        return self.index.in_headings(sids)

    def _decide(self, plan: QueryPlan, spans: _AnswerSpans, i: int) -> Verdict:
        """The decision on candidate ``i`` as the question's best passage."""
        return decide(plan, spans.evidence(i), self.tuning.decision)

    def _answer(self, question: str, k: int, offset: int, entity: str | None,
                doc: str | None = None, prefer_doc: str | None = None,
                context: Context | None = None, *, gate: bool = True,
                parsed: Question | None = None,
                leave_out: frozenset[int] = frozenset()) -> Answer:
        plan = plan_question(parsed or parse_question(question), self.index, self.tuning,
                             entity=entity)
        limit = offset + k
        if doc is None:
            candidates = retrieve(plan, self.search, self.retrieval, limit)
        else:
            # The document's own best: its sentences need not be among the corpus's best few.
            mine = self.index.doc_sentences(self.index.doc_position(doc))
            candidates = retrieve_among(plan, self.search, self.retrieval,
                                        np.arange(mine.start, mine.stop, dtype=np.int64), limit)
        if leave_out:
            # The question asked of the corpus without these paragraphs (fitting the gate
            # on questions it only seems to answer).
            outside = ~np.isin(self.index.paragraph_ids[candidates.sids], list(leave_out))
            candidates = Candidates(candidates.sids[outside], candidates.bm25[outside])
        if context is not None and (plan.concepts or context.anchor_known):
            # A question of common words alone ("When was that?") is asked of the
            # conversation: the sentences around the last answer, and those its words
            # and earlier questions lead to.
            candidates = conversation.widen(candidates, plan, self.index, context,
                                            self.retrieval, self.tuning.conversation,
                                            self.search)
            if doc is not None:
                candidates = _within(candidates, self.index, doc, len(candidates))
        if not len(candidates):
            verdict = decide(plan, None, self.tuning.decision)
            return Answer(question=question, answered=False, reason=verdict.reason,
                          searched_for=plan.searched_for)
        features, spans, order, scores = self._scored(
            plan, candidates, limit if context is None else len(candidates))
        headings = self._headings(features.sids)
        # Whether the corpus answers is decided on the question's own best passage; in
        # a conversation, the order is then the conversation's.
        alone, own = order[0], scores
        if context is not None:
            weights = self.tuning.conversation
            said = (self.said_scores(context, features.sids)
                    if weights.said_weight else None)
            meant = (self.meaning_in_context(plan.question.text, context, features.sids)
                     if weights.meaning_weight or weights.talk_meaning_weight else None)
            order, scores = conversation.reorder(plan, scores, features.sids, self.index,
                                                 context, weights, self.search, said, meant)
        stand_ins: dict[int, int] = {}
        if headings.any():
            # A heading names a section; it is no answer while a sentence under it is one,
            # and no quote at all: the first sentence under it stands in for it, unless that
            # sentence is a candidate of its own (or stands in for another heading already).
            order = [i for i in order if not headings[i]] + [i for i in order if headings[i]]
            stand_ins = self._stand_ins(features.sids, order, headings)
            order = [i for i in order if not headings[i] or i in stand_ins]
            if not order:  # headings alone, over empty sections
                verdict = decide(plan, None, self.tuning.decision)
                return Answer(question=question, answered=False, reason=verdict.reason,
                              searched_for=plan.searched_for)
            alone = alone if not headings[alone] else order[0]
        if prefer_doc is not None:
            order = _prefer(order, scores, features.sids, self.index, prefer_doc)
        best = order[0] if context is None else alone
        verdict = self._decide(plan, spans, best)
        asked = next((n for n, c in enumerate(plan.concepts) if c.known
                      and c.surface == verdict.asked), None)
        if verdict.rule in CONTRADICTIONS and asked is not None:
            # The best passage contradicts the question (another year, the opposite word)
            # while the corpus has the question's word: a passage further down that says it
            # may answer.
            for i in order[1:self.tuning.decision.recheck + 1]:
                if features.evidence[asked, i] <= 0:
                    continue
                other = self._decide(plan, spans, i)
                if other.answered:
                    order = [i, *(j for j in order if j != i)]
                    verdict = other
                    break
        if not verdict.answered and context is not None:
            # Words the conversation supplies are not missing, from the question's best
            # passage or the conversation's.
            verdict = conversation.decide_in_context(
                plan, verdict, [spans.evidence(i) for i in dict.fromkeys((best, order[0]))],
                conversation.context_terms(self.index, context), context,
                self.tuning.decision)
        if not verdict.answered:
            closest = self._quotes(spans, order[:k], scores, stand_ins)
            return Answer(question=question, answered=False, reason=verdict.reason,
                          closest=closest, searched_for=plan.searched_for)
        if offset:
            # "more" goes on only with passages the question still finds: its own score at
            # least a share of its best passage's (shown pages stay as they were shown). The
            # quotes after the first of a conversation's turn follow the conversation's
            # order: on training/coqa held out, holding them to the question's own words
            # put the answer in the top 3 less often (57.7% of turns against 62.5%).
            floor = self.tuning.conversation.more_floor * float(own[alone])
            keep = max(offset, 1)
            order = order[:keep] + [i for i in order[keep:] if own[i] >= floor and (
                context is None or features.bm25[i] > 0)]
        page = order[offset:offset + k]
        if not page:
            return Answer(question=question, answered=False, continued=offset > 0,
                          reason="There are no more passages about this.",
                          searched_for=plan.searched_for)
        short = withheld = None
        if offset == 0 and not headings[page[0]]:
            short, withheld = _gated_short_answer(spans, order, scores, self._gate, gate=gate)
        return Answer(question=question, answered=True,
                      quotes=self._quotes(spans, page, scores, stand_ins), short=short,
                      reason=verdict.reason, searched_for=plan.searched_for,
                      continued=offset > 0, withheld=withheld)

    def _stand_ins(self, sids: npt.NDArray[np.int64], order: Sequence[int],
                   headings: npt.NDArray[np.bool_]) -> dict[int, int]:
        """For each heading among candidates ``order``, the sentence that stands in for it:
        the first under it, unless that one is a candidate or stands in already."""
        listed = {int(sids[i]) for i in order if not headings[i]}
        stand_ins: dict[int, int] = {}
        for i in order:
            if headings[i]:
                under = self._under_heading(int(sids[i]))
                if under is not None and under not in listed:
                    listed.add(under)
                    stand_ins[i] = under
        return stand_ins

    def _quotes(self, spans: _AnswerSpans, page: Sequence[int],
                scores: npt.NDArray[np.float64], stand_ins: dict[int, int]
                ) -> tuple[Quote, ...]:
        """The quotes of candidates ``page``, a heading's by the sentence standing in for
        it (``stand_ins``), with the question's words it holds highlighted like any quote's."""
        return tuple(spans.quote(i, scores[i]) if i not in stand_ins else
                     make_quote(self.index, stand_ins[i], float(scores[i]),
                                self.highlights(stand_ins[i], compute_features(
                                    spans.plan, self.index, Candidates(
                                        np.array([stand_ins[i]], dtype=np.int64), np.zeros(1)),
                                    self.tuning.lexical).matched(0)))
                     for i in page)

    def _under_heading(self, sid: int) -> int | None:
        """The first sentence of heading ``sid``'s section that is no heading (None: the
        section is empty)."""
        index = self.index
        doc = int(index.doc_idx[sid])
        last = min(sid + _HEADINGS_IN_A_ROW, index.n_sentences - 1)
        following = np.arange(sid + 1, last + 1, dtype=np.int64)
        following = following[index.doc_idx[following] == doc]
        plain = np.flatnonzero(~index.in_headings(following))
        return int(following[plain[0]]) if plain.size else None

    def _scored(self, plan: QueryPlan, candidates: Candidates, limit: int
                ) -> tuple[Features, _AnswerSpans, list[int], npt.NDArray[np.float64]]:
        """The candidates' features, answer spans, order and scores (the first ``limit``
        exact)."""
        features = compute_features(plan, self.index, candidates, self.tuning.lexical)
        meaning = self._meaning
        scorer: Scorer = self._lexical
        if meaning is not None:
            vector = meaning.encoder.encode([meaning.encoder.cut(plan.question.text)])[0]
            features.cosines = meaning.vectors.similarities(  # type: ignore[attr-defined]
                vector, features.sids)
            scorer = SemanticScorer(self._lexical, self.tuning.semantic)
        spans = _AnswerSpans(plan, self, features)
        base, bonus = scorer.terms(plan, features, spans.has_answer)
        order, scores = rank(base, bonus, spans.has_answer, features.sids, limit)
        return features, spans, order, scores

    def scores_in_context(self, question: str, context: Context, entity: str | None = None
                          ) -> tuple[QueryPlan, npt.NDArray[np.int64], npt.NDArray[np.float64]]:
        """The plan of ``question`` (``entity`` as in :meth:`answer_question`), every
        candidate of it asked in ``context`` and the question's own score for it, before
        the conversation reranks them (what its weights are fitted on)."""
        plan = plan_question(parse_question(validate_question(question)), self.index,
                             self.tuning, entity=entity)
        candidates = retrieve(plan, self.search, self.retrieval)
        if plan.concepts or context.anchor_known:
            candidates = conversation.widen(candidates, plan, self.index, context,
                                            self.retrieval, self.tuning.conversation,
                                            self.search)
        if not len(candidates):
            return plan, candidates.sids, candidates.bm25
        features, _, _, scores = self._scored(plan, candidates, len(candidates))
        return plan, features.sids, scores

    def meaning_in_context(self, question: str, context: Context,
                           sids: npt.NDArray[np.int64]) -> npt.NDArray[np.float64] | None:
        """Per candidate ``sids``, its cosine to each of the texts
        :func:`quotebot.context.meaning_texts` gives for ``question`` asked in ``context``
        (one encoding of them together); None without sentence vectors."""
        meaning = self._meaning
        if meaning is None or not sids.size:
            return None
        texts = conversation.meaning_texts(question, context)
        vectors = meaning.encoder.encode([meaning.encoder.cut(t) for t in texts])
        return np.column_stack([
            meaning.vectors.similarities(vector, sids)[0]  # type: ignore[attr-defined]
            for vector in vectors]).astype(np.float64)

    def said_scores(self, context: Context, sids: npt.NDArray[np.int64]
                    ) -> npt.NDArray[np.float64] | None:
        """The scores of candidates ``sids`` for the question as the person wrote it,
        where the conversation rewrote it (``context.said``; None where it did not, or
        where what was kept as written is no question, as a damaged stored conversation
        may hold)."""
        if not context.said or not sids.size:
            return None
        try:
            written = parse_question(validate_question(context.said))
        except InvalidQuestion:
            return None
        plan = plan_question(written, self.index, self.tuning)
        if not plan.concepts:
            return np.zeros(sids.shape[0])
        candidates = Candidates(sids, np.asarray(self.search.sentence_scores(plan.groups(),
                                                                             sids)))
        # The scores are the candidates', in their order (that of ``sids``).
        _, _, _, scores = self._scored(plan, candidates, len(candidates))
        return np.asarray(scores, np.float64)


def _gated_short_answer(spans: _AnswerSpans, order: Sequence[int],
                        scores: npt.NDArray[np.float64], model: Gate, *, gate: bool = True
                        ) -> tuple[ShortAnswer | None, ShortAnswer | None]:
    """The first quote's short answer with its confidence (see quotebot.confidence), as
    (shown, withheld): shown when the gate's threshold is reached (or not ``gate``),
    withheld when only its ``lead`` is, neither when the rules find none."""
    best = order[0]
    found = spans.span_by_rule(best)
    if found is None:
        return None, None
    span, rule = found
    features = spans.features
    sid = int(features.sids[best])
    text = spans.text(best)
    second = order[1] if len(order) > 1 else None
    top = float(scores[best])
    margin = 1.0 if second is None or top <= 0 else (top - float(scores[second])) / top
    rival = spans.span(second) if second is not None else None
    agreement = second is not None and rival is not None and same_answer(
        text[span[0]:span[1]], spans.text(second)[rival[0]:rival[1]])
    part = text[span[0]:span[1]]
    folded = part.casefold()
    support = sum(1 for i in order[1:_SUPPORT + 1] if folded in spans.text(i).casefold())
    rivals = agreeing = 0
    for i in order[1:_SUPPORT + 1]:
        other = spans.span(i)
        if other is None:
            continue
        words = spans.text(i)[other[0]:other[1]]
        if token_f1(words, part) >= _SAME_ANSWER_F1:
            agreeing += 1
        else:
            rivals += 1
    best_cosine = (None if features.cosines is None
                   else [features.similarity(i) or 0.0 for i in range(len(features))])
    span_meaning, answer_question, answer_type = spans.meanings_of(best, part)
    about = spans.evidence(best)
    concepts = spans.plan.concepts
    unknown, missing_rarest = missing_words(
        [c.idf for c in concepts], [c.known for c in concepts], about.evidence,
        idf_of(0, max(spans.index.n_sentences, 1)))
    typed = (int(np.count_nonzero(features.holds & spans.needs))
             if spans.kind_asked is not None else 0)
    x = evidence(spans.plan.question, spans.kind_asked, text, spans.tokens(best),
                 features.matched(best), span, rule, literal=float(features.literal[best]),
                 margin=margin, agreement=agreement, similarity=features.similarity(best),
                 span_meaning=span_meaning, rarity=spans.rarity,
                 answer_question=answer_question, answer_type=answer_type, support=support,
                 coverage=about.coverage,
                 missing_verbs=missing_verbs(spans.plan.question,
                                             [c.surface for c in concepts],
                                             features.matched(best)),
                 unknown_words=unknown, missing_rarest=missing_rarest,
                 doc_sentences=spans.index.docs[int(spans.index.doc_idx[sid])].sentences,
                 typed_candidates=typed, rival_answers=rivals, agreeing_answers=agreeing,
                 lexical_first=bool(features.bm25[best] >= features.bm25.max()),
                 meaning_first=(best_cosine is not None
                                and best_cosine[best] >= max(best_cosine)),
                 question_words=len(concepts),
                 score_share=_score_share(float(features.bm25[best]),
                                          [c.idf for c in concepts]),
                 proximity=float(features.proximity[best]),
                 missing_names=missing_names([c.label for c in concepts],
                                             [c.proper for c in concepts], about.evidence),
                 names_elsewhere=names_elsewhere([c.label for c in concepts],
                                                 [c.proper for c in concepts], about.evidence,
                                                 set(features.matched(best).values())))
    confidence = model.probability(x)
    short = replace(make_short_answer(spans.index, sid, span),
                    confidence=round(confidence, 4), evidence=tuple(x.tolist()))
    if not gate or confidence >= model.threshold_for(features.cosines is not None):
        return short, None
    return None, (short if confidence >= model.lead else None)


def _score_share(bm25: float, idfs: Sequence[float]) -> float:
    """A passage's BM25 score relative to the question's idf mass, the most a sentence
    scores for the question's words alone (at most 2: its paragraph's share adds to it)."""
    mass = sum(idfs)
    return min(max(bm25 / mass, 0.0), 2.0) if mass > 0 else 0.0


def _answer_size(answer: Answer) -> int:
    """The bytes an answer takes in memory: its strings as Python stores them (one to four
    bytes a character), its objects, and its short answers' evidence (a tuple of floats)."""
    strings = [answer.question, answer.reason or "", answer.resolved_question or "",
               *(q.text for q in (*answer.quotes, *answer.closest)),
               answer.short.text if answer.short is not None else ""]
    evidence = [s.evidence for s in (answer.short, answer.withheld) if s is not None]
    return _ANSWER_OVERHEAD * (1 + len(answer.quotes) + len(answer.closest)) + sum(
        sys.getsizeof(text) for text in strings) + sum(
        sys.getsizeof(e) + _FLOAT_SIZE * len(e) for e in evidence)


def _within(candidates: Candidates, index: SentenceIndex, doc: str, limit: int) -> Candidates:
    """The best ``limit`` of ``candidates`` that belong to document ``doc``."""
    keep = np.flatnonzero(np.asarray(index.doc_idx)[candidates.sids]
                          == index.doc_position(doc))[:limit]
    return Candidates(candidates.sids[keep], candidates.bm25[keep])


def _prefer(order: list[int], scores: npt.NDArray[np.float64], sids: npt.NDArray[np.int64],
            index: SentenceIndex, doc: str) -> list[int]:
    """``order`` with equal scores (as the JSON shows them) broken toward document ``doc``."""
    other = np.asarray(index.doc_idx)[sids] != index.doc_position(doc)
    rounded = np.round(scores, 4)
    return sorted(order, key=lambda i: (-rounded[i], bool(other[i])))


class _AnswerSpans:
    """Per candidate, on demand: its tokens, and the short answer the extraction rules find
    in it (remembered, since ranking and answering both ask)."""

    def __init__(self, plan: QueryPlan, engine: QuoteEngine, features: Features) -> None:
        self.plan = plan
        self.index = engine.index
        self.features = features
        self.tuning = engine.tuning
        self._engine = engine
        self._spans: dict[int, tuple[tuple[int, int], str] | None] = {}
        self._texts: dict[int, str] = {}
        self._evidence: dict[int, Evidence] = {}
        #: What a sentence must hold for the rules to find an answer in it.
        self.needs = needs(plan.question)
        self.kind_asked = ("number" if self.needs == NUMBER else "time" if self.needs == TIME
                           else None)

    def tokens(self, i: int) -> Sequence[Token]:
        return self._engine.sentence_tokens(int(self.features.sids[i]))

    def text(self, i: int) -> str:
        """Candidate ``i``'s sentence (read once: the rules, the decision, the short
        answer's checks and the quote each ask)."""
        found = self._texts.get(i)
        if found is None:
            found = self._texts[i] = self.index.sentence_text(int(self.features.sids[i]))
        return found

    def span(self, i: int) -> tuple[int, int] | None:
        found = self.span_by_rule(i)
        return found[0] if found is not None else None

    def span_by_rule(self, i: int) -> tuple[tuple[int, int], str] | None:
        """Candidate ``i``'s short answer and the rule that found it."""
        if self.needs and not self.features.holds[i] & self.needs:
            return None  # no number (or time) in the sentence: nothing to look for
        if i not in self._spans:
            self._spans[i] = extract_by_rule(
                self.plan.question, self.text(i), self.tokens(i),
                self.features.matched(i), self.index.forms.capitalised_inside,
                fill_gaps=bool(self.features.literal[i] >= self.tuning.lexical.literal_for_what),
                limits=self.tuning.extraction)
        return self._spans[i]

    def rarity(self, token: Token) -> float | None:
        """The idf of ``token``'s word relative to the rarest possible (None: not indexed)."""
        index = self.index
        term = token.terms[0] if token.terms else None
        if term is None or term not in index.term_ids:
            return None
        n = max(index.n_sentences, 1)
        return idf_of(int(index.matrix.df[index.term_ids[term]]), n) / idf_of(0, n)

    def has_answer(self, i: int) -> bool:
        return self.span(i) is not None

    def meanings_of(self, i: int, part: str
                    ) -> tuple[float | None, float | None, float | None]:
        """The cosines of ``part`` of candidate ``i``'s sentence to the sentence (both read
        alone: the stored vector of a sentence was read within its paragraph, which tells
        a fragment from a whole answer less well), to the question, and to the noun the
        question asks for (None without vectors, or without such a noun)."""
        meaning = self._engine._meaning
        if meaning is None:
            return None, None, None
        question = self.plan.question
        noun = asked_noun(question)
        texts = [part, self.text(i),
                 meaning.encoder.cut(question.text)]
        vectors = meaning.encoder.encode(texts if noun is None else [*texts, noun])
        return (float(np.dot(vectors[0], vectors[1])), float(np.dot(vectors[0], vectors[2])),
                None if noun is None else float(np.dot(vectors[0], vectors[3])))

    def evidence(self, i: int) -> Evidence:
        """The decision's evidence about candidate ``i`` (remembered: the decision, a
        recheck and a conversation may each ask)."""
        found = self._evidence.get(i)
        if found is None:
            found = gather_evidence(self.plan, self.index, self.features, i, self.tokens(i),
                                    self.has_answer, self.tuning.correction, self.text(i))
            self._evidence[i] = found
        return found

    def quote(self, i: int, score: float | np.floating) -> Quote:
        sid = int(self.features.sids[i])
        return make_quote(self.index, sid, float(score),
                          self._engine.highlights(sid, self.features.matched(i)))
