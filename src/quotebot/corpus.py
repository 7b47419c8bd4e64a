"""Loading a corpus: a file or a folder of UTF-8 ``.txt`` / ``.md`` articles.

The rules of a corpus file:

- One paragraph per line; blank lines are ignored. A sentence never crosses a line, and
  ``paragraph`` in a quote counts the non-blank lines from 1.
- A file may start with a front-matter block: a line ``---``, then ``key: value`` lines,
  then a line ``---``. ``title``, ``url``, ``author`` and ``date`` fill the document's
  fields (other keys are ignored), and the document's text is what follows the block, so
  quote offsets, ``quotebot show`` and paragraph numbers all refer to that text.
  ``quotebot add`` writes the documents it extracts this way.
- The title is the front matter's ``title``; else the first non-blank line when it is a
  markdown heading (``# Heading``) or a headline (at most 150 characters, ending without a
  full stop, comma, colon or semicolon, followed by more text that does not go on in lower
  case); else the file name made readable (``met-police-visit`` → "Met police visit").
- A markdown heading's ``#`` marks are never part of a quote: its paragraph starts after them.
- The document id is the file's name without its suffix, made unique within a folder.
"""

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
#: The start of the name of a file quotebot writes before renaming it into a folder of
#: documents (a library's): a name of quotebot's own, so that what a killed write left can be
#: told from a user's files (which may be called anything else, '.tmp-draft' included).
TEMPORARY_PREFIX = ".quotebot-tmp-"
#: The environment variable that names a corpus when ``--corpus`` is not given.
CORPUS_ENV = "QUOTEBOT_CORPUS"
#: How much text a build reads and analyses at a time (``quotebot index``, and its
#: ``--shards``): what a build holds grows with this, not with the corpus.
BATCH_CHARS = 16_000_000


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
    return document_from_bytes(data, doc_id or path.stem, name=str(path), path=str(path))


def document_from_bytes(data: bytes, doc_id: str, *, name: str, path: str = "") -> Document:
    """A document from the bytes of a ``.txt`` / ``.md`` file; ``name`` is what messages call it."""
    if b"\x00" in data[:8192]:
        raise CorpusError(
            f"{name!r} looks like a binary file, not text. quotebot reads UTF-8 .txt and .md "
            "articles.",
            code="corpus_not_text",
        )
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise CorpusError(
            f"{name!r} is not valid UTF-8 (byte {exc.start}). Convert it, for example with "
            f"`iconv -f latin1 -t utf-8`.",
            code="corpus_bad_encoding",
        ) from exc
    return document_from_text(text, doc_id, path=path)


def document_from_text(text: str, doc_id: str, *, path: str = "") -> Document:
    """A document from a file's decoded text: front matter (if any) read, title found."""
    meta, body = split_front_matter(text)
    return Document(id=doc_id, title=meta.get("title") or title_of(body, doc_id), text=body,
                    path=path, url=meta.get("url", ""), author=meta.get("author", ""),
                    date=meta.get("date", ""), source=meta.get("source", ""))


#: The front-matter keys that fill a Document's fields.
FRONT_MATTER_KEYS = ("title", "url", "author", "date", "source")
_FENCE = re.compile(r"---[ \t]*(?:\r?\n|\Z)")
_FIELD = re.compile(r"([A-Za-z][\w-]*)[ \t]*:[ \t]*(.*?)[ \t]*")
#: A front-matter block longer than this is not one (a ``---`` rule that opens an article).
_MAX_FRONT_MATTER = 8192


def split_front_matter(text: str) -> tuple[dict[str, str], str]:
    """(front-matter fields, the text after the block); ``({}, text)`` when there is no block.

    A block is recognised only when ``---`` is the very first line, the first line after it is a
    ``key: value`` line, and a closing ``---`` line follows within 8 KB.
    """
    opening = _FENCE.match(text)
    if opening is None:
        return {}, text
    fields: dict[str, str] = {}
    pos = opening.end()
    first = True
    while pos < min(len(text), _MAX_FRONT_MATTER):
        closing = _FENCE.match(text, pos)
        if closing is not None:
            return (fields, text[closing.end():]) if not first else ({}, text)
        line_end = text.find("\n", pos)
        line_end = len(text) if line_end < 0 else line_end
        line = text[pos:line_end].rstrip("\r")
        field = _FIELD.fullmatch(line)
        if field is None and first:
            return {}, text
        if field is not None and field.group(1).lower() in FRONT_MATTER_KEYS:
            fields.setdefault(field.group(1).lower(), _unquote(field.group(2)))
        first = False
        pos = line_end + 1
    return {}, text


def _unquote(value: str) -> str:
    if len(value) >= 2 and value[0] == value[-1] and value[0] in "\"'":
        return value[1:-1]
    return value


def render_front_matter(fields: dict[str, str]) -> str:
    """The front-matter block for ``fields`` (known keys only, one line each, empty ones left
    out): what :func:`split_front_matter` reads back to the same values."""
    lines = ["---"]
    for key in FRONT_MATTER_KEYS:
        value = " ".join(fields.get(key, "").split())
        if value:
            # A value that looks quoted would lose its quotes when read; quote it once more.
            if _unquote(value) != value:
                value = f'"{value}"'
            lines.append(f"{key}: {value}")
    lines.append("---")
    return "\n".join(lines) + "\n"


