"""Building a sentence index from documents, and updating one incrementally.

Building splits each document into sentences, splits each sentence into tokens once
(keeping their offsets), analyses each distinct word form once, and lays out the BM25
matrix, the token table, the word forms and the words (with their typo-correction
index) as arrays. Updating analyses only the documents added.
"""

from __future__ import annotations

import itertools
from array import array
from collections import defaultdict
from collections.abc import Callable, Iterable, Sequence
from itertools import accumulate, islice
from typing import Any

import numpy as np
import numpy.typing as npt

from quotebot import analysis
from quotebot.bm25 import BM25Matrix
from quotebot.corpus import fingerprint
from quotebot.models import Document
from quotebot.postings import pointers
from quotebot.sentences import split_document
from quotebot.store.files import StringTable, hash_bytes
from quotebot.store.lexicon import Lexicon
from quotebot.store.model import (
    DocInfo,
    Forms,
    IntArray,
    SentenceIndex,
    Tokens,
    Words,
    form_flags,
    paragraph_table,
)

Progress = Callable[[int, int], None]


class Split:
    """A batch of documents split into sentences and tokens: per sentence its document
    (a position counted over every batch), paragraph, number, offsets and tokens (form
    ids and offsets from the sentence's start), laid end to end."""

    def __init__(self) -> None:
        self.infos: list[DocInfo] = []
        self.texts: list[str] = []
        self.doc_idx, self.paragraph, self.sentence_no = array("i"), array("i"), array("i")
        self.start, self.end = array("q"), array("q")
        self.tokens = array("i")  # form id of every token, sentence after sentence
        self.n_tokens = array("i")  # tokens per sentence
        # Each token's offset in its sentence, two bytes each (sentences are cut at
        # MAX_SENTENCE_CHARS); four if a longer sentence ever comes (see _wider).
        self.starts: array[int] = array("H")

    def column(self, name: str) -> npt.NDArray[Any]:
        """One of the arrays above as NumPy's (a view, not a copy)."""
        values = getattr(self, name)
        return np.frombuffer(values, dtype=np.dtype(values.typecode))


class Splitter:
    """Splits documents into :class:`Split` batches. Each distinct word form ("Police",
    "police's") gets an id, the same over every batch, in order of first appearance: per
    sentence there is one regex split and a few calls in C."""

    def __init__(self) -> None:
        self.form_ids: defaultdict[str, int] = defaultdict(itertools.count().__next__)
        self.documents = 0
        self.sentences = 0

    def split(self, docs: Sequence[Document], progress: Progress | None = None) -> Split:
        out = Split()
        intern = self.form_ids.__getitem__
        split = analysis.SPLIT_RE.split
        tokens, n_tokens, starts = out.tokens, out.n_tokens, out.starts
        for doc in docs:
            sentences = split_document(doc)
            out.infos.append(DocInfo(doc.id, doc.title, doc.path, len(sentences), doc.url,
                                     doc.author, doc.date))
            out.texts.append(doc.text)
            out.doc_idx.extend(array("i", [self.documents]) * len(sentences))
            for s in sentences:
                out.paragraph.append(s.paragraph)
                out.sentence_no.append(s.sentence)
                out.start.append(s.start)
                out.end.append(s.end)
                parts = split(s.text)
                surfaces = parts[1::2]
                n_tokens.append(len(surfaces))
                tokens.extend(map(intern, surfaces))
                # parts are gap, token, gap, …, gap: a token starts where the pieces
                # before it end, so the running sums at even places are the tokens' starts.
                known = len(starts)
                try:
                    starts.extend(islice(accumulate(map(len, parts)), 0, 2 * len(surfaces),
                                         2))
                except OverflowError:
                    del starts[known:]  # extend stopped part way
                    starts = out.starts = _wider(starts, parts)
            self.documents += 1
            self.sentences += len(sentences)
            if progress is not None:
                progress(self.sentences, self.documents)
        return out


