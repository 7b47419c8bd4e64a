"""BM25 over sentences: compressed term-major postings and top-k retrieval over them.

Postings are kept per term (sentence ids ascending, with term frequencies), bit-packed in
blocks with each block's largest weight (:mod:`quotebot.postings`), so a query decodes a
few columns, or only the blocks that may hold the sentences it looks up, and sums them;
nothing loops over sentences in Python. The variant is Lucene's (as in bm25s's "lucene"
method):

    idf(t)   = ln(1 + (N - df + 0.5) / (df + 0.5))          # never negative
    w(t, s)  = idf(t) * tf / (tf + k1 * (1 - b + b * |s| / avgdl))
"""

from __future__ import annotations

import itertools
import math
import tempfile
import threading
from collections import defaultdict
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

import numpy as np
import numpy.typing as npt

from quotebot.postings import (
    PackedPostings,
    PostingsFileWriter,
    PostingsWriter,
    compact_counts,
    distinct,
    pointers,
    term_chunks,
)

K1 = 1.5
B = 0.75

FloatArray = npt.NDArray[np.float32]


def lucene_idf(df: npt.ArrayLike, n_docs: int) -> npt.NDArray[np.float64]:
    """Lucene's idf: positive for every term, however common."""
    df = np.asarray(df, dtype=np.float64)
    return np.log1p((n_docs - df + 0.5) / (df + 0.5))


def idf_of(df: int, n_docs: int) -> float:
    """:func:`lucene_idf` of one term."""
    return math.log1p((n_docs - df + 0.5) / (df + 0.5))


