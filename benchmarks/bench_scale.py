"""Scale: quotebot vs tantivy, bm25s and rank-bm25 on the same token lists, and quotebot's own
pipeline.

    python benchmarks/bench_scale.py                       # 10k, 100k, 1M sentences (~5 min)
    python benchmarks/bench_scale.py --sizes 10000,100000  # fewer sizes
    python benchmarks/bench_scale.py --rank-bm25-max 100000  # rank-bm25 up to 100k only

Part 1, the same token lists for everyone: a deterministic Zipf corpus (a 50,000-word
vocabulary, 8-30 tokens a sentence, see corpora.py). quotebot builds its BM25 matrix
from the lists (BM25Matrix.from_token_lists) and saves it as a normal saved index;
bm25s (method "lucene", k1=1.5, b=0.75: the same BM25 as quotebot; NumPy backend, one
thread) builds and saves its own; rank-bm25 (BM25Okapi) builds in memory (it has no
saved format) and runs up to --rank-bm25-max sentences; tantivy (tantivy-py, the Rust
search engine) indexes the same tokens joined by spaces and split on whitespace, with
document ids and term frequencies (no positions, no stored text), one writer thread,
and searches with block-max WAND (count=False); its BM25 is k1 1.2 with lengths
quantised to a byte, so its lists are timed but not compared. Every query is a list of 2-4
tokens; each system maps them to its own ids, scores and returns the top 10. The top 10
of quotebot and bm25s are compared query by query.

Part 2, what users wait for: English-like news text (corpora.write_news) indexed as
`quotebot index` does (`write_index`: Punkt sentences, analysis, BM25, a batch of
documents at a time, straight to disk), then opened by a fresh
process that answers questions with the full engine (plan, retrieve, features, rerank,
decide, extract, quote; words only) and, for the same questions' own terms, retrieves
BM25's top 10 alone. bm25s and rank-bm25 index the same sentences' index terms (written
out from the saved index) and retrieve for the same terms: "retrieval" and "full
answer" are labelled apart.

Each build and each serving run is its own process, so peak RSS (VmHWM) is that
process's own, and serving is measured apart from building. Child processes get
OMP/OPENBLAS/MKL_NUM_THREADS=1 (single-threaded figures) and run without
OPENBLAS_CORETYPE and OPENBLAS_L2_SIZE: both are unset together, only for the benchmark
processes (they are set on some of our machines for the test suite's sake).

Prints tables and writes benchmarks/results/scale.json and docs/scale.png (matplotlib).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import re
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

import corpora  # noqa: E402

RESULTS = HERE / "results"
PLOT = HERE.parent / "docs" / "scale.png"
N_QUERIES = 200
N_QUERIES_RANK_BM25 = 20  # it scores every sentence in a Python loop: keep it short
N_QUESTIONS = 200
#: Systems of part 1 run by default (quotebot and bm25s always run: they are compared).
SYSTEMS = ("tantivy", "rank-bm25")


# -- measuring ----------------------------------------------------------------------------------


def cpu_s() -> float:
    """CPU seconds this process and its finished child processes (a build's pool) have
    used, user and system: on a machine shared with other work, a build's wall time
    follows the load, its CPU time much less."""
    used = os.times()
    return used.user + used.system + used.children_user + used.children_system


def children_peak_rss_mb() -> float:
    """The largest peak resident memory of this process's finished children (a build's
    pool), or 0."""
    import resource

    return resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024


def peak_rss_mb() -> float:
    """This process's peak resident memory (VmHWM: ru_maxrss would carry a parent's peak
    over exec)."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    raise RuntimeError("no VmHWM in /proc/self/status")


def dir_mb(path: Path) -> float:
    return sum(p.stat().st_size for p in path.rglob("*") if p.is_file()) / 1e6


def latencies(search: Callable[[Any], Any], qs: list[Any]) -> dict[str, float]:
    """p50/p99 of one query at a time, after one warm-up query; the p50 of the thread's
    CPU time per query, and the share of queries during which the thread was switched out
    for other work (an involuntary context switch): on a machine busy with other work a
    query's wall time is its CPU time plus the waits of those switches."""
    import resource

    search(qs[0])
    times, cpu, switched = [], [], 0
    for q in qs:
        before = resource.getrusage(resource.RUSAGE_THREAD).ru_nivcsw
        started, started_cpu = time.perf_counter(), time.thread_time()
        search(q)
        times.append(time.perf_counter() - started)
        cpu.append(time.thread_time() - started_cpu)
        switched += resource.getrusage(resource.RUSAGE_THREAD).ru_nivcsw > before
    ms = np.array(times) * 1000
    return {"p50_ms": float(np.percentile(ms, 50)), "p99_ms": float(np.percentile(ms, 99)),
            "cpu_p50_ms": float(np.percentile(np.array(cpu) * 1000, 50)),
            "switched": switched / len(qs)}


def top10_json(ids: Any, scores: Any) -> dict[str, list[Any]]:
    return {"ids": [int(i) for i in ids], "scores": [round(float(s), 5) for s in scores]}


# -- part 1: the same token lists --------------------------------------------------------------


def build_quotebot(n: int, work: Path) -> dict[str, Any]:
    from quotebot.bm25 import BM25Matrix

    tokens = corpora.zipf_tokens(n)
    started = time.perf_counter()
    matrix, vocab = BM25Matrix.from_token_lists(tokens)
    matrix_s = time.perf_counter() - started
    _save_matrix(matrix, vocab, work / "quotebot")
    build_s = time.perf_counter() - started
    return {"build_s": build_s, "matrix_s": matrix_s, "size_mb": dir_mb(work / "quotebot"),
            "build_rss_mb": peak_rss_mb()}


