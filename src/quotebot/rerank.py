"""Reranking BM25's candidates: one scorer interface, a lexical and a semantic scorer.

A scorer gives each candidate a ``base`` score and a ``bonus`` it earns when the sentence
holds the kind of answer the question asks for (a number for "how many", a name for
"who" …). Finding that answer means running the extraction rules on the sentence, which
costs far more than the rest, so :func:`rank` asks for it only where it can change the
top of the ranking: best upper bound first, until the top is settled.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol

import numpy as np
import numpy.typing as npt

from quotebot.features import TYPED_KINDS, Features
from quotebot.plan import QueryPlan
from quotebot.question import Kind
from quotebot.tuning import Lexical, Semantic

FloatArray = npt.NDArray[np.float64]
#: Whether candidate ``i`` holds the kind of answer asked for (computed on demand).
HasAnswer = Callable[[int], bool]

#: Kinds whose answer is a number or a date.
NUMBER_KINDS = frozenset({Kind.HOW_MANY, Kind.WHEN})


class Scorer(Protocol):
    """Scores candidates as ``base + bonus`` where they hold the answer asked for."""

    @property
    def name(self) -> str: ...

    def terms(self, plan: QueryPlan, features: Features, has_answer: HasAnswer
              ) -> tuple[FloatArray, FloatArray]:
        """(base, bonus) per candidate."""
        ...


@dataclass(frozen=True, slots=True)
class LexicalScorer:
    """BM25 (plus the paragraph's words the sentence lacks), raised for question words
    close together and in order, scaled by how much of the question the sentence covers,
    plus a bonus for holding the kind of answer asked for."""

    settings: Lexical
    name: str = "lexical"

    def terms(self, plan: QueryPlan, features: Features, has_answer: HasAnswer
              ) -> tuple[FloatArray, FloatArray]:
        s = self.settings
        base = ((features.bm25 + s.context_score * features.context)
                * (1.0 + s.proximity_weight * features.proximity)
                * (0.5 + features.coverage))
        bonus = 0.0
        if plan.question.kind in TYPED_KINDS and plan.concepts:
            mean_idf = sum(plan.idfs) / len(plan.concepts)
            bonus = s.type_weight * mean_idf
        return base, np.full(len(features), bonus)


@dataclass(frozen=True, slots=True)
class SemanticScorer:
    """Words and meaning together: the lexical score relative to the best candidate's,
    the answer type, and the question's cosines with the sentence, with the sentence and
    the one before it, and with the paragraph (``features.cosines``)."""

    lexical: LexicalScorer
    weights: Semantic
    name: str = "semantic"

    def terms(self, plan: QueryPlan, features: Features, has_answer: HasAnswer
              ) -> tuple[FloatArray, FloatArray]:
        assert features.cosines is not None, "semantic scoring needs the cosines"
        w = self.weights
        lexical_base, lexical_bonus = self.lexical.terms(plan, features, has_answer)
        best = _best(lexical_base, lexical_bonus, has_answer) or 1.0
        sentence, window, paragraph = features.cosines
        base = (w.lexical * lexical_base / best + w.sentence * sentence + w.window * window
                + w.paragraph * paragraph)
        type_weight = w.number_type if plan.question.kind in NUMBER_KINDS else w.name_type
        return base, w.lexical * lexical_bonus / best + type_weight


def _best(base: FloatArray, bonus: FloatArray, has_answer: HasAnswer) -> float:
    """The exact maximum of ``base + bonus * has_answer``, asking only candidates that
    could reach it."""
    if base.size == 0:
        return 0.0
    best = float(base.max())
    for i in np.flatnonzero(base + bonus > best).tolist():
        if has_answer(i):
            best = max(best, float(base[i] + bonus[i]))
    return best


def rank(base: FloatArray, bonus: FloatArray, has_answer: HasAnswer, sids: npt.ArrayLike,
         limit: int) -> tuple[list[int], FloatArray]:
    """The order of the candidates, best first (ties to the earlier sentence), and their
    final scores. The first ``limit`` places are exact; below them a candidate whose
    answer was never looked for is ranked by its base score."""
    final = base.astype(np.float64).copy()
    sid_array = np.asarray(sids)
    if bonus.size and float(bonus.max()) > 0:
        upper = base + bonus
        settled: list[float] = []
        for i in np.lexsort((sid_array, -upper)).tolist():
            if len(settled) >= limit and settled[limit - 1] > upper[i]:
                break
            if bonus[i] > 0 and has_answer(i):
                final[i] = upper[i]
            settled.append(float(final[i]))
            settled.sort(reverse=True)
    order = np.lexsort((sid_array, -final)).tolist()
    return order, final