@dataclass(slots=True)
class BM25Matrix:
    """Term-major BM25 postings for ``n_docs`` sentences over ``n_terms`` terms, compressed
    (:class:`~quotebot.postings.PackedPostings`).

    ``indptr[t + 1] - indptr[t]`` is term ``t``'s document frequency; ``doc_len`` each
    sentence's term count. A posting's weight is computed when it is decoded.
    """

    packed: PackedPostings
    doc_len: npt.NDArray[Any]
    k1: float = K1
    b: float = B
    _df: npt.NDArray[np.int64] | None = field(default=None, repr=False, compare=False)
    #: Per-thread scratch vectors for queries with common words (see ``_dense_totals``).
    _scratch: threading.local = field(default_factory=threading.local, repr=False,
                                      compare=False)
    #: Each term's largest weight (see :attr:`max_weights`); saved with the index.
    _max: FloatArray | None = field(default=None, repr=False, compare=False)
    #: The length normalisation of each sentence length, and the weight a term of idf 1
    #: has once in a sentence of each length, as float32 (computed once); each term's idf.
    _norm: tuple[FloatArray, FloatArray] | None = field(default=None, repr=False,
                                                        compare=False)
    _idf32: FloatArray | None = field(default=None, repr=False, compare=False)

    @property
    def indptr(self) -> npt.NDArray[np.int64]:
        return self.packed.indptr

    @property
    def n_docs(self) -> int:
        return int(self.doc_len.shape[0])

    @property
    def n_terms(self) -> int:
        return int(self.indptr.shape[0]) - 1

    @property
    def n_postings(self) -> int:
        return self.packed.n_postings

    @property
    def df(self) -> npt.NDArray[np.int64]:
        """Document frequency of every term (computed once: callers index it per query)."""
        if self._df is None:
            self._df = np.diff(self.indptr)
        return self._df

    @property
    def max_weights(self) -> FloatArray:
        """Each term's largest weight: no sentence scores more for the term. Top-k
        retrieval uses it to leave common words' postings unread (see :func:`top_groups`)."""
        if self._max is None:
            blocks = self.packed.block_ptr
            self._max = column_maxima(blocks, self.packed.block_max)
        return self._max

    def idf(self) -> npt.NDArray[np.float64]:
        return lucene_idf(self.df, self.n_docs)

    def _tables(self) -> tuple[FloatArray, FloatArray]:
        if self._norm is None:
            lengths = np.asarray(self.doc_len)
            longest = int(lengths.max()) if lengths.size else 0
            avgdl = float(lengths.mean(dtype=np.float64)) if lengths.size else 1.0
            norm = _norms(np.arange(longest + 1), avgdl, self.k1, self.b)
            # What posting_weights computes for tf 1, before the idf: the same operations.
            once = np.ones(longest + 1, dtype=np.float32)
            once /= norm + once
            self._norm = (norm, once)
        return self._norm

    def norms(self, ids: npt.NDArray[Any]) -> FloatArray:
        """``k1 * (1 - b + b * |s| / avgdl)`` of sentences ``ids``, float32 (a new array).
        Read from a table by length: the lengths are a byte or two a sentence, so the
        lookups stay in the processor's cache, where a float per sentence would not."""
        # (take: fancy indexing with int32 ids converts them first, at a cost.)
        norms: FloatArray = self._tables()[0].take(self.doc_len.take(ids))
        return norms

    @property
    def idf32(self) -> FloatArray:
        if self._idf32 is None:
            self._idf32 = self.idf().astype(np.float32)
        return self._idf32

    @classmethod
    def from_term_ids(
        cls,
        doc_term_ids: Sequence[Sequence[int]] | Iterable[Sequence[int]],
        n_terms: int,
        *,
        k1: float = K1,
        b: float = B,
    ) -> BM25Matrix:
        """Build from each sentence's term ids (repeats count as term frequency)."""
        docs = doc_term_ids if isinstance(doc_term_ids, Sequence) else list(doc_term_ids)
        doc_len = np.fromiter(map(len, docs), dtype=np.int32, count=len(docs))
        term_ids = np.fromiter(itertools.chain.from_iterable(docs), dtype=np.int32,
                               count=int(doc_len.sum()))
        return cls.from_flat(term_ids, doc_len, n_terms, k1=k1, b=b)

    @classmethod
    def from_token_lists(
        cls, token_lists: Sequence[Sequence[str]], *, k1: float = K1, b: float = B
    ) -> tuple[BM25Matrix, list[str]]:
        """Build from ready-made tokens (one list per sentence, used as terms as they are).

        Returns the matrix and its vocabulary (term id → term). This is the entry
        point for tokens analysed elsewhere, and what the benchmarks compare with
        other BM25 libraries given the same token lists.
        """
        # Interning through a defaultdict keeps the per-token work in C: a new token gets
        # the next id, a known one its id.
        ids: defaultdict[str, int] = defaultdict(itertools.count().__next__)
        doc_len = np.fromiter(map(len, token_lists), dtype=np.int32, count=len(token_lists))
        term_ids = np.fromiter(
            map(ids.__getitem__, itertools.chain.from_iterable(token_lists)),
            dtype=np.int32, count=int(doc_len.sum()))
        return cls.from_flat(term_ids, doc_len, len(ids), k1=k1, b=b), list(ids)

    @classmethod
    def from_flat(
        cls,
        term_ids: npt.ArrayLike,
        doc_len: npt.ArrayLike,
        n_terms: int,
        *,
        k1: float = K1,
        b: float = B,
    ) -> BM25Matrix:
        """Build from all sentences' term ids laid end to end, and each sentence's length.

        ``term_ids[:doc_len[0]]`` are sentence 0's terms, the next ``doc_len[1]``
        sentence 1's, and so on.
        """
        lengths = np.asarray(doc_len, dtype=np.int32)
        terms = np.asarray(term_ids)
        if int(lengths.sum()) != terms.shape[0]:
            raise ValueError(f"doc_len sums to {int(lengths.sum())} but there are "
                             f"{terms.shape[0]} term ids")
        # Sorted runs of whole sentences, about _RUN_TOKENS tokens each (see SortedRuns).
        ends = np.cumsum(lengths, dtype=np.int64)
        n = int(lengths.shape[0])
        # A run ends with the sentence that reaches each multiple of _RUN_TOKENS.
        cuts = np.searchsorted(ends, np.arange(_RUN_TOKENS, int(ends[-1]) if n else 0,
                                               _RUN_TOKENS)) + 1
        bounds = sorted({0, n, *np.minimum(cuts, n).tolist()})
        with SortedRuns(spill=len(bounds) > 2 and terms.shape[0] > _SPILL_TOKENS) as runs:
            for first, last in itertools.pairwise(bounds):
                lo = int(ends[first - 1]) if first else 0
                hi = int(ends[last - 1]) if last else 0
                runs.add(terms[lo:hi], lengths[first:last], n_terms)
            return runs.matrix(lengths, n_terms, k1=k1, b=b)

    def _packed_as(self, packed: PackedPostings) -> BM25Matrix:
        self.packed = packed
        self._df = None
        self._idf32 = None
        self._max = column_maxima(packed.block_ptr, packed.block_max)
        return self

    @classmethod
    def from_postings(cls, indptr: npt.ArrayLike, indices: npt.ArrayLike, tf: npt.ArrayLike,
                      doc_len: npt.ArrayLike, *, k1: float = K1, b: float = B) -> BM25Matrix:
        """Weigh and pack term-major postings: ``indptr`` (per term), ``indices`` (sentence
        ids, ascending within a term) and their term frequencies."""
        ptr = np.asarray(indptr, dtype=np.int64)
        lengths = np.asarray(doc_len)
        matrix = cls(_EMPTY_PACK, compact_counts(lengths), k1, b)
        ids = np.asarray(indices)
        weights = posting_weights(np.asarray(tf), matrix.norms(ids),
                                  np.repeat(lucene_idf(np.diff(ptr), int(lengths.shape[0]))
                                            .astype(np.float32), np.diff(ptr)))
        return matrix._packed_as(PackedPostings.pack(ptr, ids, tf, weights))

    def merged(self, kept: npt.NDArray[np.bool_], added: tuple[Any, Any, Any],
               n_terms: int, doc_len: npt.ArrayLike) -> BM25Matrix:
        """The matrix of this one's sentences ``kept`` (renumbered from 0 in order) and of
        ``added`` postings (terms, sentence ids after the kept sentences', term
        frequencies; any order), over ``n_terms`` terms (this one's first) whose sentences
        have lengths ``doc_len``. Merged a range of terms at a time, so the unpacked
        postings never stand whole."""
        renumber = np.cumsum(kept, dtype=np.int64) - 1
        a_terms, a_ids, a_tf = (np.asarray(a, dtype=np.int64) for a in added)
        order = np.lexsort((a_ids, a_terms))
        a_terms, a_ids, a_tf = a_terms[order], a_ids[order], a_tf[order]
        a_ptr = pointers(np.bincount(a_terms, minlength=n_terms))
        own = self.n_terms
        base_ptr = np.full(n_terms + 1, self.n_postings, dtype=np.int64)
        base_ptr[:own + 1] = self.indptr
        lengths = np.asarray(doc_len)
        n_docs = int(lengths.shape[0])
        matrix = BM25Matrix(_EMPTY_PACK, compact_counts(lengths), self.k1, self.b)
        writer = PostingsWriter()
        for lo, hi in term_chunks(base_ptr + a_ptr):
            top = min(hi, own)
            if lo < top:
                ids, tf = self.packed.decode_terms(lo, top)
                term = np.repeat(np.arange(lo, top), np.diff(base_ptr[lo:top + 1]))
                keep = kept[ids]
                ids, tf, term = renumber[ids[keep]], tf[keep], term[keep]
            else:
                ids = tf = term = np.zeros(0, dtype=np.int64)
            a0, a1 = int(a_ptr[lo]), int(a_ptr[hi])
            # Within a term, the kept sentences' postings come first: the added ones'
            # sentences are numbered after them.
            term = np.concatenate([term, a_terms[a0:a1]])
            by_term = np.argsort(term, kind="stable")
            ids = np.concatenate([ids, a_ids[a0:a1]])[by_term]
            tf = np.concatenate([tf, a_tf[a0:a1]])[by_term]
            df = np.bincount(term - lo, minlength=hi - lo)
            weights = posting_weights(tf, matrix.norms(ids), np.repeat(
                lucene_idf(df, n_docs).astype(np.float32), df))
            writer.add(df, ids, tf, weights)
        return matrix._packed_as(writer.finish())

    def weighed(self, term: int, ids: npt.NDArray[np.int32],
                tf: npt.NDArray[np.int64] | None) -> tuple[npt.NDArray[np.int32], FloatArray]:
        """(ids, weights) of postings of ``term`` with term frequencies ``tf`` (None: all
        1, the weight is then read from a table by the sentence's length)."""
        if tf is None:
            weights = self._tables()[1].take(self.doc_len.take(ids))
            weights *= self.idf32[term]
            return ids, weights
        return ids, posting_weights(tf, self.norms(ids), self.idf32[term])

    def column(self, term_id: int) -> tuple[npt.NDArray[np.int32], FloatArray]:
        """Term ``term_id``'s (sentence ids, weights)."""
        return self.weighed(term_id, *self.packed.column(term_id))

    def postings_of(self) -> tuple[npt.NDArray[np.int32], npt.NDArray[np.uint16]]:
        """Every posting's (sentence id, term frequency), term-major."""
        return self.packed.decode_all()

    def weights(self) -> FloatArray:
        """Every posting's weight, term-major (decodes everything: for tests and tools)."""
        ids, tf = self.postings_of()
        return posting_weights(tf, self.norms(ids), np.repeat(self.idf32, self.df))

    def scores(self, query: Mapping[int, float]) -> tuple[npt.NDArray[np.int64], FloatArray]:
        """(sentence ids, scores) of every sentence that matches a query term.

        ``query`` maps term ids to query weights (1.0 for a plain term). Only
        sentences with a positive score are returned, in ascending id order.
        """
        return group_scores(self, [[(t, w)] for t, w in query.items()])

    def top_k(self, query: Mapping[int, float], k: int) -> tuple[npt.NDArray[np.int64], FloatArray]:
        """The ``k`` best (sentence ids, scores), best first; ties go to the earlier sentence."""
        return top_groups(self, [[(t, w)] for t, w in query.items()], k)

    def group_scores(self, groups: Sequence[Sequence[tuple[int, float]]]
                     ) -> tuple[npt.NDArray[np.int64], FloatArray]:
        """See :func:`group_scores`."""
        return group_scores(self, groups)

    def top_groups(self, groups: Sequence[Sequence[tuple[int, float]]], k: int,
                   read: dict[int, _Raw] | None = None
                   ) -> tuple[npt.NDArray[np.int64], FloatArray]:
        """See :func:`top_groups`."""
        return top_groups(self, groups, k, read)

    def scores_of(self, groups: Sequence[Sequence[tuple[int, float]]],
                  ids: npt.ArrayLike) -> FloatArray:
        """See :func:`scores_of`."""
        return scores_of(self, groups, ids)

    def postings(self, term_id: int) -> npt.NDArray[np.int32]:
        """The sentences holding ``term_id``, ascending."""
        return self.packed.column(term_id)[0]

    def count_in_ranges(self, term_ids: Sequence[int], lo: npt.NDArray[np.int64],
                        hi: npt.NDArray[np.int64]) -> npt.NDArray[np.int64]:
        """For each range ``lo[i]:hi[i]`` of sentence ids, how many (sentence, term) pairs
        of ``term_ids`` fall in it: only the blocks that may hold a sentence of a range
        are decoded, then a binary search per range."""
        lo = np.asarray(lo, dtype=np.int64)
        hi = np.asarray(hi, dtype=np.int64)
        total = np.zeros(lo.shape[0], dtype=np.int64)
        terms = [t for t in dict.fromkeys(term_ids) if 0 <= t < self.n_terms and self.df[t]]
        # (Sentence ids fit in int32, as the postings hold them: searching int32 postings
        # for int64 ids would copy the postings to int64 first.)
        lo32, hi32 = lo.astype(np.int32), hi.astype(np.int32)
        for sids, _ in _blocks_around(self, terms, lo, hi).values():
            if sids.size:
                total += np.searchsorted(sids, hi32) - np.searchsorted(sids, lo32)
        return total

    def contains(self, term_ids: Sequence[int], sids: npt.NDArray[np.int64]
                 ) -> npt.NDArray[np.bool_]:
        """Whether each sentence of ``sids`` holds any of ``term_ids``."""
        sids = np.asarray(sids, dtype=np.int64)
        return self.count_in_ranges(term_ids, sids, sids + 1) > 0

    def grouped(self, group_of: npt.NDArray[np.int64], n_groups: int) -> BM25Matrix:
        """The BM25 matrix of groups of consecutive documents (sentences → paragraphs):
        a group's term frequencies and length are the sums of its documents'.
        ``group_of`` gives each document's group, non-decreasing with the document id.
        Made a range of terms at a time, so the unpacked postings never stand whole."""
        groups = _Groups(self, group_of, n_groups)
        writer = PostingsWriter()
        indptr = np.asarray(self.indptr, dtype=np.int64)
        for lo, hi in term_chunks(indptr):
            ids, tf = self.packed.decode_terms(lo, hi)
            writer.add(*groups.postings(ids, tf, indptr[lo:hi + 1] - indptr[lo]))
        return groups.matrix._packed_as(writer.finish())


