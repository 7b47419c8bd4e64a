"""`quotebot index`: build, save and update saved indexes; the progress line every command shows
while it builds or embeds."""

from __future__ import annotations

import shutil
import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from quotebot.corpus import (
    corpus_files,
    iter_corpus,
    read_document,
    resolve_corpus_path,
)
from quotebot.engine import QuoteEngine
from quotebot.errors import CorpusError, IndexFileError, QuotebotError
from quotebot.semantic import resolve_mode
from quotebot.store import (
    IndexFolder,
    load_index,
    merge_index,
    save_index,
)
from quotebot.store.catalogue import default_index_dir
from quotebot.store.writer import write_index


class ProgressLine:
    """Progress of a build (``unit="sentences"``: ``progress(sentences, documents)``) or of
    embedding (``unit="passages"``: ``progress(done, all)``) on stderr.

    Nothing is written until the work has taken ``delay`` seconds, so quick work stays
    quiet. On a terminal (``live``) a progress bar (tqdm's: share done, rate, time left) is
    redrawn in place on one line as the work goes and cleared at the end; else one line
    says once what is under way ("indexing 25,000 documents…"). ``documents``
    gives the number of documents for that line (the callback only knows those done).
    """

    def __init__(self, label: str, enabled: bool, unit: str = "sentences", *,
                 delay: float = 0.0, live: bool = True,
                 documents: Callable[[], int] | None = None) -> None:
        self.label = label
        self.enabled = enabled
        self.unit = unit
        self.delay = delay
        self.live = live
        self.documents = documents
        self.started = time.perf_counter()
        self._shown = False
        self._bar: Any = None
        self._documents: int | None = None

    def __call__(self, done: int, other: int) -> None:
        now = time.perf_counter()
        if not self.enabled or now - self.started < self.delay:
            return
        if not self.live:
            if not self._shown:
                self._shown = True
                sys.stderr.write(f"{self._announcement(other)}\n")
                sys.stderr.flush()
            return
        self._shown = True
        # On a terminal: tqdm's bar, with the share done, the rate and the time left.
        if self.unit == "passages":
            done_now, total = done, other
        else:
            done_now, total = other, self._total_documents(other)
        if self._bar is None:
            from tqdm import tqdm

            # The terminal's size, as shutil reads it (``$COLUMNS`` first, and 80×24 when the
            # terminal says 0×0, as a new one may: tqdm would hide its bar in 0 rows).
            size = shutil.get_terminal_size((80, 24))
            self._bar = tqdm(total=total, desc=self.label, unit=self._bar_unit(),
                             file=sys.stderr, leave=False, ncols=max(size.columns, 40),
                             nrows=max(size.lines, 2), mininterval=0.1)
        if total != self._bar.total:
            self._bar.total = total
        self._bar.update(max(done_now - self._bar.n, 0))

    def _bar_unit(self) -> str:
        return "passage" if self.unit == "passages" else "doc"

    def _total_documents(self, done: int) -> int:
        if self._documents is None:
            try:
                self._documents = self.documents() if self.documents is not None else 0
            except QuotebotError:
                self._documents = 0
        return max(self._documents, done)

    def _announcement(self, other: int) -> str:
        if self.unit == "passages":
            return f"{self.label} {other:,} passages…"
        try:
            documents = self.documents() if self.documents is not None else other
        except QuotebotError:
            documents = other
        return f"{self.label} {documents:,} documents…"

    def close(self) -> None:
        if self._bar is not None:
            self._bar.close()  # leave=False: the bar's line is cleared
            self._bar = None


def progress_lines(corpus: str | None = None, *, delay: float = 1.0
                   ) -> tuple[ProgressLine, ProgressLine]:
    """The (indexing, embedding) progress lines a command shows on stderr: live on a
    terminal, one line otherwise; only for work that takes over ``delay`` seconds."""
    live = sys.stderr.isatty()
    return (ProgressLine("indexing", True, delay=delay, live=live,
                         documents=lambda: len(corpus_files(resolve_corpus_path(corpus)))),
            ProgressLine("embedding", True, "passages", delay=delay, live=live))


def run_index(*, corpus: str | None, out: str | None, add: Sequence[str] = (),
              remove: Sequence[str] = (), semantic: str | None = None,
              show_progress: bool = True, jobs: int | None = None) -> dict[str, Any]:
    """Build (or update) and save an index; returns a summary for people and for JSON.
    A build splits and analyses documents in ``jobs`` processes (see
    :func:`~quotebot.store.writer.write_index`).

    With ``show_progress``, work that takes over a second reports on stderr.
    """
    started = time.perf_counter()
    for path in add:
        if not Path(path).exists():
            raise CorpusError(f"--add {path!r}: no such file or folder. Give a .txt/.md "
                              f"article or a folder of them.", code="corpus_not_found")
    target = Path(out) if out else default_index_dir(corpus)
    folder = IndexFolder(target)
    folder.check_writable()  # before any work: nothing is touched in a folder not ours
    progress, embedding = progress_lines(corpus)
    progress.enabled = embedding.enabled = show_progress
    try:
        if add or remove:
            try:
                base = load_index(target)
            except IndexFileError as exc:
                if exc.code == "index_missing":
                    raise IndexFileError(
                        f"--add/--remove update a saved index, and there is none at "
                        f"{str(target)!r}. Build it first with `quotebot index --out "
                        f"{str(target)!r}`.", code="index_missing") from exc
                raise
            added = [read_document(f) for path in add for f in corpus_files(Path(path))]
            index = merge_index(base, added=added, removed=remove)
            save_index(index, target)
        else:
            # A batch of documents at a time, straight into the new generation: the
            # build's memory does not grow with the corpus's text.
            write_index(iter_corpus(resolve_corpus_path(corpus)), target, progress=progress,
                        jobs=jobs)
            index = load_index(target)
    finally:
        progress.close()
    gen = folder.current()
    # Embed the sentences now, so that the first question after start-up is quick.
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


def run_shards(*, corpus: str | None, out: str, shards: int, show_progress: bool = True,
               semantic: str = "off") -> dict[str, Any]:
    """Write the index of ``corpus`` as ``shards`` Xapian shards in ``out``, reading and
    analysing a batch of documents at a time (see
    :func:`quotebot.xapian_backend.write_shards`), with every sentence's vectors when
    ``semantic`` is "on"; returns a summary."""
    from quotebot.semantic import Encoder, resolve_mode
    from quotebot.xapian_backend import write_shards

    with_vectors = resolve_mode(semantic) == "on"
    if with_vectors:
        Encoder.load()  # a model that is missing is said before any work

    started = time.perf_counter()
    progress, _ = progress_lines(corpus)
    progress.enabled = show_progress
    try:
        summary = write_shards(iter_corpus(resolve_corpus_path(corpus)), out, shards,
                               progress=progress, semantic=with_vectors)
    finally:
        progress.close()
    summary["seconds"] = round(time.perf_counter() - started, 3)
    return summary


def _size(n: int) -> str:
    value = float(n)
    for unit in ("B", "KB", "MB", "GB"):
        if value < 1024 or unit == "GB":
            return f"{value:.0f} {unit}" if unit == "B" else f"{value:.1f} {unit}"
        value /= 1024
    return f"{n} B"
