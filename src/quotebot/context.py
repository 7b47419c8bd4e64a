"""A conversation as retrieval context: what the last turns said, and where their answer was.

People lean on what was just said ("When did she retire?", "Why?") and move forward
through a passage, so the next answer is usually near the last one. A :class:`Context`
carries the last turns' answers and where the last answer was, and
ranking the next turn adds, to the question's own score (relative to its best
candidate's, times :func:`question_strength`: how many of the corpus's rarest words that
candidate's BM25 for the question is worth, whichever scorer ranks single questions and
however large the corpus):

- the candidate's BM25 score for the context's words that the question does not have
  itself (relative to the best's), times ``context_weight``, only when the question
  points back at the conversation (:func:`refers_back`, or the conversation rewrote
  it): the last answers' words lift their sentences in questions about them ("What did
  she say?"), not in one about something else ("How many stabbings?");
- the question's own score as the person wrote it (relative to its best candidate's,
  times the same strength), where the conversation rewrote it ("What happened to
  him?" read "What happened to the examiner?"), times ``said_weight``; the question as
  written where it was not rewritten: a rewrite that went wrong costs the ranking less;
- a position prior: the log-share of next answers found that many sentences after the
  last answer (``prior``, from -``window`` to +``window``), times ``prior_weight``;
- ``far_weight`` for a sentence of the same document farther than the window, and
  ``other_doc_weight`` for one of another document: a passage is one story, and a
  conversation stays in it unless the question's own words lead clearly elsewhere;
- the BM25 for the words of the conversation's earlier questions of the best paragraph
  among the candidates of the candidate's document (relative to the best), times
  ``asked_weight``: the people's own words say which document the conversation is
  about, where an earlier answer may have gone astray (the last answer's place is only
  as good as that answer);
- the share of the conversation's answers before the last one in the candidate's
  document (the answer i turns before the last weighing ``home_decay`` ** i), times
  ``home_weight``: where the conversation has been, so that one answer in another
  document need not take the next turns with it.
- with sentence vectors, the candidate's cosine to the question as the person wrote it
  and to it with the conversation's earlier questions, each less the best candidate's,
  times ``meaning_weight`` and ``talk_meaning_weight`` (one encoding of both per turn):
  "How did the people watching react?" finds "Thousands of supporters booed", which
  shares none of its words; on training/coqa held out the right sentence is among the
  first three in 65.2% of turns against 63.6% without (top-1 45.2% against 44.7%).

So weighed, a question of rare words (a high score of its own) leaves the passage
more easily than one of common words ("Where is it located?"), whose scores are low
everywhere; and the score a quote shows means what it means for a question alone (on
training/coqa held out the right sentence comes first as often: 44.1% of turns against
43.9% with the question's score as a share of its best). A quote shows its score in
the conversation scaled back to the question's own units, so that a passage the
conversation adds nothing to shows the score it has alone. The prior and the weights are
fitted leave-one-conversation-out on conversations (:mod:`quotebot.conversation_fit`);
they live in ``[conversation]`` of weights.toml. The candidates are BM25's best for the
question, for the context's words, for the earlier questions' words, and the sentences
around the last answer.

Declining in a conversation: a word of the question that the conversation supplies (it
was in the last turns) is not missing. Once a conversation is under way, a question
connected to it (a word of the question in the passage or in the last turns) is not
declined for covering too little of the question alone: people leave out what was just
said; so is a question of common words alone ("When was that?", "How old is he?"),
which only the conversation gives a meaning. It is still declined when nothing connects
it, when the corpus lacks a name it asks about, or when the passage contradicts it.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace
from functools import lru_cache

import numpy as np
import numpy.typing as npt

from quotebot import analysis
from quotebot.backends import RetrievalBackend
from quotebot.bm25 import idf_of
from quotebot.decide import Evidence, Verdict, decide
from quotebot.errors import UnknownDocument
from quotebot.lexicon import PRONOUNS
from quotebot.plan import QueryPlan
from quotebot.retrieve import Candidates
from quotebot.store.model import SentenceIndex
from quotebot.tuning import Conversation, Decision, Retrieval

FloatArray = npt.NDArray[np.float64]


@dataclass(frozen=True, slots=True)
class Context:
    """What a conversation tells the next turn's retrieval."""

    #: The last turns' answers, as text.
    words: str = ""
    #: The document of the last answer, and the start (a character offset) of its first
    #: quote.
    doc: str | None = None
    start: int | None = None
    #: The conversation's earlier questions, as the person asked them.
    asked: str = ""
    #: Where the conversation's last answers' first quotes were (document, start), newest
    #: first.
    homes: tuple[tuple[str, int], ...] = ()
    #: The question as the person wrote it, where the conversation rewrote it ("" where
    #: the question asked is the one written).
    said: str = ""

    def __bool__(self) -> bool:
        return (bool(self.words.strip()) or bool(self.asked.strip()) or self.anchor_known
                or bool(self.homes))

    @property
    def anchor_known(self) -> bool:
        return self.doc is not None and self.start is not None


