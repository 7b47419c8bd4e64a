"""Building what an answer shows: quotes with their provenance, and the short answer.

Offsets come from the index (sentence offsets kept since splitting, token offsets kept
since indexing), so ``quote.text == document.text[quote.start:quote.end]`` always.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from quotebot.analysis import Token
from quotebot.models import Quote, ShortAnswer
from quotebot.store.model import SentenceIndex


def make_quote(index: SentenceIndex, sid: int, score: float,
               highlights: tuple[tuple[int, int], ...]) -> Quote:
    """Sentence ``sid`` as a quote, with ``highlights`` (its matched words' offsets, see
    :func:`highlights`), the section it is in and its document's source."""
    sentence = index.sentence(sid)
    position = int(index.doc_idx[sid])
    info = index.docs[position]
    return Quote(
        text=sentence.text, doc=sentence.doc, title=info.title,
        paragraph=sentence.paragraph, sentence=sentence.sentence,
        start=sentence.start, end=sentence.end, score=round(float(score), 4),
        highlights=highlights,
        section=index.section(sid), url=info.url,
    )


def highlights(index: SentenceIndex, sid: int, matched: Mapping[int, int],
               tokens: Sequence[Token] | None = None) -> tuple[tuple[int, int], ...]:
    """The offsets in sentence ``sid`` of its tokens that ``matched`` maps to the question's
    words, in order; from ``tokens`` (the sentence's) when they have been made already."""
    if tokens is None:
        return index.token_spans(sid, sorted(matched))
    return tuple((tokens[i].start, tokens[i].end) for i in sorted(matched) if i < len(tokens))


def make_short_answer(index: SentenceIndex, sid: int, span: tuple[int, int]) -> ShortAnswer:
    """The short answer at ``span`` (offsets in sentence ``sid``), with document offsets."""
    sentence = index.sentence(sid)
    a, b = span
    return ShortAnswer(text=sentence.text[a:b], start=sentence.start + a,
                       end=sentence.start + b)
