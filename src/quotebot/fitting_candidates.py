"""Fitting how many of BM25's candidates are reranked by words alone.

Every candidate reranked costs its features, its tokens and, for a question that asks for
a number or a name, the extraction rules; by words alone the reranker weighs the same
words BM25 weighed, so it rarely lifts a sentence from far down BM25's list. The count
(``[retrieval] words_candidates``) is the smallest of :data:`GRID` whose quotes hold the
gold answer (first, and among the first three) for as many questions as the largest
count's do, on the articles it is fitted on; :func:`held_out_counts` chooses it without
each article in turn and scores that article with the count chosen without it.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from quotebot.engine import QuoteEngine
from quotebot.evaluate import Case, Conversation, evaluate
from quotebot.fitting import FitError, set_value
from quotebot.tuning import Tuning

#: The counts tried, smallest first; the last is the one the others must match (the
#: count reranked with sentence vectors).
GRID = (3, 5, 8, 10, 15, 20, 30, 40, 60)


@dataclass(frozen=True, slots=True)
class Hits:
    """An article's answerable questions whose quotes hold a gold answer, at one count."""

    top1: int
    top3: int
    answerable: int


def article_hits(engine: QuoteEngine, cases: Sequence[Case],
                 conversations: Sequence[Conversation], base: Tuning,
                 grid: Sequence[int] = GRID) -> dict[int, Hits]:
    """The hits of the article ``engine`` holds (by words alone: its vectors are not
    used) for each count of ``grid``."""
    out: dict[int, Hits] = {}
    for count in grid:
        tuning = base.with_values({"retrieval.words_candidates": count})
        alone = QuoteEngine(engine.index, tuning=tuning)
        report = evaluate(alone, cases, conversations, k=3)["overall"]
        n = int(report["answerable"])
        out[count] = Hits(round((report["top1"] or 0.0) * n), round((report["top3"] or 0.0) * n),
                          n)
    return out


def choose_count(hits: Sequence[Mapping[int, Hits]]) -> int:
    """The smallest count whose top-1 and top-3 hits, summed over the articles ``hits``,
    reach those of the largest count tried."""
    if not hits:
        raise FitError("Choosing a candidate count needs at least one article.")
    counts = sorted(hits[0])
    if any(sorted(h) != counts for h in hits):
        raise FitError("Every article must be scored at the same counts.")
    largest = counts[-1]

    def total(count: int) -> tuple[int, int]:
        return (sum(h[count].top1 for h in hits), sum(h[count].top3 for h in hits))

    top1, top3 = total(largest)
    return next(c for c in counts if total(c)[0] >= top1 and total(c)[1] >= top3)


def held_out_counts(hits: Mapping[str, Mapping[int, Hits]]) -> dict[str, dict[str, Any]]:
    """Leave-one-article-out: for each article, the count chosen on the others, and the
    article's top-1 and top-3 with it and with the largest count."""
    if len(hits) < 2:
        raise FitError("Leave-one-article-out needs at least two articles.")
    out: dict[str, dict[str, Any]] = {}
    for name, own in hits.items():
        count = choose_count([h for other, h in hits.items() if other != name])
        largest = max(own)
        n = max(own[count].answerable, 1)
        out[name] = {"count": count, "questions": own[count].answerable,
                     "top1": round(own[count].top1 / n, 4),
                     "top3": round(own[count].top3 / n, 4),
                     "top1_largest": round(own[largest].top1 / n, 4),
                     "top3_largest": round(own[largest].top3 / n, 4)}
    return out


def write_count(text: str, count: int, source: str) -> str:
    """The weights file's ``text`` with ``[retrieval] words_candidates`` set to ``count``."""
    return set_value(text, "retrieval", "words_candidates", count, source)
