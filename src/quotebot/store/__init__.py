"""The saved sentence index: the model in memory, its build, its files and the catalogue.

- :mod:`~quotebot.store.model`: :class:`SentenceIndex` and its tables, read-only arrays.
- :mod:`~quotebot.store.build`: building an index from documents (:func:`build_index`), and
  updating one (:func:`merge_index`).
- :mod:`~quotebot.store.writer`: building and saving an index a batch of documents at a
  time (:func:`write_index`, what ``quotebot index`` does), in memory that does not grow
  with the corpus.
- :mod:`~quotebot.store.format` and :mod:`~quotebot.store.files`: the on-disk format
  (:func:`save_index`, :func:`load_index`), generations, and the folder manifest that says
  what quotebot may delete.

The model knows nothing of how it is built or stored: build and format import it, never
the other way round.
- :mod:`~quotebot.store.catalogue`: where indexes and vectors live, and which to open.
"""

import os
from pathlib import Path

from quotebot.store.build import build_index, merge_index
from quotebot.store.files import FORMAT_VERSION, IndexFolder, StringTable
from quotebot.store.format import load_index, save_index
from quotebot.store.model import DocInfo, SentenceIndex
from quotebot.store.writer import write_index


def current_generation(directory: str | os.PathLike[str]) -> Path:
    """The live generation folder of the saved index in ``directory``."""
    return IndexFolder(directory).current()


__all__ = ["FORMAT_VERSION", "DocInfo", "IndexFolder", "SentenceIndex", "StringTable",
           "build_index", "current_generation", "load_index", "merge_index", "save_index",
           "write_index"]