def _save_matrix(matrix: Any, vocab: list[str], folder: Path) -> None:
    """The BM25 arrays as a saved index holds them (.npy, memory-mapped when read): the
    compressed postings, each term's largest weight and the sentences' lengths."""
    from quotebot.postings import compact_counts

    folder.mkdir(parents=True)
    arrays = {**matrix.packed.arrays(), "term_max": matrix.max_weights,
              "doc_len": compact_counts(matrix.doc_len)}
    for name, values in arrays.items():
        np.save(folder / f"{name}.npy", values, allow_pickle=False)
    (folder / "vocab.json").write_text(json.dumps(vocab))


def _load_matrix(folder: Path) -> tuple[Any, dict[str, int]]:
    from quotebot.bm25 import BM25Matrix
    from quotebot.postings import PackedPostings

    def load(name: str) -> Any:
        return np.asarray(np.load(folder / f"{name}.npy", mmap_mode="r"))

    vocab = json.loads((folder / "vocab.json").read_text())
    packed = PackedPostings(*(load(name) for name in PackedPostings.FIELDS))
    matrix = BM25Matrix(packed, load("doc_len"), _max=load("term_max"))
    return matrix, {term: i for i, term in enumerate(vocab)}


def serve_quotebot(n: int, work: Path) -> dict[str, Any]:
    started = time.perf_counter()
    matrix, term_ids = _load_matrix(work / "quotebot")
    load_s = time.perf_counter() - started

    def search(q: list[str]) -> Any:
        return matrix.top_k({term_ids[t]: 1.0 for t in q if t in term_ids}, 10)

    qs = corpora.zipf_queries(N_QUERIES)
    stats = latencies(search, qs)
    started = time.perf_counter()
    results = [search(q) for q in qs]
    qps = len(qs) / (time.perf_counter() - started)
    return {"load_s": load_s, **stats, "qps_batched": qps, "peak_rss_mb": peak_rss_mb(),
            "top10": [top10_json(ids, sc) for ids, sc in results]}


def build_bm25s(n: int, work: Path) -> dict[str, Any]:
    import bm25s

    tokens = corpora.zipf_tokens(n)
    started = time.perf_counter()
    retriever = bm25s.BM25(method="lucene", k1=1.5, b=0.75)
    retriever.index(tokens, show_progress=False)
    matrix_s = time.perf_counter() - started
    retriever.save(work / "bm25s", show_progress=False)
    build_s = time.perf_counter() - started
    return {"build_s": build_s, "matrix_s": matrix_s, "size_mb": dir_mb(work / "bm25s"),
            "build_rss_mb": peak_rss_mb()}


def serve_bm25s(n: int, work: Path) -> dict[str, Any]:
    import bm25s

    started = time.perf_counter()
    retriever = bm25s.BM25.load(work / "bm25s", mmap=True, show_progress=False)
    load_s = time.perf_counter() - started
    vocab = retriever.vocab_dict

    def search(q: list[str]) -> Any:
        return retriever.retrieve([[t for t in q if t in vocab]], k=10, show_progress=False,
                                  n_threads=1)

    qs = corpora.zipf_queries(N_QUERIES)
    stats = latencies(search, qs)
    batch = [[t for t in q if t in vocab] for q in qs]
    started = time.perf_counter()
    docs, scores = retriever.retrieve(batch, k=10, show_progress=False, n_threads=1)
    qps = len(qs) / (time.perf_counter() - started)
    return {"load_s": load_s, **stats, "qps_batched": qps, "peak_rss_mb": peak_rss_mb(),
            "top10": [top10_json(d, s) for d, s in zip(docs, scores, strict=True)]}


def build_tantivy(n: int, work: Path) -> dict[str, Any]:
    """tantivy (tantivy-py): one text field, split on whitespace (the tokens as they are),
    document ids and term frequencies only (no positions, nothing stored), one writer
    thread, merged into one segment."""
    import tantivy

    tokens = corpora.zipf_tokens(n)
    started = time.perf_counter()
    schema = _tantivy_schema()
    (work / "tantivy").mkdir()
    index = tantivy.Index(schema, path=str(work / "tantivy"))
    writer = index.writer(heap_size=TANTIVY_HEAP, num_threads=1)
    for sentence in tokens:
        writer.add_document(tantivy.Document(body=" ".join(sentence)))
    writer.commit()
    writer.wait_merging_threads()
    build_s = time.perf_counter() - started
    return {"build_s": build_s, "matrix_s": build_s, "size_mb": dir_mb(work / "tantivy"),
            "build_rss_mb": peak_rss_mb()}


#: The writer's memory budget (tantivy's default); segments are written as it fills.
TANTIVY_HEAP = 128_000_000
#: Processes of quotebot's build of the news text, and threads of tantivy's writer for the
#: same terms: one per core, each.
BUILD_JOBS = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (
    os.cpu_count() or 1)


def _tantivy_schema() -> Any:
    import tantivy

    builder = tantivy.SchemaBuilder()
    builder.add_text_field("body", stored=False, tokenizer_name="whitespace",
                           index_option="freq")
    return builder.build()


def serve_tantivy(n: int, work: Path) -> dict[str, Any]:
    """tantivy's top 10 by its BM25 (k1 1.2, b 0.75, document lengths quantised to a byte:
    not the same scores as the others, so its lists are not compared); ``count=False``
    lets it skip blocks (block-max WAND) instead of counting every match."""
    import tantivy

    started = time.perf_counter()
    index = tantivy.Index(_tantivy_schema(), path=str(work / "tantivy"))
    index.reload()
    searcher = index.searcher()
    load_s = time.perf_counter() - started
    schema = _tantivy_schema()
    occur = tantivy.Occur.Should

    def search(q: list[str]) -> Any:
        query = tantivy.Query.boolean_query(
            [(occur, tantivy.Query.term_query(schema, "body", t, index_option="freq"))
             for t in q])
        return searcher.search(query, 10, count=False).hits

    qs = corpora.zipf_queries(N_QUERIES)
    stats = latencies(search, qs)
    started = time.perf_counter()
    for q in qs:
        search(q)
    qps = len(qs) / (time.perf_counter() - started)
    return {"load_s": load_s, **stats, "qps_batched": qps, "peak_rss_mb": peak_rss_mb(),
            "segments": searcher.num_segments}


