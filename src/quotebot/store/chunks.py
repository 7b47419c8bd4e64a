"""Splitting, tokenising and analysing documents a chunk at a time, in this process or in a
pool of processes (the chunks of a corpus are independent of each other).

A chunk comes back as a :class:`SplitChunk`: its sentences and tokens, its tokens' word
forms numbered within the chunk (in order of first appearance) with each form's analysis,
and its documents' text compressed in blocks. The build gives the forms their ids over the
whole corpus in the chunks' order, which is the order a single pass over the documents
would give them, so the index is the same whatever the number of processes.
"""

from __future__ import annotations

import multiprocessing
import os
import signal
from array import array
from collections import deque
from collections.abc import Iterable, Iterator, Sequence
from concurrent.futures import Future, ProcessPoolExecutor
from dataclasses import dataclass, field
from itertools import accumulate

from quotebot import analysis
from quotebot.lifetime import die_with_parent
from quotebot.models import Document
from quotebot.store.build import Progress, Split, Splitter
from quotebot.store.texts import compress_blocks

Analysed = tuple[str, tuple[str, ...], bool]

#: How many word forms' analyses a process keeps between chunks: word forms are Zipfian,
#: so the few thousand that make most tokens are analysed once, not in every chunk.
_CACHED_FORMS = 1 << 18


@dataclass(slots=True)
class SplitChunk:
    """A chunk of documents split and analysed: ``split`` (its ``doc_idx`` counted from
    the chunk's first document, its tokens the numbers of ``forms``), the analysis of each
    form, columnar (``norms``, ``stops``, and ``terms`` with ``n_terms`` per form), and
    each document's text blocks (``blocks``, ``block_sizes``; ``block_starts`` with
    ``doc_blocks`` per document)."""

    split: Split
    forms: list[str]
    norms: list[str] = field(default_factory=list)
    stops: bytearray = field(default_factory=bytearray)
    n_terms: array[int] = field(default_factory=lambda: array("i"))
    terms: list[str] = field(default_factory=list)
    blocks: bytes = b""
    block_sizes: array[int] = field(default_factory=lambda: array("q"))
    block_starts: array[int] = field(default_factory=lambda: array("q"))
    doc_blocks: array[int] = field(default_factory=lambda: array("i"))

    def analysed(self, numbers: Iterable[int]) -> Iterator[Analysed]:
        """The analysis of the forms of ``numbers``."""
        at = [0, *accumulate(self.n_terms)]
        for n in numbers:
            yield self.norms[n], tuple(self.terms[at[n]:at[n + 1]]), bool(self.stops[n])


class ChunkSplitter:
    """Splits chunks of documents into :class:`SplitChunk`, compressing their text with
    ``dictionary``; keeps the analysis of the word forms it meets from chunk to chunk (up
    to :data:`_CACHED_FORMS`, then it starts again)."""

    def __init__(self, dictionary: bytes) -> None:
        self.dictionary = dictionary
        self._analysed: dict[str, Analysed] = {}

    def split(self, docs: Sequence[Document], progress: Progress | None = None
              ) -> SplitChunk:
        """``docs`` split and analysed; ``progress(sentences, documents)`` (counted in
        ``docs``) after each document."""
        splitter = Splitter()
        part = splitter.split(docs, progress)
        part.texts = []  # (the caller has them)
        chunk = SplitChunk(part, list(splitter.form_ids))
        self._analyse(chunk)
        ends = part.column("end").tolist()
        at = 0
        pieces = []
        for doc, info in zip(docs, part.infos, strict=True):
            blocks, starts = compress_blocks(doc.text, ends[at:at + info.sentences],
                                             self.dictionary)
            at += info.sentences
            pieces.extend(blocks)
            chunk.block_sizes.extend(map(len, blocks))
            chunk.block_starts.extend(starts)
            chunk.doc_blocks.append(len(blocks))
        chunk.blocks = b"".join(pieces)
        return chunk

    def _analyse(self, chunk: SplitChunk) -> None:
        known = self._analysed
        if len(known) > _CACHED_FORMS:
            known.clear()
        analyse = analysis.analyse_word.__wrapped__  # (this cache, not the questions')
        for form in chunk.forms:
            found = known.get(form)
            if found is None:
                found = known[form] = analyse(form)
            norm, terms, is_stop = found
            chunk.norms.append(norm)
            chunk.stops.append(is_stop)
            chunk.n_terms.append(len(terms))
            chunk.terms.extend(terms)


