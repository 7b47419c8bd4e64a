"""A corpus of millions of sentences built as `quotebot index` builds it: a batch of
documents at a time (`quotebot.store.writer.write_index`), in memory that does not grow
with the corpus.

    python benchmarks/bench_big_build.py --work /tmp/big --sizes 1000000,10000000
    python benchmarks/bench_big_build.py --docs   # puts results/big_build.json in the docs

The corpus is news-like text (corpora.write_news) written in parts of a million
sentences, each with its own seed, into ``--work``/news/part-i (parts already there are
kept: the text takes a minute or two a part to write). Each size indexes the first
size/1M parts. The build and the serving each run in a process of their own, so peak
RSS (VmHWM) is that process's. Serving opens the saved index and, for 200 questions made
of words of random sentences (bench_scale.questions), times BM25's top 10 for the
question's own terms (retrieval) and the full answer (words only), one at a time.

Writes benchmarks/results/big_build.json; --docs puts its table into docs/performance.md.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

import bench_scale  # noqa: E402
import corpora  # noqa: E402

RESULTS = HERE / "results"
PART = 1_000_000
DOCS_BEGIN = "<!-- bench_big_build.py: from benchmarks/results/big_build.json -->"
DOCS_END = "<!-- end of bench_big_build.py's figures -->"


def write_parts(n: int, work: Path) -> dict[str, Any]:
    """The first n/1M parts of the corpus, each written unless there already."""
    for i in range(-(-n // PART)):
        part = work / "news" / f"part-{i}"
        if not part.exists():
            tmp = work / "news" / f".writing-{i}"
            shutil.rmtree(tmp, ignore_errors=True)
            corpora.write_news(PART, tmp, seed=corpora.SEED + 100 + i)
            tmp.rename(part)
    return {}


def _documents(n: int, work: Path) -> Iterator[Any]:
    """The documents of the first n/1M parts, read one at a time, as `quotebot index`
    reads a folder of them."""
    from quotebot.corpus import corpus_files, read_document, unique_ids

    root = work / "news"
    parts = {f"part-{i}" for i in range(-(-n // PART))}
    files = [f for f in corpus_files(root) if f.relative_to(root).parts[0] in parts]
    return (read_document(f, doc_id) for f, doc_id in unique_ids(files, root))


def build(n: int, work: Path) -> dict[str, Any]:
    from quotebot.store.writer import write_index

    out = work / f"index-{n}"
    shutil.rmtree(out, ignore_errors=True)
    started = time.perf_counter()
    gen = write_index(_documents(n, work), out)
    build_s = time.perf_counter() - started
    build_cpu_s = bench_scale.cpu_s()
    counts = json.loads((gen / "manifest.json").read_text())["counts"]
    text_mb = sum(p.stat().st_size for p in (work / "news").glob(
        "part-*/*.txt") if int(p.parent.name.split("-")[1]) < -(-n // PART)) / 1e6
    return {"build_s": build_s, "build_cpu_s": build_cpu_s,
            "build_rss_mb": bench_scale.peak_rss_mb(),
            "size_mb": bench_scale.dir_mb(gen), "text_mb": text_mb,
            "parts_mb": bench_scale.index_parts_mb(out), **counts}


def serve(n: int, work: Path) -> dict[str, Any]:
    from quotebot.engine import QuoteEngine
    from quotebot.store import load_index

    started = time.perf_counter()
    engine = QuoteEngine(load_index(work / f"index-{n}"))
    load_s = time.perf_counter() - started
    index = engine.index
    qs = bench_scale.questions(index, bench_scale.N_QUESTIONS + 1)
    query_terms = [[index.term(t) for c in engine.plan(q).concepts for t in c.terms]
                   for q in qs]
    term_ids, matrix = index.term_ids, index.matrix
    retrieval = bench_scale.latencies(
        lambda q: matrix.top_k({term_ids[t]: 1.0 for t in q if t in term_ids}, 10),
        query_terms)
    answer = bench_scale.latencies(engine.answer_question, qs)
    quotes = [quote for q in qs for quote in engine.answer_question(q).quotes]
    slices = sum(quote.text == index.document(quote.doc).text[quote.start:quote.end]
                 for quote in quotes)
    return {"load_s": load_s, "retrieval_p50_ms": retrieval["p50_ms"],
            "retrieval_p99_ms": retrieval["p99_ms"], "answer_p50_ms": answer["p50_ms"],
            "answer_p99_ms": answer["p99_ms"], "quotes": len(quotes),
            "quotes_that_slice_back": slices, "serving_rss_mb": bench_scale.peak_rss_mb()}


WORKERS: dict[str, Callable[[int, Path], dict[str, Any]]] = {
    "write": write_parts, "build": build, "serve": serve}


def run(worker: str, n: int, work: Path) -> dict[str, Any]:
    print(f"  {worker} at {n:,} …", file=sys.stderr, flush=True)
    load = round(os.getloadavg()[0], 2)
    started = time.perf_counter()
    done = subprocess.run([sys.executable, __file__, "--worker", worker, str(n), str(work)],
                          capture_output=True, text=True, env=bench_scale.child_env())
    if done.returncode != 0:
        raise RuntimeError(f"{worker} at {n} failed:\n{done.stderr[-3000:]}")
    result: dict[str, Any] = json.loads(done.stdout)
    result[f"{worker}_process_s"] = round(time.perf_counter() - started, 1)
    result[f"{worker}_load_average"] = load
    return result


def docs_block(results: dict[str, Any]) -> str:
    """What docs/performance.md shows of a run, between its markers."""
    rows = sorted(results["sizes"].values(), key=lambda d: d["sentences"])
    big = rows[-1]
    met = big["sentences"] >= 10_000_000 and big["build_rss_mb"] <= 2000
    lines = ["| target | measured | |", "|---|---|---|",
             f"| 10M sentences of text indexed on this machine, build peak RSS ≤ 2 GB | "
             f"{big['build_rss_mb']:,.0f} MB at {big['sentences']:,} sentences "
             f"({big['build_s'] / 60:,.0f} min, {big['size_mb'] / 1000:,.2f} GB on disk, "
             f"retrieval p50 {big['retrieval_p50_ms']:.3f} ms) | "
             f"{'met' if met else '**not met**'} |", "",
             f"Run of {results['started']} UTC, {results['machine']['cpu']}, "
             f"load average {results['machine']['load_average_at_start'][0]:.1f} at the "
             f"start; {results['wall_s'] / 60:,.0f} min in all.", "",
             "| sentences | documents | text MB | build s | build peak RSS MB | index MB | "
             "index ÷ text | load s | retrieval p50 ms | p99 ms | full answer p50 ms | "
             "p99 ms | quotes that slice back | serving peak RSS MB | load average "
             "(build, serve) |",
             "|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|"]
    for d in rows:
        lines.append(
            f"| {d['sentences']:,} | {d['documents']:,} | {d['text_mb']:,.0f} | "
            f"{d['build_s']:,.0f} | {d['build_rss_mb']:,.0f} | {d['size_mb']:,.0f} | "
            f"{d['size_mb'] / d['text_mb']:.2f}× | {d['load_s']:.2f} | "
            f"{d['retrieval_p50_ms']:.3f} | {d['retrieval_p99_ms']:.2f} | "
            f"{d['answer_p50_ms']:.1f} | {d['answer_p99_ms']:.0f} | "
            f"{d['quotes_that_slice_back']}/{d['quotes']} | {d['serving_rss_mb']:,.0f} | "
            f"{d['build_load_average']:.1f}, {d['serve_load_average']:.1f} |")
    return "\n".join(lines)


def write_docs(results: dict[str, Any]) -> None:
    page_path = bench_scale.DOCS_PAGE
    page = page_path.read_text(encoding="utf-8")
    head, rest = page.split(DOCS_BEGIN, 1)
    _, tail = rest.split(DOCS_END, 1)
    page_path.write_text(f"{head}{DOCS_BEGIN}\n{docs_block(results)}\n{DOCS_END}{tail}",
                         encoding="utf-8")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="1000000,10000000",
                        help="sentence counts (multiples of a million)")
    parser.add_argument("--work", default=None,
                        help="folder for the corpus and the indexes (kept; default: a "
                        "temporary folder)")
    parser.add_argument("--docs", action="store_true",
                        help="only rewrite docs/performance.md's table from the saved "
                        "benchmarks/results/big_build.json")
    parser.add_argument("--worker", nargs=3, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if bench_scale.worker_or_docs(args, WORKERS, write_docs, RESULTS / "big_build.json"):
        return
    work = Path(args.work) if args.work else Path(tempfile_dir())
    work.mkdir(parents=True, exist_ok=True)
    sizes = [int(s) for s in args.sizes.split(",")]
    results: dict[str, Any] = {"machine": bench_scale.machine(),
                               "started": time.strftime("%Y-%m-%d %H:%M"), "sizes": {}}
    wall = time.perf_counter()
    run("write", max(sizes), work)
    RESULTS.mkdir(exist_ok=True)
    for n in sizes:
        row = run("build", n, work)
        row.update(run("serve", n, work))
        results["sizes"][str(n)] = row
        results["wall_s"] = round(time.perf_counter() - wall, 1)
        # Saved after each size: a long run stopped part way keeps the sizes it finished.
        (RESULTS / "big_build.json").write_text(json.dumps(results, indent=2) + "\n")
        print(json.dumps(row), file=sys.stderr, flush=True)
    print(docs_block(results))


def tempfile_dir() -> str:
    import tempfile

    return tempfile.mkdtemp(prefix="bench-big-")


if __name__ == "__main__":
    main()
