"""A web page's article as corpus text, with trafilatura.

trafilatura keeps the main text and leaves out navigation, cookie banners, related links,
sidebars, comments and footers; its metadata gives the title, author, date and the page's
own address (canonical link). Its structured result is then written one unit per line:

- a heading as a markdown heading (``## Menus``), so that it is known as a heading
  (see :func:`quotebot.sentences.paragraph_kinds`) and its marks are never quoted;
- a paragraph, a list item, a quotation or a line of code as one line, with the line breaks
  of the page's source (hard-wrapped HTML) joined inside it;
- a definition list's term and definition together ("Ungava seal: Freshwater lakes …");
- a table row as one readable line with its header ("Region: Wadden Sea; Estimate: 28,000;
  Year of count: 2022"), never one line per cell;
- the page's headline (its ``<h1>``) first, as a heading, when trafilatura starts below it.

Before trafilatura reads the page, heading permalinks ("¶", "#", "[edit]") are taken out,
and sections lose the ``id`` that a heading's own permalink names: trafilatura drops
anything whose id looks like navigation, and documentation names its sections "menus" or
"editing-and-navigation".

Work is bounded: a page of more than :data:`MAX_ELEMENTS` elements is refused before it is
read, and the text stops at ``max_bytes`` while it is written (``document_too_large``).
"""

from __future__ import annotations

import codecs
import re
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from quotebot.corpus import title_of
from quotebot.errors import CorpusError
from quotebot.models import Document

#: Fewer words than this is no article.
MIN_WORDS = 5
#: Pages with more elements than this are refused before trafilatura reads them, since its
#: time grows faster than the page (here: 20,000 paragraphs take 3 s, 50,000 take 17 s); a
#: long documentation page has a few thousand (CPython's IDLE help: 1,225).
MAX_ELEMENTS = 30_000
#: Text written from one page, at most (UTF-8 bytes), unless the caller gives another cap.
MAX_TEXT_BYTES = 50 * 1024 * 1024
#: The trafilatura options quotebot reads pages with (measured by benchmarks/bench_extract.py).
TRAFILATURA_OPTIONS: dict[str, Any] = {"favor_recall": True, "fast": True, "include_tables": True}

#: What a heading's permalink shows: "¶" (Sphinx), "#" (MkDocs, GitHub), "§", a link symbol.
_ANCHOR_TEXT = frozenset({"", "¶", "#", "§", "🔗", "⚓", "link", "permalink"})
_HEADINGS = ("h1", "h2", "h3", "h4", "h5", "h6")
_PERMALINK_CLASS = re.compile(r"headerlink|header-anchor|anchor-?link|editsection|permalink",
                              re.IGNORECASE)
_INVISIBLE = ("script", "style", "noscript", "template", "svg", "head")


@dataclass(frozen=True, slots=True)
class PageText:
    """An extracted page: the document and how much of the page's visible text it kept."""

    doc: Document
    kept_words: int
    page_words: int


def extract_html(data: bytes | str, *, doc_id: str, name: str, url: str = "",
                 charset: str | None = None, max_bytes: int | None = None) -> Document:
    """The article of a page: one unit per line, with title, url, author and date.

    ``url`` is where the page was fetched from (else the page's own canonical address is
    kept); ``charset`` is what the server said the bytes are (else the page says, or it is
    guessed). CorpusError codes: ``html_no_text`` (no article text in the page),
    ``unreadable_page`` (bytes in a character set that cannot be read), ``document_too_large``.
    """
    return read_page(data, doc_id=doc_id, name=name, url=url, charset=charset,
                     max_bytes=max_bytes).doc


