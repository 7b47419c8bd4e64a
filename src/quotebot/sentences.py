"""Sentence splitting with NLTK's Punkt, configured in code (no downloaded models).

Offsets come from Punkt's spans of each paragraph (:func:`quotebot.punkt.sentence_spans`),
so every sentence's text is exactly ``document.text[start:end]``; nothing is re-found
later with ``str.find``.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from functools import lru_cache

from quotebot.models import Document, Sentence
from quotebot.punkt import sentence_spans

_LINE = re.compile(r"[^\r\n]+")
#: The longest sentence quoted whole. Real sentences stay far below it (the longest in the
#: SQuAD and CoQA passages is 517 characters); text without sentence ends (a table dumped
#: as one line, a file of one word repeated) is cut into pieces of at most this length, so
#: that every later stage works on bounded sentences.
MAX_SENTENCE_CHARS = 1000
#: Where a long run is cut, by preference: after a clause mark, else at any space.
_CLAUSE_CUT = re.compile(r"[;,:]\s")
_SPACE = re.compile(r"\s")
_WORDISH = re.compile(r"\w")
#: A markdown ATX heading's opening marks and the spaces after them.
_HEADING_MARKS = re.compile(r"#{1,6}(?:[ \t]+|$)")
_CLOSING_MARKS = re.compile(r"[ \t]+#+$")


#: What a paragraph is: a heading (a ``#`` line) or text (a paragraph, a list item, a table
#: row). Headings name sections; an answer should not quote one as its answer.
HEADING = "heading"
TEXT = "text"


def paragraph_spans(text: str) -> Iterator[tuple[int, int]]:
    """(start, end) of each paragraph: a non-blank line, without surrounding whitespace.

    A markdown heading (``## Heading ##``) starts after its opening ``#`` marks and ends before
    closing ones, so that no quote shows them; a line of marks alone is no paragraph.
    """
    for start, end, _level in paragraph_levels(text):
        yield start, end


def paragraph_levels(text: str) -> Iterator[tuple[int, int, int]]:
    """(start, end, heading level) of each paragraph, as :func:`paragraph_spans`: the level
    is the number of ``#`` marks of a heading (1 to 6), 0 for text."""
    for match in _LINE.finditer(text):
        start, end = _strip_span(text, match.start(), match.end())
        marks = _HEADING_MARKS.match(text, start, end)
        level = 0
        if marks is not None:
            level = len(marks.group().rstrip())
            start = marks.end()
            closing = _CLOSING_MARKS.search(text, start, end)
            if closing is not None:
                end = closing.start()
            elif text.count("#", start, end) == end - start:
                continue
        if start < end:
            yield start, end, level


def paragraph_kinds(text: str) -> list[str]:
    """The kind of each paragraph of ``text`` (:data:`HEADING` or :data:`TEXT`), in order:
    ``paragraph_kinds(doc.text)[quote.paragraph - 1]`` is a quote's."""
    return [HEADING if level else TEXT for _, _, level in paragraph_levels(text)]


def heading_at(text: str, offset: int) -> bool:
    """Whether the paragraph holding character ``offset`` of ``text`` is a heading, as
    :func:`paragraph_kinds` says, from that paragraph's line alone (a paragraph is one
    line): the cost follows the line, not the document."""
    start = max(text.rfind("\n", 0, offset), text.rfind("\r", 0, offset)) + 1
    end = _LINE.match(text, start)
    line = text[start:end.end()] if end is not None else ""
    return "#" in line and any(level for _, _, level in paragraph_levels(line))


def paragraph_sections(text: str) -> list[tuple[str, ...]]:
    """The section each paragraph of ``text`` is in: the headings above it, outermost first
    (a heading's own section ends with itself). The document's title heading (a single
    ``#`` heading first of all) is left out: ``("Menus", "File menu")``."""
    sections: list[tuple[str, ...]] = []
    path: list[tuple[int, str]] = []
    for number, (start, end, level) in enumerate(paragraph_levels(text)):
        if level:
            while path and path[-1][0] >= level:
                path.pop()
            if not (number == 0 and level == 1):
                path.append((level, text[start:end]))
        sections.append(tuple(title for _, title in path))
    return sections


def paragraph_section(text: str, paragraph: int) -> tuple[str, ...]:
    """The section paragraph ``paragraph`` (1-based) of ``text`` is in, as
    :func:`paragraph_sections` gives it (``()`` outside any section)."""
    if "#" not in text:  # no headings: no sections (most plain texts)
        return ()
    sections = _sections_of(text)
    return sections[paragraph - 1] if 0 < paragraph <= len(sections) else ()


@lru_cache(maxsize=16)
def _sections_of(text: str) -> tuple[tuple[str, ...], ...]:
    # Quotes of one answer come mostly from the same few documents.
    return tuple(paragraph_sections(text))


def _strip_span(text: str, start: int, end: int) -> tuple[int, int]:
    while start < end and text[start].isspace():
        start += 1
    while end > start and text[end - 1].isspace():
        end -= 1
    return start, end


def split_document(doc: Document) -> list[Sentence]:
    """Split a document into sentences; a sentence never crosses a line break."""
    text = doc.text
    sentences: list[Sentence] = []
    for paragraph_no, (p_start, p_end) in enumerate(paragraph_spans(text), start=1):
        paragraph = text[p_start:p_end]
        for s_start, s_end in sentence_spans(paragraph):
            for start, end in _bounded(text, p_start + s_start, p_start + s_end):
                if not _WORDISH.search(text, start, end):
                    continue
                sentences.append(
                    Sentence(
                        doc=doc.id,
                        paragraph=paragraph_no,
                        sentence=len(sentences) + 1,
                        start=start,
                        end=end,
                        text=text[start:end],
                    )
                )
    return sentences


def _bounded(text: str, start: int, end: int) -> Iterator[tuple[int, int]]:
    """The stripped span ``text[start:end]``, cut into pieces of at most
    :data:`MAX_SENTENCE_CHARS` characters: after the last clause mark of a piece's second
    half, else at its last space, else (no space at all) at the limit."""
    start, end = _strip_span(text, start, end)
    while end - start > MAX_SENTENCE_CHARS:
        limit = start + MAX_SENTENCE_CHARS
        half = start + MAX_SENTENCE_CHARS // 2
        cut = None
        for match in _CLAUSE_CUT.finditer(text, half, limit):
            cut = match.start() + 1
        if cut is None:
            for match in _SPACE.finditer(text, half, limit):
                cut = match.start()
        piece_end = cut if cut is not None else limit
        piece = _strip_span(text, start, piece_end)
        if piece[0] < piece[1]:
            yield piece
        start, end = _strip_span(text, piece_end, end)
    if start < end:
        yield start, end