def anchor_sid(index: SentenceIndex, context: Context) -> int | None:
    """The sentence of the last answer, if it is still in the index."""
    if context.doc is None or context.start is None:
        return None
    try:
        pos = index.doc_position(context.doc)
    except Exception:  # a document removed since
        return None
    own = index.doc_sentences(pos)
    found = np.flatnonzero((np.asarray(index.start[own.start:own.stop]) <= context.start)
                           & (np.asarray(index.end[own.start:own.stop]) > context.start))
    return own.start + int(found[0]) if found.size else None


def context_groups(index: SentenceIndex, context: Context, plan: QueryPlan | None = None
                   ) -> list[list[tuple[int, float]]]:
    """BM25 query groups for the context's words: each content word once, but none the
    question itself asks about (the question's own score counts those already)."""
    return word_groups(index, context.words, plan)


def asked_groups(index: SentenceIndex, context: Context) -> list[list[tuple[int, float]]]:
    """BM25 query groups for the words of the conversation's earlier questions."""
    return word_groups(index, context.asked)


def word_groups(index: SentenceIndex, text: str, plan: QueryPlan | None = None
                ) -> list[list[tuple[int, float]]]:
    """Each content word of ``text`` the index knows once, as a group of its own, but
    none ``plan`` asks about."""
    vocab = index.term_ids
    own = {t for c in plan.concepts for t in (*c.terms, *c.related)} if plan else set()
    seen: dict[int, None] = {}
    for token in analysis.tokenize(text):
        if token.is_stop:
            continue
        for term in token.terms[:1]:
            if term in vocab and vocab[term] not in own:
                seen[vocab[term]] = None
    return [[(t, 1.0)] for t in seen]


def context_terms(index: SentenceIndex, context: Context) -> frozenset[int]:
    return frozenset(t for group in context_groups(index, context) for t, _ in group)


def widen(candidates: Candidates, plan: QueryPlan, index: SentenceIndex, context: Context,
          settings: Retrieval, weights: Conversation, search: RetrievalBackend | None = None
          ) -> Candidates:
    """The question's candidates, plus BM25's best for the context's words and for the
    earlier questions' words, the sentences around the last answer and around the
    conversation's latest answer in each document it has answered from (scored by the
    question's BM25, 0 where it has none of its words). ``search`` scores (default:
    ``index`` itself)."""
    search = index if search is None else search
    extra: list[npt.NDArray[np.int64]] = []
    for groups in (context_groups(index, context, plan), asked_groups(index, context)):
        if groups:
            best, _ = search.top_sentences(groups, settings.candidates)
            extra.append(np.asarray(best, np.int64))
    anchor = anchor_sid(index, context)
    if anchor is not None:
        extra.append(_around(index, anchor, weights.window))
    if weights.home_reach > 0:
        extra.extend(_around(index, sid, weights.home_reach)
                     for sid in home_sids(index, context))
    if not extra:
        return candidates
    added = np.setdiff1d(np.concatenate(extra), candidates.sids)
    if not added.size:
        return candidates
    sids = np.concatenate([candidates.sids, added])
    bm25 = np.concatenate([candidates.bm25, search.sentence_scores(plan.groups(), added)])
    return Candidates(sids, bm25)


