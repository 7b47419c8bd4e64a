"""BM25 over sentences, with term–sentence weights precomputed in a sparse matrix.

The weights are stored column-wise (CSC: one column per term), so a query is the
sum of a few columns followed by a partial sort; nothing loops over sentences in
Python. The variant is Lucene's (as in bm25s's "lucene" method):

    idf(t)   = ln(1 + (N - df + 0.5) / (df + 0.5))          # never negative
    w(t, s)  = idf(t) * tf / (tf + k1 * (1 - b + b * |s| / avgdl))
"""

from __future__ import annotations

import itertools
import math
import threading
from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import numpy.typing as npt

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
    """Term-major sparse BM25 weights for ``n_docs`` sentences over ``n_terms`` terms.

    ``indptr[t]:indptr[t + 1]`` slices ``indices`` (sentence ids, ascending) and
    ``weights`` / ``tf`` for term ``t``. ``doc_len`` is each sentence's term count.
    """

    indptr: npt.NDArray[np.int64]
    indices: npt.NDArray[np.int32]
    tf: npt.NDArray[np.uint16]
    weights: FloatArray
    doc_len: npt.NDArray[np.int32]
    k1: float = K1
    b: float = B
    _df: npt.NDArray[np.int64] | None = field(default=None, repr=False, compare=False)
    #: Per-thread scratch vectors for queries with common words (see ``_dense_totals``).
    _scratch: threading.local = field(default_factory=threading.local, repr=False,
                                      compare=False)
    #: Each term's largest weight (see :attr:`max_weights`); saved with the index.
    _max: FloatArray | None = field(default=None, repr=False, compare=False)

    @property
    def n_docs(self) -> int:
        return int(self.doc_len.shape[0])

    @property
    def n_terms(self) -> int:
        return int(self.indptr.shape[0]) - 1

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
            self._max = column_maxima(self.indptr, self.weights)
        return self._max

    def idf(self) -> npt.NDArray[np.float64]:
        return lucene_idf(self.df, self.n_docs)

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
        # Sorted runs of whole sentences, about _RUN_TOKENS tokens each: within a run one
        # sort of (term, sentence) keys puts repeats side by side (their count is the tf).
        # The runs follow each other in sentence order, so one stable sort by term then
        # gives term-major order with sentences ascending, and the memory the sorting
        # needs follows a run, not the corpus.
        ends = np.cumsum(lengths, dtype=np.int64)
        n = int(lengths.shape[0])
        # A run ends with the sentence that reaches each multiple of _RUN_TOKENS.
        cuts = np.searchsorted(ends, np.arange(_RUN_TOKENS, int(ends[-1]) if n else 0,
                                               _RUN_TOKENS)) + 1
        bounds = sorted({0, n, *np.minimum(cuts, n).tolist()})
        run_terms, run_docs, run_tf = [], [], []
        for first, last in itertools.pairwise(bounds):
            lo = int(ends[first - 1]) if first else 0
            hi = int(ends[last - 1]) if last else 0
            t, d, f = _sorted_run(terms[lo:hi], lengths[first:last])
            run_terms.append(t)
            run_docs.append(d + first)
            run_tf.append(f)
        cols = np.concatenate(run_terms) if run_terms else np.zeros(0, np.int32)
        del run_terms
        order = np.argsort(cols, kind="stable")
        indptr = np.zeros(n_terms + 1, dtype=np.int64)
        np.cumsum(np.bincount(cols, minlength=n_terms), out=indptr[1:])
        del cols
        indices = (np.concatenate(run_docs) if run_docs else np.zeros(0, np.int32))[order]
        del run_docs
        tf16 = (np.concatenate(run_tf) if run_tf else np.zeros(0, np.uint16))[order]
        del run_tf, order
        matrix = cls(indptr, indices, tf16, np.empty(0, np.float32), lengths, k1, b)
        matrix.weights = matrix.compute_weights()
        return matrix

    def compute_weights(self) -> FloatArray:
        """BM25 weights from term frequencies, document lengths and document frequencies."""
        n_docs = self.n_docs
        if n_docs == 0 or self.indices.size == 0:
            return np.zeros(self.indices.shape[0], dtype=np.float32)
        doc_len = np.asarray(self.doc_len, dtype=np.float64)
        avgdl = float(doc_len.mean()) or 1.0
        # Length normalisation per sentence, then gathered per posting: one pass, float32.
        norm = (self.k1 * (1.0 - self.b + self.b * doc_len / avgdl)).astype(np.float32)
        # In place, so that building holds two float arrays of the postings' size, not four.
        weights = np.array(self.tf, dtype=np.float32)
        denominator = norm[self.indices]
        denominator += weights
        np.divide(weights, denominator, out=weights)
        del denominator
        weights *= np.repeat(self.idf().astype(np.float32), self.df)
        return weights

    def column(self, term_id: int) -> tuple[npt.NDArray[np.int32], FloatArray]:
        lo, hi = int(self.indptr[term_id]), int(self.indptr[term_id + 1])
        return self.indices[lo:hi], self.weights[lo:hi]

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

    def top_groups(self, groups: Sequence[Sequence[tuple[int, float]]], k: int
                   ) -> tuple[npt.NDArray[np.int64], FloatArray]:
        """See :func:`top_groups`."""
        return top_groups(self, groups, k)

    def scores_of(self, groups: Sequence[Sequence[tuple[int, float]]],
                  ids: npt.ArrayLike) -> FloatArray:
        """See :func:`scores_of`."""
        return scores_of(self, groups, ids)

    def postings(self, term_id: int) -> npt.NDArray[np.int32]:
        """The sentences holding ``term_id``, ascending."""
        return self.indices[int(self.indptr[term_id]):int(self.indptr[term_id + 1])]

    def count_in_ranges(self, term_ids: Sequence[int], lo: npt.NDArray[np.int64],
                        hi: npt.NDArray[np.int64]) -> npt.NDArray[np.int64]:
        """For each range ``lo[i]:hi[i]`` of sentence ids, how many (sentence, term) pairs
        of ``term_ids`` fall in it: a binary search per range in each term's postings."""
        total = np.zeros(lo.shape[0], dtype=np.int64)
        for term in term_ids:
            sids = self.postings(term)
            if sids.size:
                total += np.searchsorted(sids, hi) - np.searchsorted(sids, lo)
        return total

    def contains(self, term_ids: Sequence[int], sids: npt.NDArray[np.int64]
                 ) -> npt.NDArray[np.bool_]:
        """Whether each sentence of ``sids`` holds any of ``term_ids``."""
        sids = np.asarray(sids, dtype=np.int64)
        return self.count_in_ranges(term_ids, sids, sids + 1) > 0

    def grouped(self, group_of: npt.NDArray[np.int64], n_groups: int) -> BM25Matrix:
        """The BM25 matrix of groups of consecutive documents (sentences → paragraphs):
        a group's term frequencies and length are the sums of its documents'.
        ``group_of`` gives each document's group, non-decreasing with the document id."""
        group_of = np.asarray(group_of, dtype=np.int64)
        indptr = np.asarray(self.indptr, dtype=np.int64)
        # Within a term's column sentences ascend, so their groups do not decrease: a group's
        # postings stand side by side, and one pass finds where each begins (no sort).
        groups = group_of.astype(np.int32)[np.asarray(self.indices)]
        begins = np.ones(groups.shape[0], dtype=bool)
        np.not_equal(groups[1:], groups[:-1], out=begins[1:])
        begins[indptr[1:-1][indptr[1:-1] < groups.shape[0]]] = True  # each column's first
        starts = np.flatnonzero(begins)
        del begins
        tf = (np.add.reduceat(np.asarray(self.tf, dtype=np.int32), starts) if starts.size
              else np.zeros(0, dtype=np.int32))
        indptr = np.searchsorted(starts, indptr).astype(np.int64)
        doc_len = np.bincount(group_of, weights=np.asarray(self.doc_len, dtype=np.float64),
                              minlength=n_groups).astype(np.int32)
        matrix = BM25Matrix(indptr, groups[starts],
                            np.minimum(tf, np.iinfo(np.uint16).max).astype(np.uint16),
                            np.empty(0, np.float32), doc_len, self.k1, self.b)
        matrix.weights = matrix.compute_weights()
        return matrix


