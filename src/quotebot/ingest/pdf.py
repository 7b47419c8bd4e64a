"""A PDF's text layer as corpus text: one paragraph per line.

pypdf gives the text of each line with where it starts on the page. Lines are joined into
paragraphs, and a paragraph ends where the layout says so: a larger gap than between the
lines of a paragraph, a first line indented further than the line before it, a change of
font size (a heading), or a line that stops short after a full stop. A word hyphenated at
the end of a line is joined again ("en-" + "gineers"), unless the document writes it with
a hyphen elsewhere ("long-term"). Page numbers and lines repeated at the top or bottom of
every page (running heads) are left out, and a paragraph that runs on over a page break or
into the next column is joined.

A PDF without a text layer (a scan) and one that needs a password are refused with their
own error codes; OCR is not attempted.
"""

from __future__ import annotations

import io
import itertools
import logging
import re
import statistics
import threading
import time
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from quotebot.corpus import title_of
from quotebot.errors import CorpusError
from quotebot.ingest.html import MAX_TEXT_BYTES, row_text, too_large
from quotebot.models import Document

log = logging.getLogger(__name__)

#: Pages beyond this are not read: a book is not an article.
MAX_PAGES = 2000
#: Seconds one PDF may take to read.
MAX_SECONDS = 60
#: A gap between lines this many times the usual one ends a paragraph.
PARAGRAPH_GAP = 1.4
#: A line whose first character sits this many font sizes right of the line before starts one.
INDENT = 0.7
#: A line shorter than this share of a full line, ending a sentence, ends its paragraph.
SHORT_LINE = 0.75
_SIZE_CHANGE = 0.15
#: A character's usual width, in font sizes (Helvetica's average is about 0.5).
_WIDTH = 0.5
#: A gap this many font sizes wide between two pieces of a line sets cells apart.
_CELL_GAP = 1.5
#: Cells of a table's rows start within this many points of their column's.
_COLUMN_SLACK = 4.0

#: A page whose text is more than this share of U+FFFD (the replacement character, what
#: pypdf gives for glyphs it has no font to decode, as when the font object is missing) is
#: not read: its text is not there to quote.
MAX_REPLACEMENT_SHARE = 0.5
#: The first pypdf that caps what a compressed stream unpacks to (``ZLIB_MAX_OUTPUT_LENGTH``):
#: pyproject.toml's lower bound. An older one would unpack a compression bomb whole.
PYPDF_WITH_UNPACKING_CAP = "6.0"

_TERMINAL = tuple(".!?…:;")
_CLOSERS = "\"'”’»)]"
_PAGE_NUMBER = re.compile(
    r"(?:page\s+)?[-–—]?\s*(?:\d{1,4}|[ivxlc]{1,7})\s*[-–—]?(?:\s*(?:/|of)\s*\d{1,4})?",
    re.IGNORECASE)
_LIST_ITEM = re.compile(r"(?:[•◦▪‣●○■□➢►–]|[-*]\s|\(?(?:\d{1,3}|[a-z])[.)]\s)")
_WORD = re.compile(r"\w+(?:[-‐]\w+)*")
_HYPHENS = "-‐\u00ad"


@dataclass(slots=True)
class _Line:
    text: str
    x: float
    y: float
    size: float
    #: The line's pieces set apart by a wide gap (a table's cells): (x, text) each.
    cells: list[tuple[float, str]] | None = None


