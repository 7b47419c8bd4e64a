"""A library: a corpus folder that quotebot fills with articles and keeps indexed.

::

    DIR/<title>.txt               one document each: front matter (title, url, author,
                                  date), then its text (written by ingest.save_document)
    DIR/.quotebot-library.json    the files quotebot added (the only ones it removes)
    DIR/.quotebot-library.lock    writers take turns on it (an fcntl lock)
    DIR/.quotebot-library.journal.json   while an add runs: the files it creates or
                                  replaces (kept aside as hidden copies), to undo it
    DIR/.quotebot-index/          the saved index and its vectors (see quotebot.store)

Adding writes the documents, then brings the saved index up to date with the folder: only
documents that are new or changed are analysed, and only their passages are embedded (the
vectors of the others are reused). ``quotebot ask … --corpus DIR`` then answers from that
index at once (see :func:`quotebot.store.catalogue.open_index`). The folder may hold a
user's own ``.txt``/``.md`` files too: they are indexed like the rest, counted against the
limits, and never deleted.

An add is all or nothing: a document is part of the library only once its text, its index
entries and its vectors are all written. Each file is listed in the journal before it is
written; if anything fails (a full disk, a failed index write), the files are put back as
they were and the index made to match the folder again, and one error says what failed. A
process killed during an add leaves its journal, and the next change to the library undoes
what it had begun before doing anything else.

Several processes may write one library (replicas sharing a folder): each change holds the
library's lock from reading the folder to saving the index, and readers see the old or the
new index generation, never a part of one.
"""

from __future__ import annotations

import contextlib
import errno
import fcntl
import json
import logging
import os
import shutil
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from quotebot.corpus import TEMPORARY_PREFIX, load_corpus
from quotebot.errors import CorpusError, IndexFileError, QuotebotError, UnknownDocument
from quotebot.models import Document, document_json
from quotebot.store import build_index, load_index, merge_index, save_index
from quotebot.store.catalogue import LIBRARY_INDEX
from quotebot.store.files import IndexFolder, atomic_write_text
from quotebot.store.model import DocInfo, SentenceIndex

log = logging.getLogger(__name__)

MANIFEST = ".quotebot-library.json"
#: What an add in progress has written, so that a failure (or a kill) can be undone.
JOURNAL = ".quotebot-library.journal.json"
MANIFEST_FORMAT = "quotebot-library"
LOCK = ".quotebot-library.lock"
#: Seconds a writer waits for another to finish before giving up.
LOCK_TIMEOUT = 120.0
MB = 1024 * 1024

Progress = Callable[[int, int], None]


class LibraryError(QuotebotError):
    """A library that cannot take a document, or be found, or be written.

    Codes: ``library_full`` (too many documents), ``library_too_large`` (too many bytes),
    ``document_too_large``, ``unknown_library``, ``not_added_here`` (a user's own file),
    ``library_busy``.
    """

    code = "library_error"
    http_status = 409

    def __init__(self, message: str, *, code: str) -> None:
        super().__init__(message, code=code)
        self.http_status = {"library_full": 409, "library_too_large": 413,
                            "document_too_large": 413, "unknown_library": 404,
                            "not_added_here": 409, "library_busy": 503}.get(code, 409)


@dataclass(frozen=True, slots=True)
class LibraryLimits:
    """How much a library may hold (0: no limit)."""

    max_documents: int = 10_000
    #: UTF-8 bytes of one document's text.
    max_document_bytes: int = 50 * MB
    #: UTF-8 bytes of all documents' text together.
    max_library_bytes: int = 1024 * MB


@dataclass(frozen=True, slots=True)
class AddedDocument:
    """A document as the library holds it after adding."""

    doc: str
    title: str
    url: str
    sentences: int
    author: str = ""
    date: str = ""
    #: Whether it replaced an earlier version of itself (the same link, or the same text).
    replaced: bool = False
    #: For a web page: the words its text kept, and the words the page showed.
    kept_words: int = 0
    page_words: int = 0

    @property
    def kept_little(self) -> bool:
        """Whether the text kept less than half of what its page showed."""
        return self.page_words > 0 and 2 * self.kept_words < self.page_words

    def to_json(self) -> dict[str, Any]:
        data = document_json(self.doc, self.title, self.url, sentences=self.sentences)
        if self.replaced:
            data["replaced"] = True  # an earlier version (the same link or text) is gone
        if self.page_words:
            data["kept_words"] = self.kept_words
            data["page_words"] = self.page_words
        return data


