"""Bringing your own articles: a file, a folder or a link becomes documents for a library.

::

    docs = load_source("report.pdf")          # .txt, .md, .html/.htm or .pdf
    docs = load_source("saved-pages/")        # every such file in a folder
    docs = load_source("https://example.org/2024/03/story")   # a public link
    saved = save_document(docs[0], "my-library/")              # .txt with front matter

An upload (a Telegram document, an HTTP request body) goes through :func:`extract_bytes`;
an event loop calls :func:`load_source_async`, which fetches without blocking and extracts
in a worker thread. Each stage has its module: :mod:`~quotebot.ingest.fetch` (links, with
the address rules), :mod:`~quotebot.ingest.html` (pages, with trafilatura),
:mod:`~quotebot.ingest.pdf` (PDFs, with pypdf) and :mod:`~quotebot.ingest.save`.
Every document's text has one paragraph per line (see :mod:`quotebot.corpus`).
"""

from __future__ import annotations

import asyncio
import logging
import os
import re
from dataclasses import replace
from pathlib import Path
from urllib.parse import urlsplit

from quotebot.corpus import document_from_bytes, document_from_text, unique_ids
from quotebot.errors import CorpusError
from quotebot.ingest.fetch import (
    FetchedPage,
    FetchError,
    FetchPolicy,
    check_link,
    fetch_url,
    fetch_url_async,
)
from quotebot.ingest.html import MAX_TEXT_BYTES, extract_html, too_large
from quotebot.ingest.pdf import extract_pdf
from quotebot.ingest.save import save_document, slugify
from quotebot.models import Document

__all__ = [
    "MAX_FILE_BYTES",
    "SUFFIX_KINDS",
    "FetchError",
    "FetchPolicy",
    "FetchedPage",
    "check_link",
    "document_from_page",
    "extract_bytes",
    "extract_file",
    "fetch_url",
    "fetch_url_async",
    "is_url",
    "load_source",
    "load_source_async",
    "save_document",
    "slugify",
]

log = logging.getLogger(__name__)

#: The files quotebot reads, by suffix, and what each is.
SUFFIX_KINDS = {".txt": "text", ".md": "markdown", ".markdown": "markdown", ".html": "html",
                ".htm": "html", ".xhtml": "html", ".pdf": "pdf"}
#: Files larger than this are not read (a link is capped lower, see fetch.MAX_BYTES).
MAX_FILE_BYTES = 50 * 1024 * 1024
#: Last parts of links that do not tell one page from another.
_GENERIC_NAMES = frozenset("index default home page article story post news item view "
                           "document content main print amp".split())
_SCHEME = re.compile(r"[A-Za-z][A-Za-z0-9+.-]*://")


def is_url(source: str | os.PathLike[str]) -> bool:
    """Whether a source is a link (``scheme://…``) rather than a path."""
    return isinstance(source, str) and _SCHEME.match(source.strip()) is not None


def kind_of(name: str, data: bytes = b"") -> str | None:
    """"text", "markdown", "html" or "pdf" from a file's name, else from its first bytes."""
    kind = SUFFIX_KINDS.get(Path(name).suffix.lower())
    if kind is not None:
        return kind
    head = data[:1024].lstrip().lower()
    if head.startswith(b"%pdf-"):
        return "pdf"
    if head.startswith((b"<!doctype html", b"<html")):
        return "html"
    return None


def extract_bytes(data: bytes, *, name: str, kind: str | None = None, doc_id: str | None = None,
                  url: str = "", charset: str | None = None, path: str = "",
                  max_bytes: int | None = None) -> Document:
    """A document from a file's bytes; ``name`` is the file's name (it gives the kind when
    ``kind`` is not given, the id when ``doc_id`` is not, and names the file in messages).

    Reading stops as soon as the text passes ``max_bytes`` (UTF-8; default
    :data:`~quotebot.ingest.html.MAX_TEXT_BYTES`) with CorpusError ``document_too_large``,
    and a PDF's reading stops after :data:`~quotebot.ingest.pdf.MAX_SECONDS`."""
    doc = _extracted(data, name=name, kind=kind, doc_id=doc_id, url=url, charset=charset,
                     path=path, max_bytes=max_bytes)
    # A file remembers its name (not its folder), so that adding it again replaces it.
    return doc if url else replace(doc, source=Path(name.replace("\\", "/")).name[:200])


def _extracted(data: bytes, *, name: str, kind: str | None, doc_id: str | None, url: str,
               charset: str | None, path: str, max_bytes: int | None) -> Document:
    kind = kind or kind_of(name, data)
    doc_id = doc_id or slugify(Path(name).stem) or "document"
    # Messages name a file by its name, a page by its host only.
    shown = f"the page from {urlsplit(url).hostname}" if url else repr(name)
    if len(data) > MAX_FILE_BYTES:
        raise CorpusError(f"{shown} is larger than {MAX_FILE_BYTES // 2**20} MB; quotebot reads "
                          "articles, not archives.", code="file_too_large")
    if kind == "pdf":
        return replace(extract_pdf(data, doc_id=doc_id, name=shown, url=url,
                                   max_bytes=max_bytes), path=path)
    if kind == "html":
        return replace(extract_html(data, doc_id=doc_id, name=shown, url=url, charset=charset,
                                    max_bytes=max_bytes), path=path)
    if kind in ("text", "markdown"):
        limit = MAX_TEXT_BYTES if max_bytes is None else max_bytes
        if limit and len(data) > limit:
            raise too_large(shown, limit)
        if url:
            # A server's text is read as it says it is encoded, never refused for a bad byte.
            try:
                text = data.decode(charset or "utf-8", errors="replace")
            except LookupError:
                text = data.decode("utf-8", errors="replace")
            return _with_url(document_from_text(text.removeprefix("\ufeff"), doc_id), url)
        return document_from_bytes(data, doc_id, name=name, path=path)
    suffix = Path(name).suffix or "this kind of file"
    raise CorpusError(f"quotebot reads .txt, .md, .html and .pdf files, not {suffix} "
                      f"({name!r}).", code="unsupported_file")