def build_and_serve_rank_bm25(n: int, work: Path) -> dict[str, Any]:
    from rank_bm25 import BM25Okapi

    tokens = corpora.zipf_tokens(n)
    started = time.perf_counter()
    oracle = BM25Okapi(tokens, k1=1.5, b=0.75)
    build_s = time.perf_counter() - started
    del tokens

    def search(q: list[str]) -> Any:
        scores = oracle.get_scores(q)
        return np.argpartition(-scores, 10)[:10]

    qs = corpora.zipf_queries(N_QUERIES)[:N_QUERIES_RANK_BM25]
    stats = latencies(search, qs)
    return {"build_s": build_s, "matrix_s": build_s, "size_mb": None, "load_s": None,
            **stats, "qps_batched": 1000 / stats["p50_ms"], "peak_rss_mb": peak_rss_mb(),
            "build_rss_mb": None}


# -- part 2: quotebot's pipeline on text --------------------------------------------------------


def write_news(n: int, work: Path) -> dict[str, Any]:
    # Its own process: the generator's memory is not the build's.
    corpora.write_news(n, work / "news")
    return {}


def build_news(n: int, work: Path) -> dict[str, Any]:
    from quotebot.corpus import iter_corpus
    from quotebot.store import load_index
    from quotebot.store.writer import write_index

    started = time.perf_counter()
    load_before = os.getloadavg()[0]
    # As `quotebot index` builds: a batch of documents at a time, straight to disk, split
    # and analysed in one process per core.
    write_index(iter_corpus(work / "news"), work / "news-index", jobs=BUILD_JOBS)
    build_s = time.perf_counter() - started
    build_cpu_s = cpu_s()
    build_load = [round(load_before, 2), round(os.getloadavg()[0], 2)]
    index = load_index(work / "news-index")
    return {"build_s": build_s, "build_cpu_s": build_cpu_s, "build_jobs": BUILD_JOBS,
            "build_load": build_load, "build_pool_rss_mb": children_peak_rss_mb(),
            "documents": len(index.docs),
            "sentences": index.n_sentences,
            "terms": len(index.vocab), "size_mb": dir_mb(work / "news-index"),
            "text_mb": dir_mb(work / "news"), "build_rss_mb": peak_rss_mb(),
            "tokens": index.tokens.n_tokens,
            "postings": index.matrix.n_postings,
            "paragraph_postings": index.paragraphs.n_postings,
            "parts_mb": index_parts_mb(work / "news-index")}


#: The parts of a saved index, by the files that hold them (prefixes of their names).
INDEX_PARTS = {
    "text": ("texts.bin", "text_"),
    "sentence table": ("doc_idx", "paragraph.", "sentence_no", "start.", "end.", "doc_len",
                       "docs.json", "manifest.json"),
    "sentence postings": ("terms.", "first", "block_max", "ids16", "ids32", "tf4", "tf16",
                          "term_max"),
    "paragraph postings": ("para_",),
    "vocabulary": ("vocab",),
    "token table": ("tok_",),
    "word forms": ("forms", "form_", "term_forms"),
    "words": ("words", "word_count", "delete_"),
}


def index_parts_mb(folder: Path) -> dict[str, float]:
    """MB on disk of each part of the saved index's current generation."""
    gen = folder / (folder / "CURRENT").read_text().strip()
    out = dict.fromkeys(INDEX_PARTS, 0.0)
    for path in gen.iterdir():
        part = next((name for name, prefixes in INDEX_PARTS.items()
                     if path.name.startswith(prefixes)), "other")
        out[part] = out.get(part, 0.0) + path.stat().st_size / 1e6
    return out


def questions(index: Any, n: int) -> list[str]:
    """Questions made of words of random sentences of the corpus, deterministic."""
    rng = np.random.default_rng(corpora.SEED + 2)
    forms = ("how many {} {}?", "who {} the {}?", "when did {} {} {}?",
             "what is the {} of {}?", "where did the {} {}?")
    out: list[str] = []
    while len(out) < n:
        sid = int(rng.integers(0, index.n_sentences))
        words = [w for w in re.findall(r"[A-Za-z]+", index.sentence(sid).text) if len(w) > 3]
        if len(words) < 3:
            continue
        form = forms[len(out) % len(forms)]
        out.append(form.format(*rng.choice(words, size=3, replace=False).tolist()))
    return out


def news_tokens(n: int, work: Path) -> dict[str, Any]:
    """Every sentence's index terms and every question's own terms, from quotebot's saved
    index and query plans: what the other libraries index and search, so that all three
    score the same sentences for the same words."""
    from quotebot.engine import QuoteEngine
    from quotebot.store import load_index

    engine = QuoteEngine(load_index(work / "news-index"))
    index = engine.index
    forms = index.forms
    terms_of = [[index.term(int(t)) for t in forms.terms[int(forms.terms_ptr[f]):
                                                          int(forms.terms_ptr[f + 1])]]
                for f in range(len(forms.strings))]
    ptr, form = index.tokens.ptr, index.tokens.form
    with open(work / "news-tokens.txt", "w", encoding="utf-8") as out:
        for sid in range(index.n_sentences):
            out.write(" ".join(t for f in form[int(ptr[sid]):int(ptr[sid + 1])].tolist()
                               for t in terms_of[f]) + "\n")
    qs = questions(index, N_QUESTIONS + 1)
    query_terms = [[index.term(t) for c in engine.plan(q).concepts for t in c.terms]
                   for q in qs]
    (work / "news-questions.json").write_text(json.dumps({"questions": qs,
                                                          "terms": query_terms}))
    return {}


def _news_token_lists(work: Path) -> list[list[str]]:
    with open(work / "news-tokens.txt", encoding="utf-8") as fh:
        return [line.split() for line in fh]


def _news_queries(work: Path) -> tuple[list[str], list[list[str]]]:
    data = json.loads((work / "news-questions.json").read_text())
    return data["questions"], data["terms"]