def extract_pdf(data: bytes, *, doc_id: str, name: str, url: str = "",
                max_bytes: int | None = None) -> Document:
    """The text of a PDF's text layer, one paragraph per line, with its title, author and date.

    ``name`` is what messages call the file (quoted, or "the page from HOST"). Reading stops,
    page by page, once the text passes ``max_bytes`` (UTF-8, default
    :data:`~quotebot.ingest.html.MAX_TEXT_BYTES`) or takes longer than :data:`MAX_SECONDS`.
    CorpusError codes: ``pdf_unreadable``, ``pdf_encrypted``, ``pdf_no_text``, ``pdf_unsupported``,
    ``document_too_large``.
    """
    import pypdf.filters
    from pypdf import PdfReader
    from pypdf.errors import PdfReadError

    _pypdf_logs_at_debug()
    if not hasattr(pypdf.filters, "ZLIB_MAX_OUTPUT_LENGTH"):
        raise CorpusError(
            f"{name} was not read: reading PDFs safely needs pypdf {PYPDF_WITH_UNPACKING_CAP} "
            f"or later (this is {pypdf.__version__}); upgrade it with "
            "`pip install --upgrade pypdf`.", code="pdf_unsupported")
    try:
        reader = PdfReader(io.BytesIO(data))
        if reader.is_encrypted and not reader.decrypt(""):
            raise CorpusError(
                f"{name} is protected by a password. Save a copy without the password and "
                "add that.", code="pdf_encrypted")
        pages = list(reader.pages[:MAX_PAGES])
    except CorpusError:
        raise
    except (PdfReadError, NotImplementedError) as exc:
        # pypdf says NotImplementedError / a "dependency" PdfReadError for ciphers it lacks.
        if "crypt" in str(exc).lower() or "AES" in str(exc):
            raise CorpusError(f"{name} is encrypted in a way quotebot cannot open. Save a copy "
                              "without protection and add that.", code="pdf_encrypted") from exc
        raise _unreadable(name) from exc
    except Exception as exc:  # a damaged file fails in many ways inside pypdf
        raise _unreadable(name) from exc

    limit = MAX_TEXT_BYTES if max_bytes is None else max_bytes
    deadline = time.monotonic() + MAX_SECONDS
    read = 0
    page_lines: list[list[_Line]] = []
    unread = 0
    for number, page in enumerate(pages, start=1):
        lines: list[_Line] | None
        try:
            lines = _lines_of(page)
        except Exception as exc:  # one damaged page should not lose the rest
            log.warning("%s: page %d has text quotebot could not read (%s)", name, number,
                        type(exc).__name__)
            lines = None
        if lines is not None and _mostly_replacements(lines):
            log.warning("%s: page %d has text quotebot could not read (its font is missing "
                        "or cannot be decoded)", name, number)
            lines = None
        page_lines.append(lines or [])
        unread += lines is None
        # The cap holds while reading: a 2,000-page file stops at the page that passes it.
        read += sum(len(line.text.encode("utf-8", "surrogatepass")) + 1
                    for line in page_lines[-1])
        if limit and read > limit:
            raise too_large(name, limit)
        if time.monotonic() > deadline:
            raise CorpusError(f"{name} takes too long to read (over {MAX_SECONDS} seconds, "
                              f"{number} pages); add a shorter part of it.",
                              code="document_too_large")
    text = paragraphs_text(page_lines)
    if not text.strip() and unread:
        # Not a scan: its pages hold text that could not be read (damaged, or unpacking to
        # more than pypdf allows, as a compression bomb does).
        raise CorpusError(f"{name} has pages whose text could not be read: they are damaged "
                          "or too large once unpacked.", code="pdf_unreadable")
    if not text.strip():
        raise CorpusError(
            f"{name} has no text layer: it looks like a scan. Run it through OCR (for example "
            "`ocrmypdf`) and add the result.", code="pdf_no_text")
    meta = _metadata(reader)
    title = meta.get("title") or title_of(text, doc_id)
    return Document(id=doc_id, title=title, text=text, url=url,
                    author=meta.get("author", ""), date=meta.get("date", ""))


class _PypdfToDebug(logging.Handler):
    """pypdf's own warnings about a file ("EOF marker not found") as this module's debug
    lines: a user sees quotebot's one-sentence error, not pypdf's lines above it."""

    def emit(self, record: logging.LogRecord) -> None:
        log.debug("pypdf (%s): %s", record.levelname.lower(), record.getMessage())


_pypdf_logs_lock = threading.Lock()


