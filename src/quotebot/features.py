"""Features of BM25's candidates: the evidence reranking and the decision weigh.

For every candidate sentence and every concept of the plan: whether the sentence holds
the concept's own word (1), only a related word (the expansion weight) or neither (0);
whether the sentence's paragraph holds it nearby (context); how much of the question's
evidence (idf mass) that covers; how close together and in order the words are. All of
it comes from the token table saved with the index and the BM25 postings, computed for
all candidates at once with array operations: no corpus text is read or tokenised.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass, field

import numpy as np
import numpy.typing as npt

from quotebot.lexicon import PRONOUNS
from quotebot.plan import QueryPlan
from quotebot.retrieve import Candidates
from quotebot.store.model import SentenceIndex
from quotebot.tuning import Lexical

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]


@dataclass(slots=True)
class Features:
    """Per candidate (columns follow ``sids``); per concept and candidate where 2-D."""

    sids: IntArray
    #: BM25 of the sentence, plus its share of the paragraph's.
    bm25: FloatArray
    #: (concepts × candidates): 1 own word, the expansion weight for a related word, 0.
    strength: FloatArray
    #: The same, counting words found elsewhere in the paragraph for part.
    evidence: FloatArray
    #: Share of the question's idf mass the sentence (with its paragraph) covers.
    coverage: FloatArray
    #: Share of the question's idf mass the sentence's own words cover.
    literal: FloatArray
    #: idf mass of the words found only elsewhere in the paragraph.
    context: FloatArray
    #: Share of consecutive question words found close together and in order (0..1).
    proximity: FloatArray
    #: The candidates' tokens laid end to end: the concept each matched (−1: none), and
    #: where each candidate's tokens begin and end in that list.
    token_concept: IntArray
    bounds: IntArray
    #: Cosines of the question with the sentence, its window and its paragraph (semantic).
    cosines: tuple[FloatArray, FloatArray, FloatArray] | None = None
    _best_cosine: FloatArray | None = field(default=None, repr=False)
    _matched: dict[int, dict[int, int]] = field(default_factory=dict, repr=False)

    def __len__(self) -> int:
        return int(self.sids.shape[0])

    def matched(self, i: int) -> dict[int, int]:
        """Candidate ``i``'s tokens that match the question: token position → concept."""
        found = self._matched.get(i)
        if found is None:
            lo, hi = int(self.bounds[i]), int(self.bounds[i + 1])
            found = {pos: concept for pos, concept in enumerate(
                self.token_concept[lo:hi].tolist()) if concept >= 0}
            self._matched[i] = found
        return found

    def similarity(self, i: int) -> float | None:
        """The closest cosine of the question to candidate ``i``'s sentence, window or
        paragraph (None without vectors)."""
        if self.cosines is None:
            return None
        if self._best_cosine is None:
            self._best_cosine = np.maximum(np.maximum(self.cosines[0], self.cosines[1]),
                                           self.cosines[2])
        return float(self._best_cosine[i])


def compute_features(plan: QueryPlan, index: SentenceIndex, candidates: Candidates,
                     settings: Lexical) -> Features:
    """The features of every candidate (see :class:`Features`)."""
    sids = candidates.sids
    n, k = len(candidates), len(plan.concepts)
    forms, seg, pos = index.tokens.gather(sids)
    bounds = np.zeros(n + 1, dtype=np.int64)
    np.cumsum(np.bincount(seg, minlength=n), out=bounds[1:])
    expansion = plan.expansion_weight
    strength = np.zeros((k, n))
    chosen: list[npt.NDArray[np.bool_]] = []
    token_concept = np.full(forms.shape[0], -1, dtype=np.int64)
    for c, concept in enumerate(plan.concepts):
        own = _hits(forms, index.forms.of_terms(concept.terms))
        has_own = np.bincount(seg[own], minlength=n) > 0
        related = _hits(forms, index.forms.of_terms(concept.related)) & ~has_own[seg]
        has_related = np.bincount(seg[related], minlength=n) > 0
        strength[c] = np.where(has_own, 1.0, np.where(has_related, expansion, 0.0))
        hit = own | related
        token_concept[(token_concept < 0) & hit] = c
        chosen.append(hit)
    _resolve_leading_pronouns(plan, index, sids, forms, bounds, strength, chosen)
    context = _paragraph_context(plan, index, sids, strength, settings.context_span)
    idfs = np.asarray(plan.idfs, dtype=np.float64)[:, None]
    total = float(idfs.sum()) or 1.0
    evidence = np.maximum(strength, settings.context_weight * context)
    return Features(
        sids=sids,
        bm25=candidates.bm25,
        strength=strength,
        evidence=evidence,
        coverage=(idfs * evidence).sum(axis=0) / total if k else np.zeros(n),
        literal=(idfs * strength).sum(axis=0) / total if k else np.zeros(n),
        context=(idfs * settings.context_weight * context * (strength == 0)).sum(axis=0)
        if k else np.zeros(n),
        proximity=_proximity(chosen, seg, pos, n),
        token_concept=token_concept,
        bounds=bounds,
    )


