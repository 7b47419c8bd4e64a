"""The few nouns of quotebot: documents, sentences, quotes and answers."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True, slots=True)
class Document:
    """One article: ``id`` is the file stem, ``text`` the article's text exactly as decoded
    (after a front-matter block, when the file has one).

    ``url``, ``author`` and ``date`` are what is known of where the article came from;
    empty when nothing is. ``page_words`` is how many words the web page it was extracted
    from showed (0 when it was no page), to tell how much of the page the text kept.
    ``source`` is the name of the file it was read from (no folder), so that adding that
    file again replaces it.
    """

    id: str
    title: str
    text: str
    path: str = ""
    url: str = ""
    author: str = ""
    date: str = ""
    page_words: int = 0
    source: str = ""


@dataclass(frozen=True, slots=True)
class Sentence:
    """A sentence of a document; ``text == document.text[start:end]`` always.

    ``paragraph`` and ``sentence`` are 1-based within the document.
    """

    doc: str
    paragraph: int
    sentence: int
    start: int
    end: int
    text: str


@dataclass(frozen=True, slots=True)
class Quote:
    """A sentence quoted as (part of) an answer, with where it came from and its score."""

    text: str
    doc: str
    title: str
    paragraph: int
    sentence: int
    start: int
    end: int
    score: float
    #: Character spans (into ``text``) of the words that matched the question.
    highlights: tuple[tuple[int, int], ...] = ()
    #: The headings of the section the quote is in, outermost first (``()`` outside any).
    section: tuple[str, ...] = ()
    #: Where the document came from, when it was added from a link.
    url: str = ""

    def to_json(self) -> dict[str, Any]:
        """The quote as JSON: ``section`` and ``url`` only when the document has them."""
        data: dict[str, Any] = {
            "text": self.text,
            "doc": self.doc,
            "title": self.title,
            "paragraph": self.paragraph,
            "sentence": self.sentence,
            "start": self.start,
            "end": self.end,
            "score": round(self.score, 4),
        }
        if self.section:
            data["section"] = list(self.section)
        if self.url:
            data["url"] = self.url
        return data


def document_json(doc: str, title: str, url: str = "", **more: Any) -> dict[str, Any]:
    """A document as every JSON output names it: ``{"doc", "title", "url"?, ...more}``, with
    ``url`` only for a document added from a link (an uploaded file or a text has none)."""
    return {"doc": doc, "title": title, **({"url": url} if url else {}), **more}


@dataclass(frozen=True, slots=True)
class ShortAnswer:
    """The short answer to a factual question: verbatim from the first quote, or "Yes" /
    "No" read from it (``verbatim`` False)."""

    text: str
    #: Character offsets into the document's text: of the answer itself when ``verbatim``,
    #: else of the words that state it (the negation that says no, the quote that says yes).
    start: int
    end: int
    #: How likely the answer is right (see quotebot.confidence), when it was judged.
    confidence: float | None = None
    #: The evidence it was judged on, in the order of quotebot.confidence.FEATURES.
    evidence: tuple[float, ...] = ()
    #: ``text == document[start:end]`` (False for "Yes" and "No").
    verbatim: bool = True


@dataclass(frozen=True, slots=True)
class Answer:
    """What quotebot says to one question.

    ``answered`` is False when the corpus does not answer the question; then
    ``quotes`` is empty and ``closest`` may hold passages that are *not* an answer.
    """

    question: str
    answered: bool
    quotes: tuple[Quote, ...] = ()
    short: ShortAnswer | None = None
    #: Why the question was (not) answered, in a few words, for people and logs.
    reason: str = ""
    #: The terms that were searched for when the question's words were corrected or resolved.
    searched_for: str | None = None
    #: The question as it was understood after follow-up resolution ("what did she say?" → …).
    resolved_question: str | None = None
    closest: tuple[Quote, ...] = ()
    #: True when this answer continues an earlier one ("more").
    continued: bool = False
    #: The short answer the gate found more likely right than wrong but not likely enough
    #: to show: never shown, but a conversation may learn from it who "she" is (the rewrite
    #: it makes is shown).
    withheld: ShortAnswer | None = None

    def to_json(self) -> dict[str, Any]:
        """The one JSON shape every front end returns (see DESIGN.md)."""
        data: dict[str, Any] = {
            "question": self.question,
            "answered": self.answered,
            "answer": self.short.text if self.short else None,
            "quotes": [q.to_json() for q in self.quotes],
        }
        if self.short is not None and self.short.verbatim:
            # Offsets that slice back to the answer, or none ("Yes", "No").
            data["answer_start"] = self.short.start
            data["answer_end"] = self.short.end
        if self.searched_for is not None:
            data["searched_for"] = self.searched_for
        if self.resolved_question is not None:
            data["resolved_question"] = self.resolved_question
        if not self.answered:
            data["reason"] = self.reason
            if self.closest:
                data["closest"] = [q.to_json() for q in self.closest]
        return data
