"""A web page's article as corpus text, with trafilatura.

trafilatura keeps the main text and leaves out navigation, cookie banners, related links,
sidebars, comments and footers; its metadata gives the title, author, date and the page's
own address (canonical link). Each paragraph, heading and list item becomes one line.
"""

from __future__ import annotations

import codecs
from typing import Any

from quotebot.corpus import title_of
from quotebot.errors import CorpusError
from quotebot.models import Document

#: Fewer words than this is no article.
MIN_WORDS = 5


def extract_html(data: bytes | str, *, doc_id: str, name: str, url: str = "",
                 charset: str | None = None) -> Document:
    """The article of a page: one paragraph per line, with title, url, author and date.

    ``url`` is where the page was fetched from (else the page's own canonical address is
    kept); ``charset`` is what the server said the bytes are (else the page says, or it is
    guessed). CorpusError ``html_no_text`` when there is no article text in the page.
    """
    import trafilatura

    content: bytes | str = data
    if isinstance(data, bytes) and charset:
        try:
            content = data.decode(codecs.lookup(charset).name, errors="replace")
        except LookupError:
            content = data  # a charset Python does not know: let the page's own meta decide
    result: Any = trafilatura.bare_extraction(
        content, url=url or None, with_metadata=True, include_comments=False,
        include_tables=False, include_images=False, include_links=False,
        include_formatting=False, deduplicate=False)
    fields: dict[str, Any] = {}
    if result is not None:
        fields = result if isinstance(result, dict) else result.as_dict()
    text = _lines(str(fields.get("text") or ""))
    # A few words are what is left of a menu or a form when a page has no article.
    if len(text.split()) < MIN_WORDS:
        raise CorpusError(
            f"No article text was found in {name}: it may be a page of links, need JavaScript "
            "to show its text, or ask for a login. Save the article's text as a .txt file and "
            "add that.", code="html_no_text")
    title = _one_line(fields.get("title")) or title_of(text, doc_id)
    return Document(id=doc_id, title=title, text=text, url=url or _one_line(fields.get("url")),
                    author=_one_line(fields.get("author")), date=_one_line(fields.get("date")))


def _lines(text: str) -> str:
    """One paragraph per line, spaces inside a line collapsed, no blank lines."""
    lines = (" ".join(line.split()) for line in text.splitlines())
    return "".join(line + "\n" for line in lines if line)


def _one_line(value: Any) -> str:
    return " ".join(str(value).split()) if value else ""
