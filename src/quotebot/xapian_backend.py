"""The sentence index on Xapian remote shards: building them, and retrieving from them.

Sharding (``quotebot index --shards N``) writes ``OUT/shard-0 … OUT/shard-(N-1)``, Xapian
databases that ``xapian-tcpsrv --port P OUT/shard-i`` serves as they are. Each document
goes to one shard by a stable hash of its id, so a paragraph's sentences stay together.
Every sentence is one Xapian document:

- its index terms are quotebot's own analysed terms (``W`` + term, the term frequency as
  the wdf), so that both backends see the same terms and the same sentence lengths;
- its Xapian document id is its sentence id plus one, the same on every shard's client
  (the shard records the corpus layout it was numbered in: its fingerprint and every
  sentence's document), so a match needs no fetch to be placed; a boolean term names
  it too (``Q``), and its value slot 0 says which sentence it is (document id and
  position in the document);
- its data is what answering needs about it (document, paragraph, offsets, text, its
  index terms' ids, and the stored analysis of its tokens: word-form ids and offsets), so
  a shard holds its sentences whole; built with ``--semantic on``, its values hold its
  vectors and its window's (and its paragraph's, on a paragraph's first sentence);
- the first sentence of each paragraph also carries the paragraph's statistics: the
  boolean terms ``P`` + term (paragraph document frequencies, summed across shards like
  any term frequency), ``XPARA`` (the number of paragraphs) and ``F`` (the paragraph's
  name), and the paragraph's length, term frequencies and which of its sentences hold
  each term in its data;
- each document's text is the shard's metadata ``quotebot.text.`` + a hash of its id, and
  every shard carries the corpus's lexicon (:mod:`quotebot.store.lexicon`: the documents'
  metadata, where each sentence is, the vocabulary, word forms and words), so a machine
  that answers from the shards needs no copy of the corpus (:meth:`XapianBackend.open`).

Adding (:func:`add_to_shards`, ``quotebot add --search-url``) goes through servers started
with ``xapian-tcpsrv --writable``: a document's sentences go to its shard, numbered after
the corpus's, and the extended lexicon to every shard, with a revision that answering
processes use to tell a finished add from one between its commits.

Retrieving (:class:`XapianBackend`) combines the shards in the client, which gives global
statistics. Scores are quotebot's BM25 (Lucene's idf; see :mod:`quotebot.bm25`):
Xapian's ``BM25Weight(k1, 0, 0, b, 0)`` gives ``(k1 + 1) · ln(tw) · tf / (tf + K)`` with
``tw = (N - df + 0.5) / (df + 0.5)`` (``tw / 2 + 1`` below 2), so each term's query is
scaled by its Lucene idf over that, and a concept is the ``OP_MAX`` of its scaled terms,
``OP_OR`` over concepts, as :func:`quotebot.bm25.group_scores` scores them.

Xapian is GPL-2.0-or-later; it is an optional extra (``pip install 'quotebot[xapian]'``).
"""

from __future__ import annotations

import contextlib
import dataclasses
import hashlib
import json
import logging
import math
import os
import re
import threading
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, NamedTuple, TypeVar, cast
from urllib.parse import urlsplit

import numpy as np
import numpy.typing as npt

from quotebot.backends import Groups
from quotebot.bm25 import BM25Matrix, idf_of, plain_groups
from quotebot.corpus import BATCH_CHARS, batches
from quotebot.errors import QuotebotError
from quotebot.semantic import DIM, MODEL_SHA256, PASSAGES_VERSION, SentenceVectors
from quotebot.store.lexicon import Lexicon, LexiconError, read_lexicon
from quotebot.store.model import SentenceIndex, Tokens
from quotebot.store.texts import RecentTexts

if TYPE_CHECKING:
    from quotebot.engine import QuoteEngine
    from quotebot.library import AddResult
    from quotebot.models import Document

log = logging.getLogger(__name__)

#: The environment variable behind ``--search-url``.
SEARCH_URL_ENV = "QUOTEBOT_SEARCH_URL"
#: How long a shard may take to accept a connection, and to answer once connected.
CONNECT_TIMEOUT_S = 2.0
ANSWER_TIMEOUT_S = 10.0
#: How long shards at different revisions (an add between its commits) are waited for.
SETTLE_S = 3.0
#: The layout of a shard's documents (see the module's docstring).
SHARD_FORMAT = "3"
#: Value slots of a sentence's vectors (its own and its window's; its paragraph's on the
#: paragraph's first sentence), float16, when the shards were built with them.
_SENTENCE_VECTORS, _PARAGRAPH_VECTOR = 1, 2
#: The lexicon is stored in parts of at most this many bytes (metadata values).
_LEXICON_PART = 4 * 1024 * 1024
#: Sentences fetched from the shards per request, and kept fetched at most.
_FETCH_BATCH = 1000
_KEPT_SENTENCES = 200_000
#: Extra results asked of the shards beyond ``k``, so that sentences tied with the k-th
#: are ordered by quotebot's rule (the earlier sentence first), not the shards' document ids.
_TIE_MARGIN = 32
#: Xapian's limit on a term's length is 245 bytes; longer terms are indexed by their hash.
_MAX_TERM_BYTES = 240
_META = "quotebot."
T = TypeVar("T")
K = TypeVar("K")


class SearchUrlError(QuotebotError):
    """A ``--search-url`` that is not ``xapian://HOST:PORT,HOST:PORT``."""

    code = "search_url_invalid"
    http_status = 500


class ShardUnavailable(QuotebotError):
    """A shard server that does not answer, or answers for another corpus: no answer is
    given from part of the corpus."""

    code = "shard_unavailable"
    http_status = 503


class ShardFolderError(QuotebotError):
    """A shard folder that cannot be written."""

    code = "shard_folder_error"
    http_status = 500


def _xapian() -> Any:
    try:
        import xapian
    except ImportError:
        raise QuotebotError(
            "Xapian's Python bindings are not installed: install them with "
            "pip install 'quotebot[xapian]'.", code="xapian_missing") from None
    return xapian


# -- names of things inside a shard ------------------------------------------------------


def _bounded(prefix: str, name: str) -> str:
    term = prefix + name
    if len(term.encode()) <= _MAX_TERM_BYTES:
        return term
    return prefix + "#" + hashlib.sha1(name.encode()).hexdigest()


def word_term(term: str) -> str:
    """The Xapian term of quotebot's index term ``term``."""
    return _bounded("W", term)


def _doc_key(doc_id: str) -> str:
    return hashlib.sha1(doc_id.encode()).hexdigest()[:20]


def _sentence_term(doc_id: str, ordinal: int) -> str:
    return f"Q{_doc_key(doc_id)}:{ordinal}"


def _text_key(doc_id: str) -> str:
    return f"{_META}text.{_doc_key(doc_id)}"


def _paragraph_term(doc_id: str, paragraph: int) -> str:
    return f"F{_doc_key(doc_id)}:{paragraph}"


_PARAGRAPHS = "XPARA"


def shard_of(doc_id: str, shards: int) -> int:
    """The shard a document goes to: a stable hash of its id (the same on every machine and
    in every run, unlike Python's ``hash``)."""
    return int.from_bytes(hashlib.sha1(doc_id.encode()).digest()[:8], "big") % shards


# -- building ------------------------------------------------------------------------------


def _sentence_terms(index: SentenceIndex) -> tuple[npt.NDArray[np.int64],
                                                   npt.NDArray[np.int32],
                                                   npt.NDArray[np.int64]]:
    """Every sentence's (term id, tf) pairs: ``terms[ptr[s]:ptr[s + 1]]`` and ``tf[…]``."""
    matrix = index.matrix
    term_of = np.repeat(np.arange(matrix.n_terms, dtype=np.int32), matrix.df)
    sids, tf = matrix.postings_of()
    order = np.argsort(sids, kind="stable")
    ptr = np.zeros(index.n_sentences + 1, dtype=np.int64)
    np.cumsum(np.bincount(sids, minlength=index.n_sentences), out=ptr[1:])
    return ptr, term_of[order], np.asarray(tf, dtype=np.int64)[order]


