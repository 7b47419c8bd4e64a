"""The saved sentence index: build it from documents, save it, load it (memory-mapped).

A saved index is a directory::

    DIR/CURRENT                 name of the live generation (replaced atomically)
    DIR/gen-*/manifest.json     format version, analyzer, corpus fingerprint, counts, file sizes
    DIR/gen-*/*.npy             sentence table and BM25 matrix (NumPy, no pickle)
    DIR/gen-*/texts.bin         the documents' UTF-8 text, so quotes slice back without the corpus
    DIR/gen-*/vocab.bin         the terms' UTF-8 text; vocab_*.npy find a term's id and back
    DIR/gen-*/docs.json, words.json

Each save writes a new generation next to the old one and then swaps ``CURRENT``,
so a crash or a second writer never leaves a half-written index that loads.

Loading does no work proportional to the corpus: arrays and the vocabulary are
memory-mapped (so server processes share their pages), a term is found by hash in a
sorted array, and the JSON files are read the first time they are needed.
"""

from __future__ import annotations

import contextlib
import hashlib
import itertools
import json
import mmap
import os
import shutil
import tempfile
import time
import uuid
from array import array
from collections import Counter, defaultdict
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Any, overload

import numpy as np
import numpy.typing as npt

from quotebot import analysis
from quotebot.bm25 import BM25Matrix
from quotebot.corpus import fingerprint
from quotebot.errors import IndexFileError, UnknownDocument
from quotebot.models import Document, Sentence
from quotebot.sentences import split_document

FORMAT = "quotebot-index"
FORMAT_VERSION = 2
CURRENT = "CURRENT"
_ARRAYS = ("doc_idx", "paragraph", "sentence_no", "start", "end",
           "indptr", "indices", "tf", "weights", "doc_len",
           "vocab_offsets", "vocab_hash", "vocab_order")

Progress = Callable[[int, int], None]


@dataclass(frozen=True, slots=True)
class DocInfo:
    """A document's metadata inside the index."""

    id: str
    title: str
    path: str
    sentences: int


