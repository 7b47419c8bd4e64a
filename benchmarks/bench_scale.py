"""Scale: quotebot vs bm25s vs rank-bm25 on the same synthetic token lists.

    python benchmarks/bench_scale.py                 # 10k, 100k and 1M sentences
    python benchmarks/bench_scale.py --sizes 10000   # one size

A deterministic Zipf corpus (a 50,000-word vocabulary, 8-30 tokens a sentence) is
written as text, one sentence a line, so quotebot indexes it through its whole pipeline
(Punkt, analysis, BM25) into a saved index; bm25s (method "lucene", k1=1.5, b=0.75, the
same variant as quotebot) and rank-bm25 (BM25Okapi) get the same token lists. Each
system runs in its own process, so peak RSS is its own. Prints a table and writes
benchmarks/results/scale.json (and docs/scale.png when matplotlib is installed).
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np

HERE = Path(__file__).resolve().parent
RESULTS = HERE / "results"
VOCAB = 50_000
SEED = 20261124
N_QUERIES = 200


def corpus_tokens(n: int) -> list[list[str]]:
    """``n`` sentences of Zipf-distributed words, the same for every system."""
    rng = np.random.default_rng(SEED)
    lengths = rng.integers(8, 31, size=n)
    ranks = rng.zipf(1.2, size=int(lengths.sum()))
    ids = np.minimum(ranks, VOCAB) - 1
    words = np.array([f"w{i}" for i in range(VOCAB)], dtype=object)
    flat = words[ids]
    out, pos = [], 0
    for length in lengths.tolist():
        out.append(flat[pos:pos + length].tolist())
        pos += length
    return out


def queries(n: int = N_QUERIES) -> list[list[str]]:
    """2-4 words, drawn from the middle of the vocabulary (rare and common words mixed)."""
    rng = np.random.default_rng(SEED + 1)
    return [[f"w{int(i)}" for i in rng.integers(5, 5000, size=int(rng.integers(2, 5)))]
            for _ in range(n)]


def peak_rss_mb() -> float:
    """This process's peak resident memory. VmHWM, because Linux carries ru_maxrss over
    exec, so a process started by a big one would report the parent's peak."""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def dir_size(path: Path) -> int:
    return sum(p.stat().st_size for p in path.rglob("*") if p.is_file())


def latency(fn: Any, qs: list[list[str]]) -> dict[str, float]:
    fn(qs[0])
    times = []
    for q in qs:
        started = time.perf_counter()
        fn(q)
        times.append(time.perf_counter() - started)
    times_ms = np.array(times) * 1000
    return {"p50_ms": float(np.percentile(times_ms, 50)),
            "p99_ms": float(np.percentile(times_ms, 99))}


# -- one system, in its own process --------------------------------------------------------


def run_quotebot(n: int, workdir: Path) -> dict[str, Any]:
    from quotebot.corpus import load_corpus
    from quotebot.store import SentenceIndex

    text = workdir / "corpus.txt"
    with open(text, "w", encoding="utf-8") as fh:
        for tokens in corpus_tokens(n):
            fh.write(" ".join(tokens) + ".\n")
    started = time.perf_counter()
    index = SentenceIndex.build(load_corpus(text))
    out = workdir / "quotebot-index"
    index.save(out)
    build = time.perf_counter() - started
    del index
    # Serving is measured in a fresh process: build-time memory is not serving memory.
    serving = subprocess.run([sys.executable, __file__, "--serve", str(out)],
                             capture_output=True, text=True, check=True)
    return {"build_s": build, "size_mb": dir_size(out) / 1e6, "build_rss_mb": peak_rss_mb(),
            **json.loads(serving.stdout)}


def serve_quotebot(out: Path) -> dict[str, Any]:
    """Open a saved index and answer the queries, as a server process would."""
    from quotebot.store import SentenceIndex

    started = time.perf_counter()
    loaded = SentenceIndex.load(out)
    vocab = loaded.term_ids
    load = time.perf_counter() - started
    matrix = loaded.matrix

    def search(q: list[str]) -> Any:
        return matrix.top_k({vocab[t]: 1.0 for t in q if t in vocab}, 10)

    qs = queries()
    stats = latency(search, qs)
    started = time.perf_counter()
    results = [search(q) for q in qs]
    batched = len(qs) / (time.perf_counter() - started)
    top10 = [[int(i) for i in ids] for ids, _ in results]
    scores = [[round(float(s), 4) for s in sc] for _, sc in results]
    return {"load_s": load, **stats, "qps_batched": batched, "peak_rss_mb": peak_rss_mb(),
            "top10": top10, "scores": scores}


