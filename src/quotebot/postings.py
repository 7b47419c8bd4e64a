"""Compressed postings: each term's sentence ids and term frequencies, with the first
sentence id and largest weight of each block of :data:`BLOCK` postings.

A term whose every block of ids spans fewer than 65,536 sentences (a common word's,
whose ids lie close together) keeps each id as two bytes, its distance from its block's
first id; any other term keeps four-byte ids. Term frequencies take half a byte each
(two bytes for a term repeated more than 16 times somewhere), and none at all for a
term that is never repeated in a sentence, as most are not. A term's values lie side by
side in their stream, so reading a whole term is a slice and an addition, and reading
some of its blocks (a lookup: the binary search over the blocks' first ids finds the
block that may hold a sentence) is a gather of one row per block. The blocks' largest
weights let top-k retrieval leave blocks unread.

Weights are not stored: a posting's weight is computed from its term frequency, its
sentence's length and the term's idf by the same float32 operations as when building,
so it comes out the same to the bit.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from quotebot.npy import NpyFile

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
#: The two term frequencies a byte of half bytes holds (low half first), by the byte.
_PAIRS = np.stack([np.arange(256) & 15, np.arange(256) >> 4], axis=1).astype(np.int64) + 1


@dataclass(frozen=True, slots=True)
class PackedPostings:
    """Term-major postings (see the module's docstring).

    ``terms`` has a row per term (and one more, the totals), read at once for a term:
    ``indptr[t]:indptr[t + 1]`` number term ``t``'s postings; ``block_ptr[t]:block_ptr[t
    + 1]`` its blocks, each with ``first`` (its first sentence id) and ``block_max`` (its
    largest weight). ``id_at`` is where its ids start: in ``ids16`` (distances from
    their block's first id) or, for ``~id_at`` when negative, in ``ids32``; ``tf_at``
    where its term frequencies start: in ``tf4`` (in half bytes, less one; a term's start
    at a whole byte), or for ``-2 - tf_at`` below -1 in ``tf16``, or :data:`ALL_ONES`.
    """

    terms: IntArray
    first: npt.NDArray[np.int32]
    block_max: FloatArray
    ids16: npt.NDArray[np.uint16]
    ids32: npt.NDArray[np.uint32]
    tf4: npt.NDArray[np.uint8]
    tf16: npt.NDArray[np.uint16]

    #: Names of the arrays, as saved.
    FIELDS = ("terms", "first", "block_max", "ids16", "ids32", "tf4", "tf16")

    @property
    def indptr(self) -> IntArray:
        return self.terms[:, 0]

    @property
    def block_ptr(self) -> IntArray:
        return self.terms[:, 1]

    @property
    def id_at(self) -> IntArray:
        return self.terms[:-1, 2]

    @property
    def tf_at(self) -> IntArray:
        return self.terms[:-1, 3]

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
        ids, freqs, weighed = np.asarray(indices), np.asarray(tf), np.asarray(weights)
        writer = PostingsWriter()
        df = np.diff(ptr)
        for lo, hi in term_chunks(ptr):
            p0, p1 = int(ptr[lo]), int(ptr[hi])
            writer.add(df[lo:hi], ids[p0:p1], freqs[p0:p1], weighed[p0:p1])
        return writer.finish()

    def blocks_of(self, term: int) -> tuple[int, int]:
        return int(self.block_ptr[term]), int(self.block_ptr[term + 1])

    def column(self, term: int) -> tuple[Int32Array, IntArray | None]:
        """Term ``term``'s (sentence ids, term frequencies; None when all are 1)."""
        (lo, b0, at, tf_at), (hi, b1, _, _) = self.terms[term:term + 2].tolist()
        df = hi - lo
        if at >= 0:
            if b1 - b0 == 1:
                ids = self.ids16[at:at + df].astype(np.int32)
                ids += self.first[b0]
            else:
                # Blocks as rows (the last read past the term's end, then cut): one pass.
                rows = self.ids16[at:at + (b1 - b0) * BLOCK].reshape(b1 - b0, BLOCK)
                ids = np.add(rows, self.first[b0:b1, None], dtype=np.int32).reshape(-1)[:df]
        else:
            ids = self.ids32[~at:~at + df].astype(np.int32)
        if tf_at == ALL_ONES:
            return ids, None
        if tf_at >= 0:
            pairs = self.tf4[tf_at >> 1:(tf_at >> 1) + (df + 1) // 2]
            return ids, _PAIRS.take(pairs, axis=0).reshape(-1)[:df]
        return ids, self.tf16[-2 - tf_at:-2 - tf_at + df].astype(np.int64)

    def blocks(self, term: int, local: IntArray) -> tuple[Int32Array, IntArray | None]:
        """(sentence ids, term frequencies; None when all are 1) of some blocks of ``term``
        (``local``: their numbers within the term, ascending), one row a block cut to its
        length."""
        (lo, b0, at, tf_at), (hi, b1, _, _) = self.terms[term:term + 2].tolist()
        rows = b1 - b0
        # Only the term's last block may be short: what follows it is cut off at the end.
        short = (rows * BLOCK - (hi - lo)) if local.shape[0] and local[-1] == rows - 1 else 0
        if at >= 0:
            grid = self.ids16[at:at + rows * BLOCK].reshape(rows, BLOCK)[local].astype(np.int32)
            grid += self.first[b0 + local][:, None]
        else:
            grid = self.ids32[~at:~at + rows * BLOCK].reshape(rows, BLOCK)[local].astype(
                np.int32)
        ids = grid.reshape(-1)[:grid.size - short]
        if tf_at == ALL_ONES:
            return ids, None
        if tf_at >= 0:
            pairs = self.tf4[tf_at >> 1:(tf_at >> 1) + rows * BLOCK // 2].reshape(
                rows, BLOCK // 2)[local]
            tf = _PAIRS.take(pairs, axis=0).reshape(-1)
        else:
            tf = self.tf16[-2 - tf_at:-2 - tf_at + rows * BLOCK].reshape(rows, BLOCK)[
                local].astype(np.int64).reshape(-1)
        return ids, tf[:tf.shape[0] - short]

    def decode_all(self) -> tuple[npt.NDArray[np.int32], npt.NDArray[np.uint16]]:
        """Every posting's sentence id and term frequency, term-major (as before packing),
        a chunk of terms at a time."""
        ptr = self.indptr
        ids = np.empty(self.n_postings, dtype=np.int32)
        tf = np.empty(self.n_postings, dtype=np.uint16)
        for lo, hi in term_chunks(ptr):
            p0, p1 = int(ptr[lo]), int(ptr[hi])
            ids[p0:p1], tf[p0:p1] = self.decode_terms(lo, hi)
        return ids, tf

    def decode_terms(self, lo: int, hi: int) -> tuple[IntArray, IntArray]:
        """The sentence ids and term frequencies of terms ``lo:hi``, term-major."""
        ptr = self.indptr
        p0, p1 = int(ptr[lo]), int(ptr[hi])
        term = np.repeat(np.arange(lo, hi), np.diff(ptr[lo:hi + 1]))
        place = np.arange(p0, p1, dtype=np.int64) - ptr[term]
        term_at = self.id_at[term]
        narrow = term_at >= 0
        at = term_at + place
        ids = np.empty(p1 - p0, dtype=np.int64)
        ids[narrow] = (self.ids16[at[narrow]]
                       + self.first[_block_of(ptr, self.block_ptr, term[narrow], p0,
                                              place[narrow])].astype(np.int64))
        ids[~narrow] = self.ids32[~term_at[~narrow] + place[~narrow]]
        tf_at = self.tf_at[term]
        freqs = np.ones(p1 - p0, dtype=np.int64)
        half = tf_at >= 0
        freqs[half] = _nibbles(self.tf4, tf_at[half] + place[half])
        two = tf_at < ALL_ONES
        freqs[two] = self.tf16[-2 - tf_at[two] + place[two]]
        return ids, freqs


class PostingsWriter:
    """Packs term-major postings a range of whole terms at a time, in term order: what
    it holds is the packed postings so far, never the unpacked ones."""

    def __init__(self) -> None:
        self._parts: dict[str, list[npt.NDArray[Any]]] = {
            name: [] for name in ("df", "first", "block_max", "id_at", "tf_at", *_STREAMS)}
        self._sizes = dict.fromkeys(_STREAMS, 0)

    def add(self, df: npt.ArrayLike, ids: npt.NDArray[Any], tf: npt.NDArray[Any],
            weights: npt.NDArray[Any]) -> None:
        """The next ``len(df)`` terms' postings: ``df[i]`` of them for the ``i``-th term,
        its sentence ids ascending, with their term frequencies and weights."""
        df = np.asarray(df, dtype=np.int64)
        n = df.shape[0]
        ptr = pointers(df)
        block_ptr = pointers(-(-df // BLOCK))
        starts = _block_starts(ptr, block_ptr, 0, n)
        part = np.asarray(ids, dtype=np.int64)
        freqs = np.asarray(tf, dtype=np.int64)
        first = part[starts]
        wide = np.zeros(n, dtype=bool)
        top = np.zeros(n, dtype=np.int64)
        parts = self._parts
        if starts.shape[0]:
            parts["block_max"].append(np.maximum.reduceat(
                np.asarray(weights, dtype=np.float32), starts))
            last = part[np.append(starts[1:], part.shape[0]) - 1]
            term_of_block = np.repeat(np.arange(n), np.diff(block_ptr))
            wide = np.bincount(term_of_block[(last - first) >= _SHORT], minlength=n) > 0
            top[df > 0] = np.maximum.reduceat(freqs, ptr[:-1][df > 0])
        repeated = np.where(top > 16, 2, np.where(top > 1, 1, 0))
        sizes = self._sizes
        id_at = np.where(wide, ~(sizes["ids32"] + pointers(np.where(wide, df, 0))[:-1]),
                         sizes["ids16"] + pointers(np.where(wide, 0, df))[:-1])
        tf_at = np.full(n, ALL_ONES, dtype=np.int64)
        one, two = repeated == 1, repeated == 2
        # Each term's half bytes start at a whole byte: an odd count is padded by one.
        halves = np.where(one, df + (df & 1), 0)
        tf_at[one] = (sizes["tf4"] + pointers(halves)[:-1])[one]
        tf_at[two] = -2 - (sizes["tf16"] + pointers(np.where(two, df, 0))[:-1])[two]
        term = np.repeat(np.arange(n), df)
        block = block_ptr[term] + (np.arange(part.shape[0]) - ptr[term]) // BLOCK
        narrow = ~wide[term]
        nibbles = np.zeros(int(halves.sum()), dtype=np.uint8)
        mine = one[term]
        nibbles[(pointers(halves)[:-1][term] + np.arange(part.shape[0]) - ptr[term])[mine]] = (
            freqs[mine] - 1)
        for name, values in (("ids16", (part - first[block])[narrow]),
                             ("ids32", part[~narrow]),
                             ("tf4", nibbles[0::2] | (nibbles[1::2] << 4)),
                             ("tf16", freqs[two[term]])):
            self._put(name, values.astype(_STREAMS[name]))
            sizes[name] += values.shape[0] * (2 if name == "tf4" else 1)
        parts["df"].append(df)
        parts["first"].append(first.astype(np.int32))
        parts["id_at"].append(id_at)
        parts["tf_at"].append(tf_at)

    def _put(self, name: str, values: npt.NDArray[Any]) -> None:
        self._parts[name].append(values)

    def _joined(self, name: str, dtype: Any, pad: int = 0) -> npt.NDArray[Any]:
        # Each part is dropped once copied: the packed postings never stand twice.
        pieces = self._parts.pop(name)
        out = np.zeros(sum(piece.shape[0] for piece in pieces) + pad, dtype=dtype)
        at = 0
        pieces.reverse()
        while pieces:
            piece = pieces.pop()
            out[at:at + piece.shape[0]] = piece
            at += piece.shape[0]
        return out

    def _table(self) -> dict[str, npt.NDArray[Any]]:
        """``terms``, ``first`` and ``block_max`` of the terms added so far."""
        df = self._joined("df", np.int64)
        id_at, tf_at = self._joined("id_at", np.int64), self._joined("tf_at", np.int64)
        terms = np.zeros((df.shape[0] + 1, 4), dtype=np.int64)
        terms[:, 0] = pointers(df)
        terms[:, 1] = pointers(-(-df // BLOCK))
        terms[:-1, 2] = id_at
        terms[:-1, 3] = tf_at
        terms[-1, 3] = ALL_ONES
        return {"terms": terms, "first": self._joined("first", np.int32),
                "block_max": self._joined("block_max", np.float32)}

    def finish(self) -> PackedPostings:
        table = self._table()
        # Blocks are read as whole rows of BLOCK values: a term's last may read past its
        # stream's end into this padding.
        streams = {name: self._joined(name, dtype, BLOCK) for name, dtype in _STREAMS.items()}
        self.__init__()  # type: ignore[misc]  # (empty again)
        return PackedPostings(**table, **streams)


class PostingsFileWriter(PostingsWriter):
    """A :class:`PostingsWriter` that writes the postings' streams (nearly all of their
    bytes) to files in ``scratch`` as they are packed, then saves them where the index
    keeps them: what it holds is a few numbers a term and a block."""

    def __init__(self, scratch: Path) -> None:
        super().__init__()
        self._scratch = scratch
        self._lengths = dict.fromkeys(_STREAMS, 0)
        self._files = {name: open(scratch / f"{name}.bin", "wb")  # noqa: SIM115
                       for name in _STREAMS}  # (closed by save)

    def _put(self, name: str, values: npt.NDArray[Any]) -> None:
        self._files[name].write(values.tobytes())
        self._lengths[name] += values.shape[0]

    def save(self, out: Path, prefix: str) -> PackedPostings:
        """Write the postings as ``out/{prefix}{field}.npy``, the bytes ``np.save`` writes
        of :meth:`PostingsWriter.finish`'s arrays; returns them memory-mapped."""
        for name, values in self._table().items():
            np.save(out / f"{prefix}{name}.npy", values, allow_pickle=False)
        for name, dtype in _STREAMS.items():
            self._files[name].close()
            raw = self._scratch / f"{name}.bin"
            npy = NpyFile(out / f"{prefix}{name}.npy", dtype, self._lengths[name] + BLOCK)
            npy.write_raw(raw, self._lengths[name])
            npy.write(np.zeros(BLOCK, dtype=dtype))
            npy.close()
            raw.unlink()
        return PackedPostings(*(np.load(out / f"{prefix}{name}.npy", mmap_mode="r",
                                        allow_pickle=False)
                                for name in PackedPostings.FIELDS))


#: The streams of values and their types.
_STREAMS: dict[str, Any] = {"ids16": np.uint16, "ids32": np.uint32, "tf4": np.uint8,
                            "tf16": np.uint16}


def _nibbles(pairs: npt.NDArray[np.uint8], at: IntArray) -> IntArray:
    """Term frequencies kept as half bytes (less one) at half-byte places ``at``."""
    values: IntArray = pairs[at >> 1].astype(np.int64)
    values >>= (at & 1) * 4
    values &= 15
    values += 1
    return values


def term_chunks(ptr: IntArray) -> list[tuple[int, int]]:
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


def pointers(counts: npt.ArrayLike) -> IntArray:
    """Where each of ``counts``' runs starts in their concatenation, and where the last ends:
    [0, c0, c0+c1, …]."""
    counts = np.asarray(counts, dtype=np.int64)
    ptr = np.zeros(counts.shape[0] + 1, dtype=np.int64)
    np.cumsum(counts, out=ptr[1:])
    return ptr


def distinct(values: npt.NDArray[Any]) -> npt.NDArray[Any]:
    """The distinct values, ascending (``np.unique``'s result by one sort: NumPy 2's
    hashing ``unique`` is several times slower on a few hundred integers)."""
    ordered = np.sort(values)
    first = np.ones(ordered.shape[0], dtype=bool)
    np.not_equal(ordered[1:], ordered[:-1], out=first[1:])
    return ordered[first]


def compact_counts(values: Any) -> Any:
    """Counts in the fewest bytes that hold them (sentence lengths fit in one or two)."""
    values = np.asarray(values)
    return values.astype(compact_dtype(int(values.max()) if values.size else 0))


def compact_dtype(top: int) -> type[Any]:
    """The fewest bytes that hold counts up to ``top`` (see :func:`compact_counts`)."""
    for dtype in (np.uint8, np.uint16, np.uint32):
        if top <= np.iinfo(dtype).max:
            return dtype
    return np.int64