@dataclass(slots=True)
class SentenceIndex:
    """Documents, their sentences, and the BM25 matrix over those sentences."""

    docs: Sequence[DocInfo]
    texts: Callable[[int], str]
    doc_idx: npt.NDArray[np.int32]
    paragraph: npt.NDArray[np.int32]
    sentence_no: npt.NDArray[np.int32]
    start: npt.NDArray[np.int64]
    end: npt.NDArray[np.int64]
    #: Term id → term.
    vocab: Sequence[str]
    #: Normalised words of the corpus (not stemmed) with their counts, for typo correction.
    words: Mapping[str, int]
    matrix: BM25Matrix
    fingerprint: str
    analyzer_version: str = analysis.ANALYZER_VERSION
    _term_ids: Mapping[str, int] | None = field(default=None, repr=False)
    _doc_pos: dict[str, int] | None = field(default=None, repr=False)

    # -- lookup -----------------------------------------------------------------

    @property
    def n_sentences(self) -> int:
        return int(self.doc_idx.shape[0])

    @property
    def term_ids(self) -> Mapping[str, int]:
        """Term → term id (a hash lookup in the saved files for a loaded index)."""
        if self._term_ids is None:
            if isinstance(self.vocab, SavedVocabulary):
                self._term_ids = self.vocab.ids
            else:
                self._term_ids = {term: i for i, term in enumerate(self.vocab)}
        return self._term_ids

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

    def document(self, doc_id: str) -> Document:
        pos = self.doc_position(doc_id)
        info = self.docs[pos]
        return Document(id=info.id, title=info.title, text=self.texts(pos), path=info.path)

    def sentence(self, sid: int) -> Sentence:
        pos = int(self.doc_idx[sid])
        start, end = int(self.start[sid]), int(self.end[sid])
        return Sentence(
            doc=self.docs[pos].id,
            paragraph=int(self.paragraph[sid]),
            sentence=int(self.sentence_no[sid]),
            start=start,
            end=end,
            text=self.texts(pos)[start:end],
        )

    def df(self, term: str) -> int:
        tid = self.term_ids.get(term)
        return 0 if tid is None else int(self.matrix.indptr[tid + 1] - self.matrix.indptr[tid])

    # -- building ---------------------------------------------------------------

    @classmethod
    def build(
        cls, docs: Iterable[Document], *, progress: Progress | None = None
    ) -> SentenceIndex:
        """Split, analyse and index documents."""
        docs = list(docs)
        infos: list[DocInfo] = []
        texts: list[str] = []
        doc_idx, paragraph, sentence_no = array("i"), array("i"), array("i")
        start, end = array("q"), array("q")
        # Each distinct word form ("Police", "police's") is analysed once, after the
        # loop: per token there is only a regex match and a dict lookup, both in C.
        surface_ids: defaultdict[str, int] = defaultdict(itertools.count().__next__)
        intern = surface_ids.__getitem__
        find_words = analysis.TOKEN_RE.findall
        tokens = array("i")  # surface id of every token, sentence after sentence
        n_tokens = array("i")  # tokens per sentence
        done = 0
        for pos, doc in enumerate(docs):
            sentences = split_document(doc)
            infos.append(DocInfo(doc.id, doc.title, doc.path, len(sentences)))
            texts.append(doc.text)
            doc_idx.extend(array("i", [pos]) * len(sentences))
            for s in sentences:
                paragraph.append(s.paragraph)
                sentence_no.append(s.sentence)
                start.append(s.start)
                end.append(s.end)
                words_of_sentence = find_words(s.text)
                n_tokens.append(len(words_of_sentence))
                tokens.extend(map(intern, words_of_sentence))
            done += len(sentences)
            if progress is not None:
                progress(done, pos + 1)
        term_ids, doc_len, vocab, words = _analyse_tokens(list(surface_ids), tokens, n_tokens)
        matrix = BM25Matrix.from_flat(term_ids, doc_len, len(vocab))
        return cls(
            docs=infos,
            texts=_list_texts(texts),
            doc_idx=np.frombuffer(doc_idx, dtype=np.int32).copy(),
            paragraph=np.frombuffer(paragraph, dtype=np.int32).copy(),
            sentence_no=np.frombuffer(sentence_no, dtype=np.int32).copy(),
            start=np.frombuffer(start, dtype=np.int64).copy(),
            end=np.frombuffer(end, dtype=np.int64).copy(),
            vocab=vocab,
            words=words,
            matrix=matrix,
            fingerprint=fingerprint(docs),
        )

    def all_documents(self) -> list[Document]:
        return [self.document(d.id) for d in self.docs]

    # -- saving -----------------------------------------------------------------

    def save(self, directory: str | os.PathLike[str]) -> Path:
        """Write a new generation under ``directory`` and make it current; returns its path."""
        root = Path(directory)
        root.mkdir(parents=True, exist_ok=True)
        gen_name = f"gen-{time.strftime('%Y%m%dT%H%M%S')}-{uuid.uuid4().hex[:8]}"
        tmp = Path(tempfile.mkdtemp(prefix=".tmp-", dir=root))
        try:
            self._write_files(tmp)
            gen = root / gen_name
            os.replace(tmp, gen)
        except BaseException:
            shutil.rmtree(tmp, ignore_errors=True)
            raise
        pointer = root / f".{CURRENT}.{uuid.uuid4().hex[:8]}"
        pointer.write_text(gen_name + "\n", encoding="utf-8")
        os.replace(pointer, root / CURRENT)
        _remove_old_generations(root, keep=gen_name)
        return gen

    def _write_files(self, out: Path) -> None:
        terms = [term.encode("utf-8", "surrogatepass") for term in self.vocab]
        with open(out / "vocab.bin", "wb") as fh:
            fh.write(b"".join(terms))
        vocab_offsets = np.zeros(len(terms) + 1, dtype=np.int64)
        np.cumsum(np.fromiter(map(len, terms), dtype=np.int64, count=len(terms)),
                  out=vocab_offsets[1:])
        hashes = np.fromiter(map(_hash_bytes, terms), dtype=np.uint64, count=len(terms))
        order = np.argsort(hashes, kind="stable")
        arrays: dict[str, np.ndarray[Any, Any]] = {
            "doc_idx": self.doc_idx, "paragraph": self.paragraph,
            "sentence_no": self.sentence_no, "start": self.start, "end": self.end,
            "indptr": self.matrix.indptr, "indices": self.matrix.indices, "tf": self.matrix.tf,
            "weights": self.matrix.weights, "doc_len": self.matrix.doc_len,
            "vocab_offsets": vocab_offsets, "vocab_hash": hashes[order],
            "vocab_order": order.astype(np.int32),
        }
        for name, values in arrays.items():
            np.save(out / f"{name}.npy", np.ascontiguousarray(values), allow_pickle=False)
        offsets = [0]
        with open(out / "texts.bin", "wb") as fh:
            for pos in range(len(self.docs)):
                data = self.texts(pos).encode("utf-8", "surrogatepass")
                fh.write(data)
                offsets.append(offsets[-1] + len(data))
        np.save(out / "text_offsets.npy", np.asarray(offsets, dtype=np.int64), allow_pickle=False)
        _write_json(out / "docs.json", [[d.id, d.title, d.path, d.sentences] for d in self.docs])
        _write_json(out / "words.json", dict(self.words))
        files = {p.name: p.stat().st_size for p in sorted(out.iterdir())}
        manifest = {
            "format": FORMAT,
            "format_version": FORMAT_VERSION,
            "analyzer_version": self.analyzer_version,
            "fingerprint": self.fingerprint,
            "bm25": {"variant": "lucene", "k1": self.matrix.k1, "b": self.matrix.b},
            "counts": {
                "documents": len(self.docs),
                "sentences": self.n_sentences,
                "terms": len(self.vocab),
                "postings": int(self.matrix.indices.shape[0]),
            },
            "files": files,
            "created": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        }
        _write_json(out / "manifest.json", manifest, indent=2)

    # -- loading ----------------------------------------------------------------

    @classmethod
    def load(cls, directory: str | os.PathLike[str]) -> SentenceIndex:
        """Open a saved index (arrays memory-mapped). Raises IndexFileError naming the bad file."""
        gen = current_generation(Path(directory))
        manifest = read_manifest(gen)
        for name, size in manifest["files"].items():
            path = gen / name
            if not path.is_file() or path.stat().st_size != size:
                raise _damaged(path, "is missing or has the wrong size")
        arrays = {name: _load_array(gen / f"{name}.npy") for name in _ARRAYS}
        counts = manifest["counts"]
        n_sent, n_terms = counts["sentences"], counts["terms"]
        for name in ("doc_idx", "paragraph", "sentence_no", "start", "end", "doc_len"):
            if arrays[name].shape != (n_sent,):
                raise _damaged(gen / f"{name}.npy", "does not match the manifest's sentence count")
        if arrays["indptr"].shape != (n_terms + 1,) or int(arrays["indptr"][-1]) != counts[
            "postings"
        ]:
            raise _damaged(gen / "indptr.npy", "does not match the manifest's counts")
        if (arrays["vocab_offsets"].shape != (n_terms + 1,)
                or arrays["vocab_hash"].shape != (n_terms,)
                or arrays["vocab_order"].shape != (n_terms,)):
            raise _damaged(gen / "vocab_offsets.npy", "does not match the manifest's term count")
        vocab = SavedVocabulary(_map_bytes(gen / "vocab.bin"), arrays["vocab_offsets"],
                                arrays["vocab_hash"], arrays["vocab_order"])
        docs = _LazyDocs(gen / "docs.json", counts["documents"])
        offsets = _load_array(gen / "text_offsets.npy")
        blob = np.memmap(gen / "texts.bin", dtype=np.uint8, mode="r") if offsets[-1] else None
        bm25 = manifest["bm25"]
        matrix = BM25Matrix(arrays["indptr"], arrays["indices"], arrays["tf"], arrays["weights"],
                            arrays["doc_len"], float(bm25["k1"]), float(bm25["b"]))
        return cls(
            docs=docs,
            texts=_blob_texts(blob, offsets),
            doc_idx=arrays["doc_idx"], paragraph=arrays["paragraph"],
            sentence_no=arrays["sentence_no"], start=arrays["start"], end=arrays["end"],
            vocab=vocab,
            words=_LazyWords(gen / "words.json"),
            matrix=matrix,
            fingerprint=manifest["fingerprint"],
            analyzer_version=manifest["analyzer_version"],
        )

    # -- updating ---------------------------------------------------------------

    def with_documents(self, added: Iterable[Document] = (), removed: Iterable[str] = ()
                       ) -> SentenceIndex:
        """A new index with documents added (or replaced) and removed.

        Only the added documents are split and analysed; the others keep their
        sentences and term counts, and BM25 weights are recomputed from those.
        """
        added = list(added)
        drop = set(removed) | {d.id for d in added}
        for doc_id in set(removed):
            self.doc_position(doc_id)  # raises UnknownDocument
        fresh = SentenceIndex.build(added) if added else None
        keep_docs = [i for i, d in enumerate(self.docs) if d.id not in drop]
        keep_mask = np.isin(self.doc_idx, keep_docs)
        new_pos = np.full(len(self.docs), -1, dtype=np.int64)
        new_pos[keep_docs] = np.arange(len(keep_docs))

        vocab: list[str] = list(self.vocab)
        term_ids = {term: i for i, term in enumerate(vocab)}
        sent_ids = np.flatnonzero(keep_mask)
        old_to_new = np.full(self.n_sentences, -1, dtype=np.int64)
        old_to_new[sent_ids] = np.arange(sent_ids.size)
        # Existing postings of kept sentences, as (term, sentence, tf) triples.
        term_of_posting = np.repeat(np.arange(self.matrix.n_terms), np.diff(self.matrix.indptr))
        keep_post = keep_mask[self.matrix.indices]
        t_parts = [term_of_posting[keep_post]]
        s_parts = [old_to_new[self.matrix.indices[keep_post]]]
        tf_parts = [np.asarray(self.matrix.tf[keep_post], dtype=np.int64)]
        doc_len_parts = [np.asarray(self.matrix.doc_len[keep_mask])]
        words = Counter(self.words)
        if fresh is not None:
            remap = np.asarray([term_ids.setdefault(t, len(term_ids)) for t in fresh.vocab],
                               dtype=np.int64)
            vocab = list(term_ids)
            f_terms = np.repeat(np.arange(fresh.matrix.n_terms), np.diff(fresh.matrix.indptr))
            t_parts.append(remap[f_terms])
            s_parts.append(fresh.matrix.indices.astype(np.int64) + sent_ids.size)
            tf_parts.append(fresh.matrix.tf.astype(np.int64))
            doc_len_parts.append(fresh.matrix.doc_len)
            # Word counts of removed documents stay: they only steer typo correction.
            words.update(fresh.words)
        t_all = np.concatenate(t_parts)
        s_all = np.concatenate(s_parts)
        tf_all = np.concatenate(tf_parts)
        doc_len = np.concatenate(doc_len_parts).astype(np.int32)
        n_docs = max(int(doc_len.shape[0]), 1)
        order = np.argsort(t_all * n_docs + s_all, kind="stable")
        indptr = np.zeros(len(vocab) + 1, dtype=np.int64)
        np.cumsum(np.bincount(t_all, minlength=len(vocab)), out=indptr[1:])
        matrix = BM25Matrix(indptr, s_all[order].astype(np.int32),
                            tf_all[order].astype(np.uint16), np.empty(0, np.float32), doc_len,
                            self.matrix.k1, self.matrix.b)
        matrix.weights = matrix.compute_weights()

        def column(name: str, fresh_values: Any) -> Any:
            old = np.asarray(getattr(self, name))[keep_mask]
            return np.concatenate([old, fresh_values]) if fresh is not None else old

        kept_infos = [self.docs[i] for i in keep_docs]
        kept_texts = [self.texts(i) for i in keep_docs]
        infos = kept_infos + (list(fresh.docs) if fresh else [])
        texts = kept_texts + ([fresh.texts(i) for i in range(len(fresh.docs))] if fresh else [])
        doc_idx_old = new_pos[self.doc_idx[keep_mask]]
        doc_idx = (np.concatenate([doc_idx_old, fresh.doc_idx + len(keep_docs)])
                   if fresh is not None else doc_idx_old)
        all_docs = [Document(i.id, i.title, t, i.path) for i, t in zip(infos, texts, strict=True)]
        return SentenceIndex(
            docs=infos,
            texts=_list_texts(texts),
            doc_idx=doc_idx.astype(np.int32),
            paragraph=column("paragraph", fresh.paragraph if fresh else None).astype(np.int32),
            sentence_no=column("sentence_no", fresh.sentence_no if fresh else None).astype(
                np.int32),
            start=column("start", fresh.start if fresh else None).astype(np.int64),
            end=column("end", fresh.end if fresh else None).astype(np.int64),
            vocab=vocab,
            words=dict(words),
            matrix=matrix,
            fingerprint=fingerprint(all_docs),
        )