@dataclass(slots=True)
class AddResult:
    """What an add did: the documents now in the library, and those refused with why."""

    added: list[AddedDocument] = field(default_factory=list)
    refused: list[tuple[Document, QuotebotError]] = field(default_factory=list)
    #: Whether the index is reranked by meaning (its vectors are saved).
    semantic: bool = False


def text_bytes(doc: Document) -> int:
    return len(doc.text.encode("utf-8", "surrogatepass"))


def _size(n: int) -> str:
    if n >= MB:
        return f"{n / MB:.1f} MB"
    return f"{n / 1024:.1f} KB" if n >= 1024 else f"{n} bytes"


class Library:
    """One library folder (see the module)."""

    def __init__(self, root: str | os.PathLike[str], limits: LibraryLimits | None = None
                 ) -> None:
        self.root = Path(root).expanduser().absolute()
        self.limits = limits or LibraryLimits()

    @property
    def index_dir(self) -> Path:
        return self.root / LIBRARY_INDEX

    # -- reading ----------------------------------------------------------------------

    def exists(self) -> bool:
        """Whether the folder holds a library's saved index."""
        return IndexFolder(self.index_dir).current_name() is not None

    def generation(self) -> str | None:
        """The saved index's current generation (cheap: for noticing changes)."""
        return IndexFolder(self.index_dir).current_name()

    def load_index(self) -> SentenceIndex:
        """The saved index; LibraryError ``unknown_library`` when there is none."""
        try:
            return load_index(self.index_dir)
        except IndexFileError as exc:
            if exc.code == "index_missing":
                raise self._unknown() from None
            raise

    def documents(self) -> list[DocInfo]:
        """The documents of the saved index (none when nothing was added yet)."""
        if not self.exists():
            return []
        return list(self.load_index().docs)

    def _unknown(self) -> LibraryError:
        return LibraryError(f"There is no library in {self.root.name!r}: add an article to it "
                            "first.", code="unknown_library")

    # -- writing ----------------------------------------------------------------------

    def add(self, docs: Sequence[Document], *, semantic: str = "auto",
            progress: Progress | None = None, embedding: Progress | None = None) -> AddResult:
        """Save ``docs`` into the folder and bring the index (and its vectors, per
        ``semantic``) up to date. A document over a limit is refused (listed in
        ``refused``) and the others are added."""
        from quotebot.ingest import save_document
        from quotebot.ingest.html import words_kept

        result = AddResult()
        with self._locked():
            self._recover()
            current = self._read_folder()
            sizes = {d.path: text_bytes(d) for d in current}
            owned = self._owned()
            journal = _Journal(self.root, owned)
            saved_paths: list[tuple[str, bool, Document]] = []
            try:
                for doc in docs:
                    earlier = _earlier_version(doc, current)
                    size = text_bytes(doc)
                    others = {p: n for p, n in sizes.items()
                              if earlier is None or p != earlier.path}
                    problem = self._over_limit(doc, size, len(others), sum(others.values()))
                    if problem is not None:
                        result.refused.append((doc, problem))
                        continue
                    saved = self._relative(save_document(doc, self.root, log=journal))
                    # The same link under a new title: the old file goes (if quotebot added
                    # it), kept aside until the add is complete.
                    if (earlier is not None and earlier.path != saved.path
                            and self._is_owned(self.file(earlier.path), owned)):
                        journal.set_aside(self.file(earlier.path))
                        owned.discard(self.file(earlier.path).name)
                        sizes.pop(earlier.path, None)
                        current = [d for d in current if d.path != earlier.path]
                    owned.add(self.file(saved.path).name)
                    sizes[saved.path] = size
                    current = [d for d in current if d.path != saved.path] + [saved]
                    saved_paths.append((saved.path, earlier is not None, doc))
                self._write_owned(owned)
                index, result.semantic = self._update_index(semantic, progress, embedding)
            except BaseException as exc:
                self._undo(journal)
                if isinstance(exc, OSError):
                    raise _unwritable(self.root, exc) from None
                raise
            journal.commit()
        by_path = {info.path: info for info in index.docs}
        for path, replaced, doc in saved_paths:
            info = by_path.get(path)
            if info is not None:
                result.added.append(AddedDocument(
                    info.id, info.title, info.url, info.sentences, info.author, info.date,
                    replaced, words_kept(doc.text) if doc.page_words else 0, doc.page_words))
        return result

    def remove(self, doc_ids: Sequence[str], *, semantic: str = "auto",
               embedding: Progress | None = None) -> list[DocInfo]:
        """Remove documents quotebot added (by id); returns them as they were indexed.
        A user's own file is refused (``not_added_here``); an unknown id is UnknownDocument."""
        with self._locked():
            self._recover()
            index = self.load_index()
            by_id = {d.id: d for d in index.docs}
            owned = self._owned()
            gone: list[DocInfo] = []
            for doc_id in doc_ids:
                info = by_id.get(doc_id)
                if info is None and f"{doc_id}.txt" in owned:
                    # A file quotebot added that the index never took (an index write that
                    # failed before adds were all or nothing).
                    info = self._unindexed(doc_id)
                if info is None:
                    known = ", ".join(d.id for d in index.docs[:10]) or "none"
                    raise UnknownDocument(f"No document {doc_id!r} in this library. Its "
                                          f"documents: {known}"
                                          + (" …" if len(index.docs) > 10 else "") + ".")
                path = self.file(info.path)
                if path.parent != self.root or path.name not in owned:
                    raise LibraryError(
                        f"{info.id!r} is a file quotebot did not add to this library; it "
                        "deletes only what it added. Delete the file yourself to remove it.",
                        code="not_added_here")
                gone.append(info)
            for info in gone:
                self._remove_owned(self.file(info.path), owned)
            self._write_owned(owned)
            self._update_index(semantic, None, embedding)
        return gone

    def _recover(self) -> None:
        """Undo what an add that was killed had begun (the lock is held)."""
        journal = _Journal.left_behind(self.root)
        if journal is not None:
            log.warning("undoing an unfinished add in %s", self.root.name)
            self._undo(journal)
        # A write killed between creating its temporary file and renaming it (the journal's
        # own, the manifest's or a document's) leaves that file; with the lock held no write
        # is under way. A user's own files never have quotebot's temporary names.
        for unfinished in self.root.glob(TEMPORARY_PREFIX + "*"):
            with contextlib.suppress(OSError):
                unfinished.unlink()

    def _undo(self, journal: _Journal) -> None:
        """Put the folder back as the journal found it, then the index with it."""
        try:
            journal.undo()
            self._write_owned(journal.owned_before)
            self._sync_index()
        except (OSError, QuotebotError) as exc:  # the error that stopped the add comes first
            log.warning("could not finish undoing an add in %s: %s", self.root.name, exc)
            return
        journal.forget()

    def _over_limit(self, doc: Document, size: int, count: int, total: int
                    ) -> LibraryError | None:
        """Why ``doc`` (``size`` bytes) cannot join ``count`` documents of ``total`` bytes."""
        limits = self.limits
        name = doc.title or doc.url or doc.id
        if limits.max_document_bytes and size > limits.max_document_bytes:
            return LibraryError(f"{name!r} has {_size(size)} of text; a library takes documents "
                                f"of up to {_size(limits.max_document_bytes)}.",
                                code="document_too_large")
        if limits.max_documents and count + 1 > limits.max_documents:
            return LibraryError(f"The library is full: it holds {count:,} documents, the most "
                                f"it may. Remove one to add another.", code="library_full")
        if limits.max_library_bytes and total + size > limits.max_library_bytes:
            return LibraryError(f"{name!r} ({_size(size)}) would take the library over its "
                                f"{_size(limits.max_library_bytes)} of text. Remove a document "
                                "to make room.", code="library_too_large")
        return None

    def _unindexed(self, doc_id: str) -> DocInfo | None:
        path = self.root / f"{doc_id}.txt"
        if not path.is_file():
            return None
        return DocInfo(id=doc_id, title=doc_id, path=path.name, url="", sentences=0)

    def _is_owned(self, path: Path, owned: set[str]) -> bool:
        return path.parent == self.root and path.name in owned

    def file(self, path: str) -> Path:
        """The file a document's path names: paths are kept relative to the library's folder
        (so that the folder can be moved or copied); a library saved with absolute paths
        names its own files by their names."""
        given = Path(path)
        if not given.is_absolute():
            return self.root / given
        return given if given.parent == self.root else self.root / given.name

    def _relative(self, doc: Document) -> Document:
        """``doc`` with its path relative to the library's folder."""
        path = Path(doc.path)
        try:
            return replace(doc, path=path.relative_to(self.root).as_posix())
        except ValueError:
            return doc

    def _read_folder(self) -> list[Document]:
        """The folder's documents, their paths relative to it."""
        try:
            return [self._relative(doc) for doc in load_corpus(self.root)]
        except CorpusError as exc:
            if exc.code in ("corpus_empty", "corpus_not_found"):
                return []
            raise

    def _update_index(self, semantic: str, progress: Progress | None,
                      embedding: Progress | None) -> tuple[SentenceIndex, bool]:
        """Make the saved index hold exactly the folder's documents, with its vectors (the
        lock is held)."""
        from quotebot.engine import QuoteEngine
        from quotebot.semantic import resolve_mode

        index = self._sync_index(progress)
        semantic_on = QuoteEngine(index, directory=self.index_dir).attach_semantic(
            resolve_mode(semantic), progress=embedding)
        return index, semantic_on

    def _sync_index(self, progress: Progress | None = None) -> SentenceIndex:
        """Make the saved index hold exactly the folder's documents (the lock is held)."""
        from quotebot.store.catalogue import holds

        docs = self._read_folder()
        try:
            base: SentenceIndex | None = load_index(self.index_dir)
        except IndexFileError as exc:
            if exc.code not in ("index_missing", "index_version", "index_damaged"):
                raise
            base = None
        if base is not None and holds(base, docs):
            index = base
        elif base is not None and base.analyzer_version == _analyzer_version():
            added, removed = _changes(base, docs)
            index = merge_index(base, added=added, removed=removed)
            save_index(index, self.index_dir)
        else:
            index = build_index(docs, progress=progress)
            save_index(index, self.index_dir)
        return index

    # -- what quotebot added ------------------------------------------------------------

    def _owned(self) -> set[str]:
        try:
            data = json.loads((self.root / MANIFEST).read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return set()
        if not isinstance(data, dict) or data.get("format") != MANIFEST_FORMAT:
            return set()
        files = data.get("files")
        return {f for f in files if isinstance(f, str) and "/" not in f} if isinstance(
            files, list) else set()

    def _write_owned(self, owned: set[str]) -> None:
        present = {name for name in owned if (self.root / name).is_file()}
        try:
            atomic_write_text(self.root / MANIFEST, prefix=TEMPORARY_PREFIX, text=json.dumps(
                {"format": MANIFEST_FORMAT, "version": 1, "files": sorted(present)},
                indent=1) + "\n")
        except OSError as exc:
            raise _unwritable(self.root, exc) from None

    def _remove_owned(self, path: Path, owned: set[str]) -> bool:
        """Delete ``path`` if quotebot added it; whether it did."""
        if path.parent != self.root or path.name not in owned:
            return False
        try:
            path.unlink(missing_ok=True)
        except OSError as exc:
            raise _unwritable(self.root, exc) from None
        owned.discard(path.name)
        return True

    @contextlib.contextmanager
    def _locked(self) -> Iterator[None]:
        try:
            self.root.mkdir(parents=True, exist_ok=True)
            handle = open(self.root / LOCK, "a+")  # noqa: SIM115 - closed below
        except OSError as exc:
            raise _unwritable(self.root, exc) from None
        with handle:
            deadline = time.monotonic() + LOCK_TIMEOUT
            while True:
                try:
                    fcntl.flock(handle.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
                    break
                except BlockingIOError:
                    if time.monotonic() > deadline:
                        raise LibraryError("Another change to this library is taking too "
                                           "long; try again later.",
                                           code="library_busy") from None
                    time.sleep(0.05)
            try:
                yield
            finally:
                fcntl.flock(handle.fileno(), fcntl.LOCK_UN)


def _analyzer_version() -> str:
    from quotebot import analysis

    return analysis.ANALYZER_VERSION


def _earlier_version(doc: Document, docs: Sequence[Document]) -> Document | None:
    """The document in ``docs`` that ``doc`` replaces: the same link, else one added from a
    file of the same name (an edited file added again), else the same text."""
    for other in docs:
        if doc.url and other.url == doc.url:
            return other
    for other in docs:
        if doc.source and not doc.url and not other.url and other.source == doc.source:
            return other
    text = doc.text.strip()
    for other in docs:
        if not doc.url and other.text.strip() == text:
            return other
    return None


def _changes(index: SentenceIndex, docs: Sequence[Document]
             ) -> tuple[list[Document], list[str]]:
    """(documents new or changed since ``index``, ids of documents gone from the folder)."""
    wanted = {d.id: d for d in docs}
    removed = [info.id for info in index.docs if info.id not in wanted]
    added: list[Document] = []
    known = {info.id: pos for pos, info in enumerate(index.docs)}
    for doc in docs:
        pos = known.get(doc.id)
        if pos is not None:
            info = index.docs[pos]
            if ((info.title, info.url, info.author, info.date, info.path)
                    == (doc.title, doc.url, doc.author, doc.date, doc.path)
                    and index.texts(pos) == doc.text):
                continue
        added.append(doc)
    return added, removed


class _Journal:
    """The files an add creates or replaces, written down before each is written (see the
    module): :meth:`undo` puts them back, :meth:`commit` keeps them."""

    def __init__(self, root: Path, owned: set[str]) -> None:
        self.root = root
        self.owned_before = set(owned)
        self.created: list[str] = []
        #: file name → the hidden copy of what it held before
        self.kept: dict[str, str] = {}
        self.written = False

    @classmethod
    def left_behind(cls, root: Path) -> _Journal | None:
        """The journal of an add that did not finish, if there is one."""
        try:
            data = json.loads((root / JOURNAL).read_text(encoding="utf-8"))
        except FileNotFoundError:
            return None
        except (OSError, ValueError):
            data = {}
        journal = cls(root, set())
        if isinstance(data, dict):
            journal.owned_before = {n for n in data.get("owned_before", []) if _plain(n)}
            journal.created = [n for n in data.get("created", []) if _plain(n)]
            journal.kept = {k: v for k, v in dict(data.get("kept", {})).items()
                            if _plain(k) and _plain(v)}
        journal.written = True
        return journal

    # WriteLog (quotebot.ingest.save)
    def creating(self, path: Path) -> None:
        self.created.append(path.name)
        self._save()

    def replacing(self, path: Path) -> None:
        self._keep_copy(path, move=False)

    def not_created(self, path: Path) -> None:
        self.created.remove(path.name)
        self._save()

    def set_aside(self, path: Path) -> None:
        """Take ``path`` out of the folder, keeping it until the add is complete."""
        self._keep_copy(path, move=True)

    def _keep_copy(self, path: Path, *, move: bool) -> None:
        if path.name in self.kept or path.name in self.created:
            return
        copy = f".{path.name}.quotebot-kept"
        self.kept[path.name] = copy
        self._save()
        if move:
            os.replace(path, self.root / copy)
        else:
            shutil.copy2(path, self.root / copy)

    def _save(self) -> None:
        atomic_write_text(self.root / JOURNAL, prefix=TEMPORARY_PREFIX, text=json.dumps(
            {"owned_before": sorted(self.owned_before), "created": self.created,
             "kept": self.kept}, indent=1) + "\n")
        self.written = True

    def undo(self) -> None:
        """Remove the files the add created and put back those it replaced."""
        for name in self.created:
            if name not in self.owned_before:
                (self.root / name).unlink(missing_ok=True)
        for name, copy in self.kept.items():
            if (self.root / copy).exists():
                os.replace(self.root / copy, self.root / name)

    def commit(self) -> None:
        """The add is complete: the kept copies and the journal go."""
        for copy in self.kept.values():
            with contextlib.suppress(OSError):
                (self.root / copy).unlink(missing_ok=True)
        self.forget()

    def forget(self) -> None:
        if self.written:
            with contextlib.suppress(OSError):
                (self.root / JOURNAL).unlink(missing_ok=True)


def _plain(name: object) -> bool:
    """A file name in the library's folder itself (never a path elsewhere)."""
    return isinstance(name, str) and bool(name) and "/" not in name and name not in (".", "..")


def _unwritable(root: Path, exc: OSError) -> LibraryError:
    reason = {errno.EACCES: "permission denied", errno.EROFS: "the file system is read-only",
              errno.ENOSPC: "the disk is full", errno.ENOTDIR: "part of the path is a file",
              errno.EFBIG: "the disk is full (or a file would pass the largest size allowed)",
              errno.EEXIST: "it is a file, not a folder"}.get(exc.errno or 0,
                                                              exc.strerror or str(exc))
    return LibraryError(f"Cannot write into the library {str(root)!r}: {reason}.",
                        code="library_unwritable")