def serve_news(n: int, work: Path) -> dict[str, Any]:
    """quotebot on the saved index: the full answer (plan, retrieve, rerank, decide,
    extract, quote; words only), and retrieval alone (BM25's top 10 for the question's
    own terms), for the same questions."""
    from quotebot.engine import QuoteEngine
    from quotebot.store import load_index

    started = time.perf_counter()
    engine = QuoteEngine(load_index(work / "news-index"))
    load_s = time.perf_counter() - started
    qs, query_terms = _news_queries(work)
    term_ids, matrix = engine.index.term_ids, engine.index.matrix
    retrieval = latencies(lambda q: matrix.top_k({term_ids[t]: 1.0 for t in q
                                                  if t in term_ids}, 10), query_terms)
    stats = latencies(engine.answer_question, qs)
    engine._answers.clear()  # the same questions again, not from the answer cache
    warm = latencies(engine.answer_question, qs)
    answered = sum(engine.answer_question(q).answered for q in qs)
    return {"load_s": load_s, **stats, "warm_p50_ms": warm["p50_ms"],
            "warm_p99_ms": warm["p99_ms"], "warm_cpu_p50_ms": warm["cpu_p50_ms"],
            "retrieval_p50_ms": retrieval["p50_ms"],
            "retrieval_p99_ms": retrieval["p99_ms"],
            "retrieval_cpu_p50_ms": retrieval["cpu_p50_ms"], "answered": answered / len(qs),
            "peak_rss_mb": peak_rss_mb()}


def news_bm25s(n: int, work: Path) -> dict[str, Any]:
    """bm25s (lucene, k1 1.5, b 0.75, NumPy, one thread) over the same sentences' terms:
    retrieval of the top 10 for the same questions' terms."""
    import bm25s

    retriever = bm25s.BM25(method="lucene", k1=1.5, b=0.75)
    retriever.index(_news_token_lists(work), show_progress=False)
    vocab = retriever.vocab_dict
    _, query_terms = _news_queries(work)
    stats = latencies(lambda q: retriever.retrieve([[t for t in q if t in vocab] or ["the"]],
                                                   k=10, show_progress=False, n_threads=1),
                      query_terms)
    return {"bm25s_p50_ms": stats["p50_ms"], "bm25s_p99_ms": stats["p99_ms"]}


def news_tantivy(n: int, work: Path) -> dict[str, Any]:
    """tantivy over the same sentences' terms (one document a sentence, as in part 1):
    build time and memory, index size, and retrieval of the top 10 for the same terms."""
    import tantivy

    started = time.perf_counter()
    load_before = os.getloadavg()[0]
    (work / "news-tantivy").mkdir()
    index = tantivy.Index(_tantivy_schema(), path=str(work / "news-tantivy"))
    # As many indexing threads as quotebot's build has processes.
    writer = index.writer(heap_size=TANTIVY_HEAP, num_threads=BUILD_JOBS)
    with open(work / "news-tokens.txt", encoding="utf-8") as fh:
        for line in fh:
            writer.add_document(tantivy.Document(body=line.rstrip("\n")))
    writer.commit()
    writer.wait_merging_threads()
    build_s = time.perf_counter() - started
    build_cpu_s = cpu_s()
    build_load = [round(load_before, 2), round(os.getloadavg()[0], 2)]
    index.reload()
    searcher = index.searcher()
    schema = _tantivy_schema()
    _, query_terms = _news_queries(work)

    def search(q: list[str]) -> Any:
        query = tantivy.Query.boolean_query(
            [(tantivy.Occur.Should, tantivy.Query.term_query(schema, "body", t,
                                                             index_option="freq"))
             for t in q])
        return searcher.search(query, 10, count=False).hits

    stats = latencies(search, [q for q in query_terms if q])
    return {"tantivy_p50_ms": stats["p50_ms"], "tantivy_p99_ms": stats["p99_ms"],
            "tantivy_cpu_p50_ms": stats["cpu_p50_ms"], "tantivy_switched": stats["switched"],
            "tantivy_build_s": build_s, "tantivy_build_cpu_s": build_cpu_s,
            "tantivy_build_threads": BUILD_JOBS, "tantivy_build_load": build_load,
            "tantivy_size_mb": dir_mb(work / "news-tantivy"),
            "tantivy_build_rss_mb": peak_rss_mb()}


def news_rank_bm25(n: int, work: Path) -> dict[str, Any]:
    from rank_bm25 import BM25Okapi

    oracle = BM25Okapi(_news_token_lists(work), k1=1.5, b=0.75)
    _, query_terms = _news_queries(work)

    def search(q: list[str]) -> Any:
        scores = oracle.get_scores(q)
        return np.argpartition(-scores, 10)[:10]

    stats = latencies(search, query_terms[:N_QUERIES_RANK_BM25])
    return {"rank_bm25_p50_ms": stats["p50_ms"], "rank_bm25_p99_ms": stats["p99_ms"]}


WORKERS: dict[str, Callable[[int, Path], dict[str, Any]]] = {
    "quotebot.build": build_quotebot, "quotebot.serve": serve_quotebot,
    "bm25s.build": build_bm25s, "bm25s.serve": serve_bm25s,
    "tantivy.build": build_tantivy, "tantivy.serve": serve_tantivy,
    "rank-bm25.build": build_and_serve_rank_bm25,
    "news.write": write_news, "news.build": build_news, "news.tokens": news_tokens,
    "news.serve": serve_news, "news.bm25s": news_bm25s, "news.tantivy": news_tantivy,
    "news.rank-bm25": news_rank_bm25,
}


# -- running ------------------------------------------------------------------------------------


def worker_or_docs(args: argparse.Namespace,
                   workers: dict[str, Callable[[int, Path], dict[str, Any]]],
                   write_docs: Callable[[dict[str, Any]], None], results: Path) -> bool:
    """Do what ``--worker NAME N WORK`` (one measurement, printed as JSON for the parent
    process) or ``--docs`` (the docs' figures rewritten from ``results``) asks; whether
    either was asked."""
    if args.worker:
        name, n, work = args.worker
        print(json.dumps(workers[name](int(n), Path(work))))
        return True
    if args.docs:
        write_docs(json.loads(results.read_text()))
        return True
    return False