def run_bm25s(n: int, workdir: Path) -> dict[str, Any]:
    import bm25s

    tokens = corpus_tokens(n)
    started = time.perf_counter()
    retriever = bm25s.BM25(method="lucene", k1=1.5, b=0.75)
    retriever.index(tokens, show_progress=False)
    out = workdir / "bm25s-index"
    retriever.save(out, show_progress=False)
    build = time.perf_counter() - started
    del retriever, tokens
    started = time.perf_counter()
    loaded = bm25s.BM25.load(out, mmap=True, show_progress=False)
    load = time.perf_counter() - started
    vocab = loaded.vocab_dict

    def search(q: list[str]) -> Any:
        return loaded.retrieve([[t for t in q if t in vocab]], k=10, show_progress=False,
                               n_threads=1)

    qs = queries()
    stats = latency(search, qs)
    started = time.perf_counter()
    batch = [[t for t in q if t in vocab] for q in qs]
    docs, scores = loaded.retrieve(batch, k=10, show_progress=False, n_threads=1)
    batched = len(qs) / (time.perf_counter() - started)
    return {"build_s": build, "size_mb": dir_size(out) / 1e6, "load_s": load, **stats,
            "qps_batched": batched, "peak_rss_mb": peak_rss_mb(),
            "top10": [[int(i) for i in row] for row in docs],
            "scores": [[round(float(s), 4) for s in row] for row in scores]}


def run_rank_bm25(n: int, workdir: Path) -> dict[str, Any]:
    from rank_bm25 import BM25Okapi

    tokens = corpus_tokens(n)
    started = time.perf_counter()
    oracle = BM25Okapi(tokens, k1=1.5, b=0.75)
    build = time.perf_counter() - started
    del tokens

    def search(q: list[str]) -> Any:
        scores = oracle.get_scores(q)
        return np.argpartition(-scores, 10)[:10]

    qs = queries()[:20]  # a Python loop over every sentence per query: keep it short
    stats = latency(search, qs)
    return {"build_s": build, "size_mb": None, "load_s": None, **stats,
            "qps_batched": 1000 / stats["p50_ms"], "peak_rss_mb": peak_rss_mb()}


SYSTEMS = {"quotebot": run_quotebot, "bm25s": run_bm25s, "rank-bm25": run_rank_bm25}


def worker(system: str, n: int) -> None:
    workdir = Path(tempfile.mkdtemp(prefix=f"bench-{system}-"))
    try:
        print(json.dumps(SYSTEMS[system](n, workdir)))
    finally:
        shutil.rmtree(workdir, ignore_errors=True)


# -- the comparison ---------------------------------------------------------------------------