def _with_url(doc: Document, url: str) -> Document:
    return doc if doc.url else replace(doc, url=url)


def extract_file(path: str | os.PathLike[str], doc_id: str | None = None, *,
                 max_bytes: int | None = None) -> Document:
    """A document from one file (.txt, .md, .html/.htm, .pdf), its text at most
    ``max_bytes`` (see :func:`extract_bytes`)."""
    file = Path(path)
    try:
        size = file.stat().st_size
        if size > MAX_FILE_BYTES:
            raise CorpusError(f"{str(file)!r} is larger than {MAX_FILE_BYTES // 2**20} MB; "
                              "quotebot reads articles, not archives.", code="file_too_large")
        data = file.read_bytes()
    except OSError as exc:
        raise CorpusError(f"Cannot read {str(file)!r}: {exc.strerror or exc}.",
                          code="corpus_unreadable") from exc
    return extract_bytes(data, name=str(file), doc_id=doc_id or file.stem, path=str(file),
                         max_bytes=max_bytes)


def document_from_page(page: FetchedPage, *, max_bytes: int | None = None) -> Document:
    """A document from a fetched link (its text extracted as its kind requires, at most
    ``max_bytes``)."""
    parts = urlsplit(page.url)
    host = parts.hostname or "the link"
    last = [p for p in parts.path.split("/") if p][-1:] or [host]
    doc_id = slugify(re.sub(r"\.[A-Za-z0-9]{1,5}$", "", last[0]))
    doc = extract_bytes(page.body, name=f"the page from {host}", kind=page.kind,
                        doc_id=doc_id or "page", url=page.url, charset=page.charset,
                        max_bytes=max_bytes)
    # A link's last part names the page unless it is a number or a word any page could have
    # ("index", "article", "12345"): then the title does.
    if not doc_id or doc_id.isdigit() or doc_id in _GENERIC_NAMES:
        doc = replace(doc, id=slugify(doc.title) or slugify(host) or "page")
    return doc


def load_source(source: str | os.PathLike[str], *, policy: FetchPolicy | None = None,
                skipped: list[CorpusError] | None = None,
                max_bytes: int | None = None) -> list[Document]:
    """The documents of a file, a folder (its supported files, hidden ones left out) or a link;
    each document's text is read up to ``max_bytes`` at most (see :func:`extract_bytes`).

    In a folder, a file that cannot be read is left out (its error appended to ``skipped``
    when given, else logged); a single file or link that cannot be read is an error.
    """
    if is_url(source):
        return [_nonempty(document_from_page(fetch_url(str(source), policy=policy),
                                             max_bytes=max_bytes))]
    root = Path(source).expanduser()
    if not root.exists():
        raise CorpusError(f"{str(root)!r} does not exist. Give a file, a folder or an http(s) "
                          "link.", code="corpus_not_found")
    if root.is_file():
        return [_nonempty(extract_file(root, max_bytes=max_bytes))]
    files = sorted(p for p in root.rglob("*")
                   if p.is_file() and p.suffix.lower() in SUFFIX_KINDS
                   and not any(part.startswith(".") for part in p.relative_to(root).parts))
    if not files:
        raise CorpusError(f"Folder {str(root)!r} has no .txt, .md, .html or .pdf files.",
                          code="corpus_empty")
    docs: list[Document] = []
    errors: list[CorpusError] = []
    for file, doc_id in unique_ids(files, root):
        try:
            docs.append(_nonempty(extract_file(file, doc_id, max_bytes=max_bytes)))
        except CorpusError as exc:
            # A caller that collects the errors reports them; said here too, it said each twice.
            if skipped is None:
                log.warning("skipping %s", exc.message)
            errors.append(exc)
    if skipped is not None:
        skipped.extend(errors)
    if not docs:
        raise errors[0]
    return docs


async def load_source_async(source: str | os.PathLike[str], *,
                            policy: FetchPolicy | None = None,
                            skipped: list[CorpusError] | None = None,
                            max_bytes: int | None = None) -> list[Document]:
    """:func:`load_source` for an event loop: links are fetched without blocking, and text is
    extracted (which takes CPU time) in a worker thread."""
    if is_url(source):
        page = await fetch_url_async(str(source), policy=policy)
        return [_nonempty(await asyncio.to_thread(document_from_page, page,
                                                  max_bytes=max_bytes))]
    return await asyncio.to_thread(load_source, source, policy=policy, skipped=skipped,
                                   max_bytes=max_bytes)


def _nonempty(doc: Document) -> Document:
    if not doc.text.strip():
        where = repr(doc.path) if doc.path else f"the page from {urlsplit(doc.url).hostname}"
        raise CorpusError(f"{where} has no text in it.", code="corpus_empty")
    return doc
