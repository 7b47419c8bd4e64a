"""Costly questions beside ordinary ones: what a question of a hundred common words costs,
with the bound on the concepts searched for and without it, and the latency of ordinary
askers alone and while two clients ask such questions back to back.

    python benchmarks/bench_costly_questions.py [--seconds 20] [--askers 4] [--costly 2]

The article is 1 MB of sentences written with 600 words, so each word is in hundreds of
sentences, as a large library's common words are. In this process: the median time of
ordinary questions, of costly ones (about 120 of the article's words, 999 characters), and
of the same costly ones with ``quotebot.plan.MAX_CONCEPTS`` lifted (what answering did
before the bound), and with the sentence model, reading a pasted 1,000-character question
whole (256 word pieces) against reading its first ``QUESTION_TOKENS``. Then `quotebot
serve` over the same article (meaning off, rate limit off) on a free port of 127.0.0.1:
``--askers`` clients ask new ordinary questions for ``--seconds``, alone, then beside
``--costly`` clients asking costly ones. Every question is new (the answer cache never
answers). Prints a table and writes benchmarks/results/costly_questions.json.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import random
import statistics
import string
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import aiohttp
import numpy as np
from bench_http import ask_loop, free_port, print_table, save_results, start


def article(size: int = 1_000_000) -> tuple[str, list[str]]:
    rng = random.Random(4)
    words = sorted({"".join(rng.choice(string.ascii_lowercase) for _ in range(rng.randint(5, 9)))
                    for _ in range(600)})
    lines, written = [], 0
    while written < size:
        line = " ".join(rng.choice(words) for _ in range(12)).capitalize() + "."
        lines.append(line)
        written += len(line) + 1
    return "\n".join(lines) + "\n", words


class Questions:
    def __init__(self, words: list[str], seed: int) -> None:
        self.words = words
        self.rng = random.Random(seed)

    def ordinary(self) -> str:
        return f"where did {self.rng.choice(self.words)} {self.rng.choice(self.words)} go?"

    def costly(self) -> str:
        return " ".join(self.rng.sample(self.words, 150))[:999]


def in_process(corpus: Path, words: list[str]) -> dict[str, float]:
    """Median milliseconds per question, answered in this process."""
    from quotebot import plan
    from quotebot.engine import QuoteEngine
    from quotebot.semantic import QUESTION_TOKENS, Encoder

    engine = QuoteEngine.open(corpus, index_dir=corpus.parent / "index", semantic="off")
    questions = Questions(words, 1)

    def median_ms(make: Any, n: int) -> float:
        times = []
        for _ in range(n):
            question = make()
            started = time.perf_counter()
            engine.answer_question(question)
            times.append((time.perf_counter() - started) * 1000)
        return statistics.median(times)

    median_ms(questions.ordinary, 5)  # warm up
    out = {"ordinary_ms": median_ms(questions.ordinary, 30),
           "costly_ms": median_ms(questions.costly, 10)}
    bound = plan.MAX_CONCEPTS
    plan.MAX_CONCEPTS = 10**6
    try:
        out["costly_unbounded_ms"] = median_ms(questions.costly, 5)
    finally:
        plan.MAX_CONCEPTS = bound
    encoder = Encoder.load()
    pasted = "Why did the council move the ferry's winter timetable? " * 18
    for name, text in (("read_question_whole_ms", pasted),
                       (f"read_question_{QUESTION_TOKENS}_pieces_ms", encoder.cut(pasted)),
                       ("read_ordinary_question_ms", "Why did the ferry stop?")):
        encoder.encode([text])
        times = []
        for _ in range(10):
            started = time.perf_counter()
            encoder.encode([text])
            times.append((time.perf_counter() - started) * 1000)
        out[name] = statistics.median(times)
    return out


async def phase(url: str, seconds: float, words: list[str], askers: int, costly: int
                ) -> dict[str, Any]:
    ordinary: list[float] = []
    heavy: list[float] = []
    errors: list[int] = []
    until = time.monotonic() + seconds
    async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=askers + costly)
                                     ) as session:
        tasks = [ask_loop(session, url, until, Questions(words, time.time_ns() + i).ordinary,
                          ordinary, errors) for i in range(askers)]
        tasks += [ask_loop(session, url, until, Questions(words, -i - 1).costly, heavy, errors)
                  for i in range(costly)]
        await asyncio.gather(*tasks)
    ms = np.array(ordinary) * 1000
    return {"ordinary_questions": len(ordinary), "costly_questions": len(heavy),
            "errors": len(errors), "p50_ms": float(np.percentile(ms, 50)),
            "p99_ms": float(np.percentile(ms, 99))}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=20.0, help="length of each phase")
    parser.add_argument("--askers", type=int, default=4)
    parser.add_argument("--costly", type=int, default=2)
    args = parser.parse_args()
    text, words = article()
    with tempfile.TemporaryDirectory() as folder:
        corpus = Path(folder) / "common.txt"
        corpus.write_text(text, encoding="utf-8")
        single = in_process(corpus, words)
        port = free_port()
        os.environ["QUOTEBOT_SEMANTIC"] = "off"
        proc = start([sys.executable, "-m", "quotebot", "serve", "--host", "127.0.0.1",
                      "--port", str(port), "--rate-limit-ip", "0", "--corpus", str(corpus)],
                     port)
        url = f"http://127.0.0.1:{port}/v1/ask"
        try:
            asyncio.run(phase(url, 2, words, 2, 0))  # warm up
            alone = asyncio.run(phase(url, args.seconds, words, args.askers, 0))
            mixed = asyncio.run(phase(url, args.seconds, words, args.askers, args.costly))
        finally:
            proc.kill()
            proc.wait(60)
    ratio = mixed["p99_ms"] / alone["p99_ms"]
    load = save_results("costly_questions", {
        "seconds": args.seconds, "askers": args.askers, "costly": args.costly,
        "in_process": single, "alone": alone, "beside_costly": mixed, "p99_ratio": ratio})
    print_table(["one question, in process (median)", "ms"],
                [[name, f"{value:.1f}"] for name, value in single.items()])
    print()
    print_table([f"phase ({args.seconds:.0f} s each, {args.askers} ordinary askers)",
                 "ordinary questions", "costly questions", "p50 ms", "p99 ms", "errors"],
                [[name, r["ordinary_questions"], r["costly_questions"], f"{r['p50_ms']:.1f}",
                  f"{r['p99_ms']:.1f}", r["errors"]]
                 for name, r in (("alone", alone), (f"beside {args.costly} costly askers", mixed))])
    print(f"\nordinary askers' p99 beside costly askers ÷ alone: {ratio:.2f}×; load average "
          f"after the run {load:.1f}")


if __name__ == "__main__":
    main()
