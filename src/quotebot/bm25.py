"""BM25 over sentences, with term–sentence weights precomputed in a sparse matrix.

The weights are stored column-wise (CSC: one column per term), so a query is the
sum of a few columns followed by a partial sort; nothing loops over sentences in
Python. The variant is Lucene's (as in bm25s's "lucene" method):

    idf(t)   = ln(1 + (N - df + 0.5) / (df + 0.5))          # never negative
    w(t, s)  = idf(t) * tf / (tf + k1 * (1 - b + b * |s| / avgdl))
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

K1 = 1.5
B = 0.75

IntArray = npt.NDArray[np.int64]
FloatArray = npt.NDArray[np.float32]


def lucene_idf(df: npt.ArrayLike, n_docs: int) -> npt.NDArray[np.float64]:
    """Lucene's idf: positive for every term, however common."""
    df = np.asarray(df, dtype=np.float64)
    return np.log1p((n_docs - df + 0.5) / (df + 0.5))


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

    @property
    def n_docs(self) -> int:
        return int(self.doc_len.shape[0])

    @property
    def n_terms(self) -> int:
        return int(self.indptr.shape[0]) - 1

    @property
    def df(self) -> npt.NDArray[np.int64]:
        return np.diff(self.indptr)

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
        lengths = []
        flat: list[int] = []
        for ids in doc_term_ids:
            lengths.append(len(ids))
            flat.extend(ids)
        doc_len = np.asarray(lengths, dtype=np.int32)
        term_ids = np.asarray(flat, dtype=np.int64)
        doc_ids = np.repeat(np.arange(len(lengths), dtype=np.int64), doc_len)
        return cls._from_postings(term_ids, doc_ids, doc_len, n_terms, k1=k1, b=b)

    @classmethod
    def _from_postings(
        cls,
        term_ids: IntArray,
        doc_ids: IntArray,
        doc_len: npt.NDArray[np.int32],
        n_terms: int,
        *,
        k1: float,
        b: float,
    ) -> BM25Matrix:
        n_docs = max(int(doc_len.shape[0]), 1)
        # One sort of (term, sentence) keys gives term-major order and term frequencies.
        keys, tf = np.unique(term_ids * n_docs + doc_ids, return_counts=True)
        cols = keys // n_docs
        indices = (keys - cols * n_docs).astype(np.int32)
        indptr = np.zeros(n_terms + 1, dtype=np.int64)
        np.cumsum(np.bincount(cols, minlength=n_terms), out=indptr[1:])
        tf16 = np.minimum(tf, np.iinfo(np.uint16).max).astype(np.uint16)
        matrix = cls(indptr, indices, tf16, np.empty(0, np.float32), doc_len, k1, b)
        matrix.weights = matrix.compute_weights()
        return matrix

    def compute_weights(self) -> FloatArray:
        """BM25 weights from term frequencies, document lengths and document frequencies."""
        n_docs = self.n_docs
        if n_docs == 0 or self.indices.size == 0:
            return np.zeros(self.indices.shape[0], dtype=np.float32)
        avgdl = float(self.doc_len.mean()) or 1.0
        idf = self.idf()
        term_of_posting = np.repeat(np.arange(self.n_terms), np.diff(self.indptr))
        tf = self.tf.astype(np.float64)
        norm = self.k1 * (1.0 - self.b + self.b * self.doc_len[self.indices] / avgdl)
        return (idf[term_of_posting] * tf / (tf + norm)).astype(np.float32)

    def column(self, term_id: int) -> tuple[npt.NDArray[np.int32], FloatArray]:
        lo, hi = int(self.indptr[term_id]), int(self.indptr[term_id + 1])
        return self.indices[lo:hi], self.weights[lo:hi]

    def scores(self, query: Mapping[int, float]) -> tuple[npt.NDArray[np.int64], FloatArray]:
        """(sentence ids, scores) of every sentence that matches a query term.

        ``query`` maps term ids to query weights (1.0 for a plain term). Only
        sentences with a positive score are returned, in ascending id order.
        """
        parts = [(self.column(t), w) for t, w in query.items() if 0 <= t < self.n_terms and w > 0]
        parts = [(col, w) for col, w in parts if col[0].size]
        if not parts:
            return np.empty(0, np.int64), np.empty(0, np.float32)
        if len(parts) == 1:
            (ids, weights), w = parts[0]
            scores = weights * np.float32(w)
            ids64 = ids.astype(np.int64)
        else:
            total = sum(col[0].size for col, _ in parts)
            if total * 8 > self.n_docs:
                # Many postings: accumulating into a dense vector beats sorting them.
                dense = np.zeros(self.n_docs, dtype=np.float32)
                for (ids, weights), w in parts:
                    dense[ids] += weights * np.float32(w)
                ids64 = np.flatnonzero(dense)
                scores = dense[ids64]
            else:
                all_ids = np.concatenate([col[0] for col, _ in parts])
                all_w = np.concatenate([col[1] * np.float32(w) for col, w in parts])
                uniq, inverse = np.unique(all_ids, return_inverse=True)
                ids64 = uniq.astype(np.int64)
                scores = np.bincount(inverse, weights=all_w).astype(np.float32)
        keep = scores > 0
        return ids64[keep], scores[keep]

    def top_k(self, query: Mapping[int, float], k: int) -> tuple[npt.NDArray[np.int64], FloatArray]:
        """The ``k`` best (sentence ids, scores), best first; ties go to the earlier sentence."""
        ids, scores = self.scores(query)
        return top_k_of(ids, scores, k)


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


def group_scores(
    matrix: BM25Matrix, groups: Sequence[Sequence[tuple[int, float]]]
) -> tuple[npt.NDArray[np.int64], FloatArray]:
    """Scores where each group of terms counts once: the best of its (weighted) terms.

    A group is a word of the question with its alternatives (parts of a hyphenated
    word, related words at a lower weight); sentences score the sum over groups.
    With one plain term per group this is exactly :meth:`BM25Matrix.scores`.
    """
    if all(len(g) == 1 for g in groups):
        return matrix.scores({t: w for g in groups for t, w in g})
    ids_parts: list[npt.NDArray[np.int64]] = []
    score_parts: list[FloatArray] = []
    for group in groups:
        cols = [(matrix.column(t), w) for t, w in group if 0 <= t < matrix.n_terms and w > 0]
        cols = [(c, w) for c, w in cols if c[0].size]
        if not cols:
            continue
        ids = np.concatenate([c[0] for c, _ in cols]).astype(np.int64)
        weights = np.concatenate([c[1] * np.float32(w) for c, w in cols])
        if len(cols) > 1:
            order = np.lexsort((-weights, ids))
            ids, weights = ids[order], weights[order]
            first = np.ones(ids.size, dtype=bool)
            first[1:] = ids[1:] != ids[:-1]
            ids, weights = ids[first], weights[first]
        ids_parts.append(ids)
        score_parts.append(weights)
    if not ids_parts:
        return np.empty(0, np.int64), np.empty(0, np.float32)
    all_ids = np.concatenate(ids_parts)
    uniq, inverse = np.unique(all_ids, return_inverse=True)
    scores = np.bincount(inverse, weights=np.concatenate(score_parts)).astype(np.float32)
    keep = scores > 0
    return uniq[keep], scores[keep]