def home_sids(index: SentenceIndex, context: Context) -> list[int]:
    """The sentence of the conversation's latest answer in each document it has answered
    from (of the last answers it keeps), newest first."""
    out: dict[str, int] = {}
    for doc, start in context.homes:
        if doc not in out and (sid := anchor_sid(index, Context("", doc, start))) is not None:
            out[doc] = sid
    return list(out.values())


def _around(index: SentenceIndex, sid: int, reach: int) -> npt.NDArray[np.int64]:
    """The sentences of ``sid``'s document at most ``reach`` from it."""
    doc_idx = np.asarray(index.doc_idx)
    near = np.arange(max(sid - reach, 0), min(sid + reach + 1, index.n_sentences))
    return np.asarray(near[doc_idx[near] == doc_idx[sid]], np.int64)


def features(plan: QueryPlan, scores: FloatArray, sids: npt.NDArray[np.int64],
             index: SentenceIndex, context: Context, weights: Conversation,
             search: RetrievalBackend | None = None, said: FloatArray | None = None,
             meaning: FloatArray | None = None) -> FloatArray:
    """Per candidate: (the question's score relative to the best, times
    :func:`question_strength`; the context words' BM25 relative to the best, 0 unless the
    question points back at the conversation (:func:`points_back`); the position
    prior's log-share (0 beyond the window); 1 if in the last answer's document but
    beyond the window; 1 if in another document; its document's best paragraph BM25 for
    the earlier questions' words relative to the best; the share of the last answers in
    its document, see :func:`home_share`; the score of the question as the person wrote
    it, ``said``, as the question's own is counted: the question's own where it was not
    rewritten or ``said`` is None; the cosines ``meaning`` (one column per text, see
    :func:`meaning_features`), 0 without them)."""
    search = index if search is None else search
    n = sids.shape[0]
    strength = question_strength(plan, sids, index, search)
    question = _relative(scores) * strength
    written = question if said is None or not context.said else _relative(said) * strength
    words = (_relative(search.sentence_scores(context_groups(index, context, plan), sids))
             if points_back(plan, context) else np.zeros(n))
    groups = asked_groups(index, context)
    asked = np.zeros(n)
    if groups and n:
        # A document's share is its best paragraph's among the candidates: which document
        # the conversation is about, not which paragraph of it (a later question may be
        # about another part of the same article).
        docs, at = np.unique(np.asarray(index.doc_idx)[sids], return_inverse=True)
        best = np.zeros(docs.shape[0])
        np.maximum.at(best, at, np.asarray(search.paragraph_scores(groups, sids), np.float64))
        asked = _relative(best[at])
    prior = np.zeros(n)
    far = np.zeros(n)
    other = np.zeros(n)
    anchor = anchor_sid(index, context)
    if anchor is not None:
        doc_idx = np.asarray(index.doc_idx)
        offset = sids - anchor
        same = doc_idx[sids] == doc_idx[anchor]
        near = same & (np.abs(offset) <= weights.window)
        table = np.asarray(weights.prior, np.float64)
        prior[near] = table[offset[near] + weights.window]
        far[same & ~near] = 1.0
        other[~same] = 1.0
    home = home_share(home_matches(index, context, sids), weights.home_decay)
    near_meaning = (np.zeros((n, MEANINGS)) if meaning is None
                    else meaning_features(np.asarray(meaning, np.float64).reshape(n, MEANINGS)))
    return np.column_stack([question, words, prior, far, other, asked, home, written,
                            near_meaning])


#: The texts whose meaning a candidate is compared with: the question as the person wrote
#: it, and the conversation's questions so far with it.
MEANINGS = 2


def meaning_texts(question: str, context: Context) -> tuple[str, str]:
    """What the candidates' meaning is compared with in a conversation (see
    :data:`MEANINGS`): the question as the person wrote it, and that question after the
    conversation's earlier ones, the last first."""
    written = context.said or question
    return written, f"{written} {context.asked}".strip()


