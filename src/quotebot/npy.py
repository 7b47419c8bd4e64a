"""NumPy ``.npy`` files written a part at a time, byte for byte what ``np.save`` writes
of the whole array: a build writes arrays larger than it holds in memory."""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt


class NpyFile:
    """A ``.npy`` file of ``length`` values of ``dtype``, written a part at a time: the
    same bytes as ``np.save`` of the whole array."""

    def __init__(self, path: Path, dtype: Any, length: int) -> None:
        self.dtype = np.dtype(dtype)
        self._fh = open(path, "wb")  # noqa: SIM115 (closed by close)
        self._left = length
        np.lib.format.write_array_header_1_0(self._fh, {
            "descr": np.lib.format.dtype_to_descr(self.dtype), "fortran_order": False,
            "shape": (length,)})

    def write(self, values: npt.ArrayLike) -> None:
        part = np.ascontiguousarray(values, dtype=self.dtype)
        self._left -= part.shape[0]
        self._fh.write(part.tobytes())

    def write_raw(self, path: Path, count: int) -> None:
        """The next ``count`` values from ``path``, a file of them as raw bytes of this
        file's type (copied, never read whole)."""
        with open(path, "rb") as src:
            shutil.copyfileobj(src, self._fh, 1 << 22)
        self._left -= count

    def close(self) -> None:
        self._fh.close()
        if self._left:
            raise ValueError(f"{self._fh.name}: {self._left} values short of its length")