#: Tokens per sorted run when building (see :meth:`BM25Matrix.from_flat`).
_RUN_TOKENS = 1 << 22


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


def top_k_of(
    ids: npt.NDArray[np.int64], scores: FloatArray, k: int
) -> tuple[npt.NDArray[np.int64], FloatArray]:
    """Best ``k`` of (ids, scores), best first, ties broken by ascending id."""
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
    columns = _columns(matrix, plain_groups(groups))
    if not columns:
        return np.empty(0, np.int64), np.empty(0, np.float32)
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


def _columns(matrix: BM25Matrix, groups: Sequence[Sequence[tuple[int, float]]],
             bounds: list[float] | None = None) -> list[list[_Column]]:
    """Each group's non-empty columns, with their weights; groups without any dropped.
    ``bounds``, when given, receives each kept group's highest possible score."""
    columns: list[list[_Column]] = []
    for group in groups:
        cols: list[_Column] = []
        bound = 0.0
        for term, w in group:
            if 0 <= term < matrix.n_terms and w > 0:
                col_ids, col_weights = matrix.column(term)
                if col_ids.size:
                    cols.append((col_ids, col_weights, np.float32(w)))
                    if bounds is not None:
                        bound = max(bound, float(matrix.max_weights[term]) * w)
        if cols:
            columns.append(cols)
            if bounds is not None:
                bounds.append(bound)
    return columns