class _Groups:
    """Groups of consecutive documents of ``matrix`` (see :meth:`BM25Matrix.grouped`):
    their matrix (lengths only, until packed), and their postings from their documents'
    a range of terms at a time."""

    def __init__(self, matrix: BM25Matrix, group_of: npt.ArrayLike, n_groups: int) -> None:
        group_of = np.asarray(group_of, dtype=np.int64)
        self.group_of32 = group_of.astype(np.int32)
        self.n_groups = n_groups
        doc_len = np.bincount(group_of, weights=np.asarray(matrix.doc_len, dtype=np.float64),
                              minlength=n_groups).astype(np.int64)
        self.matrix = BM25Matrix(_EMPTY_PACK, compact_counts(doc_len), matrix.k1, matrix.b)

    def postings(self, ids: npt.NDArray[Any], tf: npt.NDArray[Any], ptr: npt.NDArray[np.int64]
                 ) -> tuple[npt.NDArray[np.int64], npt.NDArray[np.int32],
                            npt.NDArray[np.int64], FloatArray]:
        """The groups' (df, ids, term frequencies, weights) of some whole terms, from
        their documents' ids and term frequencies, term-major (``ptr``: where each term
        starts, from 0)."""
        # Within a term's column sentences ascend, so their groups do not decrease: a
        # group's postings stand side by side, and one pass finds where each begins.
        groups = self.group_of32[ids]
        begins = np.ones(groups.shape[0], dtype=bool)
        np.not_equal(groups[1:], groups[:-1], out=begins[1:])
        begins[ptr[1:-1][ptr[1:-1] < groups.shape[0]]] = True  # each column's first
        starts = np.flatnonzero(begins)
        sums = (np.add.reduceat(np.asarray(tf, dtype=np.int64), starts) if starts.size
                else np.zeros(0, dtype=np.int64))
        df = np.diff(np.searchsorted(starts, ptr))
        kept = groups[starts]
        tf_kept = np.minimum(sums, _TF_CAP)
        weights = posting_weights(
            tf_kept, self.matrix.norms(kept),
            np.repeat(lucene_idf(df, self.n_groups).astype(np.float32), df))
        return df, kept, tf_kept, weights


class SortedRuns:
    """A BM25 matrix built from sentences given a run at a time, in order: within a run
    one sort of (term, sentence) keys puts repeats side by side (their count is the tf).
    Runs wait in memory, or on disk with ``spill``; then, a range of terms at a time,
    each run's postings of those terms are gathered and packed, so building holds one
    run or one range of terms unpacked, not the corpus. A run may know fewer terms than
    the runs after it (a corpus read a batch at a time meets new words as it goes)."""

    def __init__(self, spill: bool) -> None:
        self._runs = _Runs(spill)
        self._df = np.zeros(0, dtype=np.int64)
        self.n_docs = 0

    def __enter__(self) -> SortedRuns:
        return self

    def __exit__(self, *exc: object) -> None:
        self._runs.__exit__()

    def add(self, terms: npt.NDArray[Any], lengths: npt.NDArray[np.int32],
            n_terms: int) -> None:
        """The next sentences: ``lengths[i]`` terms each, ``terms`` laid end to end, all
        below ``n_terms``."""
        t, d, f = _sorted_run(terms, np.asarray(lengths, dtype=np.int32))
        counts = np.bincount(t, minlength=n_terms)
        del t
        if counts.shape[0] > self._df.shape[0]:
            self._df = np.concatenate([self._df, np.zeros(counts.shape[0] - self._df.shape[0],
                                                          dtype=np.int64)])
        self._df[:counts.shape[0]] += counts
        self._runs.add(counts, d + self.n_docs, f)
        self.n_docs += int(lengths.shape[0])

    def matrix(self, doc_len: npt.ArrayLike, n_terms: int, *, k1: float = K1,
               b: float = B) -> BM25Matrix:
        """The matrix of every run's sentences, whose lengths are ``doc_len``."""
        matrix, chunks = self._merged(doc_len, n_terms, k1, b)
        writer = PostingsWriter()
        for df, ids, tf, weights in chunks:
            writer.add(df, ids, tf, weights)
        return matrix._packed_as(writer.finish())

    def save(self, out: Path, doc_len: npt.ArrayLike, n_terms: int,
             group_of: npt.ArrayLike, n_groups: int, scratch: Path
             ) -> tuple[BM25Matrix, BM25Matrix]:
        """The matrices of every run's sentences (``doc_len`` long) and of their groups
        (see :meth:`BM25Matrix.grouped`; their postings saved in ``out`` with the prefix
        ``para_``), in one pass over the runs: their postings go to files as they are
        packed, through ``scratch``, and are memory-mapped from ``out``."""
        matrix, chunks = self._merged(doc_len, n_terms, K1, B)
        groups = _Groups(matrix, group_of, n_groups)
        (scratch / "sentences").mkdir()
        (scratch / "groups").mkdir()
        sentences = PostingsFileWriter(scratch / "sentences")
        grouped = PostingsFileWriter(scratch / "groups")
        for df, ids, tf, weights in chunks:
            sentences.add(df, ids, tf, weights)
            del weights
            grouped.add(*groups.postings(ids, tf, pointers(df)))
        return (matrix._packed_as(sentences.save(out, "")),
                groups.matrix._packed_as(grouped.save(out, "para_")))

    def _merged(self, doc_len: npt.ArrayLike, n_terms: int, k1: float, b: float
                ) -> tuple[BM25Matrix, Iterator[tuple[Any, Any, Any, FloatArray]]]:
        """The matrix (lengths only, until packed), and every term's (df, ids, term
        frequencies, weights) from the runs, a range of terms at a time."""
        lengths = np.asarray(doc_len)
        df = np.zeros(n_terms, dtype=np.int64)
        df[:self._df.shape[0]] = self._df
        matrix = BM25Matrix(_EMPTY_PACK, compact_counts(lengths), k1, b)
        idf = lucene_idf(df, int(lengths.shape[0])).astype(np.float32)

        def chunks() -> Iterator[tuple[Any, Any, Any, FloatArray]]:
            for t0, t1 in term_chunks(pointers(df)):
                ids, tf = self._runs.terms(t0, t1)
                weights = posting_weights(tf, matrix.norms(ids),
                                          np.repeat(idf[t0:t1], df[t0:t1]))
                yield df[t0:t1], ids, tf, weights
                del ids, tf, weights

        return matrix, chunks()


