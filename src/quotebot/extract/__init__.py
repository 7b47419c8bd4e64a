"""Short answers: the number, name, time, place, phrase or clause a question asks for,
verbatim from a sentence.

Rules over tokens, capitalisation, number and date patterns and word classes
(:mod:`quotebot.extract.grammar`; NLTK's taggers need downloaded models, which quotebot does
without). A short answer is a whole unit: an amount with its currency, scale and unit
("£48m", "900 million kronor"), a whole date or time ("Monday at 6pm"), a name without its
title ("Tomás Álvarez"), a whole noun phrase or list. Each rule returns a span of the
sentence or None: a wrong short answer is worse than none.

:func:`extract` reads what the question asks for (:mod:`~quotebot.extract.shape`) and hands
the sentence to the rules for that kind of answer:

- :mod:`~quotebot.extract.numbers`: how many, how much, how long — amounts and units;
- :mod:`~quotebot.extract.times`: when — dates and times;
- :mod:`~quotebot.extract.people`: who, which [noun] — names (found by
  :mod:`~quotebot.extract.naming`);
- :mod:`~quotebot.extract.places`: where;
- :mod:`~quotebot.extract.phrases`: what, which — noun phrases;
- :mod:`~quotebot.extract.clauses`: why — clauses.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import replace

from quotebot.analysis import Token
from quotebot.extract.clauses import reason_answer
from quotebot.extract.grammar import word_classes
from quotebot.extract.naming import name_spans
from quotebot.extract.numbers import measure_asked, number_answer, number_tokens, whole_number
from quotebot.extract.people import who_answer
from quotebot.extract.phrases import (
    colour_answer,
    headed_phrase,
    phrase_answer,
    role_answer,
)
from quotebot.extract.places import where_answer
from quotebot.extract.shape import (
    Shape,
    asked,
    asks_for_a_name,
    asks_for_a_number,
    question_shape,
)
from quotebot.extract.spans import Span
from quotebot.extract.times import TIME_RE, time_answer
from quotebot.lexicon import ROLE_NOUNS, SPEECH_VERBS
from quotebot.names import KnownName
from quotebot.question import Kind, Question
from quotebot.tuning import Extraction, default_tuning

__all__ = [
    "TIME_RE",
    "Shape",
    "Span",
    "asked",
    "extract",
    "extract_by_rule",
    "measure_asked",
    "name_spans",
    "needs",
    "number_tokens",
    "question_shape",
    "whole_number",
]


def extract(
    question: Question, text: str, tokens: Sequence[Token], matched: Mapping[int, int],
    is_name: KnownName | None = None, *, fill_gaps: bool = True,
    limits: Extraction | None = None,
) -> Span | None:
    """The short answer's character span in ``text`` (a sentence), or None when unsure
    (see :func:`extract_by_rule`)."""
    found = extract_by_rule(question, text, tokens, matched, is_name, fill_gaps=fill_gaps,
                            limits=limits)
    return found[0] if found is not None else None


def extract_by_rule(
    question: Question, text: str, tokens: Sequence[Token], matched: Mapping[int, int],
    is_name: KnownName | None = None, *, fill_gaps: bool = True,
    limits: Extraction | None = None,
) -> tuple[Span, str] | None:
    """The short answer's character span in ``text`` (a sentence) and the name of the rule
    that found it (see :data:`RULE_NAMES`), or None when unsure.

    ``matched`` maps indices of sentence tokens that match the question's words to the
    position of that word among the question's concepts (0 = first). ``is_name`` tells
    whether a capitalised word at the start of the sentence is a name. ``fill_gaps``
    allows a "who" question without a noun to be answered by a subject without a name.
    """
    limits = limits or default_tuning().extraction
    if len(tokens) > limits.max_tokens:
        return None  # the rules' work grows with the sentence; its quote is the answer
    question = asked(question)
    kind = question.kind
    if kind is Kind.HOW_MANY or (kind is Kind.HOW and measure_asked(question) is not None):
        return _by("number", number_answer(text, tokens, matched, question))
    if kind is Kind.WHEN:
        return _by("time", time_answer(text, tokens, matched, question, limits))
    if kind is Kind.WHO:
        named = who_answer(text, tokens, matched, question, limits, is_name)
        if named is not None or question.wh_noun is not None:
            return _by("person", named)
        # "Who assists the elders?" → "[Deacons] assist elders …": a subject without a name
        # that opens a sentence holding the question's words.
        shape = question_shape(question)
        if shape.form != "subject" or not fill_gaps:
            return None
        subject = phrase_answer(text, tokens, matched, question, shape)
        return _by("subject", subject if subject is not None and subject[0] == tokens[0].start
                   else None)
    if kind is Kind.WHERE:
        return _by("place", where_answer(text, tokens, matched, question, limits, is_name))
    if kind is Kind.WHY:
        return _by("reason", reason_answer(text, tokens, matched))
    if kind is Kind.WHAT:
        if question.wh_noun in ("color", "colour"):
            return _by("colour", colour_answer(tokens, question))
        shape = question_shape(question)
        if shape.verb is not None and shape.verb.norm in SPEECH_VERBS and shape.head is None:
            return None  # "what did the union say?": the quote is the answer
        if asks_for_a_number(question, shape):
            return _by("number", number_answer(text, tokens, matched, question))
        # A name tied to the question's noun ("which [group]" → "the London Councils
        # group"), the phrase the noun heads ("what kind of [measurements]"), any name near
        # the question's words, then the noun phrase the question's shape asks for.
        as_name = replace(question, wh_noun=shape.head)
        keep = frozenset(question.tokens[i].norm for i in shape.phrase)
        wants_name = asks_for_a_name(question, shape)
        if wants_name:
            named = who_answer(text, tokens, matched, as_name, limits, is_name, keep,
                               linked_only=True)
            if named is not None:
                return named, "linked_name"
        if shape.head in ROLE_NOUNS and matched:
            role = role_answer(text, tokens, matched)
            if role is not None:
                return role, "role"
        if shape.head is not None and matched:
            headed = headed_phrase(text, tokens, word_classes(tokens), question, shape.head)
            if headed is not None:
                return headed, "headed_phrase"
        if wants_name:
            named = who_answer(text, tokens, matched, as_name, limits, is_name, keep)
            if named is not None:
                return named, "name"
        phrase = phrase_answer(text, tokens, matched, question, shape)
        return (phrase, "phrase") if phrase is not None else None
    return None


#: The rules :func:`extract_by_rule` names, in the order it may try them.
RULE_NAMES = ("number", "time", "person", "subject", "place", "reason", "colour",
              "linked_name", "role", "headed_phrase", "name", "phrase")


def _by(rule: str, span: Span | None) -> tuple[Span, str] | None:
    return (span, rule) if span is not None else None


def needs(question: Question) -> int:
    """What a sentence must hold for :func:`extract` to find an answer in it, as form
    flags (see quotebot.store.model): a number for "how many" and measures, a time
    expression for "when"; 0 when the rules can find an answer in any sentence."""
    from quotebot.store.model import NUMBER, TIME

    question = asked(question)
    kind = question.kind
    if kind is Kind.HOW_MANY or (kind is Kind.HOW and measure_asked(question) is not None):
        return NUMBER
    if kind is Kind.WHEN:
        return TIME
    return 0