def _pypdf_logs_at_debug() -> None:
    """Route the ``pypdf`` logger to :class:`_PypdfToDebug` (once, in whatever front end)."""
    pypdf_log = logging.getLogger("pypdf")
    with _pypdf_logs_lock:
        if not any(isinstance(h, _PypdfToDebug) for h in pypdf_log.handlers):
            pypdf_log.addHandler(_PypdfToDebug())
            pypdf_log.propagate = False


def _mostly_replacements(lines: Sequence[_Line]) -> bool:
    """Whether most of the page's characters (spaces aside) are U+FFFD."""
    text = "".join("".join(line.text.split()) for line in lines)
    return bool(text) and text.count("\ufffd") > MAX_REPLACEMENT_SHARE * len(text)


def _unreadable(name: str) -> CorpusError:
    return CorpusError(f"{name} could not be read as a PDF: it is damaged or not a PDF.",
                       code="pdf_unreadable")


def _lines_of(page: Any) -> list[_Line]:
    """The page's lines in reading order, each where its first character is."""
    lines: list[_Line] = []
    parts: list[str] = []
    start: tuple[float, float] | None = None
    #: Pieces of the line with where each starts and about where it ends.
    cells: list[list[Any]] = []
    #: Characters of the line in each font size: the line's size is its most common one
    #: (a bullet or a drop capital in another size does not make a line a heading).
    sizes: Counter[float] = Counter()

    def flush() -> None:
        nonlocal start
        text = " ".join("".join(parts).split())
        if text and start is not None:
            pieces = [(x, " ".join(t.split())) for x, t, _ in cells if t.strip()]
            lines.append(_Line(text, *start, sizes.most_common(1)[0][0],
                               pieces if len(pieces) > 1 else None))
        parts.clear()
        sizes.clear()
        cells.clear()
        start = None

    def visit(text: str, cm: Sequence[float], tm: Sequence[float], _font: Any,
              font_size: float) -> None:
        nonlocal start
        for i, part in enumerate(text.split("\n")):
            if i:
                flush()
            if part.strip():
                # Where the chunk starts on the page: the text matrix times the current one.
                a, b, c, d = (tm[0] * cm[0] + tm[1] * cm[2], tm[0] * cm[1] + tm[1] * cm[3],
                              tm[2] * cm[0] + tm[3] * cm[2], tm[2] * cm[1] + tm[3] * cm[3])
                scale = (c * c + d * d) ** 0.5 or (a * a + b * b) ** 0.5 or 1.0
                size = round(abs(font_size * scale), 1) or 1.0
                sizes[size] += len(part.strip())
                x = tm[4] * cm[0] + tm[5] * cm[2] + cm[4]
                if start is None:
                    start = (x, tm[4] * cm[1] + tm[5] * cm[3] + cm[5])
                # A piece that starts well right of where the last one ended is a new cell.
                if cells and x <= cells[-1][2] + _CELL_GAP * size:
                    cells[-1][1] += part
                    cells[-1][2] = max(cells[-1][2], x + _WIDTH * size * len(part))
                else:
                    cells.append([x, part, x + _WIDTH * size * len(part)])
            elif cells:
                cells[-1][1] += part
            parts.append(part)

    page.extract_text(visitor_text=visit)
    flush()
    return lines