class _Runs:
    """Sorted runs of postings while building: each run's postings per term and their
    sentence ids and term frequencies, term-major; on disk when there are several, so
    that building holds one run at a time (read back a range of terms at a time, not
    memory-mapped: mapped pages once read would count in the build's memory)."""

    def __init__(self, spill: bool) -> None:
        self._folder: tempfile.TemporaryDirectory[str] | None = (
            tempfile.TemporaryDirectory(prefix="quotebot-runs-") if spill else None)
        self._runs: list[tuple[Any, Any, Any]] = []

    def __enter__(self) -> _Runs:
        return self

    def __exit__(self, *exc: object) -> None:
        self._runs.clear()
        if self._folder is not None:
            self._folder.cleanup()

    def add(self, counts: npt.NDArray[np.int64], ids: npt.NDArray[np.int32],
            tf: npt.NDArray[np.uint16]) -> None:
        arrays: list[Any] = [pointers(counts), ids, compact_counts(tf)]
        if self._folder is not None:
            for i, name in ((1, "ids"), (2, "tf")):
                path = Path(self._folder.name) / f"{len(self._runs)}-{name}.bin"
                arrays[i].tofile(path)
                arrays[i] = _OnDisk(path, arrays[i].dtype)
        self._runs.append((arrays[0], arrays[1], arrays[2]))

    def terms(self, lo: int, hi: int) -> tuple[npt.NDArray[np.int32], npt.NDArray[np.int64]]:
        """Terms ``lo:hi``'s postings from every run: term-major, each term's sentences
        ascending (runs are in sentence order)."""
        ids, tf, term = [], [], []
        for ptr, run_ids, run_tf in self._runs:
            # (A run that ended before terms lo:hi were met has none of them.)
            known = int(ptr.shape[0]) - 1
            top = min(hi, known)
            a, z = int(ptr[min(lo, known)]), int(ptr[top])
            ids.append(np.asarray(run_ids[a:z]))
            tf.append(np.asarray(run_tf[a:z], dtype=np.int64))
            if len(self._runs) > 1 and lo < top:
                term.append(np.repeat(np.arange(lo, top, dtype=np.int32),
                                      np.diff(np.asarray(ptr[lo:top + 1]))))
        if len(self._runs) == 1:
            return ids[0], tf[0]
        if not term:
            return np.zeros(0, np.int32), np.zeros(0, np.int64)
        order = np.argsort(np.concatenate(term), kind="stable")
        return np.concatenate(ids)[order], np.concatenate(tf)[order]


@dataclass(frozen=True, slots=True)
class _OnDisk:
    """An array written raw to ``path``, whose slices are read from the file."""

    path: Path
    dtype: np.dtype[Any]

    def __getitem__(self, part: slice) -> npt.NDArray[Any]:
        count = part.stop - part.start
        return np.fromfile(self.path, dtype=self.dtype, count=count,
                           offset=part.start * self.dtype.itemsize)


def _norms(doc_len: npt.ArrayLike, avgdl: float, k1: float, b: float) -> FloatArray:
    lengths = np.asarray(doc_len, dtype=np.float64)
    return (k1 * (1.0 - b + b * lengths / (avgdl or 1.0))).astype(np.float32)


def posting_weights(tf: npt.ArrayLike, norms: FloatArray, idf: FloatArray) -> FloatArray:
    """BM25 weights of postings from their term frequencies, their sentences' norms and
    their terms' idf, in float32: the same operations, in the same order, wherever a
    weight is computed, so a weight is the same to the bit when building and serving.
    ``norms`` is used as scratch space."""
    weights = np.array(tf, dtype=np.float32)
    norms += weights
    np.divide(weights, norms, out=weights)
    weights *= idf
    return weights


_EMPTY_PACK = PackedPostings.pack(np.zeros(1, np.int64), np.zeros(0, np.int32),
                                  np.zeros(0, np.uint16), np.zeros(0, np.float32))

#: A term's postings as decoded: (sentence ids, term frequencies); weights are computed
#: where they are needed (see :meth:`BM25Matrix.weighed`); no frequencies when all are 1.
_Raw = tuple[npt.NDArray[np.int32], npt.NDArray[np.int64] | None]


def _decode_terms(matrix: BM25Matrix, terms: Sequence[int]) -> dict[int, _Raw]:
    """Whole columns of ``terms``: term → (sentence ids, term frequencies)."""
    packed = matrix.packed
    return {t: packed.column(t) for t in dict.fromkeys(terms)}


def _starts(counts: npt.NDArray[np.int64]) -> npt.NDArray[np.int64]:
    out = np.zeros(counts.shape[0], dtype=np.int64)
    np.cumsum(counts[:-1], out=out[1:])
    return out


#: A lookup reads a term's whole list once it needs more than one block in this many.
_WHOLE = 4


def _blocks_around(matrix: BM25Matrix, terms: Sequence[int], lo: npt.NDArray[np.int64],
                   hi: npt.NDArray[np.int64], whole: dict[int, _Raw] | None = None
                   ) -> dict[int, _Raw]:
    """For each of ``terms``, its postings in the blocks that may hold a sentence of some
    range ``lo[i]:hi[i]``: for a sentence in such a range, the term's postings given
    hold it if the term's column does. Lists read whole are also put in ``whole``."""
    packed = matrix.packed
    out: dict[int, _Raw] = {}
    lo32 = lo.astype(np.int32)
    last32 = (np.maximum(hi, lo + 1) - 1).astype(np.int32)
    nonempty = hi > lo
    for term in terms:
        b0, b1 = packed.blocks_of(term)
        if b1 - b0 == 1:
            out[term] = packed.column(term)
            if whole is not None:
                whole[term] = out[term]
            continue
        firsts = packed.first[b0:b1]
        # A block holds the ids from its first to the next block's first.
        a = np.searchsorted(firsts, lo32, "right") - 1
        z = np.searchsorted(firsts, last32, "right") - 1
        keep = nonempty & (z >= 0)
        a, z = np.maximum(a[keep], 0), z[keep]
        if (a == z).all():
            mine = distinct(a)
        else:
            span = z - a + 1
            mine = distinct(np.repeat(a - _starts(span), span)
                             + np.arange(int(span.sum())))
        # Reading a whole term is a slice: quicker than gathering most of its blocks.
        if mine.shape[0] * _WHOLE > b1 - b0:
            out[term] = packed.column(term)
            if whole is not None:
                whole[term] = out[term]
        else:
            out[term] = packed.blocks(term, mine)
    return out


#: Tokens per sorted run when building (see :meth:`BM25Matrix.from_flat`).
_RUN_TOKENS = 1 << 22
#: Above this many tokens, sorted runs wait on disk rather than in memory.
_SPILL_TOKENS = 1 << 24


