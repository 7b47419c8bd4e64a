"""The sentence index in memory: documents, sentences, the BM25 matrix and the token table.

Everything here is read-only arrays (memory-mapped when loaded from disk) and lookups
over them. The token table is the analysis done once at index time: for every sentence
its tokens as word-form ids with their character offsets, and for every word form its
index terms, so answering a question never tokenises corpus text again.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from itertools import accumulate, chain
from typing import Any

import numpy as np
import numpy.typing as npt

from quotebot import analysis
from quotebot.analysis import Token
from quotebot.backends import Groups
from quotebot.bm25 import BM25Matrix, range_scores
from quotebot.errors import UnknownDocument
from quotebot.models import Document, Sentence
from quotebot.postings import compact_counts, distinct
from quotebot.sentences import paragraph_levels
from quotebot.store.files import StringTable
from quotebot.store.texts import TextBlocks

IntArray = npt.NDArray[np.int64]


def paragraph_table(doc_idx: npt.ArrayLike, paragraph: npt.ArrayLike) -> tuple[IntArray, IntArray]:
    """(a paragraph number per sentence, unique across the corpus; the first sentence of
    each paragraph, then the number of sentences)."""
    doc, para = np.asarray(doc_idx), np.asarray(paragraph)
    change = np.ones(doc.shape[0], dtype=bool)
    change[1:] = (doc[1:] != doc[:-1]) | (para[1:] != para[:-1])
    ids = (np.cumsum(change) - 1).astype(np.int64)
    starts = np.append(np.flatnonzero(change), doc.shape[0]).astype(np.int64)
    return ids, starts


@dataclass(frozen=True, slots=True)
class DocInfo:
    """A document's metadata inside the index."""

    id: str
    title: str
    path: str
    sentences: int
    url: str = ""
    author: str = ""
    date: str = ""

    def to_row(self) -> list[Any]:
        return [self.id, self.title, self.path, self.sentences, self.url, self.author,
                self.date]


#: A token's step (its start less the previous token's, or its offset in the sentence for
#: the first) that stands for "see ``far``": steps of 255 characters or more.
FAR_STEP = 255


#: Tokens packed at a time (the temporaries are 8 bytes a token).
_PACK_CHUNK = 1 << 20


def _spread(bits: int) -> list[tuple[int, ...]]:
    """Each byte of packed high bits as the values of its tokens, first token first."""
    per = 8 // bits
    mask = (1 << bits) - 1
    return [tuple(byte >> (lane * bits) & mask for lane in range(per)) for byte in range(256)]


#: :func:`_spread` by the number of bits (16 bits are one value a token, not packed).
_SPREAD = {bits: _spread(bits) for bits in (2, 4, 8)}


def form_high_bits(n_forms: int) -> int:
    """Bits a token needs for its form id above the low 16 (0, 2, 4, 8 or 16)."""
    need = max(int(n_forms) - 1, 0).bit_length() - 16
    return next(bits for bits in (0, 2, 4, 8, 16) if need <= bits)