def meaning_features(cosines: FloatArray) -> FloatArray:
    """Per candidate and text, its cosine less the best candidate's (0 for the best): how
    far a sentence's meaning is from the nearest one's, whatever the texts' lengths."""
    if not cosines.shape[0]:
        return cosines
    return np.asarray(cosines - cosines.max(axis=0, keepdims=True), np.float64)


def home_matches(index: SentenceIndex, context: Context, sids: npt.NDArray[np.int64]
                 ) -> FloatArray:
    """Per candidate and last answer (newest first): 1 where the candidate is in that
    answer's document (0 for a document removed since)."""
    doc_idx = np.asarray(index.doc_idx)[sids]
    out = np.zeros((sids.shape[0], len(context.homes)))
    for n, (doc, _) in enumerate(context.homes):
        try:
            out[:, n] = doc_idx == index.doc_position(doc)
        except UnknownDocument:  # removed since
            continue
    return out


def home_share(matches: FloatArray, decay: float) -> FloatArray:
    """Per candidate, the share of the answers before the last one (``matches``' columns
    after the first, see :func:`home_matches`) in its document, the answer i turns before
    the last one weighing ``decay`` ** i. The last answer's own document is weighed apart
    (``other_doc_weight``): this is where the conversation was before it."""
    earlier = matches[:, 1:]
    weights = np.power(float(decay), np.arange(earlier.shape[1], dtype=np.float64))
    total = float(weights.sum())
    return np.asarray(earlier @ (weights / total), np.float64) if total > 0 \
        else np.zeros(matches.shape[0])


def question_strength(plan: QueryPlan, sids: npt.NDArray[np.int64], index: SentenceIndex,
                      search: RetrievalBackend) -> float:
    """What the question's best candidate counts for in the conversation: the best BM25
    for the question among ``sids``, in units of the idf of a word found in one sentence
    of the corpus (1 when none has its words)."""
    if not sids.size or not plan.concepts:
        return 1.0
    best = float(np.max(search.sentence_scores(plan.groups(), sids)))
    return best / idf_of(1, index.n_sentences) if best > 0 else 1.0


def _relative(scores: npt.ArrayLike) -> FloatArray:
    """``scores`` as shares of the best (all 0 when none is positive)."""
    values = np.asarray(scores, np.float64)
    top = float(values.max()) if values.size else 0.0
    return values / top if top > 0 else np.zeros(values.shape[0])


def combine(plan: QueryPlan, scores: FloatArray, sids: npt.NDArray[np.int64],
            index: SentenceIndex, context: Context, weights: Conversation,
            search: RetrievalBackend | None = None, said: FloatArray | None = None,
            meaning: FloatArray | None = None) -> FloatArray:
    """The candidates' scores in the conversation, in the units of
    :func:`question_strength` (see the module's docstring)."""
    x = features(plan, scores, sids, index, context, weights, search, said, meaning)
    w = np.array([1.0, weights.context_weight, weights.prior_weight, weights.far_weight,
                  weights.other_doc_weight, weights.asked_weight, weights.home_weight,
                  weights.said_weight, weights.meaning_weight, weights.talk_meaning_weight])
    return np.asarray(x @ w, np.float64) / (1.0 + weights.said_weight)


def reorder(plan: QueryPlan, scores: FloatArray, sids: npt.NDArray[np.int64],
            index: SentenceIndex, context: Context, weights: Conversation,
            search: RetrievalBackend | None = None, said: FloatArray | None = None,
            meaning: FloatArray | None = None) -> tuple[list[int], FloatArray]:
    """The candidates ranked by their scores in the conversation, ties to the earlier
    sentence; those scores in the question's own units (``scores``'), none below 0: a
    quote shows them, and a passage the conversation weighs down scores no lower than
    one with nothing in common with the question. ``said``: the scores of the question
    as the person wrote it, where the conversation rewrote it; ``meaning``: the
    candidates' cosines to :func:`meaning_texts` (None without sentence vectors)."""
    search = index if search is None else search
    combined = combine(plan, scores, sids, index, context, weights, search, said, meaning)
    top = float(np.max(scores)) if scores.size else 0.0
    strength = question_strength(plan, sids, index, search)
    shown = combined * (top / strength) if top > 0 else combined
    return np.lexsort((sids, -combined)).tolist(), np.maximum(shown, 0.0)


