"""The on-disk format of a saved index, and the folder that holds it.

A saved index is a folder::

    DIR/quotebot-index.json     which entries of DIR quotebot wrote (the folder's manifest)
    DIR/CURRENT                 name of the live generation (replaced atomically)
    DIR/gen-*/manifest.json     format version, analyzer, corpus fingerprint, counts, file sizes
    DIR/gen-*/*.npy             sentence table, BM25 matrix, token table, string tables
    DIR/gen-*/*.bin             UTF-8 text: the documents, the terms, word forms and words
    DIR/gen-*/docs.json         the documents' ids, titles and sources
    DIR/semantic-*.npy          vectors for reranking by meaning (see quotebot.semantic)

Each save writes a new generation beside the old one and then swaps ``CURRENT``, so a
crash or a second writer never leaves a half-written index that loads. quotebot deletes
only what the folder's manifest lists, and in a generation only the files that the
generation's own manifest lists: anything else a user keeps in the folder stays. A
folder that holds other things and no quotebot index is never written into.

Loading reads the small JSON files at once and memory-maps the rest, so a reader keeps
working on its generation even after a later save has removed it.
"""

from __future__ import annotations

import contextlib
import errno
import fcntl
import hashlib
import itertools
import json
import mmap
import os
import shutil
import tempfile
import time
import uuid
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from quotebot.corpus import TEMPORARY_PREFIX
from quotebot.errors import IndexFileError

FORMAT = "quotebot-index"
FORMAT_VERSION = 8
CURRENT = "CURRENT"
FOLDER_MANIFEST = "quotebot-index.json"
FOLDER_FORMAT = "quotebot-index-folder"
_LOCK = ".quotebot-index.lock"
#: A generation younger than this may belong to a concurrent writer that has not swapped
#: ``CURRENT`` yet, and readers may be opening the one just replaced.
KEEP_SECONDS = 60.0


# -- hashing and atomic writes (shared with the vector files) -----------------------------


def hash_bytes(data: bytes) -> int:
    """A 64-bit hash of bytes, the same in every process and on every machine."""
    return int.from_bytes(hashlib.blake2b(data, digest_size=8).digest(), "little")


def hash_texts(texts: Iterator[str] | list[str]) -> npt.NDArray[np.uint64]:
    """:func:`hash_bytes` of each text's UTF-8."""
    return np.fromiter((hash_bytes(t.encode("utf-8", "surrogatepass")) for t in texts),
                       dtype=np.uint64)


