"""Where indexes live, and opening the right one: the cache, a saved index, the vectors.

- Without ``--index``, a corpus's index is cached in a folder quotebot owns (the
  package's build folder for the shipped article, ``$XDG_CACHE_HOME/quotebot`` for
  others) and rebuilt there when the articles change.
- With ``--index DIR``, the saved index in DIR is used as it is: commands that answer
  never rewrite it. With ``--corpus`` as well, the index wins; when it was built from
  other articles, a warning says so and how to rebuild it.
- A library (a corpus folder filled by ``quotebot add``, see :mod:`quotebot.library`)
  keeps its index inside itself, in ``DIR/.quotebot-index/``; ``--corpus DIR`` answers
  from it when it holds exactly the folder's articles (in any order), and never writes it.
- Vectors for reranking by meaning are saved beside the index they belong to, named
  after the model and the index's fingerprint, and listed in the folder's manifest.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from quotebot import analysis
from quotebot.corpus import default_corpus_path, fingerprint, load_corpus, resolve_corpus_path
from quotebot.errors import IndexFileError
from quotebot.models import Document
from quotebot.store.build import build_index
from quotebot.store.files import IndexFolder, atomic_save_array
from quotebot.store.format import load_index, save_index
from quotebot.store.model import SentenceIndex

if TYPE_CHECKING:
    from quotebot.semantic import Encoder, SentenceVectors

log = logging.getLogger(__name__)

Progress = Callable[[int, int], None]

#: The folder inside a library that holds its saved index (hidden: the corpus loader skips it).
LIBRARY_INDEX = ".quotebot-index"


def default_index_dir(corpus: str | os.PathLike[str] | None) -> Path:
    """Where the index of a corpus is cached: the package's build folder for the default
    article (when writable), else ``$XDG_CACHE_HOME/quotebot/indexes/<corpus path>``."""
    path = resolve_corpus_path(corpus).resolve()
    if path == default_corpus_path().resolve():
        from quotebot.index import BUILD_DIR

        if os.access(BUILD_DIR.parent, os.W_OK):
            return Path(BUILD_DIR) / "default"
    cache_home = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache")
    safe = "".join(ch if ch.isalnum() or ch in "-_." else "_" for ch in path.as_posix())[-120:]
    return cache_home / "quotebot" / "indexes" / safe.strip("_")


def load_or_build(docs: list[Document], cache: Path, *, progress: Progress | None = None
                  ) -> SentenceIndex:
    """The index saved in ``cache`` if it matches ``docs``; otherwise build it and try to
    save it there (``cache`` is a folder quotebot owns)."""
    try:
        saved = load_index(cache)
    except IndexFileError as exc:
        if exc.code == "index_version":
            log.warning("rebuilding the cached index: it was made by another version of "
                        "quotebot")
        elif exc.code != "index_missing":
            log.warning("rebuilding the cached index: %s", exc.message)
    else:
        if holds(saved, docs):
            return saved
        log.info("the articles changed since the cached index was built; rebuilding")
    index = build_index(docs, progress=progress)
    try:
        save_index(index, cache)
    except IndexFileError as exc:
        log.info("could not cache the index (%s); using it in memory", exc.message)
    return index


def holds(index: SentenceIndex, docs: list[Document]) -> bool:
    """Whether ``index`` was built (or updated) from exactly ``docs``, in any order: an index
    updated in place lists its added documents last, a folder lists them by name."""
    if index.analyzer_version != analysis.ANALYZER_VERSION or len(index.docs) != len(docs):
        return False
    if index.fingerprint == fingerprint(docs):
        return True
    by_id = {d.id: d for d in docs}
    if len(by_id) != len(docs) or any(info.id not in by_id for info in index.docs):
        return False
    return index.fingerprint == fingerprint(by_id[info.id] for info in index.docs)


def library_index_dir(corpus: str | os.PathLike[str] | None) -> Path | None:
    """The saved index inside ``corpus`` when it is a library's folder, else None."""
    path = resolve_corpus_path(corpus)
    folder = path / LIBRARY_INDEX
    return folder if path.is_dir() and IndexFolder(folder).is_index() else None


