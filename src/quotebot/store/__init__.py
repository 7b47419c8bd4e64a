"""The saved sentence index: the model in memory, its build, its files and the catalogue.

- :mod:`~quotebot.store.model`: :class:`SentenceIndex` and its tables, read-only arrays.
- :mod:`~quotebot.store.build`: building an index from documents, and updating one.
- :mod:`~quotebot.store.format` and :mod:`~quotebot.store.files`: the on-disk format,
  generations, and the folder manifest that says what quotebot may delete.
- :mod:`~quotebot.store.catalogue`: where indexes and vectors live, and which to open.
"""

import os
from pathlib import Path

from quotebot.store.files import FORMAT_VERSION, IndexFolder, StringTable
from quotebot.store.model import DocInfo, SentenceIndex


def current_generation(directory: str | os.PathLike[str]) -> Path:
    """The live generation folder of the saved index in ``directory``."""
    return IndexFolder(directory).current()


__all__ = ["FORMAT_VERSION", "DocInfo", "IndexFolder", "SentenceIndex", "StringTable",
           "current_generation"]