def atomic_save_array(path: Path, array: npt.NDArray[Any]) -> None:
    """Write ``array`` as ``path`` (.npy, no pickle) so that readers see the old file or the
    whole new one, never a part."""
    fd, tmp = tempfile.mkstemp(prefix=".tmp-", suffix=".npy", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as fh:
            np.save(fh, np.ascontiguousarray(array), allow_pickle=False)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def atomic_write_text(path: Path, text: str, *, prefix: str = TEMPORARY_PREFIX) -> None:
    """Write ``text`` as ``path`` whole, through a temporary file named ``prefix…`` beside it."""
    fd, tmp = tempfile.mkstemp(prefix=prefix, dir=path.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            fh.write(text)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def write_json(path: Path, data: Any, indent: int | None = None) -> None:
    with open(path, "w", encoding="utf-8") as fh:
        json.dump(data, fh, ensure_ascii=False, indent=indent)


def read_json(path: Path, root: Path) -> Any:
    try:
        with open(path, encoding="utf-8") as fh:
            return json.load(fh)
    except FileNotFoundError as exc:
        raise damaged(root, path, "is missing") from exc
    except (ValueError, UnicodeDecodeError) as exc:
        raise damaged(root, path, "is not valid JSON") from exc
    except OSError as exc:
        raise damaged(root, path, f"cannot be read ({exc.strerror or exc})") from exc


def load_array(path: Path, root: Path) -> Any:
    try:
        # A plain array over the mapped pages: NumPy's memmap class adds a Python call to
        # every element access, which answering does thousands of times.
        return np.asarray(np.load(path, mmap_mode="r", allow_pickle=False))
    except FileNotFoundError as exc:
        raise damaged(root, path, "is missing") from exc
    except (ValueError, OSError, EOFError) as exc:
        raise damaged(root, path, "cannot be read") from exc


def map_bytes(path: Path, root: Path) -> mmap.mmap | bytes:
    """A file's bytes, memory-mapped (an empty file cannot be mapped, and needs not be)."""
    try:
        with open(path, "rb") as fh:
            if os.fstat(fh.fileno()).st_size == 0:
                return b""
            return mmap.mmap(fh.fileno(), 0, access=mmap.ACCESS_READ)
    except FileNotFoundError as exc:
        raise damaged(root, path, "is missing") from exc
    except OSError as exc:
        raise damaged(root, path, "cannot be read") from exc


def damaged(root: Path, path: Path, what: str) -> IndexFileError:
    """The error for a broken file of the saved index in ``root``."""
    return IndexFileError(
        f"The saved index in {str(root)!r} is damaged: {path.name} {what}. Rebuild it with "
        f"`quotebot index --out {str(root)!r}` (add --corpus PATH for your own articles).",
        code="index_damaged",
    )


# -- string tables ------------------------------------------------------------------------


class StringTable(Mapping[str, int]):
    """Strings by id (``table.string(i)``) and ids by string (``table[s]``, ``s in table``).

    Backed by one UTF-8 blob with offsets, and a sorted array of 64-bit hashes for
    lookups (confirmed against the bytes): opening costs nothing per string, and the
    pages are shared by every process that maps the same index. As a mapping it maps a
    string to its id.
    """

    def __init__(self, blob: mmap.mmap | bytes, offsets: npt.NDArray[np.int64],
                 hashes: npt.NDArray[np.uint64], order: npt.NDArray[np.int32]) -> None:
        self._blob = blob
        self._offsets = offsets
        self._hashes = hashes
        self._order = order
        self._seen: dict[str, int | None] = {}

    @classmethod
    def from_strings(cls, strings: list[str]) -> StringTable:
        data = [s.encode("utf-8", "surrogatepass") for s in strings]
        offsets = np.zeros(len(data) + 1, dtype=np.int64)
        np.cumsum(np.fromiter(map(len, data), dtype=np.int64, count=len(data)), out=offsets[1:])
        hashes = np.fromiter(map(hash_bytes, data), dtype=np.uint64, count=len(data))
        order = np.argsort(hashes, kind="stable")
        return cls(b"".join(data), offsets, hashes[order], order.astype(np.int32))

    def arrays(self, prefix: str) -> dict[str, npt.NDArray[Any]]:
        return {f"{prefix}_offsets": self._offsets, f"{prefix}_hash": self._hashes,
                f"{prefix}_order": self._order}

    def blob(self) -> bytes:
        return bytes(self._blob[:int(self._offsets[-1])]) if len(self) else b""

    @classmethod
    def open(cls, gen: Path, root: Path, prefix: str, arrays: Mapping[str, Any]) -> StringTable:
        table = cls(map_bytes(gen / f"{prefix}.bin", root), arrays[f"{prefix}_offsets"],
                    arrays[f"{prefix}_hash"], arrays[f"{prefix}_order"])
        n = len(table)
        if table._hashes.shape != (n,) or table._order.shape != (n,) or (
                int(table._offsets[-1]) != len(table._blob)):
            raise damaged(root, gen / f"{prefix}.bin", "does not match its offsets")
        return table

    def __len__(self) -> int:
        return int(self._offsets.shape[0]) - 1

    def string(self, index: int) -> str:
        n = self._offsets.shape[0] - 1
        if not 0 <= index < n:
            raise IndexError(f"string id {index} out of range (0..{n - 1})")
        # (One slice read as a list: a quarter quicker than two NumPy scalars.)
        lo, hi = self._offsets[index:index + 2].tolist()
        return self._blob[lo:hi].decode("utf-8", "surrogatepass")

    def strings(self) -> list[str]:
        """Every string, in id order."""
        blob = self.blob()
        bounds = np.asarray(self._offsets).tolist()
        return [blob[lo:hi].decode("utf-8", "surrogatepass")
                for lo, hi in itertools.pairwise(bounds)]

    def id_of(self, text: str) -> int | None:
        """The id of ``text``, or None when the table does not have it (recent lookups are
        remembered)."""
        try:
            return self._seen[text]
        except KeyError:
            pass
        found = self._find(text)
        if len(self._seen) >= 100_000:
            self._seen.clear()
        self._seen[text] = found
        return found

    def _find(self, text: str) -> int | None:
        data = text.encode("utf-8", "surrogatepass")
        key = np.uint64(hash_bytes(data))
        at = int(np.searchsorted(self._hashes, key))
        # Equal hashes (never seen in practice at 64 bits) are told apart by the bytes.
        while at < self._hashes.shape[0] and self._hashes[at] == key:
            sid = int(self._order[at])
            if self._blob[int(self._offsets[sid]):int(self._offsets[sid + 1])] == data:
                return sid
            at += 1
        return None

    # Mapping[str, int]: string → id.
    def __getitem__(self, text: str) -> int:
        found = self.id_of(text) if isinstance(text, str) else None
        if found is None:
            raise KeyError(text)
        return found

    def __contains__(self, text: object) -> bool:
        return isinstance(text, str) and self.id_of(text) is not None

    def __iter__(self) -> Iterator[str]:
        return iter(self.strings())


# -- the index folder ---------------------------------------------------------------------


class IndexFolder:
    """A folder holding a saved index: which generation is current, what quotebot owns."""

    def __init__(self, root: str | os.PathLike[str]) -> None:
        self.root = Path(root)

    # reading

    def current(self) -> Path:
        """The live generation's folder; IndexFileError when there is none."""
        pointer = self.root / CURRENT
        try:
            name = pointer.read_text(encoding="utf-8").strip()
        except NotADirectoryError:
            raise IndexFileError(
                f"{str(self.root)!r} is a file, not an index folder: give the folder "
                "`quotebot index --out DIR` wrote.", code="index_missing") from None
        except FileNotFoundError:
            if self.root.is_dir() and any(self.root.iterdir()):
                raise IndexFileError(
                    f"No saved index in {str(self.root)!r}: it holds other files. Give the "
                    "folder `quotebot index --out DIR` wrote, or build one into a new folder "
                    "with `quotebot index --out DIR`.", code="index_missing") from None
            raise IndexFileError(
                f"No saved index in {str(self.root)!r}. Build one with "
                f"`quotebot index --out {str(self.root)!r}`.",
                code="index_missing",
            ) from None
        except IsADirectoryError:
            raise damaged(self.root, pointer, "is a folder") from None
        except (OSError, UnicodeDecodeError) as exc:
            raise damaged(self.root, pointer, f"cannot be read ({exc})") from exc
        gen = self.root / name
        if "/" in name or not name.startswith("gen-") or not gen.is_dir():
            raise damaged(self.root, pointer, "points to no index generation")
        return gen

    def current_name(self) -> str | None:
        """The current generation's name, or None (cheap: for watching for changes)."""
        try:
            return (self.root / CURRENT).read_text(encoding="utf-8").strip() or None
        except (OSError, UnicodeDecodeError):
            return None

    def manifest(self, gen: Path) -> dict[str, Any]:
        """The manifest of a generation, checked for format and version."""
        manifest = read_json(gen / "manifest.json", self.root)
        if not isinstance(manifest, dict) or manifest.get("format") != FORMAT:
            raise damaged(self.root, gen / "manifest.json", "is not a quotebot index manifest")
        if manifest.get("format_version") != FORMAT_VERSION:
            raise IndexFileError(
                f"The saved index in {str(self.root)!r} has format version "
                f"{manifest.get('format_version')!r}; this quotebot reads version "
                f"{FORMAT_VERSION}. Rebuild it with `quotebot index --out {str(self.root)!r}`.",
                code="index_version",
            )
        try:
            for key in ("fingerprint", "analyzer_version", "counts", "files", "bm25"):
                manifest[key]
        except KeyError as exc:
            raise damaged(self.root, gen / "manifest.json",
                          f"lacks the field {exc.args[0]!r}") from exc
        return manifest

    def is_index(self) -> bool:
        """True when the folder holds a quotebot index (of any format version)."""
        if (self.root / FOLDER_MANIFEST).is_file():
            return self._owner_data() is not None
        # Indexes written before the folder manifest existed: CURRENT names a generation
        # whose manifest is quotebot's.
        name = self.current_name()
        if not name or "/" in name or not name.startswith("gen-"):
            return False
        try:
            with open(self.root / name / "manifest.json", encoding="utf-8") as fh:
                return bool(json.load(fh).get("format") == FORMAT)
        except (OSError, ValueError, AttributeError):
            return False

    # writing

    def check_writable(self) -> None:
        """Refuse (IndexFileError) to write into anything but an empty or missing folder or
        a quotebot index; nothing is touched."""
        root = self.root
        if root.exists() and not root.is_dir():
            raise IndexFileError(
                f"{str(root)!r} is a file, not a folder; give --out a folder for the index.",
                code="index_not_a_folder")
        if root.is_dir():
            try:
                # Another run starting on this folder first makes its lock and writes the
                # folder's manifest through a temporary file: neither makes the folder a user's.
                empty = all(p.name == _LOCK or p.name.startswith(TEMPORARY_PREFIX)
                            for p in root.iterdir())
            except OSError as exc:
                raise _unwritable(root, exc) from None
            if not empty and not self.is_index():
                raise IndexFileError(
                    f"{str(root)!r} is not empty and holds no quotebot index; quotebot writes "
                    f"only into an empty folder or one of its own indexes. Choose another "
                    f"--out folder.", code="index_folder_not_ours")

    @contextlib.contextmanager
    def _locked(self) -> Iterator[None]:
        with open(self.root / _LOCK, "a+") as fh:
            fcntl.flock(fh.fileno(), fcntl.LOCK_EX)
            try:
                yield
            finally:
                fcntl.flock(fh.fileno(), fcntl.LOCK_UN)

    def _owner_data(self) -> dict[str, Any] | None:
        try:
            data = json.loads((self.root / FOLDER_MANIFEST).read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return None
        if not isinstance(data, dict) or data.get("format") != FOLDER_FORMAT or not isinstance(
                data.get("owned"), list):
            return None
        return data

    def _owned(self) -> set[str]:
        data = self._owner_data()
        owned = {str(name) for name in data["owned"]} if data else set()
        if data is None and self.is_index():
            # An index written before the folder manifest: its generations are quotebot's.
            owned = {p.name for p in self.root.iterdir() if p.name.startswith("gen-")
                     and (p / "manifest.json").is_file()}
        return owned

    def _set_owned(self, owned: set[str]) -> None:
        atomic_write_text(self.root / FOLDER_MANIFEST, json.dumps(
            {"format": FOLDER_FORMAT, "owned": sorted(owned)}, indent=1) + "\n")

    def own(self, *names: str) -> None:
        """Record entries of the folder as quotebot's (so they may be replaced later)."""
        with self._locked():
            self._set_owned(self._owned() | set(names))

    def write_generation(self, write: Any) -> Path:
        """Make a new generation with ``write(folder)`` and make it current; returns it."""
        self.check_writable()
        try:
            self.root.mkdir(parents=True, exist_ok=True)
            name = f"gen-{time.strftime('%Y%m%dT%H%M%S')}-{uuid.uuid4().hex[:8]}"
            tmp_name = f".tmp-{name}"
            self.own(tmp_name)
            tmp = self.root / tmp_name
            tmp.mkdir()
            try:
                write(tmp)
                os.replace(tmp, self.root / name)
            except BaseException:
                # The folder was made just now by this process (mkdir fails on an existing
                # one): all of it is ours.
                shutil.rmtree(tmp, ignore_errors=True)
                with self._locked():
                    self._set_owned(self._owned() - {tmp_name})
                raise
            with self._locked():
                self._set_owned((self._owned() - {tmp_name}) | {name})
            atomic_write_text(self.root / CURRENT, name + "\n")
            self.remove_unused(keep={name})
        except OSError as exc:
            raise _unwritable(self.root, exc) from None
        return self.root / name

    def remove_unused(self, keep: set[str] | frozenset[str] = frozenset(), *,
                      prefix: str = "gen-", now: float | None = None) -> None:
        """Remove what quotebot owns here whose name starts with ``prefix`` (generations by
        default), other than ``keep`` and the current generation, once older than
        :data:`KEEP_SECONDS`; unfinished writes are removed after an hour."""
        now = time.time() if now is None else now
        current = self.current_name()
        with self._locked():
            owned = self._owned()
            gone = set()
            for name in owned:
                unfinished = name.startswith(".tmp-")
                if name in keep or name == current or not (
                        name.startswith(prefix) or (unfinished and prefix == "gen-")):
                    continue
                path = self.root / name
                try:
                    age = now - path.stat().st_mtime
                except FileNotFoundError:
                    gone.add(name)
                    continue
                except OSError:
                    continue
                if age < (3600 if unfinished else KEEP_SECONDS):
                    continue
                if unfinished:
                    shutil.rmtree(path, ignore_errors=True)
                elif path.is_dir():
                    self._remove_generation(path)
                else:
                    with contextlib.suppress(OSError):
                        path.unlink()
                if not path.exists():
                    gone.add(name)
            if gone:
                self._set_owned(owned - gone)

    def _remove_generation(self, gen: Path) -> None:
        """Delete the files a generation's manifest lists (and the manifest), then the
        folder if nothing else is in it."""
        try:
            listed = json.loads((gen / "manifest.json").read_text(encoding="utf-8"))["files"]
            # A manifest damaged into another shape (files: 7) lists nothing.
            names = [n for n in listed if isinstance(n, str) and "/" not in n]
        except (OSError, ValueError, KeyError, TypeError):
            names = []
        for name in [*names, "manifest.json"]:
            with contextlib.suppress(OSError):
                (gen / name).unlink(missing_ok=True)
        with contextlib.suppress(OSError):
            gen.rmdir()


def _unwritable(root: Path, exc: OSError) -> IndexFileError:
    reason = {errno.EACCES: "permission denied", errno.EROFS: "the file system is read-only",
              errno.ENOSPC: "the disk is full", errno.ENOTDIR: "part of the path is a file",
              errno.EEXIST: "it exists and is not a folder"}.get(
        exc.errno or 0, exc.strerror or str(exc))
    return IndexFileError(f"Cannot write the index into {str(root)!r}: {reason}.",
                          code="index_unwritable")
