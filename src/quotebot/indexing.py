"""`quotebot index`: build, save and update saved indexes, with progress on a terminal."""

from __future__ import annotations

import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from quotebot.corpus import corpus_files, load_corpus, read_document, resolve_corpus_path
from quotebot.engine import QuoteEngine
from quotebot.errors import IndexFileError
from quotebot.semantic import resolve_mode
from quotebot.store import IndexFolder, SentenceIndex
from quotebot.store.catalogue import default_index_dir


class ProgressLine:
    """A one-line progress report on stderr: while indexing, documents and sentences
    (``unit="sentences"``); while embedding, passages done of all (``unit="passages"``)."""

    def __init__(self, label: str, enabled: bool, unit: str = "sentences") -> None:
        self.label = label
        self.enabled = enabled
        self.unit = unit
        self.started = time.perf_counter()
        self._last = 0.0

    def __call__(self, done: int, other: int) -> None:
        now = time.perf_counter()
        if not self.enabled or now - self._last < 0.1:
            return
        self._last = now
        rate = done / max(now - self.started, 1e-9)
        counts = (f"{done:,} of {other:,} {self.unit}" if self.unit == "passages"
                  else f"{other:,} documents, {done:,} {self.unit}")
        sys.stderr.write(f"\r{self.label}: {counts} ({rate:,.0f} {self.unit}/s)")
        sys.stderr.flush()

    def close(self) -> None:
        if self.enabled:
            sys.stderr.write("\r\x1b[K")
            sys.stderr.flush()


def run_index(*, corpus: str | None, out: str | None, add: Sequence[str] = (),
              remove: Sequence[str] = (), semantic: str | None = None,
              show_progress: bool = False) -> dict[str, Any]:
    """Build (or update) and save an index; returns a summary for people and for JSON."""
    started = time.perf_counter()
    target = Path(out) if out else default_index_dir(corpus)
    folder = IndexFolder(target)
    folder.check_writable()  # before any work: nothing is touched in a folder not ours
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
    # Embed the sentences now, so that the first question after start-up is quick.
    embedding = ProgressLine("embedding", show_progress, unit="passages")
    try:
        semantic_on = QuoteEngine(index).attach_semantic(resolve_mode(semantic), target,
                                                         progress=embedding)
    finally:
        embedding.close()
    seconds = time.perf_counter() - started
    size = sum(p.stat().st_size for p in gen.iterdir())
    size += sum(p.stat().st_size for p in target.glob("semantic-*.npy") if p.is_file())
    summary = {
        "index": str(target),
        "generation": folder.current().name,
        "documents": len(index.docs),
        "sentences": index.n_sentences,
        "terms": len(index.vocab),
        "bytes": size,
        "seconds": round(seconds, 3),
        "semantic": semantic_on,
    }
    summary["message"] = (
        f"Indexed {summary['documents']:,} documents, {summary['sentences']:,} sentences, "
        f"{summary['terms']:,} terms into {target} ({_size(size)}, {seconds:.2f} s"
        f"{', with semantic vectors' if semantic_on else ''})."
    )
    return summary


def _size(n: int) -> str:
    value = float(n)
    for unit in ("B", "KB", "MB", "GB"):
        if value < 1024 or unit == "GB":
            return f"{value:.0f} {unit}" if unit == "B" else f"{value:.1f} {unit}"
        value /= 1024
    return f"{n} B"
