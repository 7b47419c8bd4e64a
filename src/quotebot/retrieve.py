"""Retrieval: BM25's best sentences for a query plan, with their paragraphs' scores.

Each concept of the plan counts once (the best of its word, parts and related words);
a sentence's score adds a share of its paragraph's BM25, since questions are often about
a paragraph's topic, named once in its first sentence.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from quotebot.backends import RetrievalBackend
from quotebot.bm25 import top_k_of
from quotebot.plan import QueryPlan
from quotebot.tuning import Retrieval


@dataclass(frozen=True, slots=True)
class Candidates:
    """Sentence ids, best BM25 first, and their scores (sentence plus paragraph share)."""

    sids: npt.NDArray[np.int64]
    bm25: npt.NDArray[np.float64]

    def __len__(self) -> int:
        return int(self.sids.shape[0])


def retrieve(plan: QueryPlan, search: RetrievalBackend, settings: Retrieval, limit: int = 0
             ) -> Candidates:
    """BM25's best ``max(settings.candidates, limit)`` sentences for ``plan``, from
    ``search`` (the embedded index itself, or a backend over remote shards)."""
    groups = plan.groups()
    if not groups:
        return Candidates(np.empty(0, np.int64), np.empty(0, np.float64))
    k = max(settings.candidates, limit)
    if not settings.paragraph_weight:
        ids, scores = search.top_sentences(groups, k)
        return Candidates(ids.astype(np.int64), scores.astype(np.float64))
    ids, scores, paragraphs = search.top_sentences_and_paragraphs(groups, k)
    total = scores.astype(np.float64)
    if ids.size:
        total += settings.paragraph_weight * paragraphs
    return Candidates(ids.astype(np.int64), total)


def retrieve_among(plan: QueryPlan, search: RetrievalBackend, settings: Retrieval,
                   sids: npt.NDArray[np.int64], limit: int = 0) -> Candidates:
    """:func:`retrieve`'s candidates when only sentences ``sids`` (a document's) may be
    found: those of them :func:`retrieve` would find were it asked for every match, in its
    order. Only these sentences are scored, so the cost follows the document, not the
    corpus."""
    groups = plan.groups()
    if not groups or not sids.size:
        return Candidates(np.empty(0, np.int64), np.empty(0, np.float64))
    scores = search.sentence_scores(groups, sids)
    keep = np.flatnonzero(scores > 0)
    # Best first, ties to the earlier sentence, as the top k of every match are.
    ids, total = top_k_of(sids[keep].astype(np.int64), scores[keep],
                          max(settings.candidates, limit))
    if settings.paragraph_weight and ids.size:
        total = total + settings.paragraph_weight * search.paragraph_scores(groups, ids)
    return Candidates(ids, total)