def read_page(data: bytes | str, *, doc_id: str, name: str, url: str = "",
              charset: str | None = None, max_bytes: int | None = None,
              options: dict[str, Any] | None = None) -> PageText:
    """:func:`extract_html` with the words the page showed and the words kept."""
    import trafilatura

    tree = parse_page(data, name=name, charset=charset)
    page_words = len(visible_text(tree).split())
    clean_permalinks(tree)
    loosen_article(tree)
    first = next((h1 for h1 in tree.iter("h1") if _text(h1)), None)
    headline = _text(first) if first is not None else ""
    lede = _lede(first) if first is not None else []
    try:
        result: Any = trafilatura.bare_extraction(
            tree, url=url or None, with_metadata=True, include_comments=False,
            include_images=False, include_links=False, include_formatting=False,
            deduplicate=False, **(TRAFILATURA_OPTIONS if options is None else options))
    except (ValueError, LookupError, UnicodeError) as exc:
        raise _unreadable(name) from exc
    body = getattr(result, "body", None)
    limit = MAX_TEXT_BYTES if max_bytes is None else max_bytes
    lines = list(bounded(units(body), limit, name)) if body is not None else []
    # trafilatura often starts at the article's body, below its headline: the page's <h1>
    # heads the text, as it heads the page.
    if headline and not (lines and lines[0].startswith("#")) and not any(
            line.lstrip("# ") == headline for line in lines[:3]):
        lines.insert(0, "# " + headline)
    # ... and so does the line under it (a news page's standfirst) that trafilatura, starting
    # below it, left out.
    if lede and lines and lines[0] == "# " + headline:
        written = "\n".join(lines)
        lines[1:1] = [line for line in lede if line not in written]
    text = "".join(line + "\n" for line in lines)
    # A few words are what is left of a menu or a form when a page has no article.
    if len(text.split()) < MIN_WORDS:
        raise CorpusError(
            f"No article text was found in {name}: it may be a page of links, need JavaScript "
            "to show its text, or ask for a login. Save the article's text as a .txt file and "
            "add that.", code="html_no_text")
    title = _one_line(getattr(result, "title", "")) or title_of(text, doc_id)
    doc = Document(id=doc_id, title=title, text=text,
                   url=url or _one_line(getattr(result, "url", "")),
                   author=_one_line(getattr(result, "author", "")),
                   date=_one_line(getattr(result, "date", "")), page_words=page_words)
    return PageText(doc, kept_words=words_kept(text), page_words=page_words)


def words_kept(text: str) -> int:
    """The words of an extracted text (its heading marks are no words)."""
    return len(text.replace("#", " ").split())


def parse_page(data: bytes | str, *, name: str, charset: str | None = None) -> Any:
    """The page's element tree; CorpusError ``unreadable_page`` when its bytes cannot be
    decoded, ``document_too_large`` when it has more than :data:`MAX_ELEMENTS` elements."""
    import lxml.html
    from lxml import etree

    content = _decoded(data, charset, name) if isinstance(data, bytes) else data
    # lxml refuses text that declares its own encoding (an XHTML page's <?xml …?> line).
    content = _XML_DECLARATION.sub("", content, count=1)
    try:
        parser = lxml.html.HTMLParser(remove_comments=True, remove_pis=True, huge_tree=False)
        tree = lxml.html.document_fromstring(content, parser=parser)
    except (etree.ParserError, ValueError, LookupError, UnicodeError) as exc:
        raise _unreadable(name) from exc
    for count, _ in enumerate(tree.iter(), start=1):
        if count > MAX_ELEMENTS:
            raise CorpusError(f"{name} has more than {MAX_ELEMENTS:,} parts; quotebot reads "
                              "articles, not whole sites or endless lists.",
                              code="document_too_large")
    return tree


_XML_DECLARATION = re.compile(r"\A\s*<\?xml[^>]*\?>")
_META_CHARSET = re.compile(rb"""<meta[^>]+charset\s*=\s*["']?\s*([A-Za-z0-9._:-]+)""",
                           re.IGNORECASE)


def _decoded(data: bytes, charset: str | None, name: str) -> str:
    """The page's text in the character set the server names, else the page's own
    ``<meta charset>``, else UTF-8 (bytes that are not UTF-8 replaced, never refused)."""
    if data.startswith(codecs.BOM_UTF8):
        return data[3:].decode("utf-8", errors="replace")
    named = charset
    if not named and data.startswith((codecs.BOM_UTF32_LE, codecs.BOM_UTF32_BE)):
        named = "utf-32"
    elif not named and data.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        named = "utf-16"
    if not named:
        meta = _META_CHARSET.search(data[:4096])
        named = meta.group(1).decode("ascii") if meta else None
    if b"\x00" in data[:8192] and not _wide(named):
        # Text in any 8-bit character set has no NUL byte; a program, an image or an
        # archive saved as .html does, and would read as a page of U+FFFD.
        raise CorpusError(f"{name} looks like a binary file, not a web page. quotebot "
                          "reads HTML pages, PDFs and UTF-8 .txt and .md files.",
                          code="page_not_text")
    if not named:
        return data.decode("utf-8", errors="replace")
    try:
        codec = codecs.lookup(named)
    except LookupError:
        # A name Python does not know ("x-user-defined", a typo): read it as UTF-8.
        return data.decode("utf-8", errors="replace")
    if not getattr(codec, "_is_text_encoding", True) or codec.name in ("idna", "punycode"):
        raise _unreadable(name, named)
    try:
        return data.decode(codec.name, errors="replace")
    except (UnicodeError, ValueError) as exc:  # "undefined" refuses every byte
        raise _unreadable(name, named) from exc


def _wide(charset: str | None) -> bool:
    """Whether the character set named (by the server, a byte order mark or the page) is
    UTF-16 or UTF-32, whose text has NUL bytes."""
    try:
        return charset is not None and codecs.lookup(charset).name.startswith(
            ("utf-16", "utf-32"))
    except LookupError:
        return False