def build_index(docs: Sequence[Document] | Any, *, progress: Progress | None = None
                ) -> SentenceIndex:
    """Split, analyse and index ``docs``; ``progress(sentences, documents)`` as it goes."""
    docs = list(docs)
    splitter = Splitter()
    part = splitter.split(docs, progress)
    ptr = pointers(part.column("n_tokens"))
    # (Views of the arrays filled above, not copies: the build's memory follows the
    # tokens once, not twice.)
    tok = part.column("tokens")
    table = _analyse_forms(list(splitter.form_ids))
    doc_len = _terms_per_sentence(table, tok, ptr)
    term_ids = _token_terms(table, tok, int(doc_len.sum()))
    matrix = BM25Matrix.from_flat(term_ids, doc_len, len(table.vocab))
    del term_ids
    doc_idx_array = part.column("doc_idx").copy()
    paragraph_array = part.column("paragraph").copy()
    token_table = Tokens.pack(ptr, tok, part.column("starts"), len(table.forms))
    forms_table = _forms(table, ptr, tok)
    return SentenceIndex(
        docs=part.infos,
        texts=part.texts.__getitem__,
        doc_idx=doc_idx_array,
        paragraph=paragraph_array,
        sentence_no=part.column("sentence_no").copy(),
        start=part.column("start").copy(),
        end=part.column("end").copy(),
        vocab=StringTable.from_strings(table.vocab),
        matrix=matrix,
        paragraphs=paragraph_matrix(matrix, doc_idx_array, paragraph_array),
        tokens=token_table,
        forms=forms_table,
        words=_words(table.words, table.form_word, forms_table.count),
        fingerprint=fingerprint(docs),
    )


def paragraph_matrix(matrix: BM25Matrix, doc_idx: npt.ArrayLike, paragraph: npt.ArrayLike
                     ) -> BM25Matrix:
    """BM25 over the paragraphs of a sentence matrix."""
    ids, starts = paragraph_table(doc_idx, paragraph)
    return matrix.grouped(ids, int(starts.shape[0]) - 1)


class _FormTable:
    """Word forms with their analysis, before they become arrays."""

    def __init__(self) -> None:
        self.forms: list[str] = []
        self.vocab: list[str] = []
        self.words: list[str] = []
        self.terms_ptr = np.zeros(1, dtype=np.int64)
        self.terms = np.empty(0, dtype=np.int32)
        self.form_word = np.empty(0, dtype=np.int32)


class FormAnalysis:
    """Word forms analysed as they come: each form once, term and word ids given in
    order of first appearance (as a token-by-token pass would), continuing ``vocab`` and
    ``words``."""

    def __init__(self, vocab: list[str] | None = None, words: list[str] | None = None
                 ) -> None:
        self.forms: list[str] = []
        self.term_ids = {term: i for i, term in enumerate(vocab or [])}
        self.word_ids = {word: i for i, word in enumerate(words or [])}
        self._flat = array("i")
        self._per_form = array("q")
        self._form_word = array("i")

    def add(self, forms: Sequence[str],
            analysed: Iterable[tuple[str, tuple[str, ...], bool]] | None = None) -> None:
        """Analyse ``forms``, the next ones (their ids follow those before), or take their
        analysis (as :func:`~quotebot.analysis.analyse_word` gives it) from ``analysed``."""
        term_ids, word_ids = self.term_ids, self.word_ids
        if analysed is None:
            # The uncached analysis, so that the build does not leave a quarter of a
            # million forms in the cache that questions use.
            analysed = map(analysis.analyse_word.__wrapped__, forms)
        for norm, terms, is_stop in analysed:
            if is_stop:
                self._per_form.append(0)
                self._form_word.append(-1)
                continue
            ids = [term_ids.setdefault(term, len(term_ids)) for term in terms]
            self._per_form.append(len(ids))
            self._flat.extend(ids)
            self._form_word.append(word_ids.setdefault(norm, len(word_ids)))
        self.forms.extend(forms)

    def table(self) -> _FormTable:
        """The forms so far as arrays (copies: the analysis may go on)."""
        table = _FormTable()
        table.forms = self.forms
        table.vocab = list(self.term_ids)
        table.words = list(self.word_ids)
        table.terms_ptr = pointers(np.frombuffer(self._per_form, dtype=np.int64))
        table.terms = np.frombuffer(self._flat, dtype=np.int32).copy()
        table.form_word = np.frombuffer(self._form_word, dtype=np.int32).copy()
        return table

    def term_table(self) -> _FormTable:
        """The forms' terms alone (no copy of the lists of strings): to map tokens to
        terms while the analysis goes on."""
        table = _FormTable()
        table.terms_ptr = pointers(np.frombuffer(self._per_form, dtype=np.int64))
        table.terms = np.frombuffer(self._flat, dtype=np.int32)
        return table