class TokenPacker:
    """Packs a token table a chunk of tokens at a time, in order (what
    :meth:`Tokens.pack` does whole, for a writer that streams the tokens from a file):
    ``chunk`` gives each chunk's (low form bits, high form bits, steps); ``far`` the far
    steps at the end. Every chunk but the last holds a multiple of 4 tokens."""

    def __init__(self, ptr: npt.NDArray[np.int64], bits: int) -> None:
        self.bits = bits
        self.per = max(8 // bits, 1) if bits else 1
        self.high_dtype: type[Any] = np.uint16 if bits == 16 else np.uint8
        self._firsts = ptr[:-1][ptr[1:] > ptr[:-1]]  # each sentence's first token
        self._at = 0
        self._last_start = 0
        self._far_at: list[npt.NDArray[np.int64]] = []
        self._far: list[npt.NDArray[np.int64]] = []

    def chunk(self, forms: npt.NDArray[Any], starts: npt.NDArray[Any]
              ) -> tuple[npt.NDArray[np.uint16], npt.NDArray[Any], npt.NDArray[np.uint8]]:
        lo, n = self._at, int(starts.shape[0])
        hi = lo + n
        high: npt.NDArray[Any] = np.zeros(0, dtype=self.high_dtype)
        if self.bits:
            if lo % self.per:
                raise ValueError("a chunk of tokens must start at a multiple of 4")
            lanes = np.zeros(-(-n // self.per) * self.per, dtype=self.high_dtype)
            lanes[:n] = (forms >> 16).astype(self.high_dtype)
            high = np.zeros(lanes.shape[0] // self.per, dtype=self.high_dtype)
            for lane, values in enumerate(lanes.reshape(-1, self.per).T):
                high |= values << np.uint8(lane * self.bits)
        steps = starts.astype(np.int64)
        steps[1:] -= starts[:-1]
        if n:
            steps[0] -= self._last_start
            self._last_start = int(starts[-1])
        a, z = np.searchsorted(self._firsts, [lo, hi]).tolist()
        steps[self._firsts[a:z] - lo] = starts[self._firsts[a:z] - lo]
        far = np.flatnonzero(steps >= FAR_STEP)
        self._far_at.append(far + lo)
        self._far.append(steps[far])
        np.minimum(steps, FAR_STEP, out=steps)
        self._at = hi
        return forms.astype(np.uint16), high, steps.astype(np.uint8)

    def far(self) -> tuple[npt.NDArray[np.int64], npt.NDArray[np.int64]]:
        """(token places, steps) of every step of :data:`FAR_STEP` or more so far."""
        return _joined(self._far_at, np.int64), _joined(self._far, np.int64)


def pack_chunk() -> int:
    """Tokens packed at a time: :data:`_PACK_CHUNK`, a multiple of 4."""
    return max(4, _PACK_CHUNK // 4 * 4)


def _joined(parts: list[npt.NDArray[Any]], dtype: Any) -> npt.NDArray[Any]:
    return np.concatenate(parts).astype(dtype, copy=False) if parts else np.zeros(0, dtype)


@dataclass(frozen=True, slots=True)
class Tokens:
    """Every sentence's tokens: ``ptr[s]:ptr[s + 1]`` are sentence ``s``'s, each a word-form
    id and a character offset from the sentence's start, packed.

    A form id is its low 16 bits (``form_low``) and, when the corpus has more forms, its
    high bits, ``high_bits`` each, several to a byte (``form_high``): 2¼ bytes a token
    for up to 262,144 forms instead of 4. An offset is kept as its step from the previous
    token's (one byte: the previous token's length plus the space); the rare step of
    :data:`FAR_STEP` or more is in ``far`` at its token's place ``far_at``.
    """

    ptr: npt.NDArray[np.int64] | npt.NDArray[np.uint32]
    form_low: npt.NDArray[np.uint16]
    form_high: npt.NDArray[np.uint8] | npt.NDArray[np.uint16]
    high_bits: int
    step: npt.NDArray[np.uint8]
    far_at: npt.NDArray[np.int64]
    far: npt.NDArray[np.int64]

    @classmethod
    def pack(cls, ptr: npt.ArrayLike, form: npt.ArrayLike, start: npt.ArrayLike,
             n_forms: int) -> Tokens:
        """The table of tokens ``form`` (form ids) at offsets ``start`` (from their
        sentence's start), sentence ``s``'s at ``ptr[s]:ptr[s + 1]``; ``n_forms`` is the
        number of forms the ids are drawn from."""
        pointers = np.asarray(ptr, dtype=np.int64)
        forms = np.asarray(form)
        starts = np.asarray(start)
        bits = form_high_bits(n_forms)
        packer = TokenPacker(pointers, bits)
        low, high, step = [], [], []
        # (A chunk at a time: the temporaries are 8 bytes a token.)
        size = pack_chunk()
        for lo in range(0, starts.shape[0], size):
            hi = min(lo + size, starts.shape[0])
            chunk = packer.chunk(forms[lo:hi], starts[lo:hi])
            low.append(chunk[0])
            high.append(chunk[1])
            step.append(chunk[2])
        far_at, far = packer.far()
        return cls(pointers, _joined(low, np.uint16), _joined(high, packer.high_dtype), bits,
                   _joined(step, np.uint8), far_at, far)

    @property
    def n_tokens(self) -> int:
        return int(self.form_low.shape[0])

    def high_size(self, n_tokens: int) -> int:
        """The length of ``form_high`` for ``n_tokens`` tokens."""
        if not self.high_bits:
            return 0
        per = max(8 // self.high_bits, 1)
        return -(-n_tokens // per)

    def forms_at(self, rows: npt.NDArray[np.int64]) -> npt.NDArray[np.int32]:
        """The form ids of the tokens at flat positions ``rows``."""
        forms = self.form_low.take(rows).astype(np.int32)
        bits = self.high_bits
        if bits:
            per = max(8 // bits, 1)
            high = self.form_high.take(rows // per).astype(np.int32)
            if per > 1:
                high >>= (rows % per).astype(np.int32) * bits
                high &= (1 << bits) - 1
            forms |= high << 16
        return forms

    def _steps(self, lo: int, hi: int) -> npt.NDArray[np.int64]:
        steps = self.step[lo:hi].astype(np.int64)
        far = np.flatnonzero(steps == FAR_STEP)
        if far.shape[0]:
            steps[far] = self.far[np.searchsorted(self.far_at, far + lo)]
        return steps

    @property
    def form(self) -> npt.NDArray[np.int32]:
        """Every token's form id, sentence after sentence (building and updating read
        them all; answering reads a few sentences' with :meth:`of` and :meth:`gather`)."""
        out = np.empty(self.n_tokens, dtype=np.int32)
        for lo in range(0, self.n_tokens, _PACK_CHUNK):  # (8-byte temporaries: a chunk)
            hi = min(lo + _PACK_CHUNK, self.n_tokens)
            out[lo:hi] = self.forms_at(np.arange(lo, hi, dtype=np.int64))
        return out

    @property
    def start(self) -> npt.NDArray[np.int64]:
        """Every token's offset from its sentence's start, sentence after sentence."""
        steps = self._steps(0, self.n_tokens)
        starts = np.cumsum(steps)
        ptr = np.asarray(self.ptr, dtype=np.int64)
        firsts = ptr[:-1][ptr[1:] > ptr[:-1]]
        # Each sentence counts from its own start: less what the tokens before it summed.
        before = starts[firsts] - steps[firsts]
        counts = (ptr[1:] - ptr[:-1])[ptr[1:] > ptr[:-1]]
        starts -= np.repeat(before, counts)
        return starts

    def gather(self, sids: IntArray) -> tuple[npt.NDArray[np.int32], IntArray, IntArray]:
        """The tokens of several sentences laid end to end: (form ids, which of ``sids``
        each belongs to, its position in its sentence)."""
        lo = np.asarray(self.ptr[sids], dtype=np.int64)
        counts = np.asarray(self.ptr[sids + 1], dtype=np.int64) - lo
        seg = np.repeat(np.arange(sids.shape[0], dtype=np.int64), counts)
        first = np.zeros(sids.shape[0] + 1, dtype=np.int64)
        np.cumsum(counts, out=first[1:])
        pos = np.arange(seg.shape[0], dtype=np.int64) - first[seg]
        return self.forms_at(lo[seg] + pos), seg, pos

    def of(self, sid: int) -> tuple[list[int], list[int]]:
        """Sentence ``sid``'s (word-form ids, offsets from the sentence's start)."""
        lo, hi = int(self.ptr[sid]), int(self.ptr[sid + 1])
        # (A few dozen tokens: list operations cost less than NumPy's calls here.)
        forms = self.form_low[lo:hi].tolist()
        bits = self.high_bits
        if bits and hi > lo:
            if bits == 16:
                high = self.form_high[lo:hi].tolist()
            else:
                per = 8 // bits
                spread = _SPREAD[bits]
                packed = self.form_high[lo // per:(hi - 1) // per + 1].tolist()
                high = list(chain.from_iterable(spread[byte] for byte in packed))
                high = high[lo % per:lo % per + hi - lo]
            forms = [f | h << 16 for f, h in zip(forms, high, strict=True)]
        steps = self.step[lo:hi].tobytes()
        if FAR_STEP in steps:
            return forms, np.cumsum(self._steps(lo, hi)).tolist()
        return forms, list(accumulate(steps))

    def prefetch(self, sids: IntArray) -> None:
        """Nothing to do: the tokens are here (a table whose tokens are elsewhere fetches
        ``sids``'s at once, ahead of a loop over them)."""

    def arrays(self) -> dict[str, npt.NDArray[Any]]:
        """The arrays of the table, by the names they are saved under."""
        return {"tok_ptr": compact_counts(self.ptr), "tok_form_low": self.form_low,
                "tok_form_high": self.form_high, "tok_step": self.step,
                "tok_far_at": self.far_at, "tok_far": self.far}

    @classmethod
    def from_arrays(cls, arrays: Mapping[str, Any], n_forms: int) -> Tokens:
        """The table of :meth:`arrays`, read back (``n_forms``: the forms table's size)."""
        return cls(arrays["tok_ptr"], arrays["tok_form_low"], arrays["tok_form_high"],
                   form_high_bits(n_forms), arrays["tok_step"], arrays["tok_far_at"],
                   arrays["tok_far"])


#: Flags of a word form (see ``Forms.flags``).
NUMBER = 1
TIME = 2


def form_flags(surfaces: Sequence[str]) -> npt.NDArray[np.uint8]:
    """:data:`NUMBER` and :data:`TIME` for each word form."""
    from quotebot.lexicon import CALENDAR, MONTH_ABBREVIATIONS, NUMBER_WORDS, TIME_WORDS

    times = CALENDAR | frozenset(MONTH_ABBREVIATIONS) | TIME_WORDS
    flags = np.zeros(len(surfaces), dtype=np.uint8)
    for i, surface in enumerate(surfaces):
        norm = analysis.normalise(surface)  # (analyse_word's first part, not cached)
        if surface[:1].isdigit() or norm in NUMBER_WORDS:
            flags[i] = NUMBER | TIME
        elif norm in times:
            flags[i] = TIME
    return flags


@dataclass(frozen=True, slots=True)
class Forms:
    """The distinct word forms of the corpus ("Police", "police's", "61-yard").

    ``terms`` (CSR by ``terms_ptr``) are each form's index terms; ``term_forms`` (CSR by
    ``term_forms_ptr``) the forms of each term; ``word`` the form's normalised word id
    (−1 for stop words); ``count`` its occurrences and ``start_count`` those that open a
    sentence.
    """

    strings: StringTable
    terms_ptr: IntArray
    terms: npt.NDArray[np.int32]
    term_forms_ptr: IntArray
    term_forms: npt.NDArray[np.int32]
    word: npt.NDArray[np.int32]
    count: IntArray
    start_count: IntArray
    #: What each form can be part of: :data:`NUMBER` (a number), :data:`TIME` (a time
    #: expression: numbers, months, weekdays, "yesterday", "week" …).
    flags: npt.NDArray[np.uint8]
    #: Forms analysed so far (see :meth:`analysed`).
    _analysed: dict[int, tuple[str, str, tuple[str, ...], bool]] = field(
        default_factory=dict, repr=False, compare=False)
    #: Word lists' forms found so far (see :meth:`ids_of`).
    _ids_of: dict[tuple[str, ...], npt.NDArray[np.int32]] = field(
        default_factory=dict, repr=False, compare=False)

    def arrays(self) -> dict[str, npt.NDArray[Any]]:
        """The arrays of the table, by the names they are saved under (strings apart)."""
        return {"form_terms_ptr": self.terms_ptr, "form_terms": self.terms,
                "term_forms_ptr": self.term_forms_ptr, "term_forms": self.term_forms,
                "form_word": self.word, "form_count": self.count,
                "form_start_count": self.start_count, "form_flags": self.flags}

    @classmethod
    def from_arrays(cls, strings: StringTable, arrays: Mapping[str, Any]) -> Forms:
        """The table of :meth:`arrays`, read back."""
        return cls(strings, arrays["form_terms_ptr"], arrays["form_terms"],
                   arrays["term_forms_ptr"], arrays["term_forms"], arrays["form_word"],
                   arrays["form_count"], arrays["form_start_count"], arrays["form_flags"])

    def ids_of(self, surfaces: tuple[str, ...]) -> npt.NDArray[np.int32]:
        """The ids of those of ``surfaces`` that are forms of the corpus, ascending
        (remembered: a fixed word list is looked up once per index)."""
        found = self._ids_of.get(surfaces)
        if found is None:
            ids = (self.strings.id_of(s) for s in surfaces)
            found = np.asarray(sorted({i for i in ids if i is not None}), dtype=np.int32)
            self._ids_of[surfaces] = found
        return found

    def of_terms(self, term_ids: Sequence[int]) -> npt.NDArray[np.int32]:
        """The forms indexed under any of ``term_ids``."""
        parts = [self.term_forms[int(self.term_forms_ptr[t]):int(self.term_forms_ptr[t + 1])]
                 for t in term_ids]
        return distinct(np.concatenate(parts)) if parts else np.empty(0, np.int32)

    def analysed(self, form: int, vocab: StringTable, words: StringTable
                 ) -> tuple[str, str, tuple[str, ...], bool]:
        """(surface, normalised form, index terms, is a stop word) of a form, read from the
        tables the build wrote (never analysed again; cached)."""
        cache = self._analysed
        found = cache.get(form)
        if found is None:
            surface = self.strings.string(form)
            word = int(self.word[form])
            if word < 0:  # a stop word: no terms, and no word of the corpus
                found = (surface, analysis.normalise(surface), (), True)
            else:
                lo, hi = self.terms_ptr[form:form + 2].tolist()
                found = (surface, words.string(word),
                         tuple(map(vocab.string, self.terms[lo:hi].tolist())), False)
            if len(cache) >= 200_000:
                cache.clear()
            cache[form] = found
        return found

    def capitalised_inside(self, surface: str) -> bool:
        """True when the corpus writes ``surface`` (capitalised) inside sentences and never
        in lower case: "Anderson was the leading rusher" opens with a name, "Despite" no."""
        form = self.strings.id_of(surface)
        if form is None or int(self.count[form]) <= int(self.start_count[form]):
            return False
        return self.strings.id_of(surface.lower()) is None


@dataclass(frozen=True, slots=True)
class Words:
    """The normalised words of the corpus (not stemmed) with their counts, and a deletion
    index for typo correction: ``delete_hash`` (sorted) holds the hash of every word and
    of every word with one letter deleted, ``delete_word`` the word it came from."""

    strings: StringTable
    count: IntArray
    delete_hash: npt.NDArray[np.uint64]
    delete_word: npt.NDArray[np.int32]

    def arrays(self) -> dict[str, npt.NDArray[Any]]:
        """The arrays of the table, by the names they are saved under (strings apart)."""
        return {"word_count": self.count, "delete_hash": self.delete_hash,
                "delete_word": self.delete_word}

    @classmethod
    def from_arrays(cls, strings: StringTable, arrays: Mapping[str, Any]) -> Words:
        """The table of :meth:`arrays`, read back."""
        return cls(strings, arrays["word_count"], arrays["delete_hash"], arrays["delete_word"])

    def count_of(self, word: str) -> int:
        wid = self.strings.id_of(word)
        return 0 if wid is None else int(self.count[wid])

    def with_keys(self, hashes: npt.NDArray[np.uint64]) -> npt.NDArray[np.int32]:
        """Ids of the words that have any of the deletion-index ``hashes``."""
        lo = np.searchsorted(self.delete_hash, hashes, "left")
        hi = np.searchsorted(self.delete_hash, hashes, "right")
        found = [self.delete_word[a:b] for a, b in zip(lo.tolist(), hi.tolist(), strict=True)
                 if b > a]
        return distinct(np.concatenate(found)) if found else np.empty(0, np.int32)


@dataclass(slots=True)
class SentenceIndex:
    """Documents, their sentences, the BM25 matrix over those sentences, and their tokens."""

    docs: Sequence[DocInfo]
    texts: Callable[[int], str]
    doc_idx: npt.NDArray[np.int32]
    paragraph: npt.NDArray[np.int32]
    sentence_no: npt.NDArray[np.int32]
    start: IntArray
    end: IntArray
    #: Term id → term and back.
    vocab: StringTable
    matrix: BM25Matrix
    #: BM25 over paragraphs (each paragraph one document): questions are often about a
    #: paragraph's topic, named once in its first sentence.
    paragraphs: BM25Matrix
    tokens: Tokens
    forms: Forms
    words: Words
    fingerprint: str
    analyzer_version: str = analysis.ANALYZER_VERSION
    #: The saved generation this index was loaded from or saved as ("" in memory only).
    generation: str = ""
    #: A saved index's text, read a block of sentences at a time (None: ``texts`` alone,
    #: in memory or from shards).
    text_reader: TextBlocks | None = field(default=None, repr=False)
    _doc_pos: dict[str, int] | None = field(default=None, repr=False)
    _paragraph_table: tuple[IntArray, IntArray] | None = field(default=None, repr=False)

    # -- counts and lookups ----------------------------------------------------------

    @property
    def n_sentences(self) -> int:
        return int(self.doc_idx.shape[0])

    @property
    def term_ids(self) -> StringTable:
        """Term → term id."""
        return self.vocab

    def term(self, term_id: int) -> str:
        return self.vocab.string(term_id)

    def doc_position(self, doc_id: str) -> int:
        if self._doc_pos is None:
            self._doc_pos = {d.id: i for i, d in enumerate(self.docs)}
        try:
            return self._doc_pos[doc_id]
        except KeyError:
            known = ", ".join(d.id for d in self.docs[:10])
            raise UnknownDocument(
                f"No document {doc_id!r} in this corpus. Known documents: {known}"
                + (" …" if len(self.docs) > 10 else "")
                + ". `quotebot docs` lists them all."
            ) from None

    def doc_sentences(self, pos: int) -> range:
        """The ids of the sentences of the document at position ``pos``: a document's
        sentences are consecutive, so two binary searches find them."""
        doc_idx = self.doc_idx
        # (Searched for in its own type: other keys would copy the whole array first.)
        first = int(np.searchsorted(doc_idx, doc_idx.dtype.type(pos)))
        end = (int(np.searchsorted(doc_idx, doc_idx.dtype.type(pos + 1)))
               if pos < np.iinfo(doc_idx.dtype).max else self.n_sentences)
        return range(first, end)

    def document(self, doc_id: str) -> Document:
        pos = self.doc_position(doc_id)
        info = self.docs[pos]
        return Document(id=info.id, title=info.title, text=self.texts(pos), path=info.path,
                        url=info.url, author=info.author, date=info.date)

    def sentence(self, sid: int) -> Sentence:
        pos = int(self.doc_idx[sid])
        return Sentence(
            doc=self.docs[pos].id,
            paragraph=int(self.paragraph[sid]),
            sentence=int(self.sentence_no[sid]),
            start=int(self.start[sid]),
            end=int(self.end[sid]),
            text=self.sentence_text(sid),
        )

    def sentence_text(self, sid: int) -> str:
        """Sentence ``sid``'s text alone (``sentence(sid).text``, read from its block)."""
        pos, start, end = int(self.doc_idx[sid]), int(self.start[sid]), int(self.end[sid])
        reader = self.text_reader
        return self.texts(pos)[start:end] if reader is None else reader.span(pos, start, end)

    def _line(self, pos: int, offset: int) -> tuple[str, int]:
        """The line of document ``pos`` holding character ``offset``, and its start."""
        if self.text_reader is not None:
            return self.text_reader.line(pos, offset)
        text = self.texts(pos)
        begin = max(text.rfind("\n", 0, offset), text.rfind("\r", 0, offset)) + 1
        stop = min((i for i in (text.find("\n", offset), text.find("\r", offset)) if i >= 0),
                   default=len(text))
        return text[begin:stop], begin

    def _heading(self, sid: int) -> tuple[int, str] | None:
        """(level, title) of the heading that sentence ``sid`` is in, None if it is in text
        (as :func:`quotebot.sentences.paragraph_levels` reads its line)."""
        line, _ = self._line(int(self.doc_idx[sid]), int(self.start[sid]))
        if "#" not in line:
            return None
        found = next(iter(paragraph_levels(line)), None)
        if found is None or not found[2]:
            return None
        return found[2], line[found[0]:found[1]]

    def _maybe_headings(self, firsts: IntArray) -> npt.NDArray[np.bool_]:
        """Which paragraphs (by their first sentences) may be headings: between a heading's
        text and the sentence before it stand at least a line break, a ``#`` and a space (a
        document's first heading: the ``#`` and the space)."""
        before = np.maximum(firsts - 1, 0)
        opens_doc = (firsts == 0) | (self.doc_idx[before] != self.doc_idx[firsts])
        gap = self.start[firsts].astype(np.int64) - np.where(opens_doc, 0, self.end[before])
        maybe: npt.NDArray[np.bool_] = gap >= np.where(opens_doc, 2, 3)
        return maybe

    def in_headings(self, sids: IntArray) -> npt.NDArray[np.bool_]:
        """Whether each of sentences ``sids`` is in a heading (a ``## Section`` line). Only a
        paragraph that may be one (see :meth:`_maybe_headings`) has its line read."""
        sids = np.asarray(sids, dtype=np.int64)
        first = self.paragraph_starts[self.paragraph_ids[sids]]
        out = np.zeros(sids.shape[0], dtype=bool)
        for i in np.flatnonzero(self._maybe_headings(first)).tolist():
            out[i] = self._heading(int(first[i])) is not None
        return out

    def section(self, sid: int) -> tuple[str, ...]:
        """The section sentence ``sid`` is in: the headings above its paragraph, outermost
        first, as :func:`quotebot.sentences.paragraph_section` finds them in the document,
        from the lines of the paragraphs that may be headings alone. (A heading without a
        word, which holds no sentence, is not seen.)"""
        doc_first = sid - int(self.sentence_no[sid]) + 1  # (numbered from 1 in a document)
        ids, starts = self._paragraph_arrays()
        firsts = starts[int(ids[doc_first]):int(ids[sid]) + 1]
        # The document's own paragraphs: only its first opens a document (what
        # _maybe_headings finds for any paragraphs, in fewer steps).
        later = firsts[1:]
        gaps = self.start[later].astype(np.int64) - self.end[later - 1]
        # With two characters or fewer before it, a document's first sentence is no heading
        # or in its title ("# " on the first line: a heading of level 1 in paragraph 1,
        # which is no section), so that line is not read.
        maybe = [doc_first] if int(self.start[doc_first]) > 2 else []
        maybe += later[gaps >= 3].tolist()
        path: list[tuple[int, str]] = []
        for first in maybe:
            found = self._heading(first)
            if found is None:
                continue
            level, title = found
            while path and path[-1][0] >= level:
                path.pop()
            if not (int(self.paragraph[first]) == 1 and level == 1):
                path.append((level, title))
        return tuple(title for _, title in path)

    def sentence_tokens(self, sid: int) -> tuple[Token, ...]:
        """The tokens of sentence ``sid``, offsets relative to the sentence's start."""
        forms, starts = self.tokens.of(sid)
        known = self.forms._analysed
        try:
            # (Once its words have been read, a sentence's forms are all known: one lookup
            # each, without a call.)
            found = [known[form] for form in forms]
        except KeyError:
            analysed, vocab, words = self.forms.analysed, self.vocab, self.words.strings
            found = [known.get(form) or analysed(form, vocab, words) for form in forms]
        # (tuple.__new__ makes a Token a third as fast as its generated constructor.)
        new = tuple.__new__
        return tuple([new(Token, (word[0], start, start + len(word[0]), word[1], word[2],
                                  word[3]))
                      for word, start in zip(found, starts, strict=True)])

    def token_spans(self, sid: int, positions: Iterable[int]) -> tuple[tuple[int, int], ...]:
        """``(token.start, token.end)`` of the tokens of sentence ``sid`` at ``positions``
        (ascending; those past its last token left out), without making every token as
        :meth:`sentence_tokens` does."""
        forms, starts = self.tokens.of(sid)
        known, strings = self.forms._analysed, self.forms.strings
        out = []
        for at in positions:
            if at >= len(forms):
                break
            word = known.get(forms[at])
            surface = word[0] if word is not None else strings.string(forms[at])
            out.append((starts[at], starts[at] + len(surface)))
        return tuple(out)

    # -- paragraphs ------------------------------------------------------------------

    def _paragraph_arrays(self) -> tuple[IntArray, IntArray]:
        if self._paragraph_table is None:
            self._paragraph_table = paragraph_table(self.doc_idx, self.paragraph)
        return self._paragraph_table

    @property
    def paragraph_ids(self) -> IntArray:
        """A paragraph number per sentence, unique across the corpus, ascending."""
        return self._paragraph_arrays()[0]

    @property
    def paragraph_starts(self) -> IntArray:
        """The first sentence of each paragraph, then the number of sentences."""
        return self._paragraph_arrays()[1]

    @property
    def n_paragraphs(self) -> int:
        return int(self.paragraph_starts.shape[0]) - 1

    # -- retrieval (the embedded backend: see quotebot.backends) -----------------------

    def top_sentences(self, groups: Groups, k: int) -> tuple[IntArray, npt.NDArray[np.float32]]:
        """The ``k`` best sentences for ``groups`` and their scores (MaxScore over the
        postings: see :func:`quotebot.bm25.top_groups`)."""
        return self.matrix.top_groups(groups, k)

    def sentence_scores(self, groups: Groups, sids: IntArray) -> npt.NDArray[np.float64]:
        """The score of each of ``sids`` (0 where it holds none of the terms)."""
        if not groups or not sids.size:
            return np.zeros(sids.shape[0], np.float64)
        # Only these sentences are scored (the blocks of each term that may hold them),
        # never every sentence that holds a term.
        return self.matrix.scores_of(groups, sids).astype(np.float64)

    def paragraph_scores(self, groups: Groups, sids: IntArray) -> npt.NDArray[np.float32]:
        """The BM25 of each of ``sids``'s paragraph. Only those paragraphs are scored: a
        binary search in each term's paragraph postings, never a pass over every one."""
        return self.paragraphs.scores_of(groups, self.paragraph_ids[sids])

    def top_sentences_and_paragraphs(self, groups: Groups, k: int
                                     ) -> tuple[IntArray, npt.NDArray[np.float32],
                                                npt.NDArray[np.float32]]:
        """:meth:`top_sentences` and the :meth:`paragraph_scores` of the sentences found,
        the same scores, summed from the sentences' postings: the lists retrieval decoded
        whole are not decoded again, the paragraph postings not read at all."""
        read: dict[int, Any] = {}
        ids, scores = self.matrix.top_groups(groups, k, read)
        paragraphs = self.paragraph_ids[ids]
        starts = self.paragraph_starts
        return ids, scores, range_scores(self.matrix, self.paragraphs, groups, paragraphs,
                                         starts[paragraphs], starts[paragraphs + 1], read)
