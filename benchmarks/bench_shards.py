"""Answering from two Xapian shard servers on loopback against the embedded index, in one
run: the full answer's time per new question, and where the shards' time goes.

    python benchmarks/bench_shards.py [--sentences 100000] [--questions 200]

Writes synthetic news (benchmarks/corpora.py) of about ``--sentences`` sentences, builds
its index, writes it as two shards (``quotebot index --shards 2``'s code), starts two
``xapian-tcpsrv`` on 127.0.0.1 and asks the same questions of an engine over the
embedded index and of one that answers from the shards alone (``--search-url``: the
lexicon read from a shard, the candidates' stored analysis, texts and postings fetched;
words only, answer cache cleared before every question). Questions are three or four
content words of sentences drawn with a fixed seed. Reports median and 90th percentile
per question for each, their ratio, the time per question spent in each of the backend's
calls (retrieval, and fetching the corpus), and whether every answer was the same.
Writes benchmarks/results/shards.json.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from quotebot.corpus import load_corpus
from quotebot.engine import QuoteEngine
from quotebot.store import SentenceIndex
from quotebot.store.build import build_index
from quotebot.xapian_backend import XapianBackend, write_shards

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from corpora import SEED, write_news  # noqa: E402


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def start_shard(folder: Path) -> tuple[subprocess.Popen[bytes], int]:
    port = free_port()
    # Its own session: xapian-tcpsrv kills its process group on SIGTERM.
    with (folder.parent / f"{folder.name}.log").open("w") as log:
        proc = subprocess.Popen(["xapian-tcpsrv", "--interface", "127.0.0.1", "--port",
                                 str(port), str(folder)], stdout=log, stderr=subprocess.STDOUT,
                                start_new_session=True)
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        try:
            socket.create_connection(("127.0.0.1", port), 0.2).close()
            return proc, port
        except OSError:
            time.sleep(0.05)
    proc.kill()
    raise SystemExit(f"xapian-tcpsrv did not start on {folder}")


def questions_of(index: SentenceIndex, n: int) -> list[str]:
    rng = np.random.default_rng(SEED + 7)
    out: list[str] = []
    while len(out) < n:
        sid = int(rng.integers(index.n_sentences))
        words = [t.surface for t in index.sentence_tokens(sid)
                 if not t.is_stop and t.surface.isalpha()]
        if len(words) >= 4:
            picked = rng.choice(len(words), size=int(rng.integers(3, 5)), replace=False)
            out.append("what about " + " ".join(words[i] for i in sorted(picked)) + "?")
    return out


#: The backend's calls that go to the shards: retrieval, then fetching the corpus.
CALLS = ("top_sentences", "sentence_scores", "paragraph_scores", "sentences", "text",
         "postings")


def time_calls(backend: XapianBackend) -> dict[str, float]:
    """Time each of the backend's :data:`CALLS` (seconds, summed) from now on."""
    seconds = dict.fromkeys(CALLS, 0.0)
    for name in CALLS:
        method = getattr(backend, name)

        def timed(*args: Any, _method: Callable[..., Any] = method, _name: str = name
                  ) -> Any:
            started = time.perf_counter()
            try:
                return _method(*args)
            finally:
                seconds[_name] += time.perf_counter() - started
        setattr(backend, name, timed)
    return seconds


def per_question(engine: QuoteEngine, questions: list[str]) -> tuple[list[float], list[Any]]:
    times, answers = [], []
    for question in questions:
        engine._answers.clear()  # a new question each time, not the answer cache
        started = time.perf_counter()
        answer = engine.answer_question(question)
        times.append(time.perf_counter() - started)
        answers.append([(q.doc, q.start, q.end) for q in answer.quotes])
    return times, answers


def summary(times: list[float]) -> dict[str, float]:
    ordered = sorted(times)
    return {"p50_ms": round(statistics.median(ordered) * 1000, 2),
            "p90_ms": round(ordered[int(len(ordered) * 0.9)] * 1000, 2)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sentences", type=int, default=100_000)
    parser.add_argument("--questions", type=int, default=200)
    args = parser.parse_args()
    if shutil.which("xapian-tcpsrv") is None:
        raise SystemExit("needs xapian-tcpsrv (apt-get install xapian-tools)")
    work = Path(tempfile.mkdtemp(prefix="bench-shards-"))
    servers: list[subprocess.Popen[bytes]] = []
    try:
        started = time.perf_counter()
        index = build_index(load_corpus(write_news(args.sentences, work / "corpus")))
        built = time.perf_counter() - started
        started = time.perf_counter()
        write_shards(index, work / "shards", 2)
        sharded_s = time.perf_counter() - started
        ports = []
        for i in range(2):
            proc, port = start_shard(work / "shards" / f"shard-{i}")
            servers.append(proc)
            ports.append(port)
        questions = questions_of(index, args.questions)
        embedded = QuoteEngine(index)
        started = time.perf_counter()
        backend = XapianBackend.open("xapian://" + ",".join(f"127.0.0.1:{p}" for p in ports))
        backend.check()
        opened_s = time.perf_counter() - started
        sharded = QuoteEngine(backend.index, search=backend)
        per_question(sharded, [f"what about {w}?" for w in ("police", "market", "city")])
        seconds = time_calls(backend)
        local_times, local_answers = per_question(embedded, questions)
        shard_times, shard_answers = per_question(sharded, questions)
        result = {
            "sentences": index.n_sentences,
            "questions": len(questions),
            "build_index_s": round(built, 1),
            "write_2_shards_s": round(sharded_s, 1),
            "open_from_shards_s": round(opened_s, 2),
            "embedded": summary(local_times),
            "two_loopback_shards": summary(shard_times),
            "ratio_p50": round(statistics.median(shard_times) / statistics.median(local_times),
                               2),
            "backend_ms_per_question": {name: round(t * 1000 / len(questions), 2)
                                        for name, t in seconds.items()},
            "same_quotes": sum(a == b for a, b in zip(local_answers, shard_answers,
                                                      strict=True)),
        }
    except Exception:
        for log in sorted((work / "shards").glob("*.log")):
            print(log.name, log.read_text()[-3000:], file=sys.stderr)
        raise
    finally:
        for proc in servers:
            if proc.poll() is None:
                os.kill(proc.pid, signal.SIGTERM)
                proc.wait(10)
        shutil.rmtree(work, ignore_errors=True)
    print(json.dumps(result, indent=2))
    (HERE / "results").mkdir(exist_ok=True)
    (HERE / "results" / "shards.json").write_text(json.dumps(result, indent=2) + "\n",
                                                   encoding="utf-8")


if __name__ == "__main__":
    main()
