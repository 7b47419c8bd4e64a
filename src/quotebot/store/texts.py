"""The documents' text in a saved index: blocks of whole sentences, compressed apart.

A quote needs one sentence, not its whole document: each document's text is cut after
the first sentence that ends at least :data:`BLOCK_CHARS` characters into a block, and
each block is deflated on its own with a dictionary shared by the whole index (text
taken evenly from the corpus's first megabyte), so a small block still compresses as well as a whole
document would. Reading a sentence inflates its block alone (about 2 KB); a document is
its blocks joined. Sentences never cross a block, so a sentence's text is a slice of one.

Files of a generation: ``texts.bin`` (the blocks, raw deflate), ``text_dictionary.bin``,
``text_offsets.npy`` (where each block starts in ``texts.bin``, then its size),
``text_starts.npy`` (the character in its document where each block starts) and
``text_blocks.npy`` (each document's first block, then the number of blocks).
"""

from __future__ import annotations

import threading
import zlib
from bisect import bisect_right
from collections.abc import Callable, Sequence
from itertools import accumulate, islice
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from quotebot.postings import compact_counts

#: A block ends with the first sentence that ends this many characters or more after the
#: block's start (or with its document): inflating 2 KB costs a third of a whole news
#: article's 5 KB, and blocks of 1 KB compress 5% worse.
BLOCK_CHARS = 2048
#: The shared dictionary's size: deflate's whole window.
DICTIONARY_BYTES = 32 * 1024
#: zlib's level for the blocks: its default (level 9 makes them no smaller here).
COMPRESSION = 6
#: How many characters of inflated blocks a loaded index keeps at most.
BLOCK_CACHE_CHARS = 8 * 1024 * 1024
#: How many characters of whole document text a loaded index keeps at most.
TEXT_CACHE_CHARS = 32 * 1024 * 1024
#: Raw deflate: no header and no checksum per block (the manifest checks file sizes).
_RAW = -15
#: The dictionary is made from the first documents' text, about this many characters of
#: it (read before the first block is written): a build that streams its documents
#: writes the same bytes as one that has them all.
SAMPLE_CHARS = 1 << 20
_PIECE = 128


def text_dictionary(texts: Sequence[str]) -> bytes:
    """A dictionary for the blocks: :data:`DICTIONARY_BYTES` of ``texts`` (the corpus's
    first documents) in pieces of 128 bytes taken evenly from end to end."""
    data = "\n".join(texts).encode("utf-8", "surrogatepass")
    if len(data) <= DICTIONARY_BYTES:
        return data
    pieces = DICTIONARY_BYTES // _PIECE
    step = (len(data) - _PIECE) / (pieces - 1)
    return b"".join(data[round(i * step):round(i * step) + _PIECE] for i in range(pieces))


def block_cuts(text_length: int, ends: Sequence[int]) -> list[int]:
    """Where a document's blocks start: at 0, then after each sentence (of ``ends``,
    ascending) that ends :data:`BLOCK_CHARS` or more after the current block's start."""
    cuts = [0]
    for end in ends:
        if end - cuts[-1] >= BLOCK_CHARS and end < text_length:
            cuts.append(end)
    return cuts


def compress_blocks(text: str, ends: Sequence[int], dictionary: bytes
                    ) -> tuple[list[bytes], list[int]]:
    """A document's blocks, each deflated with ``dictionary``, and where each starts in
    ``text`` (cut after the sentences ending at ``ends``, as :func:`block_cuts` says)."""
    cuts = block_cuts(len(text), ends)
    blocks = []
    for a, b in zip(cuts, [*cuts[1:], len(text)], strict=True):
        packer = zlib.compressobj(COMPRESSION, zlib.DEFLATED, _RAW, zdict=dictionary)
        blocks.append(packer.compress(text[a:b].encode("utf-8", "surrogatepass"))
                      + packer.flush())
    return blocks, cuts


class TextBlockWriter:
    """Writes ``texts.bin`` and ``text_dictionary.bin`` of a generation a document at a
    time; :meth:`close` returns the arrays that go with them. With ``dictionary`` (made by
    :func:`text_dictionary` of the first documents' text), documents can be given compressed
    already (:meth:`add_compressed`)."""

    def __init__(self, out: Path, dictionary: bytes | None = None) -> None:
        self._out = out
        self._fh = open(out / "texts.bin", "wb")  # noqa: SIM115 (closed by close)
        self._dictionary: bytes | None = None
        self._waiting: list[tuple[str, list[int]]] = []
        self._waiting_chars = 0
        self._offsets = [0]
        self._starts: list[int] = []
        self._blocks = [0]
        if dictionary is not None:
            self._use(dictionary)

    def add(self, text: str, ends: Sequence[int]) -> None:
        """A document's text, with its sentences' ends (ascending)."""
        if self._dictionary is None:
            self._waiting.append((text, list(ends)))
            self._waiting_chars += len(text)
            if self._waiting_chars >= SAMPLE_CHARS:
                self._start()
            return
        blocks, starts = compress_blocks(text, ends, self._dictionary)
        self.add_compressed(b"".join(blocks), [len(b) for b in blocks], starts, [len(blocks)])

    def add_compressed(self, data: bytes, sizes: Sequence[int], starts: Sequence[int],
                       doc_blocks: Sequence[int]) -> None:
        """Documents compressed already: their blocks laid end to end in ``data``, each
        block's size and start in its document (as :func:`compress_blocks` gives them),
        and how many blocks each document has."""
        self._fh.write(data)
        self._offsets.extend(islice(accumulate(sizes, initial=self._offsets[-1]), 1, None))
        self._starts.extend(starts)
        self._blocks.extend(islice(accumulate(doc_blocks, initial=self._blocks[-1]), 1, None))

    def _start(self) -> None:
        self._use(text_dictionary([text for text, _ in self._waiting]))
        waiting, self._waiting = self._waiting, []
        for text, ends in waiting:
            self.add(text, ends)

    def _use(self, dictionary: bytes) -> None:
        self._dictionary = dictionary
        (self._out / "text_dictionary.bin").write_bytes(dictionary)

    def close(self) -> dict[str, npt.NDArray[Any]]:
        if self._dictionary is None:
            self._start()
        self._fh.close()
        return {"text_offsets": np.asarray(self._offsets, dtype=np.int64),
                "text_starts": compact_counts(np.asarray(self._starts, dtype=np.int64)),
                "text_blocks": np.asarray(self._blocks, dtype=np.int64)}