def _sorted_run(terms: npt.NDArray[Any], lengths: npt.NDArray[np.int32]
                ) -> tuple[npt.NDArray[np.int32], npt.NDArray[np.int32], npt.NDArray[np.uint16]]:
    """(term, sentence from 0, tf) of a run of sentences' postings, by term then sentence."""
    n_docs = max(int(lengths.shape[0]), 1)
    keys = terms.astype(np.int64) * n_docs
    keys += np.repeat(np.arange(lengths.shape[0], dtype=np.int64), lengths)
    keys.sort()
    if not keys.size:
        return np.zeros(0, np.int32), np.zeros(0, np.int32), np.zeros(0, np.uint16)
    starts = np.flatnonzero(np.concatenate(([True], keys[1:] != keys[:-1])))
    tf = np.diff(np.append(starts, keys.size))
    keys = keys[starts]
    cols = keys // n_docs
    docs = (keys - cols * n_docs).astype(np.int32)
    return (cols.astype(np.int32), docs,
            np.minimum(tf, np.iinfo(np.uint16).max).astype(np.uint16))


def column_maxima(indptr: npt.ArrayLike, weights: FloatArray) -> FloatArray:
    """The largest of each column's weights (0 for an empty column)."""
    ptr = np.asarray(indptr, dtype=np.int64)
    out = np.zeros(ptr.shape[0] - 1, dtype=np.float32)
    nonempty = ptr[1:] > ptr[:-1]
    if nonempty.any():
        # Empty columns have no length, so each non-empty column runs to the next one's start.
        out[nonempty] = np.maximum.reduceat(np.asarray(weights), ptr[:-1][nonempty])
    return out


#: A kind of score (float32 from the postings, float64 once a paragraph's share is added).
_Score = TypeVar("_Score", bound=np.floating[Any])


def top_k_of(
    ids: npt.NDArray[np.int64], scores: npt.NDArray[_Score], k: int
) -> tuple[npt.NDArray[np.int64], npt.NDArray[_Score]]:
    """Best ``k`` of (ids, scores), best first, ties broken by ascending id; the scores
    keep their type."""
    if k <= 0 or ids.size == 0:
        return ids[:0], scores[:0]
    if ids.size > k:
        # Partial sort; keep every candidate tied with the k-th so tie-breaking is stable.
        part = np.argpartition(-scores, k - 1)
        kth = scores[part[k - 1]]
        sel = np.flatnonzero(scores >= kth)
        ids, scores = ids[sel], scores[sel]
    order = np.lexsort((ids, -scores))[:k]
    return ids[order], scores[order]


#: A term's postings (sentence ids, weights) and the query's weight for the term.
_Column = tuple[npt.NDArray[np.int32], FloatArray, np.float32]
#: A term's postings as decoded, the term and the query's weight for it.
_RawColumn = tuple[npt.NDArray[np.int32], npt.NDArray[np.int64] | None, int, np.float32]
#: A group's terms with their query weights, before any posting is decoded.
_Terms = list[tuple[int, np.float32]]
#: Above this many postings per sentence of the corpus, scores are summed into a dense
#: vector (a pass over every sentence) instead of sorting the postings.
_DENSE_SHARE = 1 / 16


def group_scores(
    matrix: BM25Matrix, groups: Sequence[Sequence[tuple[int, float]]]
) -> tuple[npt.NDArray[np.int64], FloatArray]:
    """Scores where each group of terms counts once: the best of its (weighted) terms.

    A group is a word of the question with its alternatives (parts of a hyphenated
    word, related words at a lower weight); sentences score the sum over groups.
    With one plain term per group this is exactly :meth:`BM25Matrix.scores`.
    Only sentences with a positive score are returned, in ascending id order.
    """
    terms = _terms(matrix, plain_groups(groups))
    if not terms:
        return np.empty(0, np.int64), np.empty(0, np.float32)
    columns = _weighted(matrix, terms, _decode_terms(matrix, [t for g in terms for t, _ in g]))
    if len(columns) == 1 and len(columns[0]) == 1:
        ids, weights, w = columns[0][0]
        scores = weights * w
        keep = scores > 0
        return ids[keep].astype(np.int64), scores[keep]
    if _is_dense(matrix, columns):
        total, positive = _dense_totals(matrix, columns)
        # (A boolean mask first: nonzero() on a float vector is several times slower.)
        ids64 = np.flatnonzero(np.greater(total, 0, out=positive))
        return ids64, total[ids64]
    return _sparse_scores(columns)


def plain_groups(groups: Sequence[Sequence[tuple[int, float]]]
                 ) -> Sequence[Sequence[tuple[int, float]]]:
    """``groups`` as scored: when every group is one term, a term repeated across groups
    counts once, with its last weight (as in a query mapping)."""
    if all(len(g) == 1 for g in groups):
        # Plain terms: a term repeated across groups counts once (as in a query mapping).
        return [[(t, w)] for t, w in {t: w for g in groups for t, w in g}.items()]
    return groups


def _terms(matrix: BM25Matrix, groups: Sequence[Sequence[tuple[int, float]]]
           ) -> list[_Terms]:
    """Each group's terms that have postings, with their weights; groups without any
    dropped."""
    out: list[_Terms] = []
    df = matrix.df
    n_terms = df.shape[0]
    for group in groups:
        kept: _Terms = [(term, np.float32(w)) for term, w in group
                        if 0 <= term < n_terms and w > 0 and df[term]]
        if kept:
            out.append(kept)
    return out


def _bounds(matrix: BM25Matrix, terms: Sequence[_Terms]) -> list[float]:
    """Each group's highest possible score."""
    top = matrix.max_weights
    return [max(float(top[term]) * float(w) for term, w in group) for group in terms]


def _weighted(matrix: BM25Matrix, terms: Sequence[_Terms], postings: Mapping[int, _Raw]
              ) -> list[list[_Column]]:
    """The groups' columns, each term's postings given with their weights."""
    weights = {t: matrix.weighed(t, *raw)[1] for t, raw in postings.items()}
    return [[(postings[t][0], weights[t], w) for t, w in group] for group in terms]


def _raw(terms: Sequence[_Terms], postings: Mapping[int, _Raw]) -> list[list[_RawColumn]]:
    """The groups' columns, each term's postings given as decoded."""
    return [[(*postings[t], t, w) for t, w in group] for group in terms]


def scores_of(matrix: BM25Matrix, groups: Sequence[Sequence[tuple[int, float]]],
              ids: npt.ArrayLike) -> FloatArray:
    """The scores :func:`group_scores` gives the sentences ``ids`` (0 where none of the
    terms is), from the blocks that may hold them: the cost follows ``len(ids)``, not the
    postings' length."""
    wanted = np.asarray(ids, dtype=np.int64)
    terms = _terms(matrix, plain_groups(groups))
    if not terms or not wanted.size:
        return np.zeros(wanted.shape[0], dtype=np.float32)
    found = _blocks_around(matrix, list(dict.fromkeys(t for g in terms for t, _ in g)),
                           wanted, wanted + 1)
    return _scores_at(matrix, _raw(terms, found), wanted)


def _scores_at(matrix: BM25Matrix, columns: Sequence[Sequence[_RawColumn]],
               wanted: npt.NDArray[np.int64]) -> FloatArray:
    """Full scores of ``wanted`` from columns holding at least the blocks around them,
    weighing only the postings found. The same float32 weights and sums, in the same
    order, as group_scores: the same scores exactly."""
    total = np.zeros(wanted.shape[0], dtype=np.float32)
    if not wanted.size:
        return total
    # (Searching int32 postings for int64 ids would copy each column to int64 first.)
    keys = wanted.astype(np.int32)
    found: dict[int, tuple[npt.NDArray[np.bool_], FloatArray]] = {}
    for cols in columns:
        for ids, tf, term, _ in cols:
            if ids.size and term not in found:
                at = np.searchsorted(ids, keys)
                np.minimum(at, ids.shape[0] - 1, out=at)
                found[term] = (ids[at] == keys,
                               matrix.weighed(term, keys, None if tf is None else tf[at])[1])
    _add_group_bests(total, [[(t, w) for _, _, t, w in cols] for cols in columns], found)
    return total


