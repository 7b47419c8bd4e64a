"""Writing an extracted document into a corpus folder: a ``.txt`` file with front matter.

The file's name is the document's id (a file's own name, or the name given with ``--id``),
else its title, else its link, else "document": lower-case ASCII letters, digits and
hyphens only, at most 40 characters (cut between words), so it cannot leave the folder or
hide in it, and a citation stays short. A file that
holds another document is never overwritten: the new one gets ``-2``, ``-3``, … unless
``overwrite=True``. The same document again (the same link, or the same text) replaces
its own file, and so does a file of the same name added again (its edited version).
"""

from __future__ import annotations

import contextlib
import os
import re
import tempfile
import unicodedata
from pathlib import Path
from typing import Protocol
from urllib.parse import urlsplit

from quotebot.corpus import (
    SUFFIXES,
    TEMPORARY_PREFIX,
    document_from_text,
    render_front_matter,
)
from quotebot.errors import CorpusError
from quotebot.models import Document

MAX_NAME_CHARS = 40
#: Names Windows keeps for devices; a corpus folder may be shared with it.
_RESERVED = frozenset("con prn aux nul com1 com2 com3 com4 com5 com6 com7 com8 com9 lpt1 lpt2 "
                      "lpt3 lpt4 lpt5 lpt6 lpt7 lpt8 lpt9".split())
_SUFFIXES_TAKEN = (*SUFFIXES, ".html", ".htm", ".pdf")


def file_stem(doc: Document) -> str:
    """A safe file name (without suffix) for a document: its id, else its title or link."""
    for source in (doc.id, doc.title, _url_words(doc.url)):
        stem = slugify(source)
        if stem:
            return stem
    return "document"


def slugify(text: str) -> str:
    """Lower-case ASCII words joined by hyphens, at most 40 characters, cut between words."""
    ascii_text = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode("ascii")
    words = re.findall(r"[a-z0-9]+", ascii_text.lower())
    stem = ""
    for word in words:
        candidate = f"{stem}-{word}" if stem else word
        if len(candidate) > MAX_NAME_CHARS:
            break
        stem = candidate
    if not stem and words:
        stem = words[0][:MAX_NAME_CHARS]
    return f"{stem}-doc" if stem in _RESERVED else stem


def _url_words(url: str) -> str:
    if not url:
        return ""
    parts = urlsplit(url)
    path = [p for p in parts.path.split("/") if p]
    last = re.sub(r"\.[A-Za-z0-9]{1,5}$", "", path[-1]) if path else ""
    return f"{parts.hostname or ''} {last}"


#: Control characters other than tab and line breaks: a NUL makes a file look binary (and
#: unreadable as an article), the others are invisible noise in quotes.
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")


def render_document(doc: Document) -> str:
    """The file text for a document: front matter, then its text, ending with a newline;
    control characters (a NUL in a PDF's title, say) are left out of every part."""
    head = render_front_matter({"title": _CONTROL.sub("", doc.title),
                                "url": _CONTROL.sub("", doc.url),
                                "author": _CONTROL.sub("", doc.author),
                                "date": _CONTROL.sub("", doc.date),
                                "source": _CONTROL.sub("", doc.source)})
    text = _CONTROL.sub("", doc.text)
    body = text if text.endswith("\n") or not text else text + "\n"
    return head + body


class WriteLog(Protocol):
    """Told of every file before it is written, so that a failed change can be undone."""

    def creating(self, path: Path) -> None:
        """``path`` is about to be created."""

    def replacing(self, path: Path) -> None:
        """``path`` (which exists) is about to be replaced."""

    def not_created(self, path: Path) -> None:
        """``path`` was not created after all (another file took the name)."""


def save_document(doc: Document, folder: str | os.PathLike[str], *,
                  overwrite: bool = False, log: WriteLog | None = None) -> Document:
    """Write ``doc`` into ``folder`` (created if missing) and return it as read back: its id
    is the new file's stem, its path the file, its text what follows the front matter.
    ``log`` is told of each file before it is written."""
    root = Path(folder)
    try:
        root.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise CorpusError(f"Cannot create the folder {str(root)!r}: {exc.strerror or exc}.",
                          code="corpus_unwritable") from exc
    if not root.is_dir():
        raise CorpusError(f"{str(root)!r} is not a folder.", code="corpus_unwritable")
    content = render_document(doc)
    stem = file_stem(doc)
    for n in range(1, 1000):
        name = stem if n == 1 else f"{stem}-{n}"
        taken = [root / f"{name}{suffix}" for suffix in _SUFFIXES_TAKEN
                 if os.path.lexists(root / f"{name}{suffix}")]
        target = root / f"{name}.txt"
        if not taken:
            if log is not None:
                log.creating(target)
            if _create(target, content):
                break
            if log is not None:
                log.not_created(target)
            continue
        if taken == [target] and (overwrite or _same_document(target, doc)):
            if log is not None:
                log.replacing(target)
            _replace(target, content)
            break
    else:
        raise CorpusError(f"Too many documents named {stem!r} in {str(root)!r}.",
                          code="corpus_unwritable")
    return document_from_text(content, target.stem, path=str(target))


def _same_document(path: Path, doc: Document) -> bool:
    """Whether the file at ``path`` holds ``doc`` already: the same link, else the same
    file name it was added from (an edited file added again), else the same text."""
    if path.is_symlink() or not path.is_file():
        return False
    try:
        existing = document_from_text(path.read_text(encoding="utf-8"), path.stem)
    except (OSError, UnicodeDecodeError):
        return False
    if doc.url and existing.url:
        return existing.url == doc.url
    if doc.source and existing.source and not doc.url and not existing.url:
        return existing.source == doc.source
    return existing.text.strip() == doc.text.strip()


def _create(path: Path, content: str) -> bool:
    """Create a new file (never through a link, never over another file); False if taken."""
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_NOFOLLOW", 0),
                     0o644)
    except FileExistsError:
        return False
    except OSError as exc:
        raise CorpusError(f"Cannot write into {str(path.parent)!r}: {exc.strerror or exc}.",
                          code="corpus_unwritable") from exc
    with os.fdopen(fd, "w", encoding="utf-8", newline="\n") as out:
        out.write(content)
    return True


def _replace(path: Path, content: str) -> None:
    """Replace a file whole (a reader sees the old or the new text, never half of one)."""
    try:
        fd, tmp = tempfile.mkstemp(prefix=TEMPORARY_PREFIX, dir=path.parent)
        try:
            with os.fdopen(fd, "w", encoding="utf-8", newline="\n") as out:
                out.write(content)
            os.chmod(tmp, 0o644)
            os.replace(tmp, path)
        except BaseException:
            with contextlib.suppress(OSError):
                os.unlink(tmp)
            raise
    except OSError as exc:
        raise CorpusError(f"Cannot write into {str(path.parent)!r}: {exc.strerror or exc}.",
                          code="corpus_unwritable") from exc