class SavedVocabulary(Sequence[str]):
    """The terms of a saved index, read from memory-mapped files without parsing them.

    ``vocab[i]`` is term ``i`` (a slice of ``vocab.bin`` by offsets); ``vocab.ids``
    maps a term to its id by a 64-bit hash, binary-searched in a sorted array and
    confirmed against the term's bytes. Opening costs nothing per term, and the
    pages are shared by every process that maps the same index.
    """

    def __init__(self, blob: mmap.mmap | bytes, offsets: npt.NDArray[np.int64],
                 hashes: npt.NDArray[np.uint64], order: npt.NDArray[np.int32]) -> None:
        self._blob = blob
        self._offsets = offsets
        self._hashes = hashes
        self._order = order
        self.ids = _TermIds(self)

    def __len__(self) -> int:
        return int(self._offsets.shape[0]) - 1

    @overload
    def __getitem__(self, index: int) -> str: ...

    @overload
    def __getitem__(self, index: slice) -> list[str]: ...

    def __getitem__(self, index: int | slice) -> str | list[str]:
        if isinstance(index, slice):
            return [self[i] for i in range(*index.indices(len(self)))]
        n = len(self)
        if index < 0:
            index += n
        if not 0 <= index < n:
            raise IndexError(f"term id {index} out of range (0..{n - 1})")
        lo, hi = int(self._offsets[index]), int(self._offsets[index + 1])
        return self._blob[lo:hi].decode("utf-8", "surrogatepass")

    def __iter__(self) -> Iterator[str]:
        blob = bytes(self._blob[: int(self._offsets[-1])]) if len(self) else b""
        bounds = np.asarray(self._offsets).tolist()
        for lo, hi in itertools.pairwise(bounds):
            yield blob[lo:hi].decode("utf-8", "surrogatepass")

    def id_of(self, term: str) -> int | None:
        """The id of ``term``, or None when the index does not have it."""
        data = term.encode("utf-8", "surrogatepass")
        key = np.uint64(_hash_bytes(data))
        at = int(np.searchsorted(self._hashes, key))
        # Equal hashes (never seen in practice at 64 bits) are told apart by the bytes.
        while at < self._hashes.shape[0] and self._hashes[at] == key:
            tid = int(self._order[at])
            if self._blob[int(self._offsets[tid]):int(self._offsets[tid + 1])] == data:
                return tid
            at += 1
        return None