def child_env() -> dict[str, str]:
    env = dict(os.environ)
    # Unset together, for benchmark processes only (see the module docstring).
    env.pop("OPENBLAS_CORETYPE", None)
    env.pop("OPENBLAS_L2_SIZE", None)
    for var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
        env[var] = "1"
    return env


def run(worker: str, n: int, work: Path) -> dict[str, Any]:
    print(f"  {worker} at {n:,} …", file=sys.stderr, flush=True)
    # Other work on the machine slows every system alike; each run records the load it met.
    load = round(os.getloadavg()[0], 2)
    started = time.perf_counter()
    done = subprocess.run([sys.executable, __file__, "--worker", worker, str(n), str(work)],
                          capture_output=True, text=True, env=child_env())
    if done.returncode != 0:
        raise RuntimeError(f"{worker} at {n} failed:\n{done.stderr[-3000:]}")
    result: dict[str, Any] = json.loads(done.stdout)
    result["process_s"] = time.perf_counter() - started
    result.setdefault("load_average", load)
    return result


def median_round(rounds: list[dict[str, Any]]) -> dict[str, Any]:
    """Each figure's median over the rounds (the first round's other values), with every
    round's p50 kept as ``p50_rounds_ms``."""
    out = dict(rounds[0])
    for key, value in rounds[0].items():
        if isinstance(value, float):
            out[key] = float(np.median([r[key] for r in rounds]))
    out["p50_rounds_ms"] = [r["p50_ms"] for r in rounds]
    out["load_average_rounds"] = [r["load_average"] for r in rounds]
    return out


def agreement(ours: list[dict[str, Any]], theirs: list[dict[str, Any]]) -> dict[str, Any]:
    """Queries whose top 10 agree: the same scores (to 1e-4) and the same sentences above
    the 10th score (sentences tied with the 10th may differ: both lists are right; ties
    are common in short sentences, and quotebot lists them by sentence id)."""
    same = 0
    for a, b in zip(ours, theirs, strict=True):
        b_pairs = [(i, s) for i, s in zip(b["ids"], b["scores"], strict=True) if s > 0]
        a_pairs = list(zip(a["ids"], a["scores"], strict=True))
        if len(a_pairs) != len(b_pairs) or not np.allclose(
                [s for _, s in a_pairs], [s for _, s in b_pairs], atol=1e-4, rtol=0):
            continue
        last = a_pairs[-1][1] if a_pairs else 0.0
        same += ({i for i, s in a_pairs if s > last + 1e-4}
                 == {i for i, s in b_pairs if s > last + 1e-4})
    return {"queries": len(ours), "agree": same, "share": same / max(len(ours), 1)}


def machine() -> dict[str, Any]:
    cpu = next((line.split(":", 1)[1].strip() for line in
                Path("/proc/cpuinfo").read_text().splitlines()
                if line.startswith("model name")), platform.processor())
    mem_gb = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30
    versions = {}
    for name in ("numpy", "scipy", "nltk", "bm25s", "rank_bm25", "tantivy"):
        try:
            from importlib.metadata import version

            versions[name] = version(name.replace("_", "-"))
        except Exception:
            pass
    # Other work on the machine slows every system alike; the ratios are the point.
    return {"cpus": os.cpu_count(), "cpu": cpu, "memory_gb": round(mem_gb, 1),
            "python": platform.python_version(), "versions": versions,
            "load_average_at_start": [round(x, 2) for x in os.getloadavg()]}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="10000,100000,1000000",
                        help="sentence counts for part 1 (token lists)")
    parser.add_argument("--text-sizes", default=None,
                        help="sentence counts for part 2 (news text; default: --sizes)")
    parser.add_argument("--rank-bm25-max", type=int, default=1_000_000,
                        help="largest size rank-bm25 runs at (a Python loop per sentence)")
    parser.add_argument("--systems", default=",".join(SYSTEMS),
                        help=f"peers of part 1 besides quotebot and bm25s (default: "
                        f"{','.join(SYSTEMS)})")
    parser.add_argument("--rounds", type=int, default=3,
                        help="serving rounds of part 1, systems taking turns (median kept)")
    parser.add_argument("--out", default="scale.json",
                        help="file name of the results in benchmarks/results/")
    parser.add_argument("--no-plot", action="store_true")
    parser.add_argument("--docs", action="store_true",
                        help="only rewrite docs/performance.md's figures from the saved "
                        "benchmarks/results/scale.json")
    parser.add_argument("--worker", nargs=3, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if worker_or_docs(args, WORKERS, write_docs, RESULTS / "scale.json"):
        return

    systems = {"quotebot", "bm25s", *args.systems.split(",")}
    sizes = [int(s) for s in args.sizes.split(",")]
    text = args.sizes if args.text_sizes is None else args.text_sizes
    text_sizes = [int(s) for s in text.split(",") if s]
    results: dict[str, Any] = {"machine": machine(), "started": time.strftime("%Y-%m-%d %H:%M"),
                               "tokens": {}, "text": {}}
    wall = time.perf_counter()
    for n in sizes:
        print(f"token lists, {n:,} sentences", file=sys.stderr)
        row: dict[str, Any] = {}
        with tempfile.TemporaryDirectory(prefix="bench-scale-") as tmp:
            work = Path(tmp)
            served = [s for s in ("quotebot", "tantivy", "bm25s") if s in systems]
            for system in served:
                row[system] = run(f"{system}.build", n, work)
            # Serving in turns, round after round: a burst of other work on the machine
            # falls on one round of every system, and the median round is kept.
            rounds: dict[str, list[dict[str, Any]]] = {s: [] for s in served}
            for _ in range(args.rounds):
                for system in served:
                    rounds[system].append(run(f"{system}.serve", n, work))
            for system in served:
                row[system].update(median_round(rounds[system]))
            if n <= args.rank_bm25_max and "rank-bm25" in systems:
                row["rank-bm25"] = run("rank-bm25.build", n, work)
        row["agreement"] = agreement(row["quotebot"].pop("top10"), row["bm25s"].pop("top10"))
        results["tokens"][str(n)] = row
    for n in text_sizes:
        print(f"news text, {n:,} sentences", file=sys.stderr)
        with tempfile.TemporaryDirectory(prefix="bench-news-") as tmp:
            run("news.write", n, Path(tmp))
            row = run("news.build", n, Path(tmp))
            run("news.tokens", n, Path(tmp))
            row.update(run("news.serve", n, Path(tmp)))
            row.update(run("news.bm25s", n, Path(tmp)))
            if "tantivy" in systems:
                row.update(run("news.tantivy", n, Path(tmp)))
            if n <= args.rank_bm25_max:
                row.update(run("news.rank-bm25", n, Path(tmp)))
        results["text"][str(n)] = row
    results["wall_s"] = time.perf_counter() - wall
    results["rounds"] = args.rounds
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / args.out).write_text(json.dumps(results, indent=2) + "\n")
    print(tables(results))
    if not args.no_plot:
        plot(results)


