"""Writing Xapian shards a batch of documents at a time against building the whole index
first, in one run: the peak memory and the time of each, and whether the shards are the
same.

    python benchmarks/bench_shard_build.py [--sentences 150000] [--batch-chars 4000000]

Writes synthetic news (benchmarks/corpora.py) of about ``--sentences`` sentences, then, in
a fresh process each (so that each peak is its own): ``write_shards`` of the index built
from the whole corpus at once (how ``quotebot index --shards`` worked before), and
``write_shards`` of the corpus read and analysed ``--batch-chars`` characters of text at a
time (how it works now). Reports each one's peak resident memory (the process's
``ru_maxrss``) and seconds, and whether the two sets of shards hold the same documents
and the same lexicon (its SHA-256). Writes benchmarks/results/shard-build.json, with the
load average after the run.
"""

from __future__ import annotations

import argparse
import json
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from bench_http import save_results  # noqa: E402
from corpora import write_news  # noqa: E402

CHILD = """
import resource, sys, time
from quotebot.corpus import iter_corpus, load_corpus
from quotebot.store.build import build_index
from quotebot.xapian_backend import write_shards
mode, corpus, out, batch = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4])
started = time.perf_counter()
if mode == "whole":
    write_shards(build_index(load_corpus(corpus)), out, 2)
else:
    write_shards(iter_corpus(corpus), out, 2, batch_chars=batch)
print(time.perf_counter() - started)
print(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss)
"""


def shards_digest(folder: Path) -> list[dict[str, Any]]:
    import xapian

    found = []
    for i in range(2):
        db = xapian.Database(str(folder / f"shard-{i}"))
        found.append({"documents": db.get_doccount(),
                      "lexicon_sha256": db.get_metadata("quotebot.lexicon.sha256").decode(),
                      "fingerprint": db.get_metadata("quotebot.fingerprint").decode()})
        db.close()
    return found


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sentences", type=int, default=150_000)
    parser.add_argument("--batch-chars", type=int, default=4_000_000)
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="bench-shard-build-"))
    try:
        corpus = write_news(args.sentences, work / "corpus")
        text_chars = sum(len(p.read_text(encoding="utf-8")) for p in corpus.rglob("*.txt"))
        runs: dict[str, dict[str, Any]] = {}
        for mode in ("whole", "batched"):
            done = subprocess.run(
                [sys.executable, "-c", CHILD, mode, str(corpus), str(work / mode),
                 str(args.batch_chars)], capture_output=True, text=True, check=True)
            seconds, max_rss_kb = done.stdout.split()
            runs[mode] = {"seconds": round(float(seconds), 1),
                          "peak_rss_mb": round(int(max_rss_kb) / 1024),
                          "shards": shards_digest(work / mode)}
        result = {
            "sentences": sum(int(s["documents"]) for s in runs["whole"]["shards"]),
            "text_chars": text_chars,
            "batch_chars": args.batch_chars,
            "whole_index_first": runs["whole"],
            "a_batch_at_a_time": runs["batched"],
            "same_shards": runs["whole"]["shards"] == runs["batched"]["shards"],
        }
    finally:
        shutil.rmtree(work, ignore_errors=True)
    result["load_average_after"] = save_results("shard-build", result)
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