class _TermIds(Mapping[str, int]):
    """Term → id over a :class:`SavedVocabulary`, remembering recent lookups."""

    def __init__(self, vocab: SavedVocabulary) -> None:
        self._vocab = vocab
        self._seen: dict[str, int | None] = {}

    def _find(self, term: str) -> int | None:
        try:
            return self._seen[term]
        except KeyError:
            pass
        found = self._vocab.id_of(term)
        if len(self._seen) >= 100_000:
            self._seen.clear()
        self._seen[term] = found
        return found

    def __getitem__(self, term: str) -> int:
        found = self._find(term) if isinstance(term, str) else None
        if found is None:
            raise KeyError(term)
        return found

    def __contains__(self, term: object) -> bool:
        return isinstance(term, str) and self._find(term) is not None

    def __iter__(self) -> Iterator[str]:
        return iter(self._vocab)

    def __len__(self) -> int:
        return len(self._vocab)


class _LazyDocs(Sequence[DocInfo]):
    """The documents' metadata of a saved index, read from ``docs.json`` when first needed."""

    def __init__(self, path: Path, count: int) -> None:
        self._path = path
        self._count = count
        self._items: list[DocInfo] | None = None

    def _load(self) -> list[DocInfo]:
        if self._items is None:
            rows = _read_json(self._path)
            try:
                items = [DocInfo(*row) for row in rows]
            except TypeError as exc:
                raise _damaged(self._path, "does not hold document rows") from exc
            if len(items) != self._count:
                raise _damaged(self._path, "does not match the manifest's document count")
            self._items = items
        return self._items

    def __len__(self) -> int:
        return self._count

    @overload
    def __getitem__(self, index: int) -> DocInfo: ...

    @overload
    def __getitem__(self, index: slice) -> list[DocInfo]: ...

    def __getitem__(self, index: int | slice) -> DocInfo | list[DocInfo]:
        return self._load()[index]

    def __iter__(self) -> Iterator[DocInfo]:
        return iter(self._load())