def _unreadable(name: str, charset: str | None = None) -> CorpusError:
    how = f" in the character set {charset!r}" if charset else ""
    return CorpusError(f"{name} cannot be read: its text is encoded{how} in a way that is not "
                       "a web page's. Save its text as a .txt file and add that.",
                       code="unreadable_page")


def visible_text(tree: Any) -> str:
    """The words a browser would show in the page's body (scripts and styles left out)."""
    parts: list[str] = []
    body = tree.find("body")
    for element in (body if body is not None else tree).iter():
        if not isinstance(element.tag, str) or element.tag in _INVISIBLE or any(
                a.tag in _INVISIBLE for a in element.iterancestors()):
            continue
        if element.text:
            parts.append(element.text)
        parent = element.getparent()
        if element.tail and parent is not None and parent.tag not in _INVISIBLE:
            parts.append(element.tail)
    return " ".join(parts)


def clean_permalinks(tree: Any) -> None:
    """Take out heading permalinks and edit links, and the ids of the sections they name."""
    named: set[str] = set()
    for heading in tree.iter(*_HEADINGS):
        heading.attrib.pop("id", None)
        for link in list(heading.iter("a", "span")):
            text = " ".join(link.text_content().split()).strip("[]").lower()
            klass = link.get("class", "")
            href = link.get("href", "")
            if href.startswith("#"):
                named.add(href[1:])
            if _PERMALINK_CLASS.search(klass) or (link.tag == "a" and text in _ANCHOR_TEXT
                                                  | {"edit"}):
                link.drop_tree()
            elif link.tag == "span":
                link.attrib.pop("id", None)
    for element in tree.iter("section", "div"):
        if element.get("id") in named:
            element.attrib.pop("id", None)


#: Page-feedback boxes ("Is this page useful?"), which trafilatura keeps.
_FEEDBACK = re.compile(r"feedback|page-?useful|helpful-?widget", re.IGNORECASE)
_INLINE = frozenset("a abbr b bdi bdo br cite code data dfn em i kbd mark q s samp small span "
                    "strong sub sup time u var wbr".split())


def loosen_article(tree: Any) -> None:
    """Mark up what belongs to the article so that trafilatura keeps it: an aside inside the
    article (an "About the company" box) becomes a section, and a div holding only a
    sentence or two (an inset note, a warning) becomes a paragraph. Page-feedback boxes go."""
    for element in list(tree.iter("div", "section", "aside", "form")):
        if _FEEDBACK.search(element.get("class", "") + " " + element.get("id", "")):
            element.drop_tree()
    for article in tree.iter("article"):
        for aside in article.iter("aside"):
            aside.tag = "section"
    for div in tree.iter("div"):
        if (div.text or "").strip() or any((child.tail or "").strip() for child in div):
            blocks = [child for child in div if not isinstance(child.tag, str)
                      or child.tag not in _INLINE]
            if not blocks and len(" ".join(div.itertext()).split()) >= MIN_WORDS:
                div.tag = "p"
        elif len(div) == 1 and div[0].tag in ("strong", "b", "em") and len(
                " ".join(div.itertext()).split()) >= MIN_WORDS:
            div.tag = "p"


#: The fewest words of a paragraph under the headline that is the article's (a standfirst),
#: not a dateline or a "Source code:" line.
LEDE_WORDS = 8


def _lede(headline: Any) -> list[str]:
    """The paragraphs right under the page's headline (its next elements, while they are
    ``<p>``) that read as sentences of the article: a standfirst."""
    lede: list[str] = []
    for sibling in headline.itersiblings():
        if not isinstance(sibling.tag, str):
            continue  # a comment between them
        if sibling.tag != "p":
            break
        text = _text(sibling)
        if len(text.split()) >= LEDE_WORDS and text.endswith((".", "!", "?")):
            lede.append(text)
    return lede


class _Heading(str):
    """A line written for a heading of the page, as the ``#`` line that marks it."""

    __slots__ = ()


#: How a line that reads as a heading starts (as quotebot.sentences reads headings).
_READS_AS_HEADING = re.compile(r"#{1,6}(?:[ \t]|$)")


def units(body: Any) -> Iterator[str]:
    """The lines of trafilatura's result: headings as ``#`` lines, one unit per line. A
    line that is no heading but would read as one (a "# comment" in a block of code) goes
    on the end of the line before it, so that it never opens a section."""
    previous: str | None = None  # held back until the next line is known (lines stream)
    for element in body:
        for line in _units(element):
            if (previous is not None and not isinstance(line, _Heading)
                    and _READS_AS_HEADING.match(line)):
                previous += " " + line
                continue
            if previous is not None:
                yield previous
            previous = line
    if previous is not None:
        yield previous