def paragraphs_text(pages: Sequence[Sequence[_Line]]) -> str:
    """Corpus text (one paragraph per line) from the lines of each page: a table's rows one
    per line with their header, a heading (a short line in a larger font than the text) as
    a ``##`` line (``#`` for the first, largest one)."""
    pages = _without_page_furniture(pages)
    known_words = Counter(w.lower() for page in pages for line in page
                          for w in _WORD.findall(line.text))
    body_size = _body_size(pages)
    paragraphs: list[list[str]] = []
    #: Paragraphs that are whole already (table rows, headings): nothing joins them.
    whole: set[int] = set()
    headings: set[int] = set()
    for page in pages:
        rows = _table_rows(page)
        for i, line in enumerate(page):
            if i in rows:
                if rows[i]:
                    whole.add(len(paragraphs))
                    paragraphs.append([rows[i]])
                continue
            follows = bool(paragraphs) and len(paragraphs) - 1 not in whole
            heading = _is_heading(line, body_size)
            if (heading and paragraphs and len(paragraphs) - 1 in headings and i > 0
                    and i - 1 not in rows and _same_paragraph(page, i)):
                paragraphs[-1].append(line.text)  # a heading set on two lines
            elif (follows and i > 0 and i - 1 not in rows and not _weak_break(page, i)
                    and _same_paragraph(page, i)):
                paragraphs[-1].append(line.text)
            elif follows and (i == 0 or _weak_break(page, i)) and _runs_on(
                    paragraphs[-1][-1], line.text):
                # Over a page or column break, a sentence that has not ended goes on.
                paragraphs[-1].append(line.text)
            else:
                paragraphs.append([line.text])
                if heading:
                    whole.add(len(paragraphs) - 1)
                    headings.add(len(paragraphs) - 1)
                    first = len(paragraphs) == 1 and line.size >= 1.5 * body_size
                    paragraphs[-1] = [f"{'#' if first else '##'} {line.text}"]
    out = [_join_lines(lines, known_words) for lines in paragraphs]
    return "".join(p + "\n" for p in out if p)


def _body_size(pages: Sequence[Sequence[_Line]]) -> float:
    """The font size most of the text is set in."""
    sizes: Counter[float] = Counter()
    for page in pages:
        for line in page:
            sizes[line.size] += len(line.text)
    return sizes.most_common(1)[0][0] if sizes else 0.0


def _is_heading(line: _Line, body_size: float) -> bool:
    """A short line in a font clearly larger than the text's, not ending a sentence."""
    return (body_size > 0 and line.size > (1 + _SIZE_CHANGE) * body_size
            and len(line.text) <= 120 and not line.text.rstrip(_CLOSERS).endswith((".", ","))
            and not _PAGE_NUMBER.fullmatch(line.text))


def _table_rows(page: Sequence[_Line]) -> dict[int, str]:
    """The lines of the page's tables, each as its row's text with the header's names
    (see :func:`~quotebot.ingest.html.row_text`; the header line itself maps to ""): a
    table is two lines or more split into cells that start under the same columns."""
    rows: dict[int, str] = {}
    i = 0
    while i < len(page):
        header = page[i].cells
        if not header:
            i += 1
            continue
        columns = [x for x, _ in header]
        run = [i]
        j = i + 1
        while j < len(page) and page[j].cells and all(
                _column(x, columns) is not None for x, _ in page[j].cells or ()):
            run.append(j)
            j += 1
        if len(run) < 2:
            i += 1
            continue
        names = [text for _, text in header]
        rows[i] = ""
        for k in run[1:]:
            cells = [""] * len(columns)
            for x, text in page[k].cells or ():
                column = _column(x, columns)
                if column is not None:
                    cells[column] = f"{cells[column]} {text}".strip()
            rows[k] = row_text(cells, names)
        i = j
    return rows


def _column(x: float, columns: Sequence[float]) -> int | None:
    for n, start in enumerate(columns):
        if abs(x - start) <= _COLUMN_SLACK:
            return n
    return None


def _same_paragraph(page: Sequence[_Line], i: int) -> bool:
    previous, line = page[i - 1], page[i]
    if abs(line.size - previous.size) > _SIZE_CHANGE * max(line.size, previous.size):
        return False
    usual = _usual_gap(page, line.size)
    if usual and previous.y - line.y > PARAGRAPH_GAP * usual:
        return False
    if _LIST_ITEM.match(line.text):
        return False
    # A hanging indent under a list item's first line goes on with the item.
    if line.x - previous.x > INDENT * line.size and not _LIST_ITEM.match(previous.text):
        return False
    ends_sentence = previous.text.rstrip(_CLOSERS).endswith(_TERMINAL)
    return not (ends_sentence and len(previous.text) < SHORT_LINE * _full_line(page))


def _weak_break(page: Sequence[_Line], i: int) -> bool:
    """The next line is above the last one: a new column (or text placed out of order)."""
    return page[i].y >= page[i - 1].y + 0.5 * page[i].size


