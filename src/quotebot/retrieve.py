"""Retrieval: BM25's best sentences for a query plan, with their paragraphs' scores.

Each concept of the plan counts once (the best of its word, parts and related words);
a sentence's score adds a share of its paragraph's BM25, since questions are often about
a paragraph's topic, named once in its first sentence.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from quotebot.bm25 import top_k_of
from quotebot.plan import QueryPlan
from quotebot.store.model import SentenceIndex
from quotebot.tuning import Retrieval


@dataclass(frozen=True, slots=True)
class Candidates:
    """Sentence ids, best BM25 first, and their scores (sentence plus paragraph share)."""

    sids: npt.NDArray[np.int64]
    bm25: npt.NDArray[np.float64]

    def __len__(self) -> int:
        return int(self.sids.shape[0])


def retrieve(plan: QueryPlan, index: SentenceIndex, settings: Retrieval, limit: int = 0
             ) -> Candidates:
    """BM25's best ``max(settings.candidates, limit)`` sentences for ``plan``."""
    groups = plan.groups()
    if not groups:
        return Candidates(np.empty(0, np.int64), np.empty(0, np.float64))
    ids, scores = index.matrix.group_scores(groups)
    ids, scores = top_k_of(ids, scores, max(settings.candidates, limit))
    total = scores.astype(np.float64)
    if settings.paragraph_weight and ids.size:
        wanted = index.paragraph_ids[ids]
        pids, para_scores = index.paragraphs.group_scores(groups)
        at = np.minimum(np.searchsorted(pids, wanted), max(pids.size - 1, 0))
        found = pids.size > 0
        if found:
            hit = pids[at] == wanted
            total += settings.paragraph_weight * np.where(hit, para_scores[at], 0.0)
    return Candidates(ids.astype(np.int64), total)