# -- reporting ----------------------------------------------------------------------------------


def _f(value: float | None, fmt: str) -> str:
    return "—" if value is None else format(value, fmt)


def _span(loads: list[float] | None) -> str:
    """A load average at the start and the end of a step, as "start → end"."""
    return "—" if not loads else f"{loads[0]:.1f} → {loads[-1]:.1f}"


def _loads(results: dict[str, Any]) -> list[float]:
    """Every recorded one-minute load average of the run."""
    found: list[float] = []

    def walk(value: Any) -> None:
        if isinstance(value, dict):
            for key, item in value.items():
                if key == "load_average" and isinstance(item, (int, float)):
                    found.append(float(item))
                else:
                    walk(item)

    walk(results["tokens"])
    walk(results["text"])
    return found


def tables(results: dict[str, Any]) -> str:
    """The run's tables in Markdown (docs/performance.md holds them as printed)."""
    m = results["machine"]
    versions = ", ".join(f"{k.replace('_', '-')} {v}" for k, v in m["versions"].items())
    loads = _loads(results)
    lines = [f"Run of {results['started']} UTC: {m['cpus']} CPUs ({m['cpu']}), "
             f"{m['memory_gb']} GB, Python {m['python']}, {versions}. One-minute load "
             f"average {m['load_average_at_start'][0]:.1f} at the start"
             + (f", {min(loads):.1f}–{max(loads):.1f} at the starts of its "
                f"{len(loads)} processes" if loads else "")
             + f" (the machine has {m['cpus']} cores); the whole run took "
             f"{results['wall_s'] / 60:.1f} min.",
             "", "**Part 1: the same token lists** (serving: the median of "
             f"{results.get('rounds', 1)} rounds, systems taking turns)",
             "", "| sentences | system | build s | size on disk MB | load s | query p50 ms | "
             "query p99 ms | queries/s (batch) | peak RSS MB serving | peak RSS MB building |",
             "|---:|---|---:|---:|---:|---:|---:|---:|---:|---:|"]
    for n, row in results["tokens"].items():
        for system in ("quotebot", "tantivy", "bm25s", "rank-bm25"):
            if system not in row:
                continue
            d = row[system]
            lines.append(
                f"| {int(n):,} | {system} | {d['build_s']:.2f} | {_f(d['size_mb'], '.0f')} | "
                f"{_f(d['load_s'], '.3f')} | {d['p50_ms']:.3f} | {d['p99_ms']:.3f} | "
                f"{d['qps_batched']:,.0f} | {d['peak_rss_mb']:,.0f} | "
                f"{_f(d['build_rss_mb'], ',.0f')} |")
    if any("tantivy" in row for row in results["tokens"].values()):
        lines += ["", "quotebot ÷ tantivy (below 1: quotebot takes less)", "",
                  "| sentences | query p50 | build s | peak RSS building | size on disk | "
                  "peak RSS serving |", "|---:|---:|---:|---:|---:|---:|"]
        for n, row in results["tokens"].items():
            if "tantivy" not in row:
                continue
            r = tantivy_ratios(row)
            lines.append(f"| {int(n):,} | {r['p50_ms']:.2f}× | {r['build_s']:.2f}× | "
                         f"{r['build_rss_mb']:.2f}× | {r['size_mb']:.2f}× | "
                         f"{r['peak_rss_mb']:.2f}× |")
    lines += ["", "| sentences | p50 bm25s ÷ quotebot | p50 rank-bm25 ÷ quotebot | "
              "batch q/s quotebot ÷ bm25s | build bm25s ÷ quotebot | top-10 agreement with "
              "bm25s |", "|---:|---:|---:|---:|---:|---|"]
    for n, row in results["tokens"].items():
        q, b = row["quotebot"], row["bm25s"]
        r = row.get("rank-bm25")
        a = row["agreement"]
        lines.append(
            f"| {int(n):,} | {b['p50_ms'] / q['p50_ms']:,.0f}× | "
            + (f"{r['p50_ms'] / q['p50_ms']:,.0f}×" if r else "not run")
            + f" | {q['qps_batched'] / b['qps_batched']:,.0f}× | "
            f"{b['build_s'] / q['build_s']:.1f}× | {a['agree']}/{a['queries']} "
            f"({a['share']:.0%}) |")
    if results["text"]:
        lines += _text_tables(results["text"])
    return "\n".join(lines)