def _add_group_bests(total: FloatArray, groups: Sequence[_Terms],
                     found: Mapping[int, tuple[npt.NDArray[np.bool_], FloatArray]]) -> None:
    """Add to ``total`` each group's best weight per entry: ``found[term]`` is (where the
    term is present, its weights there), scaled by the query's weight for the term; a term
    missing from ``found`` is present nowhere. Groups are summed in order, each from its
    maximum in float32, as :func:`group_scores` sums them."""
    for group in groups:
        best: FloatArray | None = None
        for term, w in group:
            if term not in found:
                continue
            present, weights = found[term]
            value = np.where(present, _scaled(weights, w), np.float32(0))
            best = value if best is None else np.maximum(best, value)
        if best is not None:
            total += best


def range_scores(matrix: BM25Matrix, over: BM25Matrix,
                 groups: Sequence[Sequence[tuple[int, float]]], ids: npt.ArrayLike,
                 lo: npt.ArrayLike, hi: npt.ArrayLike, read: Mapping[int, _Raw] | None = None
                 ) -> FloatArray:
    """The scores ``over`` gives its documents ``ids`` (as :func:`scores_of` on ``over``),
    from ``matrix``'s postings, where ``over`` is a matrix of groups of consecutive
    documents of ``matrix`` (:meth:`BM25Matrix.grouped`) and ``ids[i]`` is made of
    ``matrix``'s documents ``lo[i]:hi[i]``.

    A group's term frequency is the sum of its documents' (capped as when it was built),
    weighed with ``over``'s lengths and idf by the same float32 operations: the same
    scores exactly. Lists given in ``read`` (see :func:`top_groups`) are not decoded
    again; of the other terms only the blocks that may hold a sentence of a range are."""
    wanted = np.asarray(ids, dtype=np.int64)
    total = np.zeros(wanted.shape[0], dtype=np.float32)
    terms = _terms(over, plain_groups(groups))
    if not terms or not wanted.size:
        return total
    known = read or {}
    every = list(dict.fromkeys(t for g in terms for t, _ in g))
    postings = {t: known[t] for t in every if t in known}
    lo64, hi64 = np.asarray(lo, dtype=np.int64), np.asarray(hi, dtype=np.int64)
    postings.update(_blocks_around(matrix, [t for t in every if t not in postings],
                                   lo64, hi64))
    lo32, hi32, keys = lo64.astype(np.int32), hi64.astype(np.int32), wanted.astype(np.int32)
    found: dict[int, tuple[npt.NDArray[np.bool_], FloatArray]] = {}
    for term in every:
        sids, tf = postings[term]
        a, z = np.searchsorted(sids, lo32), np.searchsorted(sids, hi32)
        sums = z - a
        if not sums.any():
            continue  # in none of the ranges: present nowhere (see _add_group_bests)
        if tf is not None:
            # Only the postings in the ranges are read (a common word's list is long).
            owner = np.repeat(np.arange(sums.shape[0]), sums)
            at = np.arange(owner.shape[0]) - np.repeat(_starts(sums) - a, sums)
            sums = np.bincount(owner, weights=tf[at], minlength=sums.shape[0]).astype(np.int64)
        np.minimum(sums, _TF_CAP, out=sums)
        found[term] = (sums > 0, over.weighed(term, keys, sums)[1])
    _add_group_bests(total, terms, found)
    return total


#: The largest term frequency a group keeps (see :meth:`_Groups.postings`).
_TF_CAP = np.iinfo(np.uint16).max


#: MaxScore takes no more groups once their postings would pass this share of the postings
#: of the groups left (the groups taken are read whole; the rest only around the candidates
#: that can still win, since those are pruned by a floor for the k-th score).
_LOOKUP_SHARE = 1 / 2
#: Below this many postings in all, scoring every one costs less than looking up.
_MAXSCORE_MIN = 16_384


def top_groups(matrix: BM25Matrix, groups: Sequence[Sequence[tuple[int, float]]], k: int,
               read: dict[int, _Raw] | None = None
               ) -> tuple[npt.NDArray[np.int64], FloatArray]:
    """``top_k_of(*group_scores(matrix, groups), k)``, reading only the postings that can
    change it (MaxScore, then block-max).

    Groups are taken cheapest first (fewest postings). The sentences of the groups taken
    so far get their full scores from the blocks of every other group's postings that may
    hold them; once the ``k``-th of those scores beats the most that the groups not taken
    could give a sentence together, no sentence outside can enter the top ``k``, and those
    groups' postings (a common word's, usually) are never decoded in full. Otherwise every
    group is scored, but a block is left undecoded when even its largest weight, with the
    most the other groups could add, stays below that ``k``-th score. The result is the
    same, ties included.

    ``read``, when given, gets the postings of every term whose list was decoded whole
    (term → sentence ids, term frequencies), for :func:`range_scores` to reuse.
    """
    terms = _terms(matrix, plain_groups(groups))
    if k <= 0 or not terms:
        return np.empty(0, np.int64), np.empty(0, np.float32)
    df = matrix.df
    sizes = [int(df[g[0][0]]) if len(g) == 1 else sum(int(df[t]) for t, _ in g)
             for g in terms]
    if sum(sizes) < _MAXSCORE_MIN:
        if all(len(g) == 1 for g in terms):
            return _plain_top(matrix, terms, k, read)
        every = list(dict.fromkeys(t for g in terms for t, _ in g))
        columns = _decode_terms(matrix, every)
        if read is not None:
            read.update(columns)
        return top_k_of(*_sparse_scores(_weighted(matrix, terms, columns)), k)
    every = list(dict.fromkeys(t for g in terms for t, _ in g))
    bounds = _bounds(matrix, terms)
    order = sorted(range(len(terms)), key=sizes.__getitem__)
    decoded: dict[int, _Raw] = {}
    whole: dict[int, _Raw] = {}  # lists a lookup read whole: kept for the next lookups
    threshold = _block_floor(matrix, terms, k)
    # The sentences of the groups taken (``seen``), and those of them that may still be
    # among the best with their full scores; the groups left are scored apart.
    seen = found = np.empty(0, np.int64)
    found_scores = np.empty(0, np.float32)
    left = order
    for taken in range(1, len(terms)):
        rest = order[taken:]
        if sum(sizes[g] for g in order[:taken]) > sum(sizes[g] for g in rest) * _LOOKUP_SHARE:
            break
        new = [t for g in order[:taken] for t, _ in terms[g] if t not in decoded]
        decoded.update(_decode_terms(matrix, new))
        parts: list[npt.NDArray[Any]] = [decoded[t][0] for g in order[:taken]
                                         for t, _ in terms[g]]
        cand = (parts[0] if len(parts) == 1 else _distinct(np.concatenate(parts))[0]).astype(
            np.int64)
        # What the groups taken give each candidate is at most its score: the k-th best of
        # those is a floor for the k-th best score, and a candidate that cannot reach the
        # floor with the most the rest could add is not looked up in the rest's postings.
        reach = sum(bounds[g] for g in rest) * (1 + 1e-5)
        first_group = terms[order[0]]
        if taken == 1 and len(first_group) == 1:
            # (One term taken: its candidates are its postings, their partial scores its
            # weights, as _scores_at would find them.)
            term, w = first_group[0]
            partial = _scaled(matrix.weighed(term, *decoded[term])[1], w)
        else:
            partial = _scores_at(matrix, _raw([terms[g] for g in order[:taken]], decoded),
                                 cand)
        if cand.shape[0] >= k:
            floor = float(np.partition(partial, cand.shape[0] - k)[cand.shape[0] - k])
            threshold = max(threshold, floor)
        seen, left = cand, rest
        found = cand[partial + reach >= threshold]
        around = _blocks_around(matrix, [t for t in every if t not in decoded and t not in whole],
                                found, found + 1, whole)
        found_scores = _scores_at(matrix, _raw(terms, {**around, **whole, **decoded}), found)
        if found_scores.shape[0] < k:  # (the floor may leave fewer than k)
            continue
        kth = float(np.partition(found_scores, found_scores.shape[0] - k)
                    [found_scores.shape[0] - k])
        # A sentence outside scores at most the sum of the rest's bounds (with a margin
        # for float32 rounding); it must fall strictly below the k-th to be left out.
        if reach < kth:
            if read is not None:
                read.update({**whole, **decoded})
            keep = found_scores > 0
            return top_k_of(found[keep], found_scores[keep], k)
        threshold = max(threshold, kth)
    # A sentence outside ``seen`` holds none of the groups taken: its score is what the
    # groups left give it, and only their blocks that can reach the threshold are read.
    rest_terms = [terms[g] for g in sorted(left)]
    wanted = {t for group in rest_terms for t, _ in group}
    known = {t: raw for t, raw in {**whole, **decoded}.items() if t in wanted}
    pruned = _blocks_above(matrix, rest_terms, [bounds[g] for g in sorted(left)], threshold,
                           skip=known, whole=whole)
    if read is not None:
        read.update({**whole, **decoded})
    ids, scores = _top_by_scratch(matrix, _weighted(matrix, rest_terms, {**pruned, **known}), k,
                                  exclude=seen)
    if not found.shape[0]:
        return ids, scores
    keep = found_scores > 0
    return top_k_of(np.concatenate([ids, found[keep]]),
                    np.concatenate([scores, found_scores[keep]]), k)