def supplied(plan: QueryPlan, evidence: Evidence, terms: frozenset[int]) -> Evidence:
    """``evidence`` with the question's words the conversation supplies counted as found:
    "When did she retire?" needs no "retire" in the sentence after the one that said so."""
    found = list(evidence.evidence)
    total = sum(c.idf * c.weight for c in plan.concepts) or 1.0
    gained = 0.0
    for n, concept in enumerate(plan.concepts):
        if found[n] == 0 and terms.intersection(concept.terms):
            found[n] = 1.0
            gained += concept.idf * concept.weight
    if not gained:
        return evidence
    focus = evidence.missing_focus
    if focus is not None and found[focus] > 0:
        focus = None
    return replace(evidence, evidence=found, coverage=min(1.0, evidence.coverage
                                                          + gained / total),
                   missing_focus=focus)


#: The rules of :func:`quotebot.decide.decide` that weigh how much of the question a
#: passage covers: what a conversation supplies can make up for them.
COVERAGE_RULES = frozenset({"low_coverage", "one_word", "missing_focus", "missing_type",
                            "other_topic", "missing_head"})


def decide_in_context(plan: QueryPlan, verdict: Verdict, candidates: Sequence[Evidence],
                      terms: frozenset[int], context: Context, thresholds: Decision
                      ) -> Verdict:
    """The decision on a follow-up that the question alone would decline (``verdict``),
    given the evidence of the passages it may quote: answered when the words the
    conversation supplies make up what is missing, or when the conversation is under way
    and the question is connected to it and declined only for its coverage."""
    for evidence in candidates:
        again = decide(plan, supplied(plan, evidence, terms), thresholds)
        if again.answered:
            return again
    if context.anchor_known and not plan.concepts and candidates:
        return Verdict(True, ("The question's words are all common ones; the conversation "
                              "so far says what it is about."), "conversation")
    if not context.anchor_known or verdict.rule not in COVERAGE_RULES:
        return verdict
    # Only a question that points back at what the conversation named ("What did she
    # say about knives?") may lean on it for the rest: "What is the population of
    # London?" after "How many stabbings?" asks about something the conversation never
    # gave, and is decided as it would be alone.
    if not refers_back(plan, context):
        return verdict
    for evidence in candidates:
        found = supplied(plan, evidence, terms)
        if any(e > 0 for e in found.evidence):
            return Verdict(True, (f"Covers {evidence.coverage:.0%} of the question; the "
                                  f"conversation so far gives the rest."), "conversation")
    return verdict


def points_back(plan: QueryPlan, context: Context) -> bool:
    """Whether the question points back at the conversation: :func:`refers_back`, or
    the conversation rewrote it (a pronoun or a fragment it completed)."""
    return bool(context.said) or refers_back(plan, context)


def refers_back(plan: QueryPlan, context: Context) -> bool:
    """Whether the question points back at the conversation: a pronoun or a word that
    points ("she", "their", "that", "there"), or a word of its own that the conversation's
    earlier questions asked with (a fragment completed from the last question, "the war"
    after questions about it)."""
    if any(token.norm in _POINTING for token in plan.question.tokens):
        return True
    asked = asked_words(context.asked)
    return any(token.norm in asked for token in plan.question.content)


@lru_cache(maxsize=64)
def asked_words(asked: str) -> frozenset[str]:
    """The content words of the conversation's earlier questions (``Context.asked``),
    tokenised once per conversation's turn, however often a turn asks."""
    return frozenset(token.norm for token in analysis.tokenize(asked) if not token.is_stop)


#: Words that point back at something named before.
_POINTING = PRONOUNS | {"this", "that", "these", "those", "there", "then", "here"}