def write_shards(source: SentenceIndex | Iterable[Document], out: str | os.PathLike[str],
                 shards: int, *, progress: Callable[[int, int], None] | None = None,
                 batch_chars: int = BATCH_CHARS, semantic: bool = False) -> dict[str, Any]:
    """Write the sentences of ``source`` into ``shards`` Xapian databases ``out/shard-i``.

    ``source`` is an index, or documents: those are split, analysed and written a batch
    of about ``batch_chars`` characters of text at a time, each batch's sentences
    numbered after the last's and the lexicon extended by it (as ``quotebot add`` does),
    so that what is held at once is one batch's index and the corpus's lexicon, never
    the corpus's postings; the shards are those of the whole corpus's index built at
    once. With ``semantic``, each sentence also carries its vectors for reranking by
    meaning (the bundled model's, computed a batch at a time). A folder ``shard-i`` that
    is there already is replaced only when it is a quotebot shard; anything else in
    ``out`` is left alone. Returns a summary.
    """
    from quotebot.corpus import add_to_fingerprint
    from quotebot.store.build import build_index, extend_lexicon

    xapian = _xapian()
    if shards < 1:
        raise ShardFolderError(f"--shards {shards}: give 1 or more.", code="shards_invalid")
    target = Path(out)
    paths = [target / f"shard-{i}" for i in range(shards)]
    for path in paths:
        _check_replaceable(xapian, path)
    target.mkdir(parents=True, exist_ok=True)
    databases = [xapian.WritableDatabase(str(p), xapian.DB_CREATE_OR_OVERWRITE) for p in paths]
    counts = [0] * shards
    digest = hashlib.sha256()
    lexicon: Lexicon | None = None
    try:
        for db in databases:  # ours from the start: a build stopped part way is replaceable
            db.set_metadata(_META + "format", SHARD_FORMAT)

        def fingerprinted(docs: Iterable[Document]) -> Iterator[Document]:
            for doc in docs:
                add_to_fingerprint(digest, doc)
                yield doc

        built = ([source] if isinstance(source, SentenceIndex) else
                 (build_index(batch) for batch in batches(fingerprinted(source), batch_chars)))
        for index in built:
            first_sid, first_doc = (0, 0) if lexicon is None else (
                int(lexicon.doc_idx.shape[0]), len(lexicon.docs))
            vectors = _vectors_of(index) if semantic else None
            if lexicon is None:
                lexicon = Lexicon.of(index)
                writer = _ParagraphWriter(xapian, index, vectors=vectors)
            else:
                lexicon, onto = extend_lexicon(lexicon, index, "")
                writer = _ParagraphWriter(xapian, index, terms=onto.terms, forms=onto.forms,
                                          first_sid=first_sid, vectors=vectors)
            starts = index.paragraph_starts
            for p in range(index.n_paragraphs):
                first, last = int(starts[p]), int(starts[p + 1])
                position = int(index.doc_idx[first])
                shard = shard_of(index.docs[position].id, shards)
                for docid, doc in writer.documents(first, last):
                    databases[shard].replace_document(docid, doc)
                counts[shard] += last - first
                if progress is not None:
                    progress(first_sid + last, first_doc + position + 1)
            for position, info in enumerate(index.docs):
                databases[shard_of(info.id, shards)].set_metadata(
                    _text_key(info.id), index.texts(position).encode("utf-8", "surrogatepass"))
        if lexicon is None:
            raise ShardFolderError("The corpus has no documents to write into shards.",
                                   code="corpus_empty")
        if not isinstance(source, SentenceIndex):
            lexicon = dataclasses.replace(lexicon, fingerprint=digest.hexdigest()[:32])
        data, layout = lexicon.to_bytes(), layout_of(lexicon)
        version = vectors_version() if semantic else ""
        for i, db in enumerate(databases):
            _set_corpus(db, data, lexicon.fingerprint, layout, shards, i, 0, vectors=version)
            db.commit()
    finally:
        for db in databases:
            db.close()
    n_sentences, n_docs = int(lexicon.doc_idx.shape[0]), len(lexicon.docs)
    return {
        "out": str(target),
        "shards": [str(p) for p in paths],
        "sentences": counts,
        "documents": n_docs,
        "message": (f"Wrote {n_sentences:,} sentences of {n_docs:,} documents "
                    f"into {shards} shards in {target} ("
                    + ", ".join(f"shard-{i}: {n:,}" for i, n in enumerate(counts))
                    + "). Serve each with: xapian-tcpsrv --port PORT "
                    + str(paths[0]).replace("shard-0", "shard-N") + "."),
    }


def layout_of(index: SentenceIndex | Lexicon) -> str:
    """A hash of how ``index`` numbers its sentences (its corpus and each sentence's
    document, in order): shards and client agree on sentence ids when it is the same."""
    digest = hashlib.sha256(index.fingerprint.encode())
    digest.update(np.ascontiguousarray(index.doc_idx, dtype="<i4").tobytes())
    return digest.hexdigest()[:32]


def _set_corpus(db: Any, lexicon: bytes, fingerprint: str, layout: str, shards: int,
                shard: int, revision: int, parent: str = "", vectors: str = "") -> None:
    """Write what names a shard's corpus and its place in it into ``db``'s metadata: the
    lexicon (in parts), the fingerprint and layout, the number of shards and its own,
    the revision (0 when built, one more for each document ``quotebot add`` writes to a
    shard), the fingerprint of the revision before, and which model's vectors the
    sentences carry (empty when none: see :func:`vectors_version`)."""
    parts = [lexicon[i:i + _LEXICON_PART]
             for i in range(0, len(lexicon), _LEXICON_PART)] or [b""]
    old_parts = int(db.get_metadata(_META + "lexicon.parts").decode() or 0)
    for j, part in enumerate(parts):
        db.set_metadata(f"{_META}lexicon.{j}", part)
    for j in range(len(parts), old_parts):
        db.set_metadata(f"{_META}lexicon.{j}", b"")
    db.set_metadata(_META + "lexicon.parts", str(len(parts)))
    db.set_metadata(_META + "lexicon.sha256", hashlib.sha256(lexicon).hexdigest())
    db.set_metadata(_META + "format", SHARD_FORMAT)
    db.set_metadata(_META + "fingerprint", fingerprint)
    db.set_metadata(_META + "layout", layout)
    db.set_metadata(_META + "shards", str(shards))
    db.set_metadata(_META + "shard", str(shard))
    db.set_metadata(_META + "revision", str(revision))
    db.set_metadata(_META + "parent", parent)
    db.set_metadata(_META + "vectors", vectors)


def vectors_version() -> str:
    """What names the vectors this version of quotebot makes: the model and the passages
    embedded (shards whose vectors were made otherwise are not reranked by meaning)."""
    return f"{MODEL_SHA256[:16]}.{PASSAGES_VERSION}"


def _vectors_of(index: SentenceIndex) -> SentenceVectors:
    """The vectors of ``index``'s sentences, windows and paragraphs, computed now."""
    from quotebot.semantic import Encoder, passages

    return SentenceVectors.compute(passages(index), Encoder.load())