def _block_floor(matrix: BM25Matrix, terms: Sequence[_Terms], k: int) -> float:
    """A floor for the ``k``-th best score, from the blocks' largest weights: ``k`` blocks
    of a term hold ``k`` sentences (a term's sentences are distinct) each of which scores
    at least its block's largest weight times the term's weight in the query."""
    packed = matrix.packed
    floor = 0.0
    for group in terms:
        for term, w in group:
            b0, b1 = packed.blocks_of(term)
            if b1 - b0 >= k:
                kth = np.partition(packed.block_max[b0:b1], b1 - b0 - k)[b1 - b0 - k]
                floor = max(floor, float(kth * w) / (1 + 1e-5))
    return floor


def _blocks_above(matrix: BM25Matrix, terms: Sequence[_Terms], bounds: Sequence[float],
                  threshold: float, skip: Mapping[int, Any], whole: dict[int, _Raw]
                  ) -> dict[int, _Raw]:
    """The postings of each term (but those of ``skip``) in the blocks where a sentence
    could reach ``threshold``: the block's largest weight in its group plus the most the
    other groups could add. A sentence in a block left out scores below the threshold,
    which the ``k``-th best already reaches, so it is not among the best ``k``. Lists
    read whole are also put in ``whole``."""
    packed = matrix.packed
    total = sum(bounds)
    wanted: dict[int, float] = {}  # term → the least weight its block must reach
    for group, bound in zip(terms, bounds, strict=True):
        others = total - bound
        for term, w in group:
            if term in skip:
                continue
            need = (threshold / (1 + 1e-5) - others) / float(w) if threshold > 0 else 0.0
            wanted[term] = min(wanted.get(term, need), need)
    out: dict[int, _Raw] = {}
    for term, need in wanted.items():
        if need > 0:
            b0, b1 = packed.blocks_of(term)
            local = np.flatnonzero(packed.block_max[b0:b1] >= need)
            if local.shape[0] < b1 - b0:
                out[term] = packed.blocks(term, local)
                continue
        out[term] = whole[term] = packed.column(term)
    return out


def _top_by_scratch(matrix: BM25Matrix, columns: Sequence[Sequence[_Column]], k: int,
                    exclude: npt.NDArray[np.int64] | None = None
                    ) -> tuple[npt.NDArray[np.int64], FloatArray]:
    """``top_k_of`` of every matching sentence's score, without sorting them all.

    Scores are summed into this thread's scratch vector at the postings' sentences (in
    group order, as :func:`group_scores` sums them: the same float32 values), read back
    per posting, and only those entries are set back to zero, so a question costs its
    postings and never a pass over every sentence.
    """
    total = _zeroed_scratch(matrix, "sums")
    parts: list[npt.NDArray[Any]] = []
    try:
        for cols in columns:
            if len(cols) == 1:
                ids, weights, w = cols[0]
                total[ids] += _scaled(weights, w)  # a column's ids are distinct
                parts.append(ids)
                continue
            best = _zeroed_scratch(matrix, "maxima")
            for ids, weights, w in cols:
                np.maximum.at(best, ids, _scaled(weights, w))
            for ids, _, _ in cols:
                # A sentence in several of the group's columns gets its best once; later
                # columns read the zero left behind (and adding zero changes no sum).
                found = best[ids]
                best[ids] = 0.0
                total[ids] += found
                parts.append(ids)
        every = parts[0] if len(parts) == 1 else np.concatenate(parts)
        values = total[every]
    finally:
        for ids in parts:
            total[ids] = 0.0
    if exclude is not None and exclude.shape[0]:
        # (Sentences ``exclude`` (ascending) are scored elsewhere: left out here.)
        at = np.minimum(np.searchsorted(exclude, every), exclude.shape[0] - 1)
        values[exclude[at] == every] = 0.0
    # A sentence stands once in each part at most, so the best k * len(parts) postings
    # hold the k best sentences, and the k-th best score among them is the k-th overall.
    reach = k * len(parts)
    if every.shape[0] > reach:
        part = np.argpartition(values, every.shape[0] - reach)[every.shape[0] - reach:]
        _, first = _distinct(every[part])
        best_part = values[part][first]
        kth = np.partition(best_part, best_part.shape[0] - k)[best_part.shape[0] - k]
        keep = values >= kth
        every, values = every[keep], values[keep]
    ids, first = _distinct(every)
    keep = values[first] > 0
    return top_k_of(ids[keep].astype(np.int64), values[first][keep], k)


def _distinct(values: npt.NDArray[Any]) -> tuple[npt.NDArray[Any], npt.NDArray[np.int64]]:
    """The distinct values, ascending, and where each first stands (``np.unique`` with
    ``return_index``, by one sort: NumPy 2's hashing ``unique`` is slower on integers)."""
    order = np.argsort(values, kind="stable")
    ordered = values[order]
    first = np.ones(ordered.shape[0], dtype=bool)
    np.not_equal(ordered[1:], ordered[:-1], out=first[1:])
    return ordered[first], order[first]


def _zeroed_scratch(matrix: BM25Matrix, name: str) -> FloatArray:
    """This thread's vector ``name`` of one float per sentence, zero between uses (unlike the
    vectors of ``_dense_totals``, which it fills when it starts)."""
    scratch = matrix._scratch
    vector: FloatArray | None = getattr(scratch, name, None)
    if vector is None or vector.shape[0] != matrix.n_docs:
        vector = np.zeros(matrix.n_docs, dtype=np.float32)
        setattr(scratch, name, vector)
    return vector


