"""Answer quality on the outside benchmark, next to plain BM25 on the same sentences.

    python benchmarks/bench_quality.py

The 405 SQuAD v1.1 questions of ../shared/benchmarks/squad-superbowl50 over its article,
indexed as one corpus. Three rankers see the same sentences (quotebot's split):

- plain BM25: rank-bm25's BM25Okapi over Snowball stems with stop words dropped, the
  sentences ranked by score (ties by position), never declining;
- quotebot with words only (QUOTEBOT_SEMANTIC=off) and quotebot as shipped, through
  `quotebot eval`'s own code path (declined questions count as misses).

A question is a hit at rank k when one of the first k sentences holds a gold answer
(case-insensitive). Writes benchmarks/results/quality.json.

Super Bowl 50 is one of the four articles quotebot's weights are fitted on, so these are
figures on fitted data; benchmarks/fit_weights.py (and `quotebot eval --held-out`) give
each article's figures with numbers fitted on the others only, next to the same plain
BM25 (:func:`plain_bm25`).
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
from rank_bm25 import BM25Okapi

from quotebot import analysis
from quotebot.engine import QuoteEngine
from quotebot.evaluate import Case, evaluate, load_cases

HERE = Path(__file__).resolve().parent
SQUAD = HERE.parent.parent / "shared" / "benchmarks" / "squad-superbowl50"


def plain_bm25(engine: QuoteEngine, cases: list[Case]) -> dict[str, float]:
    """Top-1 and top-3 of rank-bm25's BM25Okapi over the engine's sentences (Snowball
    stems, stop words dropped, ties by position)."""
    sentences = [engine.index.sentence(i).text for i in range(engine.index.n_sentences)]

    def words(text: str) -> list[str]:
        return [analysis.stem(t.norm) for t in analysis.tokenize(text) if not t.is_stop]

    bm25 = BM25Okapi([words(s) or ["<empty>"] for s in sentences])
    top1 = top3 = 0
    for case in cases:
        scores = bm25.get_scores(words(case.question))
        order = np.argsort(-scores, kind="stable")[:3]
        hits = [any(g.casefold() in sentences[i].casefold() for g in case.expect)
                for i in order]
        top1 += hits[0]
        top3 += any(hits)
    n = len(cases)
    return {"top1": top1 / n, "top3": top3 / n}


def main() -> None:
    cases, conversations, _ = load_cases(SQUAD / "questions.json")
    corpus = SQUAD / "super-bowl-50.txt"
    rows = {"plain BM25 (rank-bm25)": plain_bm25(QuoteEngine.open(corpus, semantic="off"),
                                                 cases)}
    for label, mode in (("quotebot, words only", "off"), ("quotebot", "on")):
        report = evaluate(QuoteEngine.open(corpus, semantic=mode), cases, conversations)
        overall = report["overall"]
        rows[label] = {"top1": overall["top1"], "top3": overall["top3"],
                       "f1": overall["f1"], "declined": overall["abstained"] / len(cases)}
    print(f"{len(cases)} questions over {corpus.name}")
    print("| ranker | top-1 | top-3 | short-answer F1 | declined |")
    print("|---|---:|---:|---:|---:|")
    for label, row in rows.items():
        f1 = f"{row['f1']:.1%}" if "f1" in row else "–"
        declined = f"{row['declined']:.1%}" if "declined" in row else "–"
        print(f"| {label} | {row['top1']:.1%} | {row['top3']:.1%} | {f1} | {declined} |")
    (HERE / "results").mkdir(exist_ok=True)
    (HERE / "results" / "quality.json").write_text(json.dumps(rows, indent=2) + "\n")


if __name__ == "__main__":
    main()