def _analyse_forms(forms: list[str], vocab: list[str] | None = None,
                   words: list[str] | None = None) -> _FormTable:
    """Analyse each form once; term and word ids continue ``vocab`` and ``words``.

    Term ids are given in order of first appearance, as a token-by-token pass would.
    """
    analysed = FormAnalysis(vocab, words)
    analysed.add(forms)
    return analysed.table()


#: Tokens handled at a time where a pass over every token needs 8-byte temporaries.
_CHUNK_TOKENS = 1 << 20


def _token_terms(table: _FormTable, tok: npt.NDArray[np.int32], total: int
                 ) -> npt.NDArray[np.int32]:
    """The ``total`` index terms of every token, laid end to end (a chunk of tokens at a
    time, so the temporaries follow the chunk, not the corpus)."""
    per_form = np.diff(table.terms_ptr)
    first_term = table.terms_ptr[:-1]
    out = np.empty(total, dtype=np.int32)
    at = 0
    for lo in range(0, tok.shape[0], _CHUNK_TOKENS):
        chunk = tok[lo:lo + _CHUNK_TOKENS]
        per_token = per_form[chunk]
        bounds = pointers(per_token)
        # Each token's terms in place: where its form's terms start, plus 0, 1, …
        where = np.repeat(first_term[chunk] - bounds[:-1], per_token)
        where += np.arange(where.size, dtype=np.int64)
        out[at:at + where.shape[0]] = table.terms[where]
        at += where.shape[0]
    return out


def _terms_per_sentence(table: _FormTable, tok: npt.NDArray[np.int32], ptr: IntArray
                        ) -> npt.NDArray[np.int32]:
    """How many index terms each sentence has (its tokens ``tok[ptr[s]:ptr[s + 1]]``), a
    chunk of tokens at a time."""
    per_form = np.diff(table.terms_ptr)
    before = np.zeros(ptr.shape[0], dtype=np.int64)  # terms before each sentence's start
    carry = 0
    for lo in range(0, tok.shape[0], _CHUNK_TOKENS):
        hi = min(lo + _CHUNK_TOKENS, tok.shape[0])
        running = np.cumsum(per_form[tok[lo:hi]])
        # The sentence starts in (lo, hi]: those at lo were the chunk before's.
        a, z = np.searchsorted(ptr, [lo, hi], side="right").tolist()
        before[a:z] = carry + running[ptr[a:z] - lo - 1]
        carry += int(running[-1])
    return np.diff(before).astype(np.int32)


def _wider(starts: array[int], parts: list[str]) -> array[int]:
    """``starts`` in four bytes each, then the offsets of the tokens of ``parts`` (gap,
    token, gap, …, gap: the sentence whose offsets did not fit in two bytes)."""
    wide = array("i", starts)
    wide.extend(islice(accumulate(map(len, parts)), 0, len(parts) - 1, 2))
    return wide


def _forms(table: _FormTable, ptr: IntArray, tok: npt.NDArray[np.int32]) -> Forms:
    """The forms table of ``table``, counted over the tokens ``tok`` (form ids; sentence
    ``s``'s at ``ptr[s]:ptr[s + 1]``)."""
    n_forms = len(table.forms)
    # (bincount reads ids as 8 bytes each: a chunk at a time.)
    count = np.zeros(n_forms, dtype=np.int64)
    for lo in range(0, tok.shape[0], _CHUNK_TOKENS):
        count += np.bincount(tok[lo:lo + _CHUNK_TOKENS], minlength=n_forms)
    has_tokens = ptr[1:] > ptr[:-1]
    openers = tok[ptr[:-1][has_tokens]]
    start_count = np.bincount(openers, minlength=n_forms).astype(np.int64)
    return _counted_forms(table, count, start_count, form_flags(table.forms))


def _counted_forms(table: _FormTable, count: IntArray, start_count: IntArray,
                   flags: npt.NDArray[np.uint8]) -> Forms:
    """The forms of ``table``, with their counts (of tokens, of sentence openers)."""
    n_forms = len(table.forms)
    owner = np.repeat(np.arange(n_forms, dtype=np.int32), np.diff(table.terms_ptr))
    order = np.argsort(table.terms, kind="stable")
    term_forms_ptr = pointers(np.bincount(table.terms, minlength=len(table.vocab)))
    return Forms(
        strings=StringTable.from_strings(table.forms),
        terms_ptr=table.terms_ptr, terms=table.terms,
        term_forms_ptr=term_forms_ptr, term_forms=owner[order],
        word=table.form_word, count=count, start_count=start_count, flags=flags,
    )


