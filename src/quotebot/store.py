"""The saved sentence index: build it from documents, save it, load it (memory-mapped).

A saved index is a directory::

    DIR/CURRENT                 name of the live generation (replaced atomically)
    DIR/gen-*/manifest.json     format version, analyzer, corpus fingerprint, counts, file sizes
    DIR/gen-*/*.npy             sentence table and BM25 matrix (NumPy, no pickle)
    DIR/gen-*/texts.bin         the documents' UTF-8 text, so quotes slice back without the corpus
    DIR/gen-*/docs.json, vocab.json, words.json

Each save writes a new generation next to the old one and then swaps ``CURRENT``,
so a crash or a second writer never leaves a half-written index that loads.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import tempfile
import time
import uuid
from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from quotebot import analysis
from quotebot.bm25 import BM25Matrix
from quotebot.corpus import fingerprint
from quotebot.errors import IndexFileError, UnknownDocument
from quotebot.models import Document, Sentence
from quotebot.sentences import split_document

FORMAT = "quotebot-index"
FORMAT_VERSION = 1
CURRENT = "CURRENT"
_ARRAYS = ("doc_idx", "paragraph", "sentence_no", "start", "end",
           "indptr", "indices", "tf", "weights", "doc_len")

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

    docs: list[DocInfo]
    texts: Callable[[int], str]
    doc_idx: npt.NDArray[np.int32]
    paragraph: npt.NDArray[np.int32]
    sentence_no: npt.NDArray[np.int32]
    start: npt.NDArray[np.int64]
    end: npt.NDArray[np.int64]
    vocab: list[str]
    #: Normalised words of the corpus (not stemmed) with their counts, for typo correction.
    words: dict[str, int]
    matrix: BM25Matrix
    fingerprint: str
    analyzer_version: str = analysis.ANALYZER_VERSION
    _term_ids: dict[str, int] | None = field(default=None, repr=False)
    _doc_pos: dict[str, int] | None = field(default=None, repr=False)

    # -- lookup -----------------------------------------------------------------

    @property
    def n_sentences(self) -> int:
        return int(self.doc_idx.shape[0])

    @property
    def term_ids(self) -> dict[str, int]:
        if self._term_ids is None:
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
        rows: dict[str, list[int]] = {k: [] for k in ("doc_idx", "paragraph", "sentence_no",
                                                       "start", "end")}
        term_ids: dict[str, int] = {}
        words: Counter[str] = Counter()
        doc_terms: list[list[int]] = []
        done = 0
        for pos, doc in enumerate(docs):
            sentences = split_document(doc)
            infos.append(DocInfo(doc.id, doc.title, doc.path, len(sentences)))
            texts.append(doc.text)
            for s in sentences:
                rows["doc_idx"].append(pos)
                rows["paragraph"].append(s.paragraph)
                rows["sentence_no"].append(s.sentence)
                rows["start"].append(s.start)
                rows["end"].append(s.end)
                ids = []
                for token in analysis.tokenize(s.text):
                    if token.is_stop:
                        continue
                    words[token.norm] += 1
                    for term in token.terms:
                        tid = term_ids.setdefault(term, len(term_ids))
                        ids.append(tid)
                doc_terms.append(ids)
            done += len(sentences)
            if progress is not None:
                progress(done, pos + 1)
        matrix = BM25Matrix.from_term_ids(doc_terms, len(term_ids))
        return cls(
            docs=infos,
            texts=_list_texts(texts),
            doc_idx=np.asarray(rows["doc_idx"], dtype=np.int32),
            paragraph=np.asarray(rows["paragraph"], dtype=np.int32),
            sentence_no=np.asarray(rows["sentence_no"], dtype=np.int32),
            start=np.asarray(rows["start"], dtype=np.int64),
            end=np.asarray(rows["end"], dtype=np.int64),
            vocab=list(term_ids),
            words=dict(words),
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
        arrays: dict[str, np.ndarray[Any, Any]] = {
            "doc_idx": self.doc_idx, "paragraph": self.paragraph,
            "sentence_no": self.sentence_no, "start": self.start, "end": self.end,
            "indptr": self.matrix.indptr, "indices": self.matrix.indices, "tf": self.matrix.tf,
            "weights": self.matrix.weights, "doc_len": self.matrix.doc_len,
        }
        for name, array in arrays.items():
            np.save(out / f"{name}.npy", np.ascontiguousarray(array), allow_pickle=False)
        offsets = [0]
        with open(out / "texts.bin", "wb") as fh:
            for pos in range(len(self.docs)):
                data = self.texts(pos).encode("utf-8", "surrogatepass")
                fh.write(data)
                offsets.append(offsets[-1] + len(data))
        np.save(out / "text_offsets.npy", np.asarray(offsets, dtype=np.int64), allow_pickle=False)
        _write_json(out / "docs.json", [[d.id, d.title, d.path, d.sentences] for d in self.docs])
        _write_json(out / "vocab.json", self.vocab)
        _write_json(out / "words.json", self.words)
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
        docs = [DocInfo(*row) for row in _read_json(gen / "docs.json")]
        vocab = _read_json(gen / "vocab.json")
        if len(vocab) != n_terms or len(docs) != counts["documents"]:
            raise _damaged(gen / "vocab.json", "does not match the manifest's counts")
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
            words=_read_json(gen / "words.json"),
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

        vocab = list(self.vocab)
        term_ids = dict(self.term_ids)
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
        infos = kept_infos + (fresh.docs if fresh else [])
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
