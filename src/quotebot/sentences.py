"""Sentence splitting with NLTK's Punkt, configured in code (no downloaded models).

Offsets come from ``span_tokenize`` on each paragraph, so every sentence's text is
exactly ``document.text[start:end]``; nothing is re-found later with ``str.find``.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from functools import cache

from nltk.tokenize.punkt import PunktParameters, PunktSentenceTokenizer

from quotebot.lexicon import ABBREVIATIONS
from quotebot.models import Document, Sentence

_LINE = re.compile(r"[^\r\n]+")
_WORDISH = re.compile(r"\w")
#: A markdown ATX heading's opening marks and the spaces after them.
_HEADING_MARKS = re.compile(r"#{1,6}(?:[ \t]+|$)")
_CLOSING_MARKS = re.compile(r"[ \t]+#+$")


@cache
def _tokenizer() -> PunktSentenceTokenizer:
    params = PunktParameters()
    params.abbrev_types = set(ABBREVIATIONS)
    return PunktSentenceTokenizer(params)


def paragraph_spans(text: str) -> Iterator[tuple[int, int]]:
    """(start, end) of each paragraph: a non-blank line, without surrounding whitespace.

    A markdown heading (``## Heading ##``) starts after its opening ``#`` marks and ends before
    closing ones, so that no quote shows them; a line of marks alone is no paragraph.
    """
    for match in _LINE.finditer(text):
        start, end = _strip_span(text, match.start(), match.end())
        marks = _HEADING_MARKS.match(text, start, end)
        if marks is not None:
            start = marks.end()
            closing = _CLOSING_MARKS.search(text, start, end)
            if closing is not None:
                end = closing.start()
            elif text.count("#", start, end) == end - start:
                continue
        if start < end:
            yield start, end


def _strip_span(text: str, start: int, end: int) -> tuple[int, int]:
    while start < end and text[start].isspace():
        start += 1
    while end > start and text[end - 1].isspace():
        end -= 1
    return start, end


def split_document(doc: Document) -> list[Sentence]:
    """Split a document into sentences; a sentence never crosses a line break."""
    tokenizer = _tokenizer()
    text = doc.text
    sentences: list[Sentence] = []
    for paragraph_no, (p_start, p_end) in enumerate(paragraph_spans(text), start=1):
        paragraph = text[p_start:p_end]
        for s_start, s_end in tokenizer.span_tokenize(paragraph):
            start, end = _strip_span(text, p_start + s_start, p_start + s_end)
            if start >= end or not _WORDISH.search(text, start, end):
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