def _units(element: Any) -> Iterator[str]:
    tag = element.tag
    if tag == "head":
        text = _heading_text(_text(element))
        if text:
            rend = element.get("rend", "")
            level = int(rend[1]) if re.fullmatch(r"h[1-6]", rend) else 2
            yield _Heading("#" * level + " " + text)
    elif tag == "list":
        yield from _list_units(element)
    elif tag == "table":
        yield from table_rows([[(_text(cell), cell.get("role") == "head")
                                for cell in row.iter("cell")] for row in element.iter("row")])
    elif tag == "code":
        for line in "".join(element.itertext()).splitlines():
            if line.strip():
                yield " ".join(line.split())
    elif tag in ("div", "quote") and len(element):
        if element.text and element.text.strip():
            yield " ".join(element.text.split())
        for child in element:
            yield from _units(child)
            if child.tail and child.tail.strip():
                yield " ".join(child.tail.split())
    else:
        text = _text(element)
        if text:
            yield text


def _list_units(element: Any) -> Iterator[str]:
    """One unit per item; a definition list's term and its definition as one."""
    term = ""
    for item in element.iterchildren("item"):
        nested = list(item.iterchildren("list"))
        for child in nested:
            item.remove(child)
        text = _text(item)
        rend = item.get("rend", "")
        if rend.startswith("dt"):
            term = f"{term}, {text}" if term and text else term or text
            continue
        # An item of several paragraphs is a unit per paragraph: their text run together
        # would make one sentence of two ("…to reduce typingCommand history").
        lines = _paragraphs(item) if text else []
        if term:
            lines = [f"{term}: {lines[0]}", *lines[1:]] if lines else [term]
            term = ""
        yield from lines
        for child in nested:
            yield from _list_units(child)
    if term:
        yield term


def _paragraphs(item: Any) -> list[str]:
    """The item's text, a line per paragraph when it has more than one (``<p>``)."""
    if sum(1 for _ in item.iterchildren("p")) < 2:
        return [_text(item)]
    lines: list[str] = []
    loose = item.text or ""  # text between paragraphs is a line of its own
    for child in item:
        if child.tag == "p":
            if loose.strip():
                lines.append(" ".join(loose.split()))
            loose = ""
            lines.append(_text(child))
        else:
            loose += "".join(child.itertext())
        loose += child.tail or ""
    if loose.strip():
        lines.append(" ".join(loose.split()))
    return [line for line in lines if line]


def table_rows(rows: list[list[tuple[str, bool]]]) -> Iterator[str]:
    """Each row of a table as one line with its header (see :func:`row_text`); cells are
    (text, is a header cell). A row of header cells is the header of the rows below it, not
    a unit of its own."""
    header: list[str] = []
    for row in rows:
        cells = [text for text, _ in row]
        filled = [text for text in cells if text]
        if not filled:
            continue
        if all(is_head for text, is_head in row if text):
            if len(filled) == 1 and len(cells) > 1:
                yield filled[0]  # a caption spread over the table's width
            else:
                header = cells
            continue
        yield row_text(cells, header)


def row_text(cells: list[str], header: list[str]) -> str:
    """One table row as one readable line, each cell named by its column's header:
    "Region: Alaska; Estimate: 205,000; Year of count: 2018"."""
    return "; ".join(f"{header[i]}: {cell}" if i < len(header) and header[i] else cell
                     for i, cell in enumerate(cells) if cell)


def bounded(lines: Iterator[str], max_bytes: int, name: str) -> Iterator[str]:
    """``lines`` until their UTF-8 size passes ``max_bytes``, then ``document_too_large``."""
    total = 0
    for line in lines:
        total += len(line.encode("utf-8", "surrogatepass")) + 1
        if max_bytes and total > max_bytes:
            raise too_large(name, max_bytes)
        yield line


def too_large(name: str, max_bytes: int) -> CorpusError:
    """The error for a document whose text passes the cap while it is read."""
    size = f"{max_bytes / 2**20:.1f} MB" if max_bytes >= 2**20 else f"{max_bytes / 1024:.0f} KB"
    return CorpusError(f"{name} has more than {size} of text, the most a document may have "
                       "here; add a shorter part of it.", code="document_too_large")


def _heading_text(text: str) -> str:
    """A heading without its permalink marks ("IDLE¶", "Usage #", "History[edit]")."""
    return re.sub(r"(?:\s*(?:[¶§#🔗]|\[edit\]))+$", "", text).strip()


def _text(element: Any) -> str:
    """An element's text on one line: the source's line breaks and runs of spaces joined."""
    return " ".join("".join(element.itertext()).split())


def _one_line(value: Any) -> str:
    return " ".join(str(value).split()) if value else ""