class _ParagraphWriter:
    """The Xapian documents of an index's paragraphs (see the module's docstring).

    For documents added to shards, ``index`` holds them alone: ``terms`` and ``forms``
    map its term and form ids onto the shards' lexicon's, and ``first_sid`` is the
    shards' id of its first sentence."""

    def __init__(self, xapian: Any, index: SentenceIndex, *,
                 terms: npt.NDArray[np.int64] | None = None,
                 forms: npt.NDArray[np.int64] | None = None, first_sid: int = 0,
                 vectors: SentenceVectors | None = None) -> None:
        self._xapian = xapian
        self._vectors = vectors
        self._index = index
        self._ptr, self._local, self._tfs = _sentence_terms(index)
        #: The ids the shards store (the lexicon's), and each local id's term.
        self._terms = self._local if terms is None else terms[self._local]
        if terms is not None:  # each sentence's terms by the lexicon's ids, as a build has them
            owner = np.repeat(np.arange(index.n_sentences), np.diff(self._ptr))
            order = np.lexsort((self._terms, owner))
            self._local, self._terms, self._tfs = (
                self._local[order], self._terms[order], self._tfs[order])
        self._vocab = index.vocab.strings()
        self._forms = forms
        self._doc_len = np.asarray(index.matrix.doc_len, dtype=np.int64)
        self._ordinals = _ordinals(index)
        self._first_sid = first_sid

    def documents(self, first: int, last: int) -> list[tuple[int, Any]]:
        """(Xapian document id, document) of each sentence of the paragraph of sentences
        ``first`` to ``last`` (excluded)."""
        index, ptr, tfs = self._index, self._ptr, self._tfs
        doc_id = index.docs[int(index.doc_idx[first])].id
        lo, hi = int(ptr[first]), int(ptr[last])
        paragraph_tf: dict[str, int] = {}
        vocab, local = self._vocab, self._local
        for t, f in zip(local[lo:hi].tolist(), tfs[lo:hi].tolist(), strict=True):
            paragraph_tf[vocab[t]] = paragraph_tf.get(vocab[t], 0) + f
        # Which of the paragraph's sentences hold each term (by place in it).
        paragraph_postings: dict[str, list[int]] = {}
        for sid in range(first, last):
            for t in self._terms[int(ptr[sid]):int(ptr[sid + 1])].tolist():
                paragraph_postings.setdefault(str(t), []).append(sid - first)
        out = []
        for sid in range(first, last):
            sentence = index.sentence(sid)
            ordinal = int(self._ordinals[sid])
            doc = self._xapian.Document()
            a, b = int(ptr[sid]), int(ptr[sid + 1])
            for t, f in zip(local[a:b].tolist(), tfs[a:b].tolist(), strict=True):
                doc.add_term(word_term(vocab[t]), f)
            doc.add_boolean_term(_sentence_term(doc_id, ordinal))
            doc.add_value(0, json.dumps([doc_id, ordinal]))
            forms, offsets = index.tokens.of(sid)
            if self._forms is not None:
                forms = self._forms[forms].tolist()
            data: dict[str, Any] = {
                "doc": doc_id, "ordinal": ordinal, "paragraph": sentence.paragraph,
                "sentence": sentence.sentence, "start": sentence.start,
                "end": sentence.end, "text": sentence.text,
                "terms": self._terms[a:b].tolist(), "forms": forms, "starts": offsets,
            }
            vectors = self._vectors
            if vectors is not None:
                doc.add_value(_SENTENCE_VECTORS, np.concatenate(
                    [vectors.sentences[sid], vectors.windows[sid]]).astype("<f2").tobytes())
            if sid == first:
                if vectors is not None:
                    doc.add_value(_PARAGRAPH_VECTOR, np.asarray(
                        vectors.paragraphs[vectors.paragraph_of[sid]], "<f2").tobytes())
                doc.add_boolean_term(_PARAGRAPHS)
                doc.add_boolean_term(_paragraph_term(doc_id, sentence.paragraph))
                for term in paragraph_tf:
                    doc.add_boolean_term(_bounded("P", term))
                data["paragraph_length"] = int(self._doc_len[first:last].sum())
                data["paragraph_tf"] = paragraph_tf
                data["paragraph_postings"] = paragraph_postings
            doc.set_data(json.dumps(data, ensure_ascii=False))
            out.append((self._first_sid + sid + 1, doc))
        return out


def _check_replaceable(xapian: Any, path: Path) -> None:
    """Refuse to overwrite ``path`` unless it is a quotebot shard (or absent)."""
    if not path.exists():
        return
    try:
        db = xapian.Database(str(path))
        ours = bool(db.get_metadata(_META + "format"))
        db.close()
    except xapian.Error:
        ours = False
    if not ours:
        raise ShardFolderError(
            f"{str(path)!r} is there and is not a quotebot shard: move it away or choose "
            f"another --out.")


def _ordinals(index: SentenceIndex) -> npt.NDArray[np.int64]:
    """Each sentence's position among its document's sentences (0 for the first)."""
    doc_idx = np.asarray(index.doc_idx, dtype=np.int64)
    order = np.argsort(doc_idx, kind="stable")
    first = np.searchsorted(doc_idx[order], np.arange(len(index.docs)))
    ordinal = np.empty(doc_idx.shape[0], dtype=np.int64)
    ordinal[order] = np.arange(doc_idx.shape[0]) - first[doc_idx[order]]
    return ordinal


# -- adding through writable servers ------------------------------------------------------

#: How long a writable shard server may take to answer (writing a lexicon takes longer
#: than answering a question).
WRITE_TIMEOUT_S = 60.0


class ShardNotWritable(QuotebotError):
    """A shard server that does not take writes (started without ``--writable``), or that
    another ``quotebot add`` is writing to."""

    code = "shard_not_writable"
    http_status = 503


class DocumentInShards(QuotebotError):
    """A document whose id the shards hold already."""

    code = "document_exists"
    http_status = 409


@dataclass(frozen=True, slots=True)
class _ShardCorpus:
    """What a shard's metadata says of the corpus it holds."""

    fingerprint: str
    revision: int
    #: The fingerprint of the revision before (empty for a build).
    parent: str
    #: Which vectors its sentences carry (empty: none).
    vectors: str


def add_to_shards(url: str, docs: Sequence[Document], *,
                  connect_timeout: float = CONNECT_TIMEOUT_S,
                  timeout: float = WRITE_TIMEOUT_S) -> AddResult:
    """Add ``docs`` to the corpus on ``url``'s shard servers, every one started with
    ``xapian-tcpsrv --writable``, named in order (shard-0 first).

    A document goes to the shard its id hashes to, its sentences numbered after the
    corpus's; the lexicon (document frequencies, words, where each sentence is) is
    extended and written to every shard, so that statistics stay global. Each shard is
    committed once per target shard: the one that takes the documents first, then the
    others, so an add stopped part way is completed by the next (the lexicon of the
    newest revision is copied to the shards behind it). A document whose id the shards
    hold is refused (listed in the result). Readers pick up the new corpus by themselves
    (:meth:`XapianBackend.newer`).
    """
    from quotebot.ingest.html import words_kept
    from quotebot.library import AddedDocument, AddResult
    from quotebot.store.build import build_index, extend_lexicon

    xapian = _xapian()
    shards = parse_search_url(url)
    n = len(shards)
    result = AddResult()
    remotes: list[Any] = []
    try:
        # Every shard is opened for writing before anything is read: the write locks keep
        # another add out until this one is done.
        for i in range(n):
            remotes.append(_open_writable(xapian, shards, i, connect_timeout, timeout))
        names = [_shard_name(shards, i) for i in range(n)]
        states = [_corpus_of(xapian, remotes[i], names[i], n, i) for i in range(n)]
        newest = max(range(n), key=lambda i: states[i].revision)
        lexicon = _lexicon_of(xapian, remotes[newest], names[newest])
        top = states[newest]
        # A shard one revision behind, at the corpus the newest came from, is one an
        # earlier add stopped before: it is brought up to the newest. Anything else is
        # another corpus.
        behind = [i for i, state in enumerate(states) if state.revision != top.revision]
        for i, state in enumerate(states):
            if state.fingerprint != top.fingerprint and not (
                    i in behind and state.revision == top.revision - 1
                    and state.fingerprint == top.parent):
                raise ShardUnavailable(
                    f"{names[i]} holds another corpus than {names[newest]}: name the "
                    f"writable servers of one build of `quotebot index --shards N`, in order.")
        revision = top.revision
        vectors = top.vectors
        if vectors and vectors != vectors_version():
            raise ShardUnavailable(
                "The shards carry vectors of another embedding model than this quotebot's: "
                "rebuild them with `quotebot index --shards N --semantic on`. Nothing was "
                "added.")
        if behind:
            log.warning("completing an earlier add on %s", ", ".join(names[i] for i in behind))
            _commit_corpus(remotes, behind, lexicon, n, revision, top.parent, vectors)
        known = {info.id for info in lexicon.docs}
        by_shard: dict[int, list[Document]] = {}
        for doc in docs:
            if doc.id in known:
                result.refused.append((doc, DocumentInShards(
                    f"The shards hold a document {doc.id!r} already: give this one another "
                    f"id with --id (replacing a document in shards needs a rebuild with "
                    f"`quotebot index --shards N`).")))
                continue
            known.add(doc.id)
            by_shard.setdefault(shard_of(doc.id, n), []).append(doc)
        for target, group in sorted(by_shard.items()):
            fresh = build_index(group)
            if fresh.analyzer_version != lexicon.analyzer_version:
                raise ShardUnavailable(
                    f"The shards were built by another version of quotebot's analysis "
                    f"({lexicon.analyzer_version}, this is {fresh.analyzer_version}): rebuild "
                    f"them with `quotebot index --shards N`.")
            digest = hashlib.sha256(f"{lexicon.fingerprint}+{fresh.fingerprint}".encode())
            extended, onto = extend_lexicon(lexicon, fresh, digest.hexdigest()[:32])
            writer = _ParagraphWriter(xapian, fresh, terms=onto.terms, forms=onto.forms,
                                      first_sid=int(lexicon.doc_idx.shape[0]),
                                      vectors=_vectors_of(fresh) if vectors else None)
            starts = fresh.paragraph_starts
            for p in range(fresh.n_paragraphs):
                for docid, xdoc in writer.documents(int(starts[p]), int(starts[p + 1])):
                    remotes[target].replace_document(docid, xdoc)
            for position, info in enumerate(fresh.docs):
                remotes[target].set_metadata(_text_key(info.id), fresh.texts(position).encode(
                    "utf-8", "surrogatepass"))
            revision += 1
            # The shard that takes the documents first: until the others follow, readers
            # see shards at two revisions and wait for them to agree.
            _commit_corpus(remotes, [target, *(i for i in range(n) if i != target)],
                           extended, n, revision, lexicon.fingerprint, vectors)
            lexicon = extended
            for position, (info, doc) in enumerate(zip(fresh.docs, group, strict=True)):
                result.added.append(AddedDocument(
                    info.id, info.title, info.url, info.sentences, info.author, info.date,
                    kept_words=words_kept(doc.text) if doc.page_words else 0,
                    page_words=doc.page_words))
                log.info("added %s to %s (document %d of the shard's add)", info.id,
                         names[target], position + 1)
    except xapian.Error as exc:
        raise ShardUnavailable(
            f"A search shard stopped answering while adding ({_reason(exc)}): run the same "
            f"`quotebot add` again when every shard answers, to complete it.") from None
    finally:
        for remote in remotes:
            with contextlib.suppress(xapian.Error):
                remote.close()
    return result