def targets(results: dict[str, Any]) -> str:
    """The index's targets at the largest size of the run, each with its figures."""
    rows: list[tuple[str, str, bool]] = []
    tokens = results["tokens"]
    n, row = max(tokens.items(), key=lambda item: int(item[0]))
    q = row["quotebot"]
    if "tantivy" in row:
        t = row["tantivy"]
        size = f"{int(n):,} sentences, token lists"
        rows += [
            (f"retrieval p50 ≤ tantivy's ({size})",
             f"{q['p50_ms']:.3f} ms vs {t['p50_ms']:.3f} ms: **{q['p50_ms'] / t['p50_ms']:.2f}×**",
             q["p50_ms"] <= t["p50_ms"]),
            (f"build time ≤ tantivy's ({size})",
             f"{q['build_s']:.1f} s vs {t['build_s']:.1f} s: "
             f"**{q['build_s'] / t['build_s']:.2f}×**",
             q["build_s"] <= t["build_s"]),
            (f"postings on disk ≤ 2× tantivy's index ({size})",
             f"{q['size_mb']:.0f} MB vs {t['size_mb']:.0f} MB: "
             f"**{q['size_mb'] / t['size_mb']:.1f}×**", q["size_mb"] <= 2 * t["size_mb"]),
            (f"build peak RSS ≤ 1 GB ({size}, the benchmark's token lists included)",
             f"{q['build_rss_mb']:,.0f} MB", q["build_rss_mb"] <= 1000)]
    agree = [r["agreement"] for r in tokens.values()]
    rows.append(("top-10 agreement with bm25s = 100%",
                 " and ".join(f"{a['agree']}/{a['queries']}" for a in agree)
                 + f" at {', '.join(f'{int(k):,}' for k in tokens)} sentences",
                 all(a["agree"] == a["queries"] for a in agree)))
    if results["text"]:
        d = max(results["text"].values(), key=lambda d: d["sentences"])
        size = f"{d['sentences']:,} sentences of news text"
        if "tantivy_p50_ms" in d:
            rows.append((f"retrieval p50 ≤ tantivy's ({size})",
                         f"{d['retrieval_p50_ms']:.3f} ms vs {d['tantivy_p50_ms']:.3f} ms: "
                         f"**{d['retrieval_p50_ms'] / d['tantivy_p50_ms']:.2f}×**",
                         d["retrieval_p50_ms"] <= d["tantivy_p50_ms"]))
            cpu = ""
            if "tantivy_cpu_p50_ms" in d:
                cpu = (f"; thread CPU {d['cpu_p50_ms']:.2f} ms vs {d['tantivy_cpu_p50_ms']:.3f}"
                       f" ms: **{d['cpu_p50_ms'] / d['tantivy_cpu_p50_ms']:.2f}×**; switched "
                       f"out for other work during {d['switched']:.0%} of answers and "
                       f"{d['tantivy_switched']:.0%} of tantivy's queries")
            rows.append((f"full answer p50 ≤ 3× tantivy's retrieval p50 ({size})",
                         f"{d['p50_ms']:.2f} ms vs {d['tantivy_p50_ms']:.3f} ms: "
                         f"**{d['p50_ms'] / d['tantivy_p50_ms']:.2f}×**{cpu}",
                         d["p50_ms"] <= 3 * d["tantivy_p50_ms"]))
            if "tantivy_build_cpu_s" in d and "build_cpu_s" in d:
                rows.append((
                    f"build time ≤ tantivy's ({size}; quotebot from the text, tantivy from "
                    f"the terms)",
                    f"wall {d['build_s']:.1f} s vs {d['tantivy_build_s']:.1f} s: "
                    f"**{d['build_s'] / d['tantivy_build_s']:.1f}×**; CPU "
                    f"{d['build_cpu_s']:.1f} s vs {d['tantivy_build_cpu_s']:.1f} s: "
                    f"**{d['build_cpu_s'] / d['tantivy_build_cpu_s']:.1f}×**",
                    d["build_s"] <= d["tantivy_build_s"]))
            postings = d["parts_mb"]["sentence postings"]
            rows.append((f"postings on disk ≤ 2× tantivy's index of the same terms ({size})",
                         f"{postings:.0f} MB vs {d['tantivy_size_mb']:.0f} MB: "
                         f"**{postings / d['tantivy_size_mb']:.1f}×**",
                         postings <= 2 * d["tantivy_size_mb"]))
        rows += [
            (f"build peak RSS ≤ 1 GB ({size})", f"{d['build_rss_mb']:,.0f} MB",
             d["build_rss_mb"] <= 1000),
            (f"whole index ≤ 2× its text ({size})",
             f"{d['size_mb']:.0f} MB for {d['text_mb']:.0f} MB: "
             f"**{d['size_mb'] / d['text_mb']:.1f}×**", d["size_mb"] <= 2 * d["text_mb"])]
    lines = ["| target | measured | |", "|---|---|---|"]
    lines += [f"| {what} | {figures} | {'met' if met else '**not met**'} |"
              for what, figures, met in rows]
    return "\n".join(lines)


def docs_block(results: dict[str, Any]) -> str:
    """What docs/performance.md shows of a run, between its markers."""
    return f"{targets(results)}\n\n{tables(results)}"


DOCS_PAGE = HERE.parent / "docs" / "performance.md"
DOCS_BEGIN = "<!-- bench_scale.py: from benchmarks/results/scale.json -->"
DOCS_END = "<!-- end of bench_scale.py's figures -->"


def write_docs(results: dict[str, Any]) -> None:
    """Put the run's figures into docs/performance.md, between the markers."""
    page = DOCS_PAGE.read_text(encoding="utf-8")
    head, rest = page.split(DOCS_BEGIN, 1)
    _, tail = rest.split(DOCS_END, 1)
    DOCS_PAGE.write_text(f"{head}{DOCS_BEGIN}\n{docs_block(results)}\n{DOCS_END}{tail}",
                         encoding="utf-8")