def deletion_keys(word: str) -> list[str]:
    """``word`` and each way of deleting one of its letters (the correction index's keys)."""
    return list(dict.fromkeys([word, *(word[:i] + word[i + 1:] for i in range(len(word)))]))


def _words(words: list[str], form_word: npt.NDArray[np.int32], form_count: IntArray,
           previous: Words | None = None) -> Words:
    """The words table; the deletion index of ``previous`` is kept and extended."""
    known = form_word >= 0
    count = np.bincount(form_word[known], weights=form_count[known],
                        minlength=len(words)).astype(np.int64)
    first_new = len(previous.strings) if previous is not None else 0
    hashes: list[int] = []
    owners: list[int] = []
    for wid in range(first_new, len(words)):
        word = words[wid]
        if not word.isalpha():
            continue  # only words of letters are ever corrected to
        for key in deletion_keys(word):
            hashes.append(hash_bytes(key.encode("utf-8", "surrogatepass")))
            owners.append(wid)
    new_hash = np.asarray(hashes, dtype=np.uint64)
    new_word = np.asarray(owners, dtype=np.int32)
    if previous is not None:
        new_hash = np.concatenate([np.asarray(previous.delete_hash), new_hash])
        new_word = np.concatenate([np.asarray(previous.delete_word), new_word])
    order = np.argsort(new_hash, kind="stable")
    return Words(StringTable.from_strings(words), count, new_hash[order], new_word[order])


# -- updating ---------------------------------------------------------------------------


def _token_rows(ptr: IntArray, sids: IntArray) -> IntArray:
    """Flat positions in the token table of the tokens of ``sids``, in order."""
    lo = np.asarray(ptr[sids], dtype=np.int64)
    counts = np.asarray(ptr[sids + 1], dtype=np.int64) - lo
    first = pointers(counts)[:-1]
    rows = np.repeat(lo - first, counts)
    rows += np.arange(rows.shape[0], dtype=np.int64)
    return rows


class _Remap:
    """Ids in ``fresh`` (an index of added documents) → ids in the index it is added to,
    whose terms, forms and words are ``term_ids``, ``form_ids`` and ``word_ids`` (string →
    id). Those keep their ids; ``fresh``'s new ones are added to the three mappings, after
    them, in ``fresh``'s order."""

    def __init__(self, fresh: SentenceIndex, term_ids: dict[str, int],
                 form_ids: dict[str, int], word_ids: dict[str, int]) -> None:
        n_forms = len(form_ids)
        self.terms = np.asarray([term_ids.setdefault(t, len(term_ids))
                                 for t in fresh.vocab.strings()], dtype=np.int64)
        self.forms = np.asarray([form_ids.setdefault(f, len(form_ids))
                                 for f in fresh.forms.strings.strings()], dtype=np.int64)
        words = np.asarray([word_ids.setdefault(w, len(word_ids))
                            for w in fresh.words.strings.strings()], dtype=np.int64)
        # Forms new to the index bring their terms and words along: how many terms each
        # has, the terms (in new ids) and its word (−1 for a stop word).
        new_forms = np.flatnonzero(self.forms >= n_forms)
        ptr = np.asarray(fresh.forms.terms_ptr)
        self.new_form_terms = ptr[new_forms + 1] - ptr[new_forms]
        self.new_terms = self.terms[np.asarray(fresh.forms.terms)[
            _token_rows(ptr, new_forms)]].astype(np.int32)
        fw = np.asarray(fresh.forms.word)[new_forms]
        self.new_form_word = np.where(fw >= 0, words[np.maximum(fw, 0)], -1).astype(np.int32)


