"""The retrieval backend: where BM25's candidates come from.

Answering asks a backend three things about a query's groups of terms (one group per
concept: its word and alternatives, each with a query weight; see
:meth:`quotebot.plan.QueryPlan.groups`):

- the best ``k`` sentences and their scores, best first, ties to the earlier sentence;
- the scores of given sentences (0 where a sentence has none of the terms);
- the BM25 of each given sentence's paragraph, over paragraphs;
- the first and the third at once (retrieval asks both of the same groups).

Sentence and term ids are the engine's own (its :class:`~quotebot.store.model.SentenceIndex`),
whichever backend answers. The embedded memory-mapped index answers by itself
(:class:`~quotebot.store.model.SentenceIndex` has these methods); the Xapian backend
(:mod:`quotebot.xapian_backend`) asks remote shard servers with global statistics and
gives the same candidates and scores.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol

import numpy as np
import numpy.typing as npt

#: Per concept: (term id, query weight) pairs, of which a sentence scores the best.
Groups = Sequence[Sequence[tuple[int, float]]]


class RetrievalBackend(Protocol):
    """What retrieval needs from an index of sentences (see the module's docstring)."""

    def top_sentences(self, groups: Groups, k: int
                      ) -> tuple[npt.NDArray[np.int64], npt.NDArray[np.float32]]:
        """The ``k`` best (sentence ids, scores), best first; ties go to the earlier
        sentence; only positive scores."""
        ...

    def sentence_scores(self, groups: Groups, sids: npt.NDArray[np.int64]
                        ) -> npt.NDArray[np.float64]:
        """The score of each of ``sids`` (0 where it holds none of the terms)."""
        ...

    def paragraph_scores(self, groups: Groups, sids: npt.NDArray[np.int64]
                         ) -> npt.NDArray[np.floating]:
        """The BM25 of each of ``sids``'s paragraph, each paragraph one document."""
        ...

    def top_sentences_and_paragraphs(self, groups: Groups, k: int
                                     ) -> tuple[npt.NDArray[np.int64], npt.NDArray[np.float32],
                                                npt.NDArray[np.floating]]:
        """:meth:`top_sentences`, and the :meth:`paragraph_scores` of the sentences found."""
        ...
