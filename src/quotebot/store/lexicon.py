"""The lexicon of an index: everything answering needs besides its texts, tokens and
postings, as one blob of bytes.

That is the documents' metadata, where each sentence is (document, paragraph, offsets),
the vocabulary with each term's document frequency (over sentences and over
paragraphs), the word forms with their index terms, and the words with their
typo-correction table: sizes that grow with the vocabulary and the number of sentences,
not with the text. Xapian shards carry it (see :mod:`quotebot.xapian_backend`), so a
machine that answers from them needs no copy of the corpus. NumPy's ``.npz`` without
pickle, with a format version.
"""

from __future__ import annotations

import io
import json
import zipfile
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt

from quotebot.store.files import StringTable
from quotebot.store.model import DocInfo, Forms, SentenceIndex, Words

LEXICON_FORMAT = "quotebot-lexicon-1"
_TABLES = ("vocab", "forms", "words")


@dataclass(frozen=True, slots=True)
class Lexicon:
    """An index's lexicon (see the module's docstring)."""

    docs: list[DocInfo]
    doc_idx: npt.NDArray[np.int32]
    paragraph: npt.NDArray[np.int32]
    sentence_no: npt.NDArray[np.int32]
    start: npt.NDArray[np.int64]
    end: npt.NDArray[np.int64]
    vocab: StringTable
    df: npt.NDArray[np.int64]
    #: Each term's document frequency over paragraphs (each paragraph one document).
    paragraph_df: npt.NDArray[np.int64]
    forms: Forms
    words: Words
    fingerprint: str
    analyzer_version: str
    k1: float
    b: float

    @classmethod
    def of(cls, index: SentenceIndex) -> Lexicon:
        """``index``'s lexicon."""
        return cls(docs=list(index.docs), doc_idx=index.doc_idx, paragraph=index.paragraph,
                   sentence_no=index.sentence_no, start=index.start, end=index.end,
                   vocab=index.vocab, df=index.matrix.df, paragraph_df=index.paragraphs.df,
                   forms=index.forms, words=index.words, fingerprint=index.fingerprint,
                   analyzer_version=index.analyzer_version, k1=index.matrix.k1,
                   b=index.matrix.b)

    def to_bytes(self) -> bytes:
        """The lexicon as bytes (compressed; :func:`read_lexicon` reads them back)."""
        forms, words = self.forms, self.words
        meta = {"format": LEXICON_FORMAT, "fingerprint": self.fingerprint,
                "analyzer_version": self.analyzer_version, "k1": self.k1,
                "b": self.b, "docs": [d.to_row() for d in self.docs]}
        arrays: dict[str, Any] = {
            "meta": np.frombuffer(json.dumps(meta, ensure_ascii=False).encode(), np.uint8),
            "doc_idx": self.doc_idx, "paragraph": self.paragraph,
            "sentence_no": self.sentence_no, "start": self.start, "end": self.end,
            "df": self.df, "paragraph_df": self.paragraph_df,
            **forms.arrays(), **words.arrays(),
        }
        for name, table in (("vocab", self.vocab), ("forms", forms.strings),
                            ("words", words.strings)):
            arrays.update(table.arrays(name))
            arrays[f"{name}_blob"] = np.frombuffer(table.blob(), np.uint8)
        out = io.BytesIO()
        contiguous: dict[str, Any] = {k: np.ascontiguousarray(v) for k, v in arrays.items()}
        np.savez_compressed(out, **contiguous)
        return out.getvalue()


class LexiconError(ValueError):
    """Bytes that are not a lexicon of this version."""


def read_lexicon(data: bytes) -> Lexicon:
    """The lexicon written by :meth:`Lexicon.to_bytes` (LexiconError when it is not one)."""
    try:
        with np.load(io.BytesIO(data), allow_pickle=False) as npz:
            arrays = {name: npz[name] for name in npz.files}
        meta = json.loads(arrays.pop("meta").tobytes())
        if meta.get("format") != LEXICON_FORMAT:
            raise LexiconError(f"format {meta.get('format')!r}, not {LEXICON_FORMAT!r}")
        tables = {name: StringTable(arrays[f"{name}_blob"].tobytes(),
                                    arrays[f"{name}_offsets"], arrays[f"{name}_hash"],
                                    arrays[f"{name}_order"]) for name in _TABLES}
        return Lexicon(
            docs=[DocInfo(*row) for row in meta["docs"]],
            doc_idx=arrays["doc_idx"], paragraph=arrays["paragraph"],
            sentence_no=arrays["sentence_no"], start=arrays["start"], end=arrays["end"],
            vocab=tables["vocab"], df=arrays["df"], paragraph_df=arrays["paragraph_df"],
            forms=Forms.from_arrays(tables["forms"], arrays),
            words=Words.from_arrays(tables["words"], arrays),
            fingerprint=str(meta["fingerprint"]),
            analyzer_version=str(meta["analyzer_version"]),
            k1=float(meta["k1"]), b=float(meta["b"]))
    except LexiconError:
        raise
    except (ValueError, KeyError, TypeError, OSError, EOFError, zipfile.BadZipFile) as exc:
        raise LexiconError(str(exc) or type(exc).__name__) from None