def scores_of(matrix: BM25Matrix, groups: Sequence[Sequence[tuple[int, float]]],
              ids: npt.ArrayLike) -> FloatArray:
    """The scores :func:`group_scores` gives the sentences ``ids`` (0 where none of the
    terms is), found by binary search in each term's postings: the cost follows
    ``len(ids)``, not the postings' length."""
    wanted = np.asarray(ids, dtype=np.int64)
    return _scores_at(_columns(matrix, plain_groups(groups)), wanted)


def _scores_at(columns: Sequence[Sequence[_Column]], wanted: npt.NDArray[np.int64]
               ) -> FloatArray:
    # The same float32 sums, in the same order, as group_scores: the same scores exactly.
    total = np.zeros(wanted.shape[0], dtype=np.float32)
    if not wanted.size:
        return total
    # (Searching int32 postings for int64 ids would copy each column to int64 first.)
    keys = wanted.astype(np.int32)
    for cols in columns:
        best: FloatArray | None = None
        for ids, weights, w in cols:
            at = np.searchsorted(ids, keys)
            np.minimum(at, ids.shape[0] - 1, out=at)
            found = np.where(ids[at] == keys, _weighted(weights[at], w), np.float32(0))
            best = found if best is None else np.maximum(best, found)
        if best is not None:
            total += best
    return total


#: MaxScore gives up (and scores every posting) once the sentences it would look up
#: outnumber this share of the postings it would leave unread.
_LOOKUP_SHARE = 1 / 8
#: Below this many postings in all, scoring every one costs less than looking up.
_MAXSCORE_MIN = 16_384