class _LazyWords(Mapping[str, int]):
    """Word counts of a saved index, read from ``words.json`` when first needed (only typo
    correction and updates use them)."""

    def __init__(self, path: Path) -> None:
        self._path = path
        self._data: dict[str, int] | None = None

    def _load(self) -> dict[str, int]:
        if self._data is None:
            data = _read_json(self._path)
            if not isinstance(data, dict):
                raise _damaged(self._path, "does not hold word counts")
            self._data = data
        return self._data

    def __getitem__(self, word: str) -> int:
        return self._load()[word]

    def __contains__(self, word: object) -> bool:
        return word in self._load()

    def __iter__(self) -> Iterator[str]:
        return iter(self._load())

    def __len__(self) -> int:
        return len(self._load())

    def keys(self) -> Any:
        # The dict's own view: scanning every word (typo correction) stays in C.
        return self._load().keys()

    def items(self) -> Any:
        return self._load().items()


def _hash_bytes(data: bytes) -> int:
    """A 64-bit hash of a term's UTF-8 bytes, the same in every process and on every machine."""
    return int.from_bytes(hashlib.blake2b(data, digest_size=8).digest(), "little")


def _map_bytes(path: Path) -> mmap.mmap | bytes:
    """A file's bytes, memory-mapped (an empty file cannot be mapped, and needs not be)."""
    try:
        with open(path, "rb") as fh:
            if os.fstat(fh.fileno()).st_size == 0:
                return b""
            return mmap.mmap(fh.fileno(), 0, access=mmap.ACCESS_READ)
    except FileNotFoundError as exc:
        raise _damaged(path, "is missing") from exc
    except OSError as exc:
        raise _damaged(path, f"cannot be read ({exc})") from exc