class RecentTexts:
    """Texts by number (a document's or a block's), read by ``read`` (inflated from the
    memory-mapped ``texts.bin``, or fetched from a shard); recently used ones are kept, up
    to ``limit`` characters in all."""

    def __init__(self, read: Callable[[int], str], limit: int = TEXT_CACHE_CHARS) -> None:
        self._read = read
        self._limit = limit
        self._recent: dict[int, str] = {}
        self._chars = 0
        self._lock = threading.Lock()

    def kept(self, number: int) -> str | None:
        """Text ``number`` if it is kept, without reading it."""
        return self._recent.get(number)

    def __call__(self, number: int) -> str:
        text = self._recent.get(number)
        if text is None:
            text = self._read(number)
            with self._lock:
                if self._chars + len(text) > self._limit:
                    self._recent.clear()
                    self._chars = 0
                self._recent[number] = text
                self._chars += len(text)
        return text


class _Inflater:
    """Block ``number`` of ``texts.bin``, inflated."""

    def __init__(self, blob: Any, offsets: npt.NDArray[Any], dictionary: bytes) -> None:
        self._blob = blob
        self._offsets = offsets
        # Each read copies this inflater, which has the dictionary set already.
        self._inflater = zlib.decompressobj(_RAW, zdict=dictionary)

    def __call__(self, number: int) -> str:
        lo, hi = int(self._offsets[number]), int(self._offsets[number + 1])
        inflater = self._inflater.copy()
        return (inflater.decompress(self._blob[lo:hi]) + inflater.flush()).decode(
            "utf-8", "surrogatepass")


class TextBlocks:
    """The documents' text of a loaded index, read a block at a time from the
    memory-mapped ``texts.bin``; recently read blocks are kept, up to
    :data:`BLOCK_CACHE_CHARS` characters."""

    def __init__(self, blob: Any, offsets: npt.NDArray[Any], starts: npt.NDArray[Any],
                 blocks: npt.NDArray[Any], dictionary: bytes) -> None:
        self._blob = blob
        self._offsets = offsets
        self._starts = starts
        self._blocks = blocks
        # The cache reads through its own inflater, not through a method of this object: a
        # cycle back to it would keep the mapped files open after the index is dropped,
        # until a cycle collection, which may come much later.
        self._inflate = _Inflater(blob, offsets, dictionary)
        self._recent = RecentTexts(self._inflate, BLOCK_CACHE_CHARS)

    @property
    def n_documents(self) -> int:
        return int(self._blocks.shape[0]) - 1

    def n_blocks(self) -> int:
        return int(self._offsets.shape[0]) - 1

    def block(self, number: int) -> str:
        """Block ``number``'s text (kept for the next read)."""
        return self._recent(number)

    def document(self, pos: int) -> str:
        """Document ``pos``'s whole text (its blocks are not kept: the caller keeps it)."""
        lo, hi = int(self._blocks[pos]), int(self._blocks[pos + 1])
        kept = self._recent.kept
        return "".join(kept(b) or self._inflate(b) for b in range(lo, hi))

    def _holding(self, pos: int, offset: int) -> tuple[int, int]:
        """(the block of document ``pos`` holding character ``offset``, its start)."""
        lo, hi = int(self._blocks[pos]), int(self._blocks[pos + 1])
        if hi - lo == 1:
            return lo, int(self._starts[lo])
        # (A document has a few blocks: a list and bisect cost less than NumPy's call.)
        starts = self._starts[lo:hi].tolist()
        at = bisect_right(starts, offset) - 1
        return lo + at, starts[at]

    def span(self, pos: int, start: int, end: int) -> str:
        """``document(pos)[start:end]`` for a sentence's span, from the block holding it."""
        number, first = self._holding(pos, start)
        text = self.block(number)
        if end - first <= len(text):
            return text[start - first:end - first]
        return self.document(pos)[start:end]  # (not a sentence: it crosses blocks)

    def line(self, pos: int, offset: int) -> tuple[str, int]:
        """The line of document ``pos`` holding character ``offset`` (without its line
        break) and where it starts."""
        number, first = self._holding(pos, offset)
        text = self.block(number)
        at = offset - first
        begin = max(text.rfind("\n", 0, at), text.rfind("\r", 0, at)) + 1
        stop = min((i for i in (text.find("\n", at), text.find("\r", at)) if i >= 0),
                   default=-1)
        last = number == int(self._blocks[pos + 1]) - 1
        if (begin > 0 or first == 0) and (stop >= 0 or last):
            return text[begin:stop if stop >= 0 else len(text)], first + begin
        # The line crosses a block's edge: read it from the whole document.
        whole = self.document(pos)
        begin = max(whole.rfind("\n", 0, offset), whole.rfind("\r", 0, offset)) + 1
        stop = min((i for i in (whole.find("\n", offset), whole.find("\r", offset))
                    if i >= 0), default=len(whole))
        return whole[begin:stop], begin