def check_writable(url: str, *, connect_timeout: float = CONNECT_TIMEOUT_S) -> None:
    """Raise :class:`ShardNotWritable` (or :class:`ShardUnavailable`) unless every shard
    server of ``url`` takes writes now: said before any source is fetched."""
    xapian = _xapian()
    shards = parse_search_url(url)
    for i in range(len(shards)):
        _open_writable(xapian, shards, i, connect_timeout, WRITE_TIMEOUT_S).close()


def _commit_corpus(remotes: Sequence[Any], order: Sequence[int], lexicon: Lexicon,
                   shards: int, revision: int, parent: str, vectors: str) -> None:
    data, layout = lexicon.to_bytes(), layout_of(lexicon)
    for i in order:
        _set_corpus(remotes[i], data, lexicon.fingerprint, layout, shards, i, revision,
                    parent, vectors)
        remotes[i].commit()


def _shard_name(shards: Sequence[tuple[str, int]], i: int) -> str:
    host, port = shards[i]
    return f"shard-{i} at {host}:{port}"


def _open_writable(xapian: Any, shards: Sequence[tuple[str, int]], i: int,
                   connect_timeout: float, timeout: float) -> Any:
    name = _shard_name(shards, i)
    try:
        return xapian.remote_open_writable(shards[i][0], shards[i][1], int(timeout * 1000),
                                           int(connect_timeout * 1000))
    except xapian.InvalidOperationError:
        raise ShardNotWritable(
            f"The search shard {name} does not take writes: start a server for writing on "
            f"its folder (xapian-tcpsrv --writable --port PORT …/shard-{i}) and name the "
            f"writable servers in --search-url, shard-0 first. Nothing was added.") from None
    except xapian.DatabaseLockError:
        raise ShardNotWritable(
            f"The search shard {name} is being written by another `quotebot add`: try again "
            f"when it has finished. Nothing was added.") from None
    except xapian.Error as exc:
        raise ShardUnavailable(
            f"The search shard {name} does not answer ({_reason(exc)}): nothing was added. "
            f"Start it, or check --search-url.") from None


def _corpus_of(xapian: Any, remote: Any, name: str, shards: int, i: int) -> _ShardCorpus:
    """The corpus shard ``remote`` holds, checked to be shard ``i`` of ``shards``."""
    meta = {key: remote.get_metadata(_META + key).decode()
            for key in ("format", "fingerprint", "shards", "shard", "revision", "parent",
                        "vectors")}
    if meta["format"] != SHARD_FORMAT:
        raise ShardUnavailable(f"{name} is not a quotebot shard of this version: rebuild the "
                               f"shards with `quotebot index --shards N`.")
    if meta["shards"] != str(shards) or meta["shard"] != str(i):
        raise ShardUnavailable(
            f"{name} serves shard-{meta['shard']} of {meta['shards']}: name every shard's "
            f"server once, in order, shard-0 first ({shards} named).")
    return _ShardCorpus(meta["fingerprint"], int(meta["revision"] or 0), meta["parent"],
                        meta["vectors"])


# -- the client ----------------------------------------------------------------------------


def parse_search_url(url: str) -> list[tuple[str, int]]:
    """``xapian://HOST:PORT,HOST:PORT`` → [(host, port), …], in shard order."""
    if not url.startswith("xapian://"):
        raise SearchUrlError(
            f"--search-url {url!r}: give xapian://HOST:PORT,HOST:PORT (one address per "
            f"shard server, shard-0 first).")
    out: list[tuple[str, int]] = []
    for part in url[len("xapian://"):].rstrip("/").split(","):
        parsed = urlsplit("//" + part.strip())
        try:
            port = parsed.port
        except ValueError:
            port = None
        if not parsed.hostname or port is None or parsed.path:
            raise SearchUrlError(
                f"--search-url {url!r}: {part.strip()!r} is not HOST:PORT "
                f"(like xapian://127.0.0.1:7001,127.0.0.1:7002).")
        out.append((parsed.hostname, port))
    return out


@dataclass(frozen=True, slots=True)
class _Stats:
    sentences: int
    paragraphs: int
    paragraph_avglen: float