def _runs_on(before: str, after: str) -> bool:
    """Across a page or column break, a paragraph goes on when its sentence does."""
    ended = before.rstrip(_CLOSERS).endswith(_TERMINAL)
    return not ended and (after[:1].islower() or before.endswith(tuple(_HYPHENS)))


def _usual_gap(page: Sequence[_Line], size: float) -> float:
    """The distance between two lines of one paragraph in this font size: the smallest one
    that comes up twice or more (paragraph gaps can be as many as line gaps), else the
    median; 0 when the page does not tell."""
    gaps = [round((a.y - b.y) * 2) / 2 for a, b in itertools.pairwise(page)
            if a.size == b.size == size and 0 < a.y - b.y < 3 * size]
    repeated = [gap for gap, n in Counter(gaps).items() if n >= 2]
    if repeated:
        return min(repeated)
    return statistics.median(gaps) if gaps else 0.0


def _full_line(page: Sequence[_Line]) -> float:
    lengths = sorted(len(line.text) for line in page)
    return lengths[int(0.9 * (len(lengths) - 1))] if lengths else 0.0


def _without_page_furniture(pages: Sequence[Sequence[_Line]]) -> list[list[_Line]]:
    """Pages without page numbers and without running heads and feet."""
    def shape(line: _Line) -> str:
        return re.sub(r"\d+", "#", line.text.lower())

    edges: Counter[str] = Counter()
    for page in pages:
        edges.update({shape(line) for line in (*page[:2], *page[-2:])})
    # A running head or foot: on two pages and half the pages or more, or with a page number
    # on two or more ("Chapter 2: Methods 7").
    repeated = {s for s, n in edges.items()
                if (n >= 2 and 2 * n >= len(pages))
                or (n >= 2 and (s.startswith("#") or s.endswith("#")))}
    kept: list[list[_Line]] = []
    for page in pages:
        lines = list(page)
        for edge in (0, -1, 0, -1):  # up to two lines at the top and at the bottom
            if lines and (_PAGE_NUMBER.fullmatch(lines[edge].text)
                          or shape(lines[edge]) in repeated):
                lines.pop(edge)
        kept.append(lines)
    return kept


def _join_lines(lines: Sequence[str], known_words: Counter[str]) -> str:
    text = lines[0]
    for line in lines[1:]:
        text = _join(text, line, known_words)
    return " ".join(text.split())


def _join(left: str, right: str, known_words: Counter[str]) -> str:
    if left.endswith("\u00ad"):
        return left[:-1] + right
    if left[-1:] in _HYPHENS and left[-2:-1].isalpha() and right[:1].islower():
        before = _WORD.findall(left[:-1])
        after = _WORD.findall(right)
        if before and after:
            hyphenated = f"{before[-1]}-{after[0]}".lower()
            joined = f"{before[-1]}{after[0]}".lower()
            # Keep a hyphen the document writes elsewhere (long-term), drop one that only
            # breaks a word at the margin (en-gineers).
            if known_words[hyphenated] > known_words[joined]:
                return left + right
        return left[:-1] + right
    if left.endswith(("—", "/")):
        return left + right
    return f"{left} {right}"


def _metadata(reader: Any) -> dict[str, str]:
    try:
        info = reader.metadata
    except Exception:  # a damaged info dictionary is no reason to refuse the text
        return {}
    if info is None:
        return {}
    meta: dict[str, str] = {}
    title = " ".join(str(info.title or "").split())
    if title and not _looks_like_file_name(title):
        meta["title"] = title
    author = " ".join(str(info.author or "").split())
    if author:
        meta["author"] = author
    try:
        created = info.creation_date
    except Exception:  # pypdf raises on malformed dates
        created = None
    if created is not None:
        meta["date"] = created.date().isoformat()
    return meta


def _looks_like_file_name(title: str) -> bool:
    """Word processors often leave a file name or "Untitled" as the title."""
    lowered = title.lower()
    return (lowered.startswith(("microsoft word - ", "untitled"))
            or re.search(r"\.(docx?|odt|pdf|tex|rtf|pages|indd|txt)$", lowered) is not None)