def _analyse_tokens(
    surfaces: list[str], tokens: array[int], n_tokens: array[int]
) -> tuple[npt.NDArray[np.int64], npt.NDArray[np.int32], list[str], dict[str, int]]:
    """Term ids of all sentences end to end, sentence lengths, the vocabulary and word counts.

    ``surfaces`` are the distinct word forms in order of first appearance,
    ``tokens`` the surface id of every token and ``n_tokens`` the tokens per sentence.
    Term ids are given in order of first appearance, as a token-by-token pass would.
    """
    term_ids: dict[str, int] = {}
    flat: list[int] = []
    per_surface = np.zeros(len(surfaces), dtype=np.int64)
    norms: list[list[str]] = []
    for sid, surface in enumerate(surfaces):
        kept = [t for t in analysis.tokenize(surface) if not t.is_stop]
        norms.append([t.norm for t in kept])
        ids = [term_ids.setdefault(term, len(term_ids)) for t in kept for term in t.terms]
        per_surface[sid] = len(ids)
        flat.extend(ids)
    surface_terms = np.asarray(flat, dtype=np.int64)
    surface_start = np.zeros(len(surfaces) + 1, dtype=np.int64)
    np.cumsum(per_surface, out=surface_start[1:])

    tok = np.frombuffer(tokens, dtype=np.int32)
    sentence_bounds = np.zeros(len(n_tokens) + 1, dtype=np.int64)
    np.cumsum(np.frombuffer(n_tokens, dtype=np.int32), out=sentence_bounds[1:])
    terms_per_token = per_surface[tok]
    token_bounds = np.zeros(tok.size + 1, dtype=np.int64)
    np.cumsum(terms_per_token, out=token_bounds[1:])
    doc_len = np.diff(token_bounds[sentence_bounds]).astype(np.int32)
    # Each token's terms, in place: where its surface's terms start, plus 0, 1, ...
    where = np.repeat(surface_start[tok] - token_bounds[:-1], terms_per_token)
    where += np.arange(where.size, dtype=np.int64)
    all_terms = surface_terms[where]

    counts = np.bincount(tok, minlength=len(surfaces)).tolist()
    words: dict[str, int] = {}
    for sid, surface_norms in enumerate(norms):
        for norm in surface_norms:
            words[norm] = words.get(norm, 0) + counts[sid]
    return all_terms, doc_len, list(term_ids), words