def _hits(forms: npt.NDArray[np.int32], wanted: npt.NDArray[np.int32]
          ) -> npt.NDArray[np.bool_]:
    """Which of ``forms`` are in ``wanted`` (sorted): a binary search each, which beats
    ``np.isin``'s set-up on the few hundred tokens of the candidates."""
    if wanted.size == 0 or forms.size == 0:
        return np.zeros(forms.shape[0], dtype=bool)
    at = np.searchsorted(wanted, forms)
    at[at == wanted.shape[0]] = 0
    hits: npt.NDArray[np.bool_] = wanted[at] == forms
    return hits


def _pronoun_forms(index: SentenceIndex) -> npt.NDArray[np.int32]:
    strings = index.forms.strings
    found = [strings.id_of(w) for p in PRONOUNS for w in (p, p.capitalize(), p.upper())]
    return np.asarray(sorted(f for f in found if f is not None), dtype=np.int32)


def _resolve_leading_pronouns(plan: QueryPlan, index: SentenceIndex, sids: IntArray,
                              forms: npt.NDArray[np.int32], bounds: IntArray,
                              strength: FloatArray, chosen: list[npt.NDArray[np.bool_]]
                              ) -> None:
    """"She said …" right after a sentence naming Amara Okafor is about Amara Okafor: a
    name the sentence lacks counts as found when the sentence opens with a pronoun and
    the sentence before (in the same document) names it."""
    proper = [c for c, concept in enumerate(plan.concepts) if concept.proper]
    if not proper or sids.size == 0:
        return
    nonempty = bounds[1:] > bounds[:-1]
    first = np.where(nonempty, bounds[:-1], 0)
    opens = nonempty & _hits(forms[first], _pronoun_forms(index)) if forms.size else nonempty
    doc = np.asarray(index.doc_idx)
    same_doc = (sids > 0) & (doc[np.maximum(sids - 1, 0)] == doc[sids])
    for c in proper:
        lacking = np.flatnonzero(opens & same_doc & (strength[c] == 0))
        if lacking.size == 0 or not plan.concepts[c].terms:
            continue
        found = lacking[index.matrix.contains(plan.concepts[c].terms, sids[lacking] - 1)]
        strength[c, found] = 1.0
        chosen[c][first[found]] = True


def _paragraph_context(plan: QueryPlan, index: SentenceIndex, sids: IntArray,
                       strength: FloatArray, span: int) -> FloatArray:
    """Words the sentence lacks but its paragraph has, within ``span`` sentences ("Super
    Bowl 50" said once, up front): 1 for the word itself, the expansion weight for a
    related word."""
    context = np.zeros_like(strength)
    lacking = strength < 1.0
    if not lacking.any():
        return context
    paragraph = index.paragraph_ids[sids]
    starts = index.paragraph_starts
    lo = np.maximum(starts[paragraph], sids - span)
    hi = np.minimum(starts[paragraph + 1], sids + span + 1)
    matrix = index.matrix
    for c, concept in enumerate(plan.concepts):
        if not lacking[c].any():
            continue

        def elsewhere(terms: tuple[int, ...]) -> npt.NDArray[np.bool_]:
            if not terms:
                return np.zeros(sids.shape[0], dtype=bool)
            return (matrix.count_in_ranges(terms, lo, sids)
                    + matrix.count_in_ranges(terms, sids + 1, hi)) > 0

        own = elsewhere(concept.terms)
        related = elsewhere(concept.related)
        value = np.where(own, 1.0, np.where(related, plan.expansion_weight, 0.0))
        context[c] = np.where(lacking[c], value, 0.0)
    return context


def _proximity(chosen: list[npt.NDArray[np.bool_]], seg: IntArray, pos: IntArray, n: int
               ) -> FloatArray:
    """Per candidate: the share of consecutive concepts whose words occur close together
    and in order (gap of at most 2 tokens: 1, at most 5: ½)."""
    pairs = len(chosen) - 1
    if pairs <= 0:
        return np.zeros(n)
    total = np.zeros(n)
    key = seg * (int(pos.max()) + 2 if pos.size else 1) + pos
    for a, b in itertools.pairwise(chosen):
        if not a.any() or not b.any():
            continue
        key_a, key_b = key[a], key[b]
        before = np.searchsorted(key_a, key_b, "left") - 1
        valid = before >= 0
        seg_a, seg_b = seg[a], seg[b]
        valid[valid] &= seg_a[before[valid]] == seg_b[valid]
        gap = np.full(n, np.iinfo(np.int64).max, dtype=np.int64)
        np.minimum.at(gap, seg_b[valid], pos[b][valid] - pos[a][before[valid]])
        total += np.where(gap <= 2, 1.0, np.where(gap <= 5, 0.5, 0.0))
    return total / pairs