def agreement(ours: dict[str, Any], theirs: dict[str, Any]) -> float:
    """Share of queries whose top-10 (ids and scores) agree; ties at equal scores may
    list sentences in another order, so ids are compared per distinct score."""
    same = 0
    for ids_a, sc_a, ids_b, sc_b in zip(ours["top10"], ours["scores"], theirs["top10"],
                                        theirs["scores"], strict=True):
        pairs_b = [(s, i) for i, s in zip(ids_b, sc_b, strict=True) if s > 0]
        pairs_a = [(s, i) for i, s in zip(ids_a, sc_a, strict=True)]
        if len(pairs_a) != len(pairs_b):
            continue
        if not np.allclose([s for s, _ in pairs_a], [s for s, _ in pairs_b], atol=2e-3):
            continue
        last = pairs_a[-1][0] if pairs_a else None
        above_a = {i for s, i in pairs_a if last is None or s > last + 2e-3}
        above_b = {i for s, i in pairs_b if last is None or s > last + 2e-3}
        same += above_a == above_b
    return same / max(len(ours["top10"]), 1)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="10000,100000,1000000")
    parser.add_argument("--rank-bm25-max", type=int, default=100_000,
                        help="largest size rank-bm25 runs at (it is slow and memory-hungry)")
    parser.add_argument("--worker", nargs=2, metavar=("SYSTEM", "N"), help=argparse.SUPPRESS)
    parser.add_argument("--serve", metavar="DIR", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.serve:
        print(json.dumps(serve_quotebot(Path(args.serve))))
        return
    if args.worker:
        worker(args.worker[0], int(args.worker[1]))
        return
    env = dict(os.environ)
    # Benchmarks measure NumPy at its best: these variables slow current OpenBLAS builds.
    env.pop("OPENBLAS_CORETYPE", None)
    env.pop("OPENBLAS_L2_SIZE", None)
    results: dict[str, Any] = {"machine": machine(), "sizes": {}}
    for n in [int(s) for s in args.sizes.split(",")]:
        row: dict[str, Any] = {}
        for system in SYSTEMS:
            if system == "rank-bm25" and n > args.rank_bm25_max:
                continue
            print(f"{system} at {n:,} sentences …", file=sys.stderr, flush=True)
            done = subprocess.run([sys.executable, __file__, "--worker", system, str(n)],
                                  capture_output=True, text=True, env=env, check=True)
            row[system] = json.loads(done.stdout)
        if "bm25s" in row:
            row["top10_agreement_with_bm25s"] = agreement(row["quotebot"], row["bm25s"])
        for data in row.values():
            if isinstance(data, dict):
                data.pop("top10", None)
                data.pop("scores", None)
        results["sizes"][str(n)] = row
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / "scale.json").write_text(json.dumps(results, indent=2) + "\n")
    print(table(results))
    plot(results)


def machine() -> dict[str, Any]:
    cpu = ""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    mem = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30
    return {"cpus": os.cpu_count(), "cpu": cpu, "memory_gb": round(mem, 1),
            "python": sys.version.split()[0]}


def table(results: dict[str, Any]) -> str:
    lines = ["| sentences | system | build s | size MB | load s | p50 ms | p99 ms | queries/s "
             "(batch) | peak RSS MB serving (building) |", "|---|---|---|---|---|---|---|---|---|"]
    for n, row in results["sizes"].items():
        for system, d in row.items():
            if not isinstance(d, dict):
                continue
            fmt = lambda v, f: "—" if v is None else format(v, f)  # noqa: E731
            lines.append(f"| {int(n):,} | {system} | {fmt(d['build_s'], '.1f')} | "
                         f"{fmt(d['size_mb'], '.0f')} | {fmt(d['load_s'], '.3f')} | "
                         f"{d['p50_ms']:.2f} | {d['p99_ms']:.2f} | {d['qps_batched']:,.0f} | "
                         f"{d['peak_rss_mb']:,.0f}"
                         + (f" ({d['build_rss_mb']:,.0f})" if "build_rss_mb" in d else "")
                         + " |")
    lines.append("")
    lines.append("| sentences | p50 bm25s / quotebot | p50 rank-bm25 / quotebot | top-10 agreement "
                 "with bm25s |")
    lines.append("|---|---|---|---|")
    for n, row in results["sizes"].items():
        q = row["quotebot"]["p50_ms"]
        b = row.get("bm25s", {}).get("p50_ms")
        r = row.get("rank-bm25", {}).get("p50_ms")
        agree = row.get("top10_agreement_with_bm25s")
        lines.append(f"| {int(n):,} | {b / q:.1f}x | " + (f"{r / q:,.0f}x" if r else "—") +
                     f" | {agree:.0%} |" if agree is not None else " | — |")
    return "\n".join(lines)


def plot(results: dict[str, Any]) -> None:
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        print("(matplotlib not installed: no plot)", file=sys.stderr)
        return
    fig, ax = plt.subplots(figsize=(6, 4))
    for system in SYSTEMS:
        xs = [int(n) for n, row in results["sizes"].items() if system in row]
        ys = [results["sizes"][str(n)][system]["p50_ms"] for n in xs]
        if xs:
            ax.loglog(xs, ys, marker="o", label=system)
    ax.set_xlabel("sentences")
    ax.set_ylabel("query latency p50 (ms)")
    ax.set_title("BM25 query latency by corpus size")
    ax.grid(True, which="both", alpha=0.3)
    ax.legend()
    out = HERE.parent / "docs" / "scale.png"
    fig.tight_layout()
    fig.savefig(out, dpi=110)
    print(f"plot: {out}", file=sys.stderr)


if __name__ == "__main__":
    main()
