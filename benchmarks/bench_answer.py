"""Answering time in one process: a new question (no answer cache) with reranking by
meaning and with words only, on the shipped article and on the SQuAD Super Bowl article.

    python benchmarks/bench_answer.py [--rounds 5]

Questions are those shipped with the article (index/met-police-nypd-visit.qa.json) and
the SQuAD file's, each asked once a round; the answer cache is cleared before every
question, so each one is planned, retrieved, reranked, decided and extracted from
scratch (the question's embedding included). Reports the median and 90th percentile per
question and the ratio of the two modes, measured in the same run. Writes
benchmarks/results/answer.json.
"""

from __future__ import annotations

import argparse
import json
import statistics
import time
from pathlib import Path

from quotebot.engine import QuoteEngine
from quotebot.evaluate import load_cases
from quotebot.index import DEFAULT_QA

HERE = Path(__file__).resolve().parent
SHARED = HERE.parent.parent / "shared"
SQUAD = SHARED / "benchmarks" / "squad-superbowl50"


def per_question(engine: QuoteEngine, questions: list[str], rounds: int) -> list[float]:
    times = []
    for _ in range(rounds):
        for question in questions:
            engine._answers.clear()  # measure a new question, not the answer cache
            started = time.perf_counter()
            engine.answer_question(question)
            times.append(time.perf_counter() - started)
    return times


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args()
    corpora = {
        "shipped article (18 sentences)": (None, DEFAULT_QA),
        "Super Bowl 50 (220 sentences)": (SQUAD / "super-bowl-50.txt", SQUAD / "questions.json"),
    }
    results = {}
    print("| corpus | mode | median ms | p90 ms | ÷ words only |")
    print("|---|---|---:|---:|---:|")
    for name, (corpus, qa_file) in corpora.items():
        cases, _, _ = load_cases(qa_file)
        questions = [c.question for c in cases]
        row = {}
        for mode in ("off", "on"):
            engine = QuoteEngine.open(corpus, semantic=mode)
            per_question(engine, questions[:5], 1)  # warm caches of sentence tokens
            times = per_question(engine, questions, args.rounds)
            row[mode] = {"median_ms": statistics.median(times) * 1e3,
                         "p90_ms": statistics.quantiles(times, n=10)[-1] * 1e3}
        for mode, label in (("off", "words only"), ("on", "words + meaning")):
            ratio = row[mode]["median_ms"] / row["off"]["median_ms"]
            print(f"| {name} | {label} | {row[mode]['median_ms']:.2f} | "
                  f"{row[mode]['p90_ms']:.2f} | {ratio:.1f} |")
        results[name] = row
    (HERE / "results").mkdir(exist_ok=True)
    (HERE / "results" / "answer.json").write_text(json.dumps(
        {"rounds": args.rounds, "per_question": results}, indent=2) + "\n")


if __name__ == "__main__":
    main()