def top_groups(matrix: BM25Matrix, groups: Sequence[Sequence[tuple[int, float]]], k: int
               ) -> tuple[npt.NDArray[np.int64], FloatArray]:
    """``top_k_of(*group_scores(matrix, groups), k)``, reading only the postings that can
    change it (MaxScore).

    Groups are taken cheapest first (fewest postings). The sentences of the groups taken
    so far get their full scores by binary search in every other group's postings; once
    the ``k``-th of those scores beats the most that the groups not taken could give a
    sentence together, no sentence outside can enter the top ``k``, and those groups'
    postings (a common word's, usually) are never read in full. The result is the same,
    ties included.
    """
    groups = plain_groups(groups)
    bounds: list[float] = []
    columns = _columns(matrix, groups, bounds)
    if k <= 0 or not columns:
        return np.empty(0, np.int64), np.empty(0, np.float32)
    sizes = [sum(ids.size for ids, _, _ in cols) for cols in columns]
    order = sorted(range(len(columns)), key=sizes.__getitem__)
    for taken in range(1, len(columns) if sum(sizes) >= _MAXSCORE_MIN else 1):
        rest = order[taken:]
        unread = sum(sizes[g] for g in rest)
        parts = [ids for g in order[:taken] for ids, _, _ in columns[g]]
        if sum(p.size for p in parts) > unread * _LOOKUP_SHARE:
            break
        cand = (parts[0] if len(parts) == 1
                else _distinct(np.concatenate(parts))[0]).astype(np.int64)
        scores = _scores_at(columns, cand)
        if scores.shape[0] < k:
            continue
        kth = np.partition(scores, scores.shape[0] - k)[scores.shape[0] - k]
        # A sentence outside scores at most the sum of the rest's bounds (with a margin
        # for float32 rounding); it must fall strictly below the k-th to be left out.
        if sum(bounds[g] for g in rest) * (1 + 1e-5) < kth:
            keep = scores > 0
            return top_k_of(cand[keep], scores[keep], k)
    if sum(sizes) < _MAXSCORE_MIN:
        return top_k_of(*_sparse_scores(columns), k)
    return _top_by_scratch(matrix, columns, k)


def _top_by_scratch(matrix: BM25Matrix, columns: Sequence[Sequence[_Column]], k: int
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
                total[ids] += _weighted(weights, w)  # a column's ids are distinct
                parts.append(ids)
                continue
            best = _zeroed_scratch(matrix, "maxima")
            for ids, weights, w in cols:
                np.maximum.at(best, ids, _weighted(weights, w))
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


def _weighted(weights: FloatArray, w: np.float32) -> FloatArray:
    return weights if w == 1 else weights * w


def _sparse_scores(columns: Sequence[Sequence[_Column]]
                   ) -> tuple[npt.NDArray[np.int64], FloatArray]:
    # One sort of all postings numbers the matching sentences 0..m-1; then the same
    # sums and maxima as the dense path, over m entries instead of every sentence.
    uniq, inverse = np.unique(np.concatenate([c for cols in columns for c, _, _ in cols]),
                              return_inverse=True)
    total = np.zeros(uniq.size, dtype=np.float32)
    best = np.empty(uniq.size, dtype=np.float32) if any(len(c) > 1 for c in columns) else None
    at = 0
    for cols in columns:
        if len(cols) == 1 or best is None:
            ids, weights, w = cols[0]
            np.add.at(total, inverse[at:at + ids.size], _weighted(weights, w))
            at += ids.size
            continue
        best.fill(0.0)
        for ids, weights, w in cols:
            np.maximum.at(best, inverse[at:at + ids.size], _weighted(weights, w))
            at += ids.size
        total += best
    keep = total > 0
    return uniq[keep].astype(np.int64), total[keep]


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
            np.add.at(total, ids, _weighted(weights, w))
            continue
        best: FloatArray | None = scratch.best
        if best is None:
            best = scratch.best = np.zeros(n_docs, dtype=np.float32)
        else:
            best.fill(0.0)
        for ids, weights, w in cols:
            np.maximum.at(best, ids, _weighted(weights, w))
        total += best
    mask: npt.NDArray[np.bool_] = scratch.mask
    return total, mask