def open_index(corpus: str | os.PathLike[str] | None, index_dir: str | os.PathLike[str] | None,
               *, progress: Progress | None = None) -> tuple[SentenceIndex, Path | None]:
    """The index to answer from, and the folder its vectors belong in (see the module)."""
    if index_dir is not None:
        folder = Path(index_dir)
        try:
            index = load_index(folder)
        except IndexFileError as exc:
            if exc.code not in ("index_missing", "index_version") or corpus is None:
                raise
            if exc.code == "index_version":
                log.warning("rebuilding the saved index %s from %s: it was made by another "
                            "version of quotebot", folder, corpus)
            # No index there yet (or one this quotebot cannot read): build it from the
            # corpus into that folder, once.
            docs = load_corpus(corpus)
            index = build_index(docs, progress=progress)
            save_index(index, folder)
            return index, folder
        if corpus is not None:
            docs = load_corpus(corpus)
            if fingerprint(docs) != index.fingerprint:
                log.warning(
                    "the saved index %s was built from other articles than %s; answering from "
                    "the index. To rebuild it from those articles: quotebot index --corpus %s "
                    "--out %s", folder, corpus, corpus, folder)
        return index, folder
    docs = load_corpus(corpus)
    library = library_index_dir(corpus)
    if library is not None:
        # Only the library writes its own index (under its lock); a reader that finds it
        # out of date (files edited by hand) builds into the cache as for any folder.
        try:
            index = load_index(library)
        except IndexFileError as exc:
            log.info("not using the library's index: %s", exc.message)
        else:
            if holds(index, docs):
                return index, library
    cache = default_index_dir(corpus)
    return load_or_build(docs, cache, progress=progress), cache


# -- vectors beside the index --------------------------------------------------------------


def vectors_name(index_fingerprint: str) -> str:
    from quotebot.semantic import MODEL_ID, PASSAGES_VERSION

    return f"semantic-{MODEL_ID}-p{PASSAGES_VERSION}-{index_fingerprint[:16]}.npy"


def keys_name(vectors: str) -> str:
    return vectors[:-len(".npy")] + ".keys.npy"


def load_vectors(index: SentenceIndex, directory: Path | None) -> SentenceVectors | None:
    """The vectors saved for ``index`` in ``directory`` (memory-mapped), or None."""
    from quotebot.semantic import SentenceVectors

    if directory is None:
        return None
    return SentenceVectors.load(directory / vectors_name(index.fingerprint),
                                (index.n_sentences, index.n_paragraphs), index.paragraph_ids)


def compute_vectors(index: SentenceIndex, encoder: Encoder, directory: Path | None, *,
                    progress: Progress | None = None) -> SentenceVectors:
    """Embed the index's passages (reusing the vectors of passages with the same text saved
    for an earlier version of the corpus) and save them in ``directory``."""
    from quotebot.semantic import SentenceVectors, passages

    previous = _previous_vectors(directory) if directory is not None else None
    vectors = SentenceVectors.compute(passages(index), encoder, progress=progress,
                                      previous=previous)
    if directory is not None:
        try:
            _save_vectors(vectors, directory, vectors_name(index.fingerprint))
        except (OSError, IndexFileError) as exc:
            log.info("could not save the vectors beside the index (%s)", exc)
    return vectors


def _save_vectors(vectors: SentenceVectors, directory: Path, name: str) -> None:
    folder = IndexFolder(directory)
    folder.check_writable()
    directory.mkdir(parents=True, exist_ok=True)
    keys = keys_name(name)
    folder.own(name, keys)
    if vectors.keys is not None:
        atomic_save_array(directory / keys, np.asarray(vectors.keys, dtype=np.uint64))
    atomic_save_array(directory / name, vectors.stacked())
    # Vectors of earlier versions of the corpus are never read again (the new ones reused
    # what they could).
    folder.remove_unused(keep={name, keys}, prefix="semantic-", now=float("inf"))


def _previous_vectors(directory: Path) -> tuple[np.ndarray, np.ndarray] | None:
    """The newest saved vectors of this model in ``directory`` that carry their keys."""
    from quotebot.semantic import DIM, MODEL_ID, PASSAGES_VERSION

    saved = sorted((p for p in directory.glob(f"semantic-{MODEL_ID}-p{PASSAGES_VERSION}-*.npy")
                    if not p.name.endswith(".keys.npy")), key=lambda p: p.stat().st_mtime)
    for path in reversed(saved):
        try:
            vectors = np.load(path, mmap_mode="r", allow_pickle=False)
            keys = np.load(directory / keys_name(path.name), mmap_mode="r",
                           allow_pickle=False)
        except (OSError, ValueError):
            continue
        if vectors.ndim == 2 and vectors.shape == (keys.shape[0], DIM):
            return vectors, keys
    return None
