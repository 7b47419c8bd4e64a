"""`quotebot index`: build, save and update saved indexes, with progress on a terminal."""

from __future__ import annotations

import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from quotebot.corpus import corpus_files, load_corpus, read_document, resolve_corpus_path
from quotebot.engine import default_index_dir
from quotebot.errors import IndexFileError
from quotebot.store import SentenceIndex, current_generation


class ProgressLine:
    """A one-line progress report on stderr (sentences and sentences per second)."""

    def __init__(self, label: str, enabled: bool) -> None:
        self.label = label
        self.enabled = enabled
        self.started = time.perf_counter()
        self._last = 0.0

    def __call__(self, sentences: int, documents: int) -> None:
        now = time.perf_counter()
        if not self.enabled or now - self._last < 0.1:
            return
        self._last = now
        rate = sentences / max(now - self.started, 1e-9)
        sys.stderr.write(f"\r{self.label}: {documents:,} documents, {sentences:,} sentences "
                         f"({rate:,.0f} sentences/s)")
        sys.stderr.flush()

    def close(self) -> None:
        if self.enabled:
            sys.stderr.write("\r\x1b[K")
            sys.stderr.flush()


def run_index(*, corpus: str | None, out: str | None, add: Sequence[str] = (),
              remove: Sequence[str] = (), show_progress: bool = False) -> dict[str, Any]:
    """Build (or update) and save an index; returns a summary for people and for JSON."""
    started = time.perf_counter()
    target = Path(out) if out else default_index_dir(corpus)
    progress = ProgressLine("indexing", show_progress)
    try:
        if add or remove:
            try:
                base = SentenceIndex.load(target)
            except IndexFileError as exc:
                if exc.code == "index_missing":
                    raise IndexFileError(
                        f"--add/--remove update a saved index, and there is none at "
                        f"{str(target)!r}. Build it first with `quotebot index --out "
                        f"{str(target)!r}`.", code="index_missing") from exc
                raise
            added = [read_document(f) for path in add for f in corpus_files(Path(path))]
            index = base.with_documents(added=added, removed=remove)
        else:
            docs = load_corpus(resolve_corpus_path(corpus))
            index = SentenceIndex.build(docs, progress=progress)
    finally:
        progress.close()
    gen = index.save(target)
    seconds = time.perf_counter() - started
    size = sum(p.stat().st_size for p in gen.iterdir())
    summary = {
        "index": str(target),
        "generation": current_generation(target).name,
        "documents": len(index.docs),
        "sentences": index.n_sentences,
        "terms": len(index.vocab),
        "bytes": size,
        "seconds": round(seconds, 3),
    }
    summary["message"] = (
        f"Indexed {summary['documents']:,} documents, {summary['sentences']:,} sentences, "
        f"{summary['terms']:,} terms into {target} ({_size(size)}, {seconds:.2f} s)."
    )
    return summary


def _size(n: int) -> str:
    value = float(n)
    for unit in ("B", "KB", "MB", "GB"):
        if value < 1024 or unit == "GB":
            return f"{value:.0f} {unit}" if unit == "B" else f"{value:.1f} {unit}"
        value /= 1024
    return f"{n} B"
