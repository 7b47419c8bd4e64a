"""Compressed postings: each term's sentence ids and term frequencies, with the first
sentence id and largest weight of each block of :data:`BLOCK` postings.

A term whose every block of ids spans fewer than 65,536 sentences (a common word's,
whose ids lie close together) keeps each id as two bytes, its distance from its block's
first id; any other term keeps four-byte ids. Term frequencies take one byte each (two
where one is past 255), and none at all for a term that is never repeated in a
sentence, as most are not. A term's values lie side by side in their stream, so reading
a whole term is a slice and an addition, and reading some of its blocks (a lookup: the
binary search over the blocks' first ids finds the block that may hold a sentence) is a
gather of one row per block. The blocks' largest weights let top-k retrieval leave
blocks unread.

Weights are not stored: a posting's weight is computed from its term frequency, its
sentence's length and the term's idf by the same float32 operations as when building,
so it comes out the same to the bit.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt

#: Postings per block (the last block of a term may hold fewer).
BLOCK = 128
#: Postings packed or unpacked at a time: the temporaries follow this, not the corpus.
_CHUNK_POSTINGS = 1 << 20
#: ``tf_at`` of a term whose term frequencies are all 1 (none stored).
ALL_ONES = -1
_SHORT = 1 << 16

IntArray = npt.NDArray[np.int64]
Int32Array = npt.NDArray[np.int32]
FloatArray = npt.NDArray[np.float32]
#: A block's places, as a row to broadcast against a column of blocks.
_ROW = np.arange(BLOCK, dtype=np.int64)[None, :]


@dataclass(frozen=True, slots=True)
class PackedPostings:
    """Term-major postings (see the module's docstring).

    ``indptr[t]:indptr[t + 1]`` number term ``t``'s postings; ``block_ptr[t]:block_ptr[t
    + 1]`` its blocks, each with ``first`` (its first sentence id) and ``block_max`` (its
    largest weight). Per term, ``id_at`` is where its ids start: in ``ids16`` (distances
    from their block's first id) or, for ``~id_at`` when negative, in ``ids32``;
    ``tf_at`` where its term frequencies start: in ``tf8``, or for ``-2 - tf_at`` below
    -1 in ``tf16``, or :data:`ALL_ONES`.
    """

    indptr: IntArray
    block_ptr: IntArray
    first: npt.NDArray[np.int32]
    block_max: FloatArray
    id_at: IntArray
    tf_at: IntArray
    ids16: npt.NDArray[np.uint16]
    ids32: npt.NDArray[np.uint32]
    tf8: npt.NDArray[np.uint8]
    tf16: npt.NDArray[np.uint16]

    #: Names of the arrays, as saved.
    FIELDS = ("indptr", "block_ptr", "first", "block_max", "id_at", "tf_at", "ids16",
              "ids32", "tf8", "tf16")

    @property
    def n_postings(self) -> int:
        return int(self.indptr[-1])

    @property
    def n_blocks(self) -> int:
        return int(self.first.shape[0])

    def arrays(self) -> dict[str, npt.NDArray[Any]]:
        return {name: getattr(self, name) for name in self.FIELDS}

    @classmethod
    def pack(cls, indptr: npt.ArrayLike, indices: npt.ArrayLike, tf: npt.ArrayLike,
             weights: npt.ArrayLike) -> PackedPostings:
        """Pack term-major postings: ``indices`` (sentence ids, ascending within a term),
        their term frequencies (at least 1) and weights."""
        ptr = np.asarray(indptr, dtype=np.int64)
        ids = np.asarray(indices)
        freqs = np.asarray(tf)
        weights = np.asarray(weights, dtype=np.float32)
        n_terms = ptr.shape[0] - 1
        df = np.diff(ptr)
        block_ptr = _pointers(-(-df // BLOCK))
        n_blocks = int(block_ptr[-1])
        first = np.zeros(n_blocks, dtype=np.int32)
        block_max = np.zeros(n_blocks, dtype=np.float32)
        wide = np.zeros(n_terms, dtype=bool)
        repeated = np.zeros(n_terms, dtype=np.uint8)  # 0: all ones, 1: one byte, 2: two
        parts: dict[str, list[npt.NDArray[Any]]] = {
            "ids16": [], "ids32": [], "tf8": [], "tf16": []}
        # First each term's kind, a chunk of terms at a time; then the streams.
        chunks = _term_chunks(ptr)
        for lo, hi in chunks:
            p0, p1 = int(ptr[lo]), int(ptr[hi])
            starts = _block_starts(ptr, block_ptr, lo, hi) - p0
            part = np.asarray(ids[p0:p1], dtype=np.int64)
            b0, b1 = int(block_ptr[lo]), int(block_ptr[hi])
            if b1 > b0:
                first[b0:b1] = part[starts]
                block_max[b0:b1] = np.maximum.reduceat(weights[p0:p1], starts)
                last = part[np.append(starts[1:], p1 - p0) - 1]
                long_block = (last - part[starts]) >= _SHORT
                term_of_block = np.repeat(np.arange(hi - lo), np.diff(block_ptr[lo:hi + 1]))
                wide[lo:hi] = np.bincount(term_of_block[long_block], minlength=hi - lo) > 0
                term_first = ptr[lo:hi][df[lo:hi] > 0] - p0
                top = np.zeros(hi - lo, dtype=np.int64)
                top[df[lo:hi] > 0] = np.maximum.reduceat(
                    np.asarray(freqs[p0:p1], dtype=np.int64), term_first)
                repeated[lo:hi] = np.where(top > 255, 2, np.where(top > 1, 1, 0))
        id_at = np.zeros(n_terms, dtype=np.int64)
        tf_at = np.full(n_terms, ALL_ONES, dtype=np.int64)
        id_at[~wide] = _pointers(np.where(wide, 0, df))[:-1][~wide]
        id_at[wide] = ~_pointers(np.where(wide, df, 0))[:-1][wide]
        tf_at[repeated == 1] = _pointers(np.where(repeated == 1, df, 0))[:-1][repeated == 1]
        tf_at[repeated == 2] = -2 - _pointers(np.where(repeated == 2, df, 0))[:-1][
            repeated == 2]
        for lo, hi in chunks:
            p0, p1 = int(ptr[lo]), int(ptr[hi])
            term = np.repeat(np.arange(lo, hi), df[lo:hi])
            part = np.asarray(ids[p0:p1], dtype=np.int64)
            block = _block_of(ptr, block_ptr, term, p0)
            mine = ~wide[term]
            parts["ids16"].append((part[mine] - first[block[mine]]).astype(np.uint16))
            parts["ids32"].append(part[~mine].astype(np.uint32))
            part_tf = np.asarray(freqs[p0:p1])
            parts["tf8"].append(part_tf[repeated[term] == 1].astype(np.uint8))
            parts["tf16"].append(part_tf[repeated[term] == 2].astype(np.uint16))
        # Blocks are read as whole rows of BLOCK values: a term's last may read past its
        # stream's end into this padding.
        streams = {name: np.concatenate([*values, np.zeros(BLOCK, dtype=dtype)])
                   for (name, values), dtype in zip(
                       parts.items(), (np.uint16, np.uint32, np.uint8, np.uint16), strict=True)}
        return cls(ptr, block_ptr, first, block_max, id_at, tf_at, streams["ids16"],
                   streams["ids32"], streams["tf8"], streams["tf16"])

    def blocks_of(self, term: int) -> tuple[int, int]:
        return int(self.block_ptr[term]), int(self.block_ptr[term + 1])

    def column(self, term: int) -> tuple[Int32Array, IntArray | None]:
        """Term ``term``'s (sentence ids, term frequencies; None when all are 1)."""
        lo, hi = self.indptr[term:term + 2].tolist()
        df = hi - lo
        at = self.id_at[term].item()
        if at >= 0:
            b0, b1 = self.block_ptr[term:term + 2].tolist()
            ids = self.ids16[at:at + df].astype(np.int32)
            if b1 - b0 == 1:
                ids += self.first[b0]
            else:
                ids += np.repeat(self.first[b0:b1], BLOCK)[:df]
        else:
            ids = self.ids32[~at:~at + df].astype(np.int32)
        return ids, self._tf(term, 0, df)

    def _tf(self, term: int, lo: int, hi: int) -> IntArray | None:
        at = self.tf_at[term].item()
        if at == ALL_ONES:
            return None
        if at >= 0:
            return self.tf8[at + lo:at + hi].astype(np.int64)
        return self.tf16[-2 - at + lo:-2 - at + hi].astype(np.int64)

    def blocks(self, term: int, local: IntArray) -> tuple[Int32Array, IntArray | None]:
        """(sentence ids, term frequencies; None when all are 1) of some blocks of ``term``
        (``local``: their numbers within the term, ascending), one row a block cut to its
        length."""
        df = int(self.indptr[term + 1] - self.indptr[term])
        offsets = local[:, None] * BLOCK + _ROW
        kept = offsets < df
        at = int(self.id_at[term])
        if at >= 0:
            grid = self.ids16[at + offsets].astype(np.int32)
            grid += self.first[int(self.block_ptr[term]) + local][:, None]
        else:
            grid = self.ids32[~at + offsets].astype(np.int32)
        ids = grid[kept]
        tf_at = int(self.tf_at[term])
        if tf_at == ALL_ONES:
            return ids, None
        source = self.tf8 if tf_at >= 0 else self.tf16
        start = tf_at if tf_at >= 0 else -2 - tf_at
        return ids, source[start + offsets][kept].astype(np.int64)

    def decode_all(self) -> tuple[npt.NDArray[np.int32], npt.NDArray[np.uint16]]:
        """Every posting's sentence id and term frequency, term-major (as before packing),
        a chunk of terms at a time."""
        ptr = self.indptr
        ids = np.empty(self.n_postings, dtype=np.int32)
        tf = np.empty(self.n_postings, dtype=np.uint16)
        df = np.diff(ptr)
        for lo, hi in _term_chunks(ptr):
            p0, p1 = int(ptr[lo]), int(ptr[hi])
            term = np.repeat(np.arange(lo, hi), df[lo:hi])
            place = np.arange(p0, p1, dtype=np.int64) - ptr[term]
            term_at = self.id_at[term]
            narrow = term_at >= 0
            at = term_at + place
            out = np.empty(p1 - p0, dtype=np.int64)
            out[narrow] = (self.ids16[at[narrow]]
                           + self.first[_block_of(ptr, self.block_ptr, term[narrow], p0,
                                                  place[narrow])].astype(np.int64))
            out[~narrow] = self.ids32[~term_at[~narrow] + place[~narrow]]
            ids[p0:p1] = out
            tf_at = self.tf_at[term]
            freqs = np.ones(p1 - p0, dtype=np.int64)
            byte = tf_at >= 0
            freqs[byte] = self.tf8[tf_at[byte] + place[byte]]
            two = tf_at < ALL_ONES
            freqs[two] = self.tf16[-2 - tf_at[two] + place[two]]
            tf[p0:p1] = freqs
        return ids, tf


def _term_chunks(ptr: IntArray) -> list[tuple[int, int]]:
    """Ranges of terms holding about :data:`_CHUNK_POSTINGS` postings each (a term more
    common than that is a range of its own)."""
    n_terms = ptr.shape[0] - 1
    if n_terms <= 0:
        return []
    cuts = np.searchsorted(ptr, np.arange(_CHUNK_POSTINGS, int(ptr[-1]), _CHUNK_POSTINGS))
    bounds = sorted({0, n_terms, *np.clip(cuts, 1, n_terms).tolist()})
    return [(a, b) for a, b in itertools.pairwise(bounds) if a < b]


def _block_starts(ptr: IntArray, block_ptr: IntArray, lo: int, hi: int) -> IntArray:
    """The first posting of each block of terms ``lo:hi``."""
    counts = np.diff(block_ptr[lo:hi + 1])
    term = np.repeat(np.arange(lo, hi), counts)
    local = np.arange(term.shape[0], dtype=np.int64) - (block_ptr[term] - block_ptr[lo])
    starts: IntArray = ptr[term] + local * BLOCK
    return starts


def _block_of(ptr: IntArray, block_ptr: IntArray, term: IntArray, p0: int,
              place: IntArray | None = None) -> IntArray:
    """The block of each posting (of term ``term``, at ``place`` in its term's list, or
    numbered from ``p0`` in order when ``place`` is not given)."""
    if place is None:
        place = np.arange(p0, p0 + term.shape[0], dtype=np.int64) - ptr[term]
    block: IntArray = block_ptr[term] + place // BLOCK
    return block


def _pointers(counts: npt.ArrayLike) -> IntArray:
    counts = np.asarray(counts, dtype=np.int64)
    ptr = np.zeros(counts.shape[0] + 1, dtype=np.int64)
    np.cumsum(counts, out=ptr[1:])
    return ptr


def compact_counts(values: Any) -> Any:
    """Counts in the fewest bytes that hold them (sentence lengths fit in one or two)."""
    values = np.asarray(values)
    top = int(values.max()) if values.size else 0
    for dtype in (np.uint8, np.uint16, np.uint32):
        if top <= np.iinfo(dtype).max:
            return values.astype(dtype)
    return values.astype(np.int64)