def _list_texts(texts: list[str]) -> Callable[[int], str]:
    return texts.__getitem__


def _blob_texts(blob: np.memmap[Any, Any] | None, offsets: npt.NDArray[np.int64]
                ) -> Callable[[int], str]:
    @lru_cache(maxsize=256)
    def text(pos: int) -> str:
        if blob is None:
            return ""
        lo, hi = int(offsets[pos]), int(offsets[pos + 1])
        return bytes(blob[lo:hi]).decode("utf-8", "surrogatepass")

    return text


def _write_json(path: Path, data: Any, indent: int | None = None) -> None:
    with open(path, "w", encoding="utf-8") as fh:
        json.dump(data, fh, ensure_ascii=False, indent=indent)


def _read_json(path: Path) -> Any:
    try:
        with open(path, encoding="utf-8") as fh:
            return json.load(fh)
    except FileNotFoundError as exc:
        raise _damaged(path, "is missing") from exc
    except (ValueError, UnicodeDecodeError) as exc:
        raise _damaged(path, "is not valid JSON") from exc


def _load_array(path: Path) -> Any:
    try:
        return np.load(path, mmap_mode="r", allow_pickle=False)
    except FileNotFoundError as exc:
        raise _damaged(path, "is missing") from exc
    except (ValueError, OSError, EOFError) as exc:
        raise _damaged(path, f"cannot be read ({exc})") from exc


def _damaged(path: Path, what: str) -> IndexFileError:
    root = path.parent.parent
    return IndexFileError(
        f"The saved index file {str(path)!r} {what}. Rebuild the index with "
        f"`quotebot index --out {str(root)!r}` (add --corpus PATH for your own articles).",
        code="index_damaged",
    )


def current_generation(root: Path) -> Path:
    """The live generation directory of a saved index."""
    pointer = root / CURRENT
    try:
        name = pointer.read_text(encoding="utf-8").strip()
    except FileNotFoundError:
        raise IndexFileError(
            f"No saved index at {str(root)!r} ({CURRENT} file missing). Build one with "
            f"`quotebot index --out {str(root)!r}`.",
            code="index_missing",
        ) from None
    except (OSError, UnicodeDecodeError) as exc:
        raise _damaged(pointer, f"cannot be read ({exc})") from exc
    gen = root / name
    if "/" in name or not name.startswith("gen-") or not gen.is_dir():
        raise _damaged(pointer, "points to no index generation")
    return gen


def read_manifest(gen: Path) -> dict[str, Any]:
    """The manifest of a generation, checked for format and version."""
    manifest = _read_json(gen / "manifest.json")
    if not isinstance(manifest, dict) or manifest.get("format") != FORMAT:
        raise _damaged(gen / "manifest.json", "is not a quotebot index manifest")
    if manifest.get("format_version") != FORMAT_VERSION:
        raise IndexFileError(
            f"The saved index at {str(gen.parent)!r} has format version "
            f"{manifest.get('format_version')!r}; this quotebot reads version {FORMAT_VERSION}. "
            f"Rebuild it with `quotebot index --out {str(gen.parent)!r}`.",
            code="index_version",
        )
    try:
        for key in ("fingerprint", "analyzer_version", "counts", "files", "bm25"):
            manifest[key]
    except KeyError as exc:
        raise _damaged(gen / "manifest.json", f"lacks the field {exc.args[0]!r}") from exc
    return manifest


def _remove_old_generations(root: Path, keep: str) -> None:
    # Readers that already mapped an old generation keep their pages after unlinking.
    # Young directories may belong to a concurrent writer that has not swapped CURRENT yet.
    for child in root.iterdir():
        if child.name == keep or not child.is_dir():
            continue
        if not child.name.startswith(("gen-", ".tmp-")):
            continue
        with contextlib.suppress(OSError):
            age = time.time() - child.stat().st_mtime
            if age > (3600 if child.name.startswith(".tmp-") else 60):
                shutil.rmtree(child)