def _text_tables(text: dict[str, Any]) -> list[str]:
    lines = ["", "**Part 2: news-like text** (quotebot's full answer, words only, next to "
             "retrieval alone by quotebot, tantivy, bm25s and rank-bm25 on the same "
             "sentences' terms and the same query terms)",
             "", "| sentences | documents | terms | build s | build peak RSS MB | index MB | "
             "text MB | load s | retrieval p50 ms: quotebot | tantivy | bm25s | rank-bm25 | "
             "full answer p50 ms | p99 ms | full answer ÷ tantivy retrieval (p50) | answered | "
             "peak RSS MB serving |",
             "|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|"
             "---:|---:|"]
    for d in text.values():
        tantivy = d.get("tantivy_p50_ms")
        lines.append(
            f"| {d['sentences']:,} | {d['documents']:,} | {d['terms']:,} | "
            f"{d['build_s']:.1f} | {d['build_rss_mb']:,.0f} | {d['size_mb']:.0f} | "
            f"{d['text_mb']:.0f} | {d['load_s']:.3f} | {d['retrieval_p50_ms']:.3f} | "
            f"{_f(tantivy, '.3f')} | {d['bm25s_p50_ms']:.2f} | "
            f"{_f(d.get('rank_bm25_p50_ms'), ',.1f')} | {d['p50_ms']:.2f} | "
            f"{d['p99_ms']:.1f} | "
            + (f"{d['p50_ms'] / tantivy:.1f}×" if tantivy else "—")
            + f" | {d['answered']:.0%} | {d['peak_rss_mb']:,.0f} |")
    with_tantivy = [d for d in text.values() if "tantivy_build_s" in d]
    if with_tantivy:
        lines += ["", "| sentences | build s: quotebot (text to index) | tantivy (terms to "
                  "postings) | build CPU s: quotebot | tantivy | processes: quotebot | threads: "
                  "tantivy | load average: quotebot's build | tantivy's | build peak RSS MB: "
                  "quotebot | its pool's largest process | tantivy | quotebot's postings MB "
                  "(sentences) | tantivy's index MB | postings ÷ tantivy |",
                  "|---:|---:|---:|---:|---:|---:|---:|---|---|---:|---:|---:|---:|---:|---:|"]
        for d in with_tantivy:
            postings = d["parts_mb"]["sentence postings"]
            lines.append(
                f"| {d['sentences']:,} | {d['build_s']:.1f} | {d['tantivy_build_s']:.1f} | "
                f"{_f(d.get('build_cpu_s'), '.1f')} | "
                f"{_f(d.get('tantivy_build_cpu_s'), '.1f')} | {d.get('build_jobs', 1)} | "
                f"{d.get('tantivy_build_threads', 1)} | {_span(d.get('build_load'))} | "
                f"{_span(d.get('tantivy_build_load'))} | "
                f"{d['build_rss_mb']:,.0f} | {_f(d.get('build_pool_rss_mb'), ',.0f')} | "
                f"{d['tantivy_build_rss_mb']:,.0f} | "
                f"{postings:.0f} | {d['tantivy_size_mb']:.0f} | "
                f"{postings / d['tantivy_size_mb']:.1f}× |")
    largest = max(text.values(), key=lambda d: d["sentences"])
    if "parts_mb" in largest:
        per = 1e6 / largest["sentences"]
        lines += ["", f"What a saved index holds, per million sentences (from the "
                  f"{largest['sentences']:,}-sentence index: {largest['tokens']:,} tokens, "
                  f"{largest['postings']:,} sentence postings, "
                  f"{largest['paragraph_postings']:,} paragraph postings)", "",
                  "| part | MB per million sentences | bytes per sentence | share |",
                  "|---|---:|---:|---:|"]
        total = sum(largest["parts_mb"].values())
        for part, mb in largest["parts_mb"].items():
            lines.append(f"| {part} | {mb * per:,.0f} | {mb * 1e6 / largest['sentences']:,.0f} "
                         f"| {mb / total:.0%} |")
        lines.append(f"| whole index | {total * per:,.0f} | "
                     f"{total * 1e6 / largest['sentences']:,.0f} | 100% |")
    return lines


RATIO_KEYS = ("p50_ms", "build_s", "build_rss_mb", "size_mb", "peak_rss_mb")


def tantivy_ratios(row: dict[str, Any]) -> dict[str, float]:
    """quotebot's figure ÷ tantivy's, for each of :data:`RATIO_KEYS`."""
    return {key: row["quotebot"][key] / row["tantivy"][key] for key in RATIO_KEYS}


def plot(results: dict[str, Any]) -> None:
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        print("(matplotlib is not installed: no plot; pip install -e '.[bench]')",
              file=sys.stderr)
        return
    fig, (left, right) = plt.subplots(1, 2, figsize=(10, 4))
    styles = {"quotebot": ("o-", "C0"), "bm25s": ("s-", "C1"), "rank-bm25": ("^-", "C2"),
              "tantivy": ("v-", "C4")}
    for system, (style, color) in styles.items():
        xs = [int(n) for n, row in results["tokens"].items() if system in row]
        if not xs:
            continue
        rows = [results["tokens"][str(n)][system] for n in xs]
        left.loglog(xs, [r["p50_ms"] for r in rows], style, color=color, label=f"{system} p50")
        left.loglog(xs, [r["p99_ms"] for r in rows], style, color=color, alpha=0.3,
                    label=f"{system} p99")
        right.loglog(xs, [r["build_s"] for r in rows], style, color=color,
                     label=f"{system}, from token lists")
    if results["text"]:
        xs = [d["sentences"] for d in results["text"].values()]
        left.loglog(xs, [d["warm_p50_ms"] for d in results["text"].values()], "d--",
                    color="C3", label="quotebot whole answer, news text (p50)")
        right.loglog(xs, [d["build_s"] for d in results["text"].values()], "d--",
                     color="C3", label="quotebot from news text (Punkt, analysis)")
    left.set(xlabel="sentences", ylabel="ms per query", title="Query latency (one thread)")
    right.set(xlabel="sentences", ylabel="seconds", title="Index build (to disk)")
    for ax in (left, right):
        ax.grid(True, which="both", alpha=0.3)
        ax.legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(PLOT, dpi=110)
    print(f"plot: {PLOT}", file=sys.stderr)


if __name__ == "__main__":
    main()
