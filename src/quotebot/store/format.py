"""What one generation of a saved index holds, and how it is written and read.

Arrays are NumPy ``.npy`` files (no pickle), memory-mapped when read; strings are UTF-8
blobs with offsets and a hash table (:class:`~quotebot.store.files.StringTable`);
documents' metadata is ``docs.json``, read at once. The manifest lists every file with
its size, which is also the list of what may ever be deleted.
"""

from __future__ import annotations

import os
import time
from pathlib import Path
from typing import Any

import numpy as np

from quotebot.bm25 import BM25Matrix
from quotebot.postings import PackedPostings, compact_counts
from quotebot.store.files import (
    FORMAT,
    FORMAT_VERSION,
    IndexFolder,
    StringTable,
    damaged,
    load_array,
    map_bytes,
    read_json,
    write_json,
)
from quotebot.store.model import DocInfo, Forms, SentenceIndex, Tokens, Words
from quotebot.store.texts import RecentTexts, TextBlocks, TextBlockWriter

#: Arrays with one row per sentence.
_PER_SENTENCE = ("doc_idx", "paragraph", "sentence_no", "start", "end", "doc_len")
#: Every array of a generation (``.npy``), besides those of the string tables.
#: The arrays of compressed postings (see quotebot.postings), for sentences and, with the
#: prefix ``para_``, paragraphs.
_POSTINGS = PackedPostings.FIELDS
_ARRAYS = (*_PER_SENTENCE, *_POSTINGS, "term_max", *(f"para_{name}" for name in _POSTINGS),
           "para_len", "para_term_max",
           "tok_ptr", "tok_form_low", "tok_form_high", "tok_step", "tok_far_at", "tok_far",
           "form_terms_ptr", "form_terms", "term_forms_ptr", "term_forms", "form_word",
           "form_count", "form_start_count", "form_flags", "word_count", "delete_hash",
           "delete_word", "text_offsets", "text_starts", "text_blocks")
_TABLES = ("vocab", "forms", "words")
#: The files of the sentences' and paragraphs' postings, by their arrays' names.
POSTINGS_FILES = frozenset((*_POSTINGS, *(f"para_{name}" for name in _POSTINGS)))


def save_index(index: SentenceIndex, directory: str | os.PathLike[str]) -> Path:
    """Write ``index`` as a new generation in ``directory`` and make it current; returns
    its path, and ``index.generation`` is its name."""
    gen = IndexFolder(directory).write_generation(lambda out: _write_files(index, out))
    index.generation = gen.name
    return gen


def _write_files(index: SentenceIndex, out: Path) -> None:
    texts = TextBlockWriter(out)
    first = np.searchsorted(np.asarray(index.doc_idx), np.arange(len(index.docs) + 1)).tolist()
    for pos in range(len(index.docs)):
        texts.add(index.texts(pos), np.asarray(index.end[first[pos]:first[pos + 1]]).tolist())
    arrays: dict[str, Any] = {
        # (Positions and offsets in the fewest bytes that hold them: readers take the
        # values, never the type.)
        **{name: compact_counts(getattr(index, name))
           for name in ("doc_idx", "paragraph", "sentence_no", "start", "end")},
        **index.tokens.arrays(), **texts.close(),
    }
    write_tables(out, arrays, index, n_tokens=index.tokens.n_tokens)


def write_tables(out: Path, arrays: dict[str, Any], index: Any, *, n_tokens: int,
                 written: frozenset[str] = frozenset()) -> None:
    """Write the rest of a generation in ``out`` besides ``arrays`` (saved as they are)
    and what is already there (the text, and arrays written part by part): the postings,
    forms, words and string tables of ``index`` (a :class:`SentenceIndex`, or what a
    streamed build has of one: ``docs``, ``vocab``, ``matrix``, ``paragraphs``, ``forms``,
    ``words``, ``fingerprint``, ``analyzer_version`` and ``n_sentences``), the documents'
    metadata and the manifest. Arrays named in ``written`` are in ``out`` already."""
    matrix, forms, words = index.matrix, index.forms, index.words
    arrays = {
        **arrays,
        "doc_len": compact_counts(matrix.doc_len), "term_max": matrix.max_weights,
        **matrix.packed.arrays(),
        **{f"para_{name}": a for name, a in index.paragraphs.packed.arrays().items()},
        "para_len": compact_counts(index.paragraphs.doc_len),
        "para_term_max": index.paragraphs.max_weights,
        **forms.arrays(), **words.arrays(),
    }
    for name, table in (("vocab", index.vocab), ("forms", forms.strings),
                        ("words", words.strings)):
        arrays.update(table.arrays(name))
        (out / f"{name}.bin").write_bytes(table.blob())
    for name, values in arrays.items():
        if name in written:
            continue
        np.save(out / f"{name}.npy", np.ascontiguousarray(values), allow_pickle=False)
    write_json(out / "docs.json", [d.to_row() for d in index.docs])
    files = {p.name: p.stat().st_size for p in sorted(out.iterdir())}
    manifest = {
        "format": FORMAT,
        "format_version": FORMAT_VERSION,
        "analyzer_version": index.analyzer_version,
        "fingerprint": index.fingerprint,
        "bm25": {"variant": "lucene", "k1": matrix.k1, "b": matrix.b},
        "counts": {
            "documents": len(index.docs),
            "sentences": index.n_sentences,
            "terms": len(index.vocab),
            "postings": matrix.n_postings,
            "tokens": n_tokens,
            "forms": len(forms.strings),
            "words": len(words.strings),
        },
        "files": files,
        "created": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
    }
    write_json(out / "manifest.json", manifest, indent=2)