class XapianBackend:
    """Retrieval from Xapian shard servers, for an index of the same corpus (checked by its
    fingerprint): the one :meth:`open` reads from the shards themselves. Satisfies
    :class:`quotebot.backends.RetrievalBackend`.

    One connection per shard, combined in the client (global statistics). A shard that
    does not answer raises :class:`ShardUnavailable` naming it; the next question connects
    again, so answers come back when the shard does.
    """

    def __init__(self, index: SentenceIndex, shards: Sequence[tuple[str, int]], *,
                 connect_timeout: float = CONNECT_TIMEOUT_S,
                 timeout: float = ANSWER_TIMEOUT_S) -> None:
        self.index = index
        self.shards = list(shards)
        #: The --search-url of the shards.
        self.url = "xapian://" + ",".join(f"{host}:{port}" for host, port in self.shards)
        #: Which vectors the shards' sentences carry (see :func:`vectors_version`; empty:
        #: none).
        self.vectors = ""
        self.connect_timeout = connect_timeout
        self.timeout = timeout
        self._xapian = _xapian()
        self._lock = threading.Lock()
        self._db: Any = None
        #: Each shard's own connection (the metadata of a combined database is the first's).
        self._remotes: list[Any] = []
        self._stats: _Stats | None = None
        #: What was fetched of the corpus: sentences' (terms, forms, starts), texts.
        self._sentences: dict[int, _Sentence] = {}
        self._texts = RecentTexts(self._fetch_text)
        #: Paragraphs' data, by their first sentence.
        self._paragraphs: dict[int, _Paragraph] = {}
        #: Which shard holds each document (by its position in the index).
        self._shard_of: dict[int, int] = {}
        self._pool: ThreadPoolExecutor | None = None
        #: Closed (its engine was replaced or the server stops): a question still asked of
        #: it closes what it opened when it ends.
        self._closed = False
        self._ordinals = _ordinals(index)
        self._layout = layout_of(index)
        self._df = index.matrix.df
        self._paragraph_df = index.paragraphs.df
        self._k1 = index.matrix.k1

    @classmethod
    def open(cls, url: str, *, connect_timeout: float = CONNECT_TIMEOUT_S,
             timeout: float = ANSWER_TIMEOUT_S) -> XapianBackend:
        """The backend over ``url``'s shard servers with the index they hold, needing no
        copy of the corpus here: the lexicon is read from the first shard that answers,
        and the index's texts, tokens and postings are fetched from the shards, in
        batches, as answering needs them (``backend.index``). A shard that is down now
        is not checked here: questions are refused naming it until it answers."""
        shards = parse_search_url(url)
        lexicon, vectors = _first_lexicon(_xapian(), shards, connect_timeout, timeout)
        tokens, postings = _ShardTokens(), _ShardPostings(lexicon.df, lexicon.k1, lexicon.b)
        paragraphs = _ShardPostings(lexicon.paragraph_df, lexicon.k1, lexicon.b)
        texts = _ShardTexts()
        index = SentenceIndex(
            docs=lexicon.docs, texts=texts, doc_idx=lexicon.doc_idx,
            paragraph=lexicon.paragraph, sentence_no=lexicon.sentence_no,
            start=lexicon.start, end=lexicon.end, vocab=lexicon.vocab,
            # What answering asks of these (see _ShardPostings, _ShardTokens) is fetched;
            # the embedded retrieval methods of the index are not for them: retrieval
            # asks this backend.
            matrix=cast(BM25Matrix, postings), paragraphs=cast(BM25Matrix, paragraphs),
            tokens=cast(Tokens, tokens), forms=lexicon.forms, words=lexicon.words,
            fingerprint=lexicon.fingerprint, analyzer_version=lexicon.analyzer_version,
            generation="shards")
        backend = cls(index, shards, connect_timeout=connect_timeout, timeout=timeout)
        backend.url = url
        backend.vectors = vectors
        texts.backend = tokens.backend = postings.backend = paragraphs.backend = backend
        return backend

    def _name(self, i: int) -> str:
        host, port = self.shards[i]
        return f"shard-{i} at {host}:{port}"

    # -- connecting ------------------------------------------------------------------

    def _open_shard(self, i: int) -> Any:
        return _open_remote(self._xapian, self.shards, i, self.connect_timeout, self.timeout)

    def _connect(self) -> Any:
        remotes, metas = self._open_all()
        try:
            self._check_corpus(metas)
        except ShardUnavailable:
            for remote in remotes:
                remote.close()
            raise
        combined = self._xapian.Database()
        for remote in remotes:
            combined.add_database(remote)
        self._remotes = remotes
        return combined

    def _check_corpus(self, metas: Sequence[dict[str, str]]) -> None:
        """Raise :class:`ShardUnavailable` unless shards whose metadata are ``metas``
        hold this backend's corpus, each in its place."""
        for i, meta in enumerate(metas):
            if meta["format"] != SHARD_FORMAT:
                raise ShardUnavailable(
                    f"{self._name(i)} is not a quotebot shard of this version: rebuild the "
                    f"shards with `quotebot index --shards N`.")
            if len({m["revision"] for m in metas}) > 1:
                raise ShardUnavailable(
                    "The search shards are at different revisions ("
                    + ", ".join(f"shard-{j}: {m['revision'] or 0}" for j, m in enumerate(metas))
                    + "): a `quotebot add` is under way or stopped part way; run it again "
                    "to complete it.")
            if len({m["fingerprint"] for m in metas}) == 1 and (
                    meta["fingerprint"] != self.index.fingerprint):
                raise ShardUnavailable(
                    "The search shards hold another corpus than the one this process read "
                    "(a document was added, or they were rebuilt): a server reads it again "
                    "by itself within seconds; ask again.")
            if meta["fingerprint"] != self.index.fingerprint:
                raise ShardUnavailable(
                    f"{self._name(i)} holds another corpus than the other shards: name "
                    f"the servers of one build of `quotebot index --shards N`, or rebuild "
                    f"them all from one corpus.")
            if meta["vectors"] != self.vectors:
                raise ShardUnavailable(
                    f"{self._name(i)} was built "
                    f"{'with' if meta['vectors'] else 'without'} vectors, unlike "
                    f"the shard read first: rebuild them all with one `quotebot index "
                    f"--shards N`.")
            if meta["layout"] != self._layout:
                raise ShardUnavailable(
                    f"{self._name(i)} numbers this corpus's sentences otherwise than the "
                    f"other shards: rebuild them all with `quotebot index --shards N`.")
            if meta["shards"] != str(len(self.shards)):
                raise ShardUnavailable(
                    f"The shards were built as {meta['shards']} but --search-url names "
                    f"{len(self.shards)}: name every shard server, shard-0 first.")
            if meta["shard"] != str(i):
                # Errors name shards by their place in --search-url: it must be their number.
                host, port = self.shards[i]
                raise ShardUnavailable(
                    f"{host}:{port} serves shard-{meta['shard']} but stands in place "
                    f"{i + 1} of --search-url: name the shard servers in order, shard-0 "
                    f"first, each once.")

    def _open_all(self) -> tuple[list[Any], list[dict[str, str]]]:
        """A connection to every shard, and what each one's metadata says of its corpus.

        Shards at different revisions are a ``quotebot add`` between its commits (each
        shard commits once, a moment apart): they are read again until they agree, for
        up to :data:`SETTLE_S`."""
        xapian = self._xapian
        deadline = time.monotonic() + SETTLE_S
        while True:
            remotes = [self._open_shard(i) for i in range(len(self.shards))]
            metas = []
            for i, remote in enumerate(remotes):
                try:
                    metas.append({key: remote.get_metadata(_META + key).decode()
                                  for key in ("format", "fingerprint", "layout", "shards",
                                              "shard", "revision", "vectors")})
                except xapian.Error as exc:
                    raise ShardUnavailable(f"The search shard {self._name(i)} does not "
                                           f"answer ({_reason(exc)}).") from None
            if len({m["revision"] for m in metas}) == 1 or time.monotonic() > deadline:
                return remotes, metas
            for remote in remotes:
                remote.close()
            time.sleep(0.05)

    def newer(self) -> bool:
        """Whether the shards hold a newer corpus than this backend's index (a document
        was added: :func:`add_to_shards`), every shard agreeing on it. Asked on fresh
        connections, so it does not wait behind a question; False when a shard does not
        answer."""
        try:
            remotes, metas = self._open_all()
        except ShardUnavailable:
            return False
        for remote in remotes:
            remote.close()
        found = {m["fingerprint"] for m in metas}
        return len(found) == 1 and found != {self.index.fingerprint}

    def check(self) -> None:
        """Connect to every shard now (raises :class:`ShardUnavailable`)."""
        self._call(lambda db: None)

    def _call(self, work: Callable[[Any], T]) -> T:
        """``work(database)`` on the combined database, connected if need be.

        A failure drops the connection. When every shard still accepts connections (a
        server closes connections idle for a minute), ``work`` runs once more on a new
        connection; else the failure is raised naming the shard that is down, and the
        next call connects again.
        """
        try:
            return self._call_connected(work)
        finally:
            if self._closed:  # a question that began before close or came after it
                self.close()

    def _call_connected(self, work: Callable[[Any], T]) -> T:
        xapian = self._xapian
        with self._lock:
            for attempt in range(2):
                if self._db is None:
                    self._db = self._connect()
                    self._stats = None
                try:
                    return work(self._db)
                except (xapian.NetworkError, xapian.DatabaseError) as exc:
                    self._drop()
                    down = self._first_down()
                    if down is None and attempt == 0:
                        log.info("the search shards' connection failed (%s); connecting again",
                                 _reason(exc))
                        continue
                    raise ShardUnavailable(
                        f"The search shard {down or 'servers'} stopped answering "
                        f"({_reason(exc)}): no answer is given from part of the corpus."
                    ) from None
        raise AssertionError("unreachable")

    def close(self) -> None:
        """Close the connections to the shard servers, and the threads that fetch from them,
        now rather than when the collector gets to this backend. Closing twice does
        nothing; a question asked afterwards connects again, and closes its connections
        when it ends."""
        with self._lock:  # not under a question: it finishes first
            self._closed = True
            self._drop()
            pool, self._pool = self._pool, None
        if pool is not None:
            pool.shutdown()

    def _drop(self) -> None:
        """Close the connections (under ``self._lock``); the next call connects again."""
        db, remotes = self._db, self._remotes
        self._db, self._remotes = None, []
        for remote in remotes:
            with contextlib.suppress(self._xapian.Error):  # a connection already broken
                remote.close()
        if db is not None:
            with contextlib.suppress(self._xapian.Error):
                db.close()

    def health(self) -> str | None:
        """None when every shard accepts a connection, else which one does not (for
        ``/healthz``; a fresh connection each, so it does not wait behind a question)."""
        down = self._first_down()
        return f"search shard {down} does not answer" if down else None

    def _first_down(self) -> str | None:
        for i in range(len(self.shards)):
            try:
                self._open_shard(i).close()
            except ShardUnavailable:
                return self._name(i)
        return None

    # -- the corpus, fetched -----------------------------------------------------------

    def sentences(self, sids: Sequence[int]) -> list[_Sentence]:
        """Each of ``sids``'s (index term ids, word-form ids, their offsets from the
        sentence's start, its and its window's vectors), fetched from the shards in
        batches (and kept)."""
        rows = self._fetched(self._sentences, sids, lambda data: _Sentence(
            np.asarray(data["terms"], np.int32), data["forms"], data["starts"],
            data["vectors"]))
        return [rows[s] for s in sids]

    def _fetched(self, kept: dict[int, K], sids: Sequence[int],
                 make: Callable[[dict[str, Any]], K]) -> dict[int, K]:
        """What ``kept`` holds for sentences ``sids``; the data of those it lacks fetched
        in batches, made by ``make`` and kept (up to _KEPT_SENTENCES, then ``kept``
        starts again). Safe with several answering threads: what is returned was read
        once, whatever another thread does to ``kept`` meanwhile."""
        found: dict[int, K] = {}
        missing: list[int] = []
        for sid in dict.fromkeys(sids):
            row = kept.get(sid)
            if row is None:
                missing.append(sid)
            else:
                found[sid] = row
        for lo in range(0, len(missing), _FETCH_BATCH):
            batch = missing[lo:lo + _FETCH_BATCH]
            rows = self._call(lambda db: self._data(db, batch))  # noqa: B023 (called now)
            fetched = {sid: make(data) for sid, data in zip(batch, rows, strict=True)}
            if len(kept) + len(fetched) > _KEPT_SENTENCES:
                kept.clear()
            kept.update(fetched)
            found.update(fetched)
        return found

    def _data(self, db: Any, sids: Sequence[int]) -> list[dict[str, Any]]:
        """The stored data of sentences ``sids``, asked of the shard that holds each by its
        document id (one short request each: fewer round trips than a query for them),
        every shard at once (one thread each: the bindings let go of the interpreter
        while a shard answers)."""
        index, n = self.index, len(self.shards)
        by_shard: dict[int, list[int]] = {}
        for sid in sids:
            position = int(index.doc_idx[sid])
            shard = self._shard_of.get(position)
            if shard is None:
                shard = self._shard_of[position] = shard_of(index.docs[position].id, n)
            by_shard.setdefault(shard, []).append(sid)
        if len(by_shard) > 1:
            if self._pool is None:
                self._pool = ThreadPoolExecutor(max_workers=n,
                                                thread_name_prefix="quotebot-shards")
            parts = list(self._pool.map(self._shard_data, by_shard, by_shard.values()))
        else:
            parts = [self._shard_data(shard, wanted) for shard, wanted in by_shard.items()]
        found = {sid: data for part in parts for sid, data in part.items()}
        return [found[sid] for sid in sids]

    def _shard_data(self, shard: int, sids: list[int]) -> dict[int, dict[str, Any]]:
        xapian = self._xapian
        index, remote = self.index, self._remotes[shard]
        out = {}
        for sid in sids:
            doc_id, ordinal = index.docs[int(index.doc_idx[sid])].id, int(self._ordinals[sid])
            try:
                document = remote.get_document(sid + 1)
                data = json.loads(document.get_data())
                data["vectors"] = document.get_value(_SENTENCE_VECTORS)
                data["paragraph_vector"] = document.get_value(_PARAGRAPH_VECTOR)
            except xapian.DocNotFoundError:
                data = {}
            if data.get("doc") != doc_id or data.get("ordinal") != ordinal:
                raise ShardUnavailable(
                    f"{self._name(shard)} does not hold sentence {ordinal + 1} of "
                    f"{doc_id!r}: the shards are not the whole corpus. Rebuild them with "
                    f"`quotebot index --shards N`.")
            out[sid] = data
        return out

    def paragraphs(self, firsts: Sequence[int]) -> dict[int, _Paragraph]:
        """The paragraphs that open with sentences ``firsts``: their length, term
        frequencies and which of their sentences hold each term (fetched, and kept)."""
        return self._fetched(self._paragraphs, firsts, lambda data: _Paragraph(
            int(data["paragraph_length"]), data["paragraph_tf"],
            {int(t): np.asarray(at, np.int64) for t, at in data["paragraph_postings"].items()},
            data["paragraph_vector"]))

    def text(self, position: int) -> str:
        """The text of the index's document ``position``, from the shard that holds it
        (recent ones are kept)."""
        return self._texts(position)

    def _fetch_text(self, position: int) -> str:
        doc_id = self.index.docs[position].id
        shard = shard_of(doc_id, len(self.shards))
        data = self._call(lambda db: self._remotes[shard].get_metadata(_text_key(doc_id)))
        if not data:
            raise ShardUnavailable(
                f"{self._name(shard)} does not hold the text of {doc_id!r}: the shards are "
                f"not the whole corpus. Rebuild them with `quotebot index --shards N`.")
        return bytes(data).decode("utf-8", "surrogatepass")

    def postings(self, term_id: int) -> npt.NDArray[np.int32]:
        """The sentences holding term ``term_id``, ascending."""
        term = word_term(self.index.vocab.string(term_id))
        n = len(self.shards)
        docids = self._call(lambda db: np.fromiter((p.docid for p in db.postlist(term)),
                                                   dtype=np.int64))
        # Combined document ids ascend with the sentence ids: (sid) * n + shard + 1.
        return ((docids - 1) // n).astype(np.int32)

    def _statistics(self, db: Any) -> _Stats:
        if self._stats is None:
            paragraphs = int(db.get_termfreq(_PARAGRAPHS))
            self._stats = _Stats(int(db.get_doccount()), paragraphs,
                                 int(db.get_total_length()) / paragraphs if paragraphs
                                 else 1.0)
        return self._stats

    # -- queries ---------------------------------------------------------------------

    def _query(self, db: Any, groups: Groups) -> tuple[Any, bool] | None:
        """quotebot's BM25 query for ``groups``: OR over concepts of the MAX of their
        terms, each scaled by its query weight and by Lucene's idf over Xapian's."""
        xapian = self._xapian
        n = self._statistics(db).sentences
        vocab = self.index.vocab
        n_terms = len(vocab)
        concepts = []
        for group in plain_groups(groups):
            parts = []
            for term_id, weight in group:
                if weight <= 0 or not 0 <= term_id < n_terms:
                    continue
                term = word_term(vocab.string(term_id))
                # The corpus's document frequencies are the shards' summed (one corpus,
                # checked by its fingerprint): no request for them.
                df = int(self._df[term_id])
                if df == 0:
                    continue
                scale = weight * idf_of(df, n) / ((self._k1 + 1) * _xapian_idf(df, n))
                parts.append(xapian.Query(xapian.Query.OP_SCALE_WEIGHT, xapian.Query(term),
                                          scale))
            if parts:
                concepts.append(parts[0] if len(parts) == 1
                                else xapian.Query(xapian.Query.OP_MAX, parts))
        if not concepts:
            return None
        has_max = any(c.get_type() == xapian.Query.OP_MAX for c in concepts)
        return xapian.Query(xapian.Query.OP_OR, concepts), has_max

    def _matches(self, db: Any, query: Any, k: int, *, exact: bool = False
                 ) -> tuple[npt.NDArray[np.int64], npt.NDArray[np.float64]]:
        """(local sentence ids, scores) of the best ``k`` matches, in the shards' order
        (a combined document id ``d`` is shard ``(d - 1) % n``'s document
        ``(d - 1) // n + 1``, and that is the sentence id plus one)."""
        enquire = self._xapian.Enquire(db)
        enquire.set_query(query)
        # k3 = 0: a term that stands in two concepts counts twice, as quotebot counts it
        # (with k3 > 0 Xapian would also weigh it by its count in the query).
        enquire.set_weighting_scheme(self._xapian.BM25Weight(self._k1, 0, 0,
                                                             self.index.matrix.b, 0))
        enquire.set_docid_order(self._xapian.Enquire.DONT_CARE)
        # ``exact`` counts every match (checkatleast), so the matcher skips no postings:
        # xapian-tcpsrv 1.4.22 (Debian 12's) crashes on some ORs of MAXes of scaled terms
        # when it does.
        mset = enquire.get_mset(0, k, self._statistics(db).sentences if exact else 0)
        n = len(self.shards)
        docids = np.fromiter((item.docid for item in mset), dtype=np.int64, count=mset.size())
        scores = np.fromiter((item.weight for item in mset), dtype=np.float64,
                             count=mset.size())
        return (docids - 1) // n, scores

    def top_sentences(self, groups: Groups, k: int
                      ) -> tuple[npt.NDArray[np.int64], npt.NDArray[np.float32]]:
        empty = np.empty(0, np.int64), np.empty(0, np.float32)
        if k <= 0:
            return empty

        def work(db: Any) -> tuple[npt.NDArray[np.int64], npt.NDArray[np.float64]] | None:
            built = self._query(db, groups)
            if built is None:
                return None
            query, has_max = built
            return self._matches(db, query, k + _TIE_MARGIN, exact=has_max)

        found = self._call(work)
        if found is None:
            return empty
        sids, scores = found
        scores32 = scores.astype(np.float32)
        keep = scores32 > 0
        sids, scores32 = sids[keep], scores32[keep]
        order = np.lexsort((sids, -scores32))[:k]
        return sids[order], scores32[order]

    def sentence_scores(self, groups: Groups, sids: npt.NDArray[np.int64]
                        ) -> npt.NDArray[np.float64]:
        out = np.zeros(sids.shape[0], np.float64)
        if not len(groups) or not sids.size:
            return out
        xapian = self._xapian
        names = [_sentence_term(self.index.docs[int(self.index.doc_idx[s])].id,
                                int(self._ordinals[s])) for s in sids.tolist()]

        def work(db: Any) -> tuple[npt.NDArray[np.int64], npt.NDArray[np.float64]] | None:
            built = self._query(db, groups)
            if built is None:
                return None
            query, has_max = built
            wanted = xapian.Query(xapian.Query.OP_OR, [xapian.Query(n) for n in names])
            return self._matches(db, xapian.Query(xapian.Query.OP_FILTER, query, wanted),
                                 len(names), exact=has_max)

        matched = self._call(work)
        if matched is None:
            return out
        found, scores = matched
        score_of = dict(zip(found.tolist(), scores.astype(np.float32).tolist(), strict=True))
        return np.asarray([score_of.get(s, 0.0) for s in sids.tolist()], np.float64)

    def top_sentences_and_paragraphs(self, groups: Groups, k: int
                                     ) -> tuple[npt.NDArray[np.int64], npt.NDArray[np.float32],
                                                npt.NDArray[np.float64]]:
        sids, scores = self.top_sentences(groups, k)
        return sids, scores, self.paragraph_scores(groups, sids)

    def paragraph_scores(self, groups: Groups, sids: npt.NDArray[np.int64]
                         ) -> npt.NDArray[np.float64]:
        index = self.index
        starts = index.paragraph_starts
        keys = starts[index.paragraph_ids[sids]].tolist()  # each paragraph's first sentence
        distinct = list(dict.fromkeys(keys))
        if not distinct:
            return np.zeros(0, np.float64)
        vocab = index.vocab
        n_terms = len(vocab)
        paragraphs = self.paragraphs(distinct)

        def work(db: Any) -> tuple[_Stats, dict[str, float]]:
            stats = self._statistics(db)
            idf: dict[str, float] = {}
            for group in plain_groups(groups):
                for term_id, weight in group:
                    if weight > 0 and 0 <= term_id < n_terms:
                        term = vocab.string(term_id)
                        if term not in idf:
                            df = int(self._paragraph_df[term_id])
                            idf[term] = idf_of(df, stats.paragraphs) if df else 0.0
            return stats, idf

        stats, idf = self._call(work)
        k1, b = self._k1, index.matrix.b
        score: dict[int, float] = {}
        for key in distinct:
            length, tf = paragraphs[key].length, paragraphs[key].tf
            norm = k1 * (1 - b + b * length / stats.paragraph_avglen)
            total = 0.0
            for group in plain_groups(groups):
                best = 0.0
                for term_id, weight in group:
                    if weight <= 0 or not 0 <= term_id < n_terms:
                        continue
                    term = vocab.string(term_id)
                    f = tf.get(term, 0)
                    if f:
                        best = max(best, weight * idf[term] * f / (f + norm))
                total += best
            score[key] = total
        return np.asarray([score[key] for key in keys], np.float64)


def open_sharded_engine(url: str, semantic: str = "off", *, check: bool = True
                        ) -> QuoteEngine:
    """An engine that answers from ``url``'s shard servers alone (see
    :meth:`XapianBackend.open`), every shard checked now; with ``check`` False, a shard
    that is down is only logged (questions are refused naming it until it answers).
    Reranking by meaning (``semantic`` "auto" or "on") uses the vectors the shards carry
    (``quotebot index --shards N --semantic on``), fetched with the candidates; "on" is
    refused when they carry none, "auto" answers by words then."""
    from quotebot.engine import QuoteEngine
    from quotebot.semantic import Encoder, SemanticUnavailable

    backend = XapianBackend.open(url)
    try:
        backend.check()
    except ShardUnavailable as exc:
        if check:
            raise
        log.warning("%s", exc.message)
    engine = QuoteEngine(backend.index, search=backend)
    if semantic == "off":
        return engine
    if backend.vectors != vectors_version():
        reason = ("were built without vectors" if not backend.vectors else
                  "carry vectors of another embedding model")
        if semantic == "on":
            raise QuotebotError(
                f"The search shards {reason}: rebuild them with `quotebot index --shards N "
                f"--semantic on` to rerank by meaning, or leave --semantic at auto or off.",
                code="semantic_unavailable")
        log.info("semantic reranking off: the search shards %s", reason)
        return engine
    try:
        encoder = Encoder.load()
    except SemanticUnavailable as exc:
        if semantic == "on":
            raise
        log.info("semantic reranking off: %s", exc.message)
        return engine
    engine.use_vectors(_ShardVectors(backend), encoder)
    return engine


def newer_engine(engine: QuoteEngine) -> QuoteEngine | None:
    """An engine over ``engine``'s shards when they hold another corpus than it read (a
    document was added, or they were rebuilt), every shard agreeing on it; None when
    ``engine`` does not answer from shards, or they hold its corpus (or one is down:
    questions say so)."""
    search = engine.search
    if not isinstance(search, XapianBackend) or not search.newer():
        return None
    try:
        fresh = open_sharded_engine(search.url, "auto" if engine.semantic else "off")
    except ShardUnavailable as exc:
        log.warning("could not read the search shards' new corpus: %s", exc.message)
        return None
    log.info("now answering from the search shards' corpus of %d documents, %d sentences",
             len(fresh.index.docs), fresh.index.n_sentences)
    return fresh


def close_shards(engine: QuoteEngine) -> None:
    """Close ``engine``'s connections to its search shards (see :meth:`XapianBackend.close`),
    for its owner once it stops answering with it; nothing when it answers from its own
    index."""
    if isinstance(engine.search, XapianBackend):
        engine.search.close()


def _open_remote(xapian: Any, shards: Sequence[tuple[str, int]], i: int,
                 connect_timeout: float, timeout: float) -> Any:
    host, port = shards[i]
    try:
        return xapian.remote_open(host, port, int(timeout * 1000), int(connect_timeout * 1000))
    except xapian.Error as exc:
        raise ShardUnavailable(
            f"The search shard shard-{i} at {host}:{port} does not answer ({_reason(exc)}): "
            f"no answer is given from part of the corpus. Start it, or check "
            f"--search-url.") from None


def _first_lexicon(xapian: Any, shards: Sequence[tuple[str, int]], connect_timeout: float,
                   timeout: float) -> tuple[Lexicon, str]:
    """The lexicon of the first shard that answers, and which vectors its sentences carry
    (ShardUnavailable when none answers)."""
    failure: ShardUnavailable | None = None
    for i, (host, port) in enumerate(shards):
        try:
            remote = _open_remote(xapian, shards, i, connect_timeout, timeout)
        except ShardUnavailable as exc:
            failure = failure or exc
            continue
        try:
            return (_lexicon_of(xapian, remote, f"shard-{i} at {host}:{port}"),
                    remote.get_metadata(_META + "vectors").decode())
        except xapian.Error as exc:
            failure = failure or ShardUnavailable(
                f"The search shard shard-{i} at {host}:{port} does not answer "
                f"({_reason(exc)}).")
            continue
        finally:
            remote.close()
    assert failure is not None
    raise failure


def _lexicon_of(xapian: Any, remote: Any, name: str) -> Lexicon:
    """The lexicon shard ``remote`` (called ``name`` in errors) carries."""
    if remote.get_metadata(_META + "format").decode() != SHARD_FORMAT:
        raise ShardUnavailable(
            f"{name} is not a quotebot shard of this version: rebuild the shards with "
            f"`quotebot index --shards N`.")
    parts = int(remote.get_metadata(_META + "lexicon.parts").decode() or 0)
    data = b"".join(bytes(remote.get_metadata(f"{_META}lexicon.{j}")) for j in range(parts))
    digest = remote.get_metadata(_META + "lexicon.sha256").decode()
    if not parts or hashlib.sha256(data).hexdigest() != digest:
        raise ShardUnavailable(f"{name} holds a damaged lexicon: rebuild the shards with "
                               f"`quotebot index --shards N`.")
    try:
        return read_lexicon(data)
    except LexiconError as exc:
        raise ShardUnavailable(
            f"{name} holds a lexicon this version cannot read ({exc}): rebuild the shards "
            f"with `quotebot index --shards N`.") from None


@dataclass(frozen=True, slots=True)
class _Paragraph:
    length: int
    #: Term → its frequency in the paragraph.
    tf: dict[str, int]
    #: Term id → the places in the paragraph of the sentences that hold it, ascending.
    postings: dict[int, npt.NDArray[np.int64]]
    #: Its vector (float16 bytes; empty when the shards carry none).
    vector: bytes


class _Sentence(NamedTuple):
    """What answering fetches of a sentence (see :meth:`XapianBackend.sentences`)."""

    terms: npt.NDArray[np.int32]
    forms: list[int]
    starts: list[int]
    #: Its vector and its window's (float16 bytes; empty when the shards carry none).
    vectors: bytes


class _ShardVectors:
    """The vectors of an index on shards, fetched with its sentences and paragraphs (as
    :class:`quotebot.semantic.SentenceVectors` answers from saved ones)."""

    def __init__(self, backend: XapianBackend) -> None:
        self.backend = backend

    def similarities(self, question: npt.NDArray[np.float32], sids: npt.NDArray[np.int64]
                     ) -> tuple[npt.NDArray[np.float32], ...]:
        """Cosine of ``question`` with each sentence, its window and its paragraph."""
        backend, index = self.backend, self.backend.index
        wanted = np.asarray(sids, dtype=np.int64)
        rows = backend.sentences(wanted.tolist())
        firsts = index.paragraph_starts[index.paragraph_ids[wanted]].tolist()
        paragraphs = backend.paragraphs(firsts)
        pairs = _float16(b"".join(row.vectors for row in rows), 2 * len(rows))
        own = _float16(b"".join(paragraphs[f].vector for f in firsts), len(firsts))
        q = question.astype(np.float32)
        return (pairs[0::2].astype(np.float32) @ q, pairs[1::2].astype(np.float32) @ q,
                own.astype(np.float32) @ q)


def _float16(data: bytes, rows: int) -> npt.NDArray[np.float16]:
    """``rows`` vectors of float16 from ``data`` (ShardUnavailable when they are not)."""
    if len(data) != rows * DIM * 2:
        raise ShardUnavailable("The search shards carry no vectors for some sentences: "
                               "rebuild them with `quotebot index --shards N --semantic on`.")
    return np.frombuffer(data, dtype="<f2").reshape(rows, DIM)


class _ShardTexts:
    """``index.texts`` of an index on shards: a document's text from its shard."""

    backend: XapianBackend

    def __call__(self, position: int) -> str:
        return self.backend.text(position)


class _ShardTokens:
    """``index.tokens`` of an index on shards (see :class:`quotebot.store.model.Tokens`)."""

    backend: XapianBackend

    def of(self, sid: int) -> tuple[list[int], list[int]]:
        row = self.backend.sentences([sid])[0]
        return row.forms, row.starts

    def prefetch(self, sids: npt.NDArray[np.int64]) -> None:
        self.backend.sentences(np.asarray(sids).tolist())

    def gather(self, sids: npt.NDArray[np.int64]
               ) -> tuple[npt.NDArray[np.int32], npt.NDArray[np.int64], npt.NDArray[np.int64]]:
        rows = self.backend.sentences(np.asarray(sids).tolist())
        counts = np.fromiter((len(row.forms) for row in rows), np.int64, len(rows))
        seg = np.repeat(np.arange(len(rows), dtype=np.int64), counts)
        first = np.zeros(len(rows) + 1, dtype=np.int64)
        np.cumsum(counts, out=first[1:])
        pos = np.arange(seg.shape[0], dtype=np.int64) - first[seg]
        forms = np.fromiter((f for row in rows for f in row.forms), np.int32, int(first[-1]))
        return forms, seg, pos


class _ShardPostings:
    """``index.matrix`` of an index on shards: what answering asks of it besides scores
    (document frequencies from the lexicon; postings and sentences' terms fetched)."""

    backend: XapianBackend

    def __init__(self, df: npt.NDArray[np.int64], k1: float, b: float) -> None:
        self.df = df
        self.k1 = k1
        self.b = b

    @property
    def n_terms(self) -> int:
        return int(self.df.shape[0])

    def postings(self, term_id: int) -> npt.NDArray[np.int32]:
        return self.backend.postings(term_id)

    def count_in_ranges(self, term_ids: Sequence[int], lo: npt.NDArray[np.int64],
                        hi: npt.NDArray[np.int64]) -> npt.NDArray[np.int64]:
        """As :meth:`quotebot.bm25.BM25Matrix.count_in_ranges`, from the postings of the
        paragraphs the ranges overlap (those of the candidates are fetched already, for
        their paragraph's BM25)."""
        lo = np.asarray(lo, dtype=np.int64)
        hi = np.maximum(np.asarray(hi, dtype=np.int64), lo)
        total = np.zeros(lo.shape[0], dtype=np.int64)
        terms = [t for t in dict.fromkeys(term_ids) if 0 <= t < self.n_terms and self.df[t]]
        ranges = np.flatnonzero(hi > lo)
        if not terms or not ranges.size:
            return total
        index = self.backend.index
        starts, paragraph_ids = index.paragraph_starts, index.paragraph_ids
        first_p = paragraph_ids[lo[ranges]]
        last_p = paragraph_ids[hi[ranges] - 1]
        wanted = np.unique(np.concatenate([np.arange(a, b + 1) for a, b in
                                           zip(first_p.tolist(), last_p.tolist(),
                                               strict=True)]))
        paragraphs = self.backend.paragraphs(starts[wanted].tolist())
        for i, a, b in zip(ranges.tolist(), first_p.tolist(), last_p.tolist(), strict=True):
            count = 0
            for p in range(a, b + 1):
                first = int(starts[p])
                postings = paragraphs[first].postings
                low, high = int(lo[i]) - first, int(hi[i]) - first
                for t in terms:
                    at = postings.get(t)
                    if at is not None:
                        count += int(np.searchsorted(at, high) - np.searchsorted(at, low))
            total[i] = count
        return total

    def contains(self, term_ids: Sequence[int], sids: npt.NDArray[np.int64]
                 ) -> npt.NDArray[np.bool_]:
        sids = np.asarray(sids, dtype=np.int64)
        return self.count_in_ranges(term_ids, sids, sids + 1) > 0


def _xapian_idf(df: int, n: int) -> float:
    """The idf part of Xapian's BM25Weight (without ``k1 + 1``)."""
    tw = (n - df + 0.5) / (df + 0.5)
    if tw < 2:
        tw = tw * 0.5 + 1
    return math.log(tw)


def _reason(exc: Exception) -> str:
    """Xapian's message in a few words: "couldn't connect: connection refused"."""
    text = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
    text = re.sub(r"\s*\(context: [^()]*(?:\([^()]*\))?[^()]*\)", "", text)
    text = re.sub(r"\s*\(([^()]*)\)\s*$", r": \1", text).rstrip(".")
    return text[:1].lower() + text[1:160].lower() if text else text