def default_jobs() -> int:
    """The processes a large build splits documents in: one per core this process may
    use."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # (not on every system)
        return max(1, os.cpu_count() or 1)


def split_chunks(chunks: Iterable[Sequence[Document]], dictionary: bytes, jobs: int,
                 progress: Progress | None = None) -> Iterator[SplitChunk]:
    """Each of ``chunks`` split, in order: in this process if ``jobs`` is 1 or there is
    only one chunk, else in ``jobs`` processes, with at most ``jobs + 1`` chunks under way
    (the memory follows the chunks, not the corpus). ``progress(sentences, documents)``
    after each document in this process, after each chunk in a pool."""
    chunks = iter(chunks)
    first = next(chunks, None)
    if first is None:
        return
    second = next(chunks, None) if jobs > 1 else None
    done = [0, 0]  # sentences and documents of the chunks before

    def split_here(splitter: ChunkSplitter, docs: Sequence[Document]) -> SplitChunk:
        report = None if progress is None else (
            lambda sentences, documents: progress(done[0] + sentences, done[1] + documents))
        return counted(splitter.split(docs, report))

    def counted(chunk: SplitChunk) -> SplitChunk:
        done[0] += len(chunk.split.n_tokens)
        done[1] += len(chunk.split.infos)
        return chunk

    if second is None:
        splitter = ChunkSplitter(dictionary)
        yield split_here(splitter, first)
        for docs in chunks:
            yield split_here(splitter, docs)
        return
    # Forked where the system can: a started process would import the caller's main
    # module again (a script calling this must then guard its body), and a fork starts at
    # once with the splitter loaded. The processes only split and analyse; they take no
    # lock that another thread of this process could hold.
    forked = "fork" in multiprocessing.get_all_start_methods()
    context = multiprocessing.get_context("fork" if forked else "spawn")
    if forked:
        analysis.load_tables()  # read once here, not once in every process
    pool = ProcessPoolExecutor(jobs, mp_context=context, initializer=_start_worker,
                               initargs=(dictionary, os.getpid()))
    try:
        waiting: deque[Future[SplitChunk]] = deque()
        for docs in _chained(first, second, chunks):
            waiting.append(pool.submit(_split_in_worker, docs))
            while len(waiting) > jobs or (waiting and waiting[0].done()):
                yield _reported(counted(waiting.popleft().result()), done, progress)
        while waiting:
            yield _reported(counted(waiting.popleft().result()), done, progress)
    finally:
        pool.shutdown(cancel_futures=True)


def _reported(chunk: SplitChunk, done: list[int], progress: Progress | None) -> SplitChunk:
    if progress is not None:
        progress(done[0], done[1])
    return chunk


def _chained(first: Sequence[Document], second: Sequence[Document],
             rest: Iterator[Sequence[Document]]) -> Iterator[Sequence[Document]]:
    yield first
    yield second
    yield from rest


# The splitter of a pool's process (each process has one, made when it starts).
_worker: list[ChunkSplitter] = []


def _start_worker(dictionary: bytes, build: int) -> None:
    # Ctrl-C reaches the whole process group: the build stops the pool itself, and its
    # processes print no traceback of their own.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    # A build killed outright cannot stop its pool, and the pool's processes would wait
    # for work forever (each holds the task pipe open): they end with the build, also
    # when it ended before they could ask to.
    die_with_parent()
    if os.getppid() != build:
        os._exit(1)
    _worker.append(ChunkSplitter(dictionary))


def _split_in_worker(docs: Sequence[Document]) -> SplitChunk:
    return _worker[0].split(docs)