def _is_dense(matrix: BM25Matrix, columns: Sequence[Sequence[_Column]]) -> bool:
    postings = sum(c.size for cols in columns for c, _, _ in cols)
    return postings > matrix.n_docs * _DENSE_SHARE


def _scaled(weights: FloatArray, w: np.float32) -> FloatArray:
    return weights if w == 1 else weights * w


#: A kind of sentence id (int32 in postings, int64 once merged).
_Id = TypeVar("_Id", bound=np.integer[Any])


def _numbered(ids: npt.NDArray[_Id]) -> tuple[npt.NDArray[_Id], npt.NDArray[np.intp]]:
    """The distinct ``ids`` in order, and each id's number among them (``uniq[inverse] ==
    ids``). A stable sort merges the columns ``ids`` is made of, each already in order:
    several times quicker than np.unique's."""
    order = np.argsort(ids, kind="stable")
    ordered = ids[order]
    starts = np.empty(ordered.shape[0], dtype=bool)
    starts[:1] = True
    np.not_equal(ordered[1:], ordered[:-1], out=starts[1:])
    inverse = np.empty(ordered.shape[0], dtype=np.intp)
    inverse[order] = np.cumsum(starts) - 1
    return ordered[starts], inverse


def _sparse_scores(columns: Sequence[Sequence[_Column]]
                   ) -> tuple[npt.NDArray[np.int64], FloatArray]:
    # One sort of all postings numbers the matching sentences 0..m-1; then the same
    # sums and maxima as the dense path, over m entries instead of every sentence.
    every = np.concatenate([c for cols in columns for c, _, _ in cols])
    uniq, inverse = _numbered(every)
    total = np.zeros(uniq.size, dtype=np.float32)
    best = np.empty(uniq.size, dtype=np.float32) if any(len(c) > 1 for c in columns) else None
    at = 0
    for cols in columns:
        if len(cols) == 1 or best is None:
            ids, weights, w = cols[0]
            # A column's sentences are distinct: a plain indexed sum adds each once.
            total[inverse[at:at + ids.size]] += _scaled(weights, w)
            at += ids.size
            continue
        best.fill(0.0)
        for ids, weights, w in cols:
            np.maximum.at(best, inverse[at:at + ids.size], _scaled(weights, w))
            at += ids.size
        total += best
    keep = total > 0
    return uniq[keep].astype(np.int64), total[keep]


def _plain_weights(matrix: BM25Matrix, terms: Sequence[_Terms],
                   read: dict[int, _Raw] | None = None
                   ) -> tuple[npt.NDArray[np.int32], FloatArray]:
    """Groups of one term each: their terms' postings laid end to end, (sentence ids,
    weights times the query's weights), in a few NumPy calls for the whole query rather
    than a few per term. The weights are those of :meth:`BM25Matrix.weighed`, to the bit
    (a term frequency of 1 in :func:`posting_weights` is what its table holds). The
    columns decoded are put in ``read`` when given."""
    packed = matrix.packed
    ids_tf = [packed.column(g[0][0]) for g in terms]
    if read is not None:
        read.update((g[0][0], raw) for g, raw in zip(terms, ids_tf, strict=True))
    sizes = [ids.shape[0] for ids, _ in ids_tf]
    every = ids_tf[0][0] if len(ids_tf) == 1 else np.concatenate([ids for ids, _ in ids_tf])
    norm, once = matrix._tables()
    lengths = matrix.doc_len.take(every)
    idf = matrix.idf32.take([g[0][0] for g in terms])
    if all(tf is None for _, tf in ids_tf):
        weights = once.take(lengths)
    else:
        weights = np.ones(every.shape[0], dtype=np.float32)
        at = 0
        for (_, tf), size in zip(ids_tf, sizes, strict=True):
            if tf is not None:
                weights[at:at + size] = tf
            at += size
        norms = norm.take(lengths)
        norms += weights
        np.divide(weights, norms, out=weights)
    weights *= idf[0] if len(sizes) == 1 else np.repeat(idf, sizes)
    scale = [g[0][1] for g in terms]
    if any(w != 1 for w in scale):
        weights *= np.repeat(np.asarray(scale, dtype=np.float32), sizes)
    return every, weights


def _plain_top(matrix: BM25Matrix, terms: Sequence[_Terms], k: int,
               read: dict[int, _Raw] | None = None
               ) -> tuple[npt.NDArray[np.int64], FloatArray]:
    """``top_k_of(*group_scores(matrix, terms), k)`` for groups of one term each, summed in
    this thread's scratch vector instead of numbering the sentences by a sort: the same
    float32 sums (each sentence's weights added in group order, from zero), read back per
    posting and set back to zero."""
    every, weights = _plain_weights(matrix, terms, read)
    at = every.astype(np.intp)  # (ufunc.at is several times quicker with native ids)
    total = _zeroed_scratch(matrix, "sums")
    try:
        np.add.at(total, at, weights)
        values = total.take(at)
    finally:
        total.put(at, 0.0)
    return _top_of_repeated(every, values, k, len(terms))


def _top_of_repeated(ids: npt.NDArray[Any], values: FloatArray, k: int, repeats: int
                     ) -> tuple[npt.NDArray[np.int64], FloatArray]:
    """``top_k_of`` of sentences ``ids`` with scores ``values``, where a sentence may stand
    up to ``repeats`` times (always with the same score), without sorting them all."""
    reach = k * repeats
    if ids.shape[0] > reach:
        # The best ``reach`` entries hold at least k sentences: the k-th best score is at
        # least the least of them, so nothing below it is needed.
        least = np.partition(values, ids.shape[0] - reach)[ids.shape[0] - reach]
        keep = np.flatnonzero(values >= least)
        ids, values = ids[keep], values[keep]
    order = np.lexsort((ids, -values))
    ids, values = ids[order], values[order]
    # The entries of one sentence stand side by side now (same score, same id).
    first = np.ones(ids.shape[0], dtype=bool)
    np.not_equal(ids[1:], ids[:-1], out=first[1:])
    first &= values > 0
    chosen = np.flatnonzero(first)[:k]
    return ids[chosen].astype(np.int64), values[chosen]


def _dense_totals(matrix: BM25Matrix, columns: Sequence[Sequence[_Column]]
                  ) -> tuple[FloatArray, npt.NDArray[np.bool_]]:
    """Every sentence's score in a dense vector, and a boolean vector to use alongside.

    Both are this thread's scratch vectors, reused by the next query: fresh ones
    would cost a page fault per 4 KB every time, more than the arithmetic. Read
    what you need from them before the next query.
    """
    scratch = matrix._scratch
    n_docs = matrix.n_docs
    total: FloatArray | None = getattr(scratch, "total", None)
    if total is None or total.shape[0] != n_docs:
        total = scratch.total = np.zeros(n_docs, dtype=np.float32)
        scratch.best = None
        scratch.mask = np.zeros(n_docs, dtype=bool)
    else:
        total.fill(0.0)
    for cols in columns:
        if len(cols) == 1:
            ids, weights, w = cols[0]
            np.add.at(total, ids, _scaled(weights, w))
            continue
        best: FloatArray | None = scratch.best
        if best is None:
            best = scratch.best = np.zeros(n_docs, dtype=np.float32)
        else:
            best.fill(0.0)
        for ids, weights, w in cols:
            np.maximum.at(best, ids, _scaled(weights, w))
        total += best
    mask: npt.NDArray[np.bool_] = scratch.mask
    return total, mask