def merge_index(base: SentenceIndex, added: Sequence[Document] = (),
                removed: Sequence[str] = ()) -> SentenceIndex:
    """``base`` with ``added`` documents added (or replacing those with the same id) and
    ``removed`` ones dropped. Only the added documents are split and analysed; the
    others keep their sentences, tokens and term counts, and BM25 weights are
    recomputed from those."""
    added, removed = list(added), list(removed)
    drop = set(removed) | {d.id for d in added}
    for doc_id in set(removed):
        base.doc_position(doc_id)  # raises UnknownDocument
    fresh = build_index(added) if added else None
    keep_docs = [i for i, d in enumerate(base.docs) if d.id not in drop]
    keep_mask = np.isin(np.asarray(base.doc_idx), keep_docs)
    kept = np.flatnonzero(keep_mask).astype(np.int64)
    new_pos = np.full(len(base.docs), -1, dtype=np.int64)
    new_pos[keep_docs] = np.arange(len(keep_docs))

    # Terms, forms and words keep their ids; the fresh index's are mapped onto them.
    vocab = base.vocab.strings()
    forms = base.forms.strings.strings()
    words = base.words.strings.strings()
    term_ids = {t: i for i, t in enumerate(vocab)}
    form_ids = {f: i for i, f in enumerate(forms)}
    word_ids = {w: i for i, w in enumerate(words)}
    terms_ptr_parts = [np.asarray(base.forms.terms_ptr)]
    terms_parts = [np.asarray(base.forms.terms)]
    form_word_parts = [np.asarray(base.forms.word)]

    matrix = base.matrix
    doc_len_parts = [np.asarray(matrix.doc_len)[keep_mask]]
    rows = _token_rows(np.asarray(base.tokens.ptr), kept)
    tok_form_parts = [base.tokens.forms_at(rows)]
    tok_start_parts = [base.tokens.start[rows]]
    tok_count_parts = [np.diff(np.asarray(base.tokens.ptr))[kept]]
    added_postings: tuple[Any, Any, Any] = (np.zeros(0, np.int64),) * 3

    if fresh is not None:
        onto = _Remap(fresh, term_ids, form_ids, word_ids)
        term_remap, form_remap = onto.terms, onto.forms
        terms_ptr_parts.append(terms_ptr_parts[0][-1] + np.cumsum(onto.new_form_terms))
        terms_parts.append(onto.new_terms)
        form_word_parts.append(onto.new_form_word)
        f_matrix = fresh.matrix
        f_terms = np.repeat(np.arange(f_matrix.n_terms), np.diff(f_matrix.indptr))
        f_ids, f_tf = f_matrix.postings_of()
        added_postings = (term_remap[f_terms], np.asarray(f_ids, dtype=np.int64) + kept.size,
                          f_tf)
        doc_len_parts.append(np.asarray(f_matrix.doc_len))
        tok_form_parts.append(form_remap[fresh.tokens.form].astype(np.int32))
        tok_start_parts.append(fresh.tokens.start)
        tok_count_parts.append(np.diff(np.asarray(fresh.tokens.ptr)))

    vocab = list(term_ids)
    doc_len = np.concatenate(doc_len_parts).astype(np.int32)
    merged_matrix = matrix.merged(keep_mask, added_postings, len(vocab), doc_len)

    table = _FormTable()
    table.forms = list(form_ids)
    table.vocab = vocab
    table.words = list(word_ids)
    table.terms_ptr = np.concatenate(terms_ptr_parts).astype(np.int64)
    table.terms = np.concatenate(terms_parts).astype(np.int32)
    table.form_word = np.concatenate(form_word_parts).astype(np.int32)
    tok_ptr = pointers(np.concatenate(tok_count_parts))
    tok = np.concatenate(tok_form_parts).astype(np.int32)
    tokens = Tokens.pack(tok_ptr, tok, np.concatenate(tok_start_parts), len(table.forms))
    forms_table = _forms(table, tok_ptr, tok)

    def column(name: str) -> Any:
        old = np.asarray(getattr(base, name))[keep_mask]
        return np.concatenate([old, getattr(fresh, name)]) if fresh is not None else old

    infos = [base.docs[i] for i in keep_docs] + (list(fresh.docs) if fresh else [])
    texts = [base.texts(i) for i in keep_docs] + (
        [fresh.texts(i) for i in range(len(fresh.docs))] if fresh else [])
    doc_idx_old = new_pos[np.asarray(base.doc_idx)[keep_mask]]
    doc_idx = (np.concatenate([doc_idx_old, np.asarray(fresh.doc_idx) + len(keep_docs)])
               if fresh is not None else doc_idx_old)
    all_docs = [Document(i.id, i.title, t, i.path) for i, t in zip(infos, texts, strict=True)]
    paragraph = column("paragraph").astype(np.int32)
    doc_idx = doc_idx.astype(np.int32)
    return SentenceIndex(
        docs=infos,
        texts=texts.__getitem__,
        doc_idx=doc_idx.astype(np.int32),
        paragraph=paragraph,
        sentence_no=column("sentence_no").astype(np.int32),
        start=column("start").astype(np.int64),
        end=column("end").astype(np.int64),
        vocab=StringTable.from_strings(vocab),
        matrix=merged_matrix,
        paragraphs=paragraph_matrix(merged_matrix, doc_idx, paragraph),
        tokens=tokens,
        forms=forms_table,
        words=_words(table.words, table.form_word, forms_table.count, previous=base.words),
        fingerprint=fingerprint(all_docs),
    )


