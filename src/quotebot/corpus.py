"""Loading a corpus: a file or a folder of UTF-8 ``.txt`` / ``.md`` articles."""

from __future__ import annotations

import hashlib
import logging
import os
import re
from collections.abc import Iterable, Iterator
from pathlib import Path

from quotebot.errors import CorpusError
from quotebot.models import Document

log = logging.getLogger(__name__)

SUFFIXES = (".txt", ".md")
#: The environment variable that names a corpus when ``--corpus`` is not given.
CORPUS_ENV = "QUOTEBOT_CORPUS"


def default_corpus_path() -> Path:
    """The article shipped inside the package."""
    from quotebot.index import DEFAULT_CORPUS

    return Path(DEFAULT_CORPUS)


def resolve_corpus_path(path: str | os.PathLike[str] | None) -> Path:
    """``path``, else ``$QUOTEBOT_CORPUS``, else the default article."""
    if path is None or str(path) == "":
        path = os.environ.get(CORPUS_ENV) or default_corpus_path()
    return Path(path).expanduser()


def corpus_files(path: Path) -> list[Path]:
    """The article files a corpus path stands for, sorted; CorpusError when there are none."""
    if not path.exists():
        raise CorpusError(
            f"Corpus path {str(path)!r} does not exist. Give a .txt/.md file or a folder of them "
            f"with --corpus PATH (or set {CORPUS_ENV}).",
            code="corpus_not_found",
        )
    if path.is_file():
        return [path]
    if not path.is_dir():
        raise CorpusError(f"Corpus path {str(path)!r} is neither a file nor a folder.",
                          code="corpus_not_found")
    files = sorted(
        p for p in path.rglob("*")
        if p.is_file() and p.suffix.lower() in SUFFIXES and not _hidden(p, path)
    )
    if not files:
        raise CorpusError(
            f"Folder {str(path)!r} has no .txt or .md files to index.", code="corpus_empty"
        )
    return files


def _hidden(path: Path, root: Path) -> bool:
    return any(part.startswith(".") for part in path.relative_to(root).parts)


def read_document(path: Path, doc_id: str | None = None) -> Document:
    """Read one article; rejects binary and non-UTF-8 files with a clear message."""
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise CorpusError(f"Cannot read {str(path)!r}: {exc.strerror or exc}.",
                          code="corpus_unreadable") from exc
    if b"\x00" in data[:8192]:
        raise CorpusError(
            f"{str(path)!r} looks like a binary file, not text. quotebot reads UTF-8 .txt and .md "
            "articles.",
            code="corpus_not_text",
        )
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise CorpusError(
            f"{str(path)!r} is not valid UTF-8 (byte {exc.start}). Convert it, for example with "
            f"`iconv -f latin1 -t utf-8`.",
            code="corpus_bad_encoding",
        ) from exc
    doc_id = doc_id or path.stem
    return Document(id=doc_id, title=title_of(text, doc_id), text=text, path=str(path))


_MD_HEADING = re.compile(r"^\s{0,3}#{1,6}\s+(.+?)\s*#*\s*$", re.MULTILINE)


def title_of(text: str, doc_id: str) -> str:
    """A markdown heading near the top, else the file name made readable."""
    head = text[:2000]
    match = _MD_HEADING.search(head)
    if match and head[: match.start()].strip() == "":
        return match.group(1)
    words = re.sub(r"[-_]+", " ", doc_id).strip()
    return words[:1].upper() + words[1:] if words else doc_id


def load_corpus(path: str | os.PathLike[str] | None = None) -> list[Document]:
    """Load every article of a corpus; document ids are file stems (made unique if needed).

    In a folder, a file that cannot be read as UTF-8 text is skipped with a warning,
    so one bad file does not stop the rest; a single bad file is an error.
    """
    root = resolve_corpus_path(path)
    files = corpus_files(root)
    docs: list[Document] = []
    skipped: list[CorpusError] = []
    for file, doc_id in _unique_ids(files, root):
        try:
            docs.append(read_document(file, doc_id))
        except CorpusError as exc:
            if not root.is_dir():
                raise
            log.warning("skipping %s", exc.message)
            skipped.append(exc)
    if not docs and skipped:
        raise skipped[0]
    if all(not d.text.strip() for d in docs):
        raise CorpusError(f"Corpus {str(root)!r} has no text in it.", code="corpus_empty")
    return docs


def _unique_ids(files: Iterable[Path], root: Path) -> Iterator[tuple[Path, str]]:
    seen: set[str] = set()
    for file in files:
        doc_id = file.stem
        if doc_id in seen and root.is_dir():
            doc_id = file.relative_to(root).with_suffix("").as_posix().replace("/", "--")
        seen.add(doc_id)
        yield file, doc_id


def fingerprint(docs: Iterable[Document]) -> str:
    """A content hash of a corpus: changes when any document id or text changes."""
    digest = hashlib.sha256()
    for doc in docs:
        digest.update(doc.id.encode("utf-8", "surrogatepass") + b"\x00")
        digest.update(doc.text.encode("utf-8", "surrogatepass") + b"\x01")
    return digest.hexdigest()[:32]
