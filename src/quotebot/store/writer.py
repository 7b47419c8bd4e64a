"""Building and saving an index a batch of documents at a time, in memory that does not
grow with the text of the corpus.

Each batch is split and analysed as it comes; its texts go straight into the new
generation, its sentences' columns and tokens into scratch files, and its postings into
a sorted run (several batches' worth at a time) that waits on disk. At the end the runs
are merged a range of terms at a time into the packed postings of sentences and, in the
same pass, of paragraphs, each written to its files as it is packed; the tokens are
packed from their scratch files a chunk at a time. What stays in memory is the
vocabulary and word forms, a few numbers per term and per block of postings, and a few
bytes per sentence; the files written are those :func:`~quotebot.store.save_index`
writes for the same documents built at once, byte for byte.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import hashlib
import itertools
import os
import tempfile
from array import array
from collections import defaultdict
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from functools import cache
from itertools import chain
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from quotebot import analysis
from quotebot.bm25 import _RUN_TOKENS, SortedRuns
from quotebot.corpus import add_to_fingerprint, batches
from quotebot.models import Document
from quotebot.npy import NpyFile
from quotebot.postings import compact_counts, compact_dtype, pointers
from quotebot.store.build import (
    FormAnalysis,
    _counted_forms,
    _terms_per_sentence,
    _token_terms,
    _words,
)
from quotebot.store.chunks import SplitChunk, default_jobs, split_chunks
from quotebot.store.files import IndexFolder, StringTable
from quotebot.store.format import POSTINGS_FILES, write_tables
from quotebot.store.model import (
    DocInfo,
    TokenPacker,
    form_flags,
    form_high_bits,
    pack_chunk,
    paragraph_table,
)
from quotebot.store.texts import SAMPLE_CHARS, TextBlockWriter, text_dictionary

Progress = Callable[[int, int], None]

#: Characters of text split and analysed at a time, in one process: about 30,000
#: sentences of news, so that a million sentences are 33 chunks, enough to keep every
#: process busy while this one adds what they split.
CHUNK_CHARS = 4_000_000
#: The columns kept per sentence, and per token, in scratch files while building.
_SENTENCE_COLUMNS = ("doc_idx", "paragraph", "sentence_no", "start", "end")


def write_index(docs: Iterable[Document], directory: str | os.PathLike[str], *,
                progress: Progress | None = None, batch_chars: int = CHUNK_CHARS,
                run_tokens: int = _RUN_TOKENS, jobs: int | None = None) -> Path:
    """Split, analyse and index ``docs`` (``batch_chars`` characters of text at a time, in
    ``jobs`` processes: by default one per core, one for a corpus of a single batch) into
    a new generation of the index in ``directory``, made current; returns its path.
    ``progress(sentences, documents)`` as it goes; postings are sorted in runs of about
    ``run_tokens`` terms. The files are the same whatever ``jobs`` is."""
    def write(out: Path) -> None:
        with tempfile.TemporaryDirectory(prefix="quotebot-build-") as scratch:
            rest = iter(docs)
            # The text's dictionary comes from the first documents, before any is split.
            first: list[Document] = next(batches(rest, SAMPLE_CHARS), [])
            dictionary = text_dictionary([doc.text for doc in first])
            build = _StreamedBuild(out, Path(scratch), run_tokens, dictionary)
            for chunk in split_chunks(build.read(batches(chain(first, rest), batch_chars)),
                                      dictionary, default_jobs() if jobs is None else jobs,
                                      progress):
                build.add(chunk)
            build.finish()

    return IndexFolder(directory).write_generation(write)


class _Column:
    """Integers appended a batch at a time to a scratch file (as ``dtype``), with their
    largest value: saved at the end in the fewest bytes that hold them."""

    def __init__(self, path: Path, dtype: Any = np.int64) -> None:
        self.path = path
        self.dtype = np.dtype(dtype)
        self.length = 0
        self.top = 0
        self._fh = open(path, "wb")  # noqa: SIM115 (closed by done)

    def append(self, values: npt.NDArray[Any]) -> None:
        if values.shape[0]:
            self.top = max(self.top, int(values.max()))
        self._fh.write(np.ascontiguousarray(values, dtype=self.dtype).tobytes())
        self.length += int(values.shape[0])

    def done(self) -> None:
        self._fh.close()

    def parts(self, size: int) -> Iterable[npt.NDArray[Any]]:
        """The values, ``size`` at a time (read from the file, not memory-mapped: mapped
        pages once read would count in the build's memory)."""
        with open(self.path, "rb") as fh:
            for _ in range(0, self.length, size):
                yield np.fromfile(fh, dtype=self.dtype, count=size)

    def read(self) -> npt.NDArray[Any]:
        """Every value, in the fewest bytes that hold them."""
        out = np.empty(self.length, dtype=compact_dtype(self.top))
        at = 0
        for part in self.parts(1 << 22):
            out[at:at + part.shape[0]] = part
            at += part.shape[0]
        return out

    def save(self, path: Path) -> None:
        """As ``np.save`` of :meth:`read` would write it, a part at a time."""
        npy = NpyFile(path, compact_dtype(self.top), self.length)
        for part in self.parts(1 << 22):
            npy.write(part)
        npy.close()


class _StreamedBuild:
    """One build in progress into the generation folder ``out``, with scratch files in
    ``scratch``."""

    def __init__(self, out: Path, scratch: Path, run_tokens: int, dictionary: bytes) -> None:
        self.out = out
        self.scratch = scratch
        # Each word form's id over the whole corpus, in order of first appearance.
        self.form_ids: defaultdict[str, int] = defaultdict(itertools.count().__next__)
        self.analysis = FormAnalysis()
        self.texts = TextBlockWriter(out, dictionary)
        self.infos: list[DocInfo] = []
        self.digest = hashlib.sha256()
        self.columns = {name: _Column(scratch / name) for name in _SENTENCE_COLUMNS}
        self.tok_form = _Column(scratch / "tok_form", np.int32)
        self.tok_start = _Column(scratch / "tok_start", np.int32)
        self.n_tokens = array("i")  # tokens per sentence
        self.doc_len = array("i")  # index terms per sentence
        self.form_count = np.zeros(0, dtype=np.int64)
        self.start_count = np.zeros(0, dtype=np.int64)
        self.runs = SortedRuns(spill=True)
        self.run_tokens = run_tokens
        self._pending: list[tuple[npt.NDArray[np.int32], npt.NDArray[np.int32]]] = []
        self._pending_terms = 0

    def read(self, chunks: Iterable[Sequence[Document]]) -> Iterator[Sequence[Document]]:
        """``chunks``, each added to the corpus's fingerprint as it passes (in order)."""
        for docs in chunks:
            for doc in docs:
                add_to_fingerprint(self.digest, doc)
            yield docs

    def add(self, chunk: SplitChunk) -> None:
        """The next chunk of documents, split and analysed."""
        part = chunk.split
        known = len(self.form_ids)
        global_id = np.fromiter(map(self.form_ids.__getitem__, chunk.forms), dtype=np.int32,
                                count=len(chunk.forms))
        # The forms new to the corpus, in the chunk's order of first appearance: their
        # ids follow the known ones in the same order.
        new = np.flatnonzero(global_id >= known).tolist()
        self.analysis.add([chunk.forms[i] for i in new], chunk.analysed(new))
        self.texts.add_compressed(chunk.blocks, chunk.block_sizes, chunk.block_starts,
                                  chunk.doc_blocks)
        self.columns["doc_idx"].append(part.column("doc_idx") + len(self.infos))
        self.infos.extend(part.infos)
        n_forms = len(self.analysis.forms)
        for name, column in self.columns.items():
            if name != "doc_idx":
                column.append(part.column(name))
        tok = global_id[part.column("tokens")]
        ptr = pointers(part.column("n_tokens"))
        self.tok_form.append(tok)
        self.tok_start.append(part.column("starts"))
        self.n_tokens.extend(part.n_tokens)
        table = self.analysis.term_table()
        doc_len = _terms_per_sentence(table, tok, ptr)
        self.doc_len.extend(array("i", doc_len.tobytes()))
        self._pending.append((_token_terms(table, tok, int(doc_len.sum())), doc_len))
        self._pending_terms += int(doc_len.sum())
        if self._pending_terms >= self.run_tokens:
            self._flush()
        self.form_count = _grown(self.form_count, n_forms)
        self.form_count += np.bincount(tok, minlength=n_forms)
        openers = tok[ptr[:-1][ptr[1:] > ptr[:-1]]]
        self.start_count = _grown(self.start_count, n_forms)
        self.start_count += np.bincount(openers, minlength=n_forms)

    def _flush(self) -> None:
        if self._pending:
            terms = np.concatenate([t for t, _ in self._pending])
            lengths = np.concatenate([n for _, n in self._pending])
            self._pending.clear()
            self._pending_terms = 0
            self.runs.add(terms, lengths, len(self.analysis.term_ids))

    def finish(self) -> None:
        self._flush()
        for column in (*self.columns.values(), self.tok_form, self.tok_start):
            column.done()
        text_arrays = self.texts.close()
        del self.form_ids  # (its word forms are the analysis's too)
        _release_freed()
        table = self.analysis.table()
        # What needs a few bytes a sentence first, and dropped: the postings, packed
        # whole, come after.
        n_tokens = self._write_tokens(len(table.forms))
        del self.n_tokens
        _release_freed()
        for name, column in self.columns.items():
            column.save(self.out / f"{name}.npy")
        group_of, starts = paragraph_table(self.columns["doc_idx"].read(),
                                           self.columns["paragraph"].read())
        _release_freed()
        with self.runs:
            matrix, paragraphs = self.runs.save(
                self.out, np.frombuffer(self.doc_len, dtype=np.int32), len(table.vocab),
                group_of, int(starts.shape[0]) - 1, self.scratch)
        del self.doc_len, group_of, starts
        _release_freed()
        forms = _counted_forms(table, self.form_count, self.start_count,
                               form_flags(table.forms))
        index = _Saved(
            docs=self.infos, vocab=StringTable.from_strings(table.vocab), matrix=matrix,
            paragraphs=paragraphs, forms=forms,
            words=_words(table.words, table.form_word, forms.count),
            fingerprint=self.digest.hexdigest()[:32],
            n_sentences=self.columns["doc_idx"].length)
        write_tables(self.out, text_arrays, index, n_tokens=n_tokens,
                     written=POSTINGS_FILES)

    def _write_tokens(self, n_forms: int) -> int:
        """Pack the tokens from their scratch files into the token table's files; returns
        how many there are."""
        ptr = pointers(np.frombuffer(self.n_tokens, dtype=np.int32))
        n = int(ptr[-1])
        packer = TokenPacker(ptr, form_high_bits(n_forms))
        per = packer.per
        files = {"tok_form_low": NpyFile(self.out / "tok_form_low.npy", np.uint16, n),
                 "tok_form_high": NpyFile(self.out / "tok_form_high.npy", packer.high_dtype,
                                          -(-n // per) if packer.bits else 0),
                 "tok_step": NpyFile(self.out / "tok_step.npy", np.uint8, n)}
        size = pack_chunk()
        for forms, starts in zip(self.tok_form.parts(size), self.tok_start.parts(size),
                                 strict=True):
            low, high, step = packer.chunk(forms, starts)
            files["tok_form_low"].write(low)
            files["tok_form_high"].write(high)
            files["tok_step"].write(step)
        for npy in files.values():
            npy.close()
        far_at, far = packer.far()
        for name, values in (("tok_ptr", compact_counts(ptr)), ("tok_far_at", far_at),
                             ("tok_far", far)):
            np.save(self.out / f"{name}.npy", values, allow_pickle=False)
        return n


@dataclass(frozen=True, slots=True)
class _Saved:
    """What :func:`~quotebot.store.format.write_tables` reads of an index, from a
    streamed build."""

    docs: list[DocInfo]
    vocab: StringTable
    matrix: Any
    paragraphs: Any
    forms: Any
    words: Any
    fingerprint: str
    n_sentences: int
    analyzer_version: str = analysis.ANALYZER_VERSION


def _release_freed() -> None:
    """Give the memory freed so far back to the operating system. The C library keeps
    freed blocks in its heap for reuse, and a build frees thousands of temporary arrays
    of every size, so what it holds in the heap, unused, grows with the corpus unless
    handed back before the postings are packed. Only glibc has ``malloc_trim``;
    elsewhere this does nothing."""
    libc = _libc()
    if libc is not None and hasattr(libc, "malloc_trim"):
        libc.malloc_trim(0)


@cache
def _libc() -> Any:
    """The C library, or None. By its usual name first: looking it up by ``find_library``
    runs other programs, forked from this process (then large, their peak memory counted
    as its children's)."""
    try:
        return ctypes.CDLL("libc.so.6")
    except OSError:
        name = ctypes.util.find_library("c")
    try:
        return ctypes.CDLL(name) if name else None
    except OSError:
        return None


def _grown(counts: npt.NDArray[np.int64], n: int) -> npt.NDArray[np.int64]:
    """``counts`` with zeros after it up to ``n`` values."""
    if counts.shape[0] >= n:
        return counts
    return np.concatenate([counts, np.zeros(n - counts.shape[0], dtype=np.int64)])
