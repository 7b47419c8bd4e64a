"""Yes or no: the short answer to "Is it …?", "Did she …?", only when the quote states it.

The first quote decides when it holds enough of the question's words itself (the share
of them, ``[conversation] yes_no_coverage``, is fitted leave-one-conversation-out on
conversations): "No" when it negates what it says ("The lighthouse is not open to
visitors."), "Yes" when it states it plainly. Otherwise there is no short answer and the
quote speaks for itself: a question that is itself negated ("Isn't it …?"), asks for a
choice ("… red or blue?") or names a number the quote does not give, is never answered
yes or no.
"""

from __future__ import annotations

from dataclasses import dataclass

from quotebot import analysis
from quotebot.lexicon import is_negation
from quotebot.models import Quote, ShortAnswer
from quotebot.question import Kind, Question, as_question


@dataclass(frozen=True, slots=True)
class YesNo:
    """What a quote says to a yes/no question: ``says`` "Yes" or "No" (None: it does not
    state it), the share of the question's words it holds, and where it says so."""

    says: str | None
    coverage: float
    start: int = 0
    end: int = 0


def read_yes_no(question: str | Question, quote: Quote) -> YesNo | None:
    """How ``quote`` answers ``question`` (None when the question is no plain yes/no
    question)."""
    parsed = as_question(question)
    if parsed.kind is not Kind.YES_NO:
        return None
    tokens = parsed.tokens
    norms = {t.norm for t in tokens}
    if "or" in norms or any(is_negation(t) for t in tokens):
        return None
    words = [t for t in parsed.content if not t.surface[:1].isdigit()]
    numbers = {t.norm for t in parsed.content if t.surface[:1].isdigit()}
    sentence = analysis.tokenize(quote.text)
    if numbers - {t.norm for t in sentence}:
        return YesNo(None, 0.0)
    if not words:
        return YesNo(None, 0.0)
    terms = {term for t in sentence for term in t.terms}
    found = [t for t in words if terms.intersection(t.terms)]
    coverage = len(found) / len(words)
    negations = [t for t in sentence if is_negation(t)]
    if negations:
        first = negations[0]
        return YesNo("No", coverage, quote.start + first.start, quote.start + first.end)
    return YesNo("Yes", coverage, quote.start, quote.end)


def yes_no_answer(question: str | Question, quote: Quote, min_coverage: float
                  ) -> ShortAnswer | None:
    """"Yes" or "No" as a short answer (its offsets: the negation that says no, or the
    quote that says yes), when ``quote`` states it."""
    read = read_yes_no(question, quote)
    if read is None or read.says is None or read.coverage < min_coverage:
        return None
    return ShortAnswer(read.says, read.start, read.end, verbatim=False)