def load_index(directory: str | os.PathLike[str]) -> SentenceIndex:
    """Open the current generation of the saved index in ``directory``."""
    folder = IndexFolder(directory)
    root = folder.root
    gen = folder.current()
    manifest = folder.manifest(gen)
    for name, size in manifest["files"].items():
        path = gen / name
        if not path.is_file() or path.stat().st_size != size:
            raise damaged(root, path, "is missing or has the wrong size")
    names = [*_ARRAYS, *(f"{t}_{part}" for t in _TABLES for part in ("offsets", "hash",
                                                                      "order"))]
    arrays = {name: load_array(gen / f"{name}.npy", root) for name in names}
    counts = manifest["counts"]
    n_sent, n_terms = counts["sentences"], counts["terms"]
    for name in _PER_SENTENCE:
        if arrays[name].shape != (n_sent,):
            raise damaged(root, gen / f"{name}.npy", "does not match the sentence count")
    if arrays["terms"].shape != (n_terms + 1, 4) or int(arrays["terms"][-1, 0]) != counts[
            "postings"]:
        raise damaged(root, gen / "terms.npy", "does not match the manifest's counts")
    if arrays["tok_ptr"].shape != (n_sent + 1,) or int(arrays["tok_ptr"][-1]) != counts[
            "tokens"]:
        raise damaged(root, gen / "tok_ptr.npy", "does not match the manifest's counts")
    tables = {name: StringTable.open(gen, root, name, arrays) for name in _TABLES}
    tokens = Tokens.from_arrays(arrays, len(tables["forms"]))
    for name, size in (("tok_form_low", tokens.n_tokens), ("tok_step", tokens.n_tokens),
                       ("tok_form_high", tokens.high_size(tokens.n_tokens)),
                       ("tok_far", tokens.far_at.shape[0])):
        if arrays[name].shape != (size,) or tokens.n_tokens != counts["tokens"]:
            raise damaged(root, gen / f"{name}.npy", "does not match the manifest's counts")
    if len(tables["vocab"]) != n_terms:
        raise damaged(root, gen / "vocab.bin", "does not match the term count")
    rows = read_json(gen / "docs.json", root)
    try:
        docs = [DocInfo(*row) for row in rows]
    except TypeError as exc:
        raise damaged(root, gen / "docs.json", "does not hold document rows") from exc
    if len(docs) != counts["documents"]:
        raise damaged(root, gen / "docs.json", "does not match the document count")
    blocks = TextBlocks(map_bytes(gen / "texts.bin", root), arrays["text_offsets"],
                        arrays["text_starts"], arrays["text_blocks"],
                        _read_bytes(gen / "text_dictionary.bin", root))
    if blocks.n_documents != len(docs) or arrays["text_starts"].shape != (blocks.n_blocks(),):
        raise damaged(root, gen / "text_blocks.npy", "does not match the document count")
    bm25 = manifest["bm25"]
    for name in ("term_max", "para_term_max"):
        if arrays[name].shape != (n_terms,):
            raise damaged(root, gen / f"{name}.npy", "does not match the term count")
    matrix = BM25Matrix(_packed(arrays, "", root, gen), arrays["doc_len"], float(bm25["k1"]),
                        float(bm25["b"]), _max=arrays["term_max"])
    return SentenceIndex(
        docs=docs,
        texts=RecentTexts(blocks.document),
        text_reader=blocks,
        doc_idx=arrays["doc_idx"], paragraph=arrays["paragraph"],
        sentence_no=arrays["sentence_no"], start=arrays["start"], end=arrays["end"],
        vocab=tables["vocab"],
        matrix=matrix,
        paragraphs=BM25Matrix(_packed(arrays, "para_", root, gen), arrays["para_len"],
                              float(bm25["k1"]), float(bm25["b"]),
                              _max=arrays["para_term_max"]),
        tokens=tokens,
        forms=Forms.from_arrays(tables["forms"], arrays),
        words=Words.from_arrays(tables["words"], arrays),
        fingerprint=manifest["fingerprint"],
        analyzer_version=manifest["analyzer_version"],
        generation=gen.name,
    )


def _packed(arrays: dict[str, Any], prefix: str, root: Path, gen: Path) -> PackedPostings:
    """The compressed postings saved under ``prefix``, checked for consistent shapes."""
    packed = PackedPostings(*(arrays[prefix + name] for name in _POSTINGS))
    if packed.terms.ndim != 2 or packed.terms.shape[1:] != (4,) or (
            int(packed.block_ptr[-1]) != packed.first.shape[0]
            or packed.block_max.shape != packed.first.shape):
        raise damaged(root, gen / f"{prefix}terms.npy", "does not match the postings")
    return packed




def _read_bytes(path: Path, root: Path) -> bytes:
    try:
        return path.read_bytes()
    except OSError as exc:
        raise damaged(root, path, "cannot be read") from exc