def extend_lexicon(base: Lexicon, fresh: SentenceIndex, fingerprint: str) -> tuple[Lexicon,
                                                                                   _Remap]:
    """``base`` (a lexicon) with the documents of ``fresh`` (an index of them alone) added
    after its own, as :func:`merge_index` adds them: ``base``'s sentences, terms, forms and
    words keep their ids, and document frequencies and counts are summed. Returns the
    lexicon, whose corpus is named by ``fingerprint``, and how ``fresh``'s ids map onto
    it."""
    term_ids = {t: i for i, t in enumerate(base.vocab.strings())}
    form_ids = {f: i for i, f in enumerate(base.forms.strings.strings())}
    word_ids = {w: i for i, w in enumerate(base.words.strings.strings())}
    n_forms = len(form_ids)
    onto = _Remap(fresh, term_ids, form_ids, word_ids)
    old_ptr = np.asarray(base.forms.terms_ptr, dtype=np.int64)
    table = _FormTable()
    table.forms = list(form_ids)
    table.vocab = list(term_ids)
    table.words = list(word_ids)
    table.terms_ptr = np.concatenate([old_ptr, old_ptr[-1] + np.cumsum(onto.new_form_terms)])
    table.terms = np.concatenate([np.asarray(base.forms.terms), onto.new_terms]).astype(np.int32)
    table.form_word = np.concatenate([np.asarray(base.forms.word),
                                      onto.new_form_word]).astype(np.int32)
    count = _summed(base.forms.count, onto.forms, fresh.forms.count, len(table.forms))
    flags = np.concatenate([np.asarray(base.forms.flags),
                            form_flags(table.forms[n_forms:])]).astype(np.uint8)
    forms = _counted_forms(table, count, _summed(base.forms.start_count, onto.forms,
                                                  fresh.forms.start_count, len(table.forms)),
                           flags)
    n_docs = len(base.docs)

    def column(name: str, dtype: Any) -> Any:
        return np.concatenate([np.asarray(getattr(base, name)),
                               np.asarray(getattr(fresh, name))]).astype(dtype)

    return Lexicon(
        docs=[*base.docs, *fresh.docs],
        doc_idx=np.concatenate([np.asarray(base.doc_idx),
                                np.asarray(fresh.doc_idx) + n_docs]).astype(np.int32),
        paragraph=column("paragraph", np.int32), sentence_no=column("sentence_no", np.int32),
        start=column("start", np.int64), end=column("end", np.int64),
        vocab=StringTable.from_strings(table.vocab),
        df=_summed(base.df, onto.terms, fresh.matrix.df, len(table.vocab)),
        paragraph_df=_summed(base.paragraph_df, onto.terms, fresh.paragraphs.df,
                             len(table.vocab)),
        forms=forms,
        words=_words(table.words, table.form_word, count, previous=base.words),
        fingerprint=fingerprint, analyzer_version=base.analyzer_version, k1=base.k1,
        b=base.b,
    ), onto


def _summed(old: npt.ArrayLike, remap: IntArray, added: npt.ArrayLike, n: int) -> IntArray:
    """Counts ``old`` (by old id) plus ``added`` (by the ids ``remap`` gives), over ``n`` ids."""
    out = np.zeros(n, dtype=np.int64)
    base = np.asarray(old, dtype=np.int64)
    out[:base.shape[0]] = base
    np.add.at(out, remap, np.asarray(added, dtype=np.int64))
    return out