_MD_HEADING = re.compile(r"\s{0,3}#{1,6}[ \t]+(.+?)(?:[ \t]+#+)?[ \t]*")
_FIRST_LINE = re.compile(r"[ \t]*([^\r\n]*\S)[ \t]*(?:\r?\n|\Z)")
#: Characters after which a line is a sentence, not a headline.
_NOT_HEADLINE_END = ".,;:"
_CLOSERS = "\"'”’»)]"
HEADLINE_MAX_CHARS = 150


def title_of(text: str, doc_id: str) -> str:
    """The first non-blank line when it is a markdown heading or a headline, else the file
    name made readable (see the module's rules)."""
    start = len(text) - len(text.lstrip())
    first = _FIRST_LINE.match(text, start)
    if first is not None:
        line = first.group(1)
        heading = _MD_HEADING.fullmatch(line)
        if heading is not None:
            return heading.group(1)
        rest = text[first.end():].lstrip()
        # A line followed by one that starts in lower case is a sentence wrapped in two.
        if _is_headline(line) and rest and not rest[0].islower():
            return line
    words = re.sub(r"[-_]+", " ", doc_id).strip()
    return words[:1].upper() + words[1:] if words else doc_id


def _is_headline(line: str) -> bool:
    stripped = line.rstrip(_CLOSERS + " \t")
    return (len(line) <= HEADLINE_MAX_CHARS and bool(stripped)
            and stripped[-1] not in _NOT_HEADLINE_END and not stripped.endswith("…")
            and any(ch.isalpha() for ch in line))


def load_corpus(path: str | os.PathLike[str] | None = None) -> list[Document]:
    """Load every article of a corpus; document ids are file stems (made unique if needed).

    In a folder, a file that cannot be read as UTF-8 text is skipped with a warning,
    so one bad file does not stop the rest; a single bad file is an error.
    """
    return list(iter_corpus(path))


def iter_corpus(path: str | os.PathLike[str] | None = None) -> Iterator[Document]:
    """The articles of a corpus one at a time, as :func:`load_corpus` reads them (for
    work that need not hold them all). A corpus with no text is a CorpusError once every
    file has been read."""
    root = resolve_corpus_path(path)
    files = corpus_files(root)
    skipped: list[CorpusError] = []
    read = has_text = False
    for file, doc_id in unique_ids(files, root):
        try:
            doc = read_document(file, doc_id)
        except CorpusError as exc:
            if not root.is_dir():
                raise
            if read:
                log.warning("skipping a file: %s", exc.message)
            else:  # said after the first good file, or raised when none is
                skipped.append(exc)
            continue
        if not read:
            for problem in skipped:
                log.warning("skipping a file: %s", problem.message)
        read = True
        has_text = has_text or bool(doc.text.strip())
        yield doc
    if not read and skipped:
        raise skipped[0]  # one error, not a warning about the same file before it
    if not has_text:
        raise CorpusError(f"Corpus {str(root)!r} has no text in it.", code="corpus_empty")


def unique_ids(files: Iterable[Path], root: Path) -> Iterator[tuple[Path, str]]:
    """Each file with its document id: its stem, or its path in the folder when stems repeat."""
    seen: set[str] = set()
    for file in files:
        doc_id = file.stem
        if doc_id in seen and root.is_dir():
            doc_id = file.relative_to(root).with_suffix("").as_posix().replace("/", "--")
        if doc_id in seen:
            # ``a.md`` next to ``a.txt``: the suffix tells them apart.
            doc_id = f"{doc_id}--{file.suffix.lstrip('.').lower()}"
        n = 2
        base = doc_id
        while doc_id in seen:
            doc_id = f"{base}-{n}"
            n += 1
        seen.add(doc_id)
        yield file, doc_id


def batches(docs: Iterable[Document], chars: int = BATCH_CHARS) -> Iterator[list[Document]]:
    """``docs`` in lists of at least ``chars`` characters of text (the last may be less)."""
    batch: list[Document] = []
    size = 0
    for doc in docs:
        batch.append(doc)
        size += len(doc.text)
        if size >= chars:
            yield batch
            batch, size = [], 0
    if batch:
        yield batch


def fingerprint(docs: Iterable[Document]) -> str:
    """A content hash of a corpus: changes when any document's id, title or text changes."""
    digest = hashlib.sha256()
    for doc in docs:
        add_to_fingerprint(digest, doc)
    return digest.hexdigest()[:32]


def add_to_fingerprint(digest: hashlib._Hash, doc: Document) -> None:
    """Hash ``doc`` into ``digest``, as :func:`fingerprint` does each document in turn."""
    digest.update(doc.id.encode("utf-8", "surrogatepass") + b"\x00")
    # A title in front matter can change while the text stays the same.
    digest.update(doc.title.encode("utf-8", "surrogatepass") + b"\x02")
    digest.update(doc.text.encode("utf-8", "surrogatepass") + b"\x01")
