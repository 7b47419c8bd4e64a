"""Conversations: "more" continues the last answer, pronouns refer to its main entity.

The state is a small JSON-serialisable record, so a front end can keep it in
memory or in Redis; :func:`follow_up` is a pure function of (engine, state, text).
"""

from __future__ import annotations

import re
from dataclasses import asdict, dataclass, replace
from typing import Any

from quotebot import analysis
from quotebot.engine import QuoteEngine
from quotebot.extract import name_spans
from quotebot.models import Answer
from quotebot.question import Kind, parse_question, validate_question

_MORE_RE = re.compile(
    r"^(?:/?more|next|continue|go on|keep going|tell me more|show more|more please|"
    r"next please|any ?more|anything else|what else)[\s.!?]*$",
    re.IGNORECASE,
)
_WHAT_ABOUT = re.compile(r"^(?:what|how)\s+about\s+(?P<x>.+?)[\s?.!]*$|^and\s+(?P<y>.+?)\?\s*$",
                         re.IGNORECASE)
_PERSON_PRONOUNS = r"he|she|him|her|his|hers|they|them|their|theirs|it|its"
_PRONOUN_RE = re.compile(rf"\b(?:{_PERSON_PRONOUNS})\b", re.IGNORECASE)
_THERE_RE = re.compile(r"\bthere\b", re.IGNORECASE)


@dataclass(frozen=True, slots=True)
class SessionState:
    """What a conversation remembers between turns."""

    #: The last question, as resolved, that "more" continues.
    question: str | None = None
    #: The name pronouns stand for (the main entity of the last answer).
    entity: str | None = None
    #: The entity that was used to answer ``question`` (kept for "more").
    question_entity: str | None = None
    #: The place "there" stands for.
    place: str | None = None
    #: Quotes of ``question`` shown so far.
    shown: int = 0

    def to_json(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_json(cls, data: object) -> SessionState:
        """A state from its JSON form; anything malformed gives a fresh state."""
        if not isinstance(data, dict):
            return cls()
        fields: dict[str, Any] = {}
        for name in ("question", "entity", "question_entity", "place"):
            value = data.get(name)
            fields[name] = value if isinstance(value, str) else None
        shown = data.get("shown")
        fields["shown"] = shown if isinstance(shown, int) and shown >= 0 else 0
        return cls(**fields)


def is_more(text: str) -> bool:
    """True for "more", "next", "/more" and the like."""
    return bool(_MORE_RE.match(text.strip()))


def follow_up(engine: QuoteEngine, state: SessionState, text: str, k: int = 3
              ) -> tuple[Answer, SessionState]:
    """Answer ``text`` in the context of ``state``; returns the answer and the new state."""
    text = validate_question(text)
    if is_more(text):
        if state.question is None:
            return Answer(question=text, answered=False,
                          reason="Ask a question first; \"more\" continues the last answer."), state
        answer = engine.answer_question(state.question, k, offset=state.shown,
                                        entity=state.question_entity)
        answer = replace(answer, question=text, resolved_question=state.question, continued=True)
        return answer, replace(state, shown=state.shown + len(answer.quotes))

    resolved, entity = resolve(text, state)
    answer = engine.answer_question(resolved, k, entity=entity)
    if resolved != text:
        answer = replace(answer, question=text, resolved_question=resolved)
    new_entity, new_place = main_entities(answer, resolved)
    if entity is not None and not (answer.short and parse_question(resolved).kind is Kind.WHO):
        new_entity = entity  # still talking about the same person
    new_state = SessionState(
        question=resolved,
        entity=new_entity or state.entity,
        question_entity=entity,
        place=new_place or state.place,
        shown=len(answer.quotes),
    )
    return answer, new_state


def answer_once(engine: QuoteEngine, text: str, k: int = 3) -> Answer:
    """The answer :func:`follow_up` gives on a fresh conversation, without keeping state."""
    text = validate_question(text)
    if is_more(text):
        return follow_up(engine, SessionState(), text, k)[0]
    return engine.answer_question(text, k)


def resolve(text: str, state: SessionState) -> tuple[str, str | None]:
    """(question with pronouns and "what about X" resolved, entity searched as one concept)."""
    match = _WHAT_ABOUT.match(text)
    if match and state.question:
        subject = match.group("x") or match.group("y")
        return _swap_subject(state.question, subject), None
    if state.entity and _PRONOUN_RE.search(text):
        name = state.entity
        resolved = _PRONOUN_RE.sub(lambda m: _possessive(m.group(), name), text, count=1)
        return resolved, name
    if state.place and _THERE_RE.search(text):
        return _THERE_RE.sub(f"in {state.place}", text, count=1), state.place
    return text, None


def _possessive(pronoun: str, name: str) -> str:
    return f"{name}'s" if pronoun.lower() in ("his", "hers", "their", "theirs", "its") else name


def _swap_subject(question: str, subject: str) -> str:
    """"how many stabbings?" + "shootings" → "how many shootings?"."""
    tokens = analysis.tokenize(question)
    names = [s for s in name_spans(question, tokens) if s[0] > 0 or s[1] > 0]
    if names:
        first, last = max(names, key=lambda s: tokens[s[1]].end - tokens[s[0]].start)
        start, end = tokens[first].start, tokens[last].end
    else:
        content = parse_question(question).content
        if not content:
            return f"{question} {subject}"
        start, end = content[-1].start, content[-1].end
    return question[:start] + subject + question[end:]


def main_entities(answer: Answer, question: str) -> tuple[str | None, str | None]:
    """(main entity, place) of an answer, for later pronouns."""
    if not answer.answered or not answer.quotes:
        return None, None
    kind = parse_question(question).kind
    if answer.short is not None and (
        kind is Kind.WHO or (kind is Kind.WHAT and answer.short.text[:1].isupper())
    ):
        return answer.short.text, None
    if answer.short is not None and kind is Kind.WHERE:
        return None, answer.short.text
    text = answer.quotes[0].text
    tokens = analysis.tokenize(text)
    question_norms = {t.norm for t in analysis.tokenize(question)}
    for first, last in name_spans(text, tokens):
        words = tokens[first:last + 1]
        if len(words) >= 2 and not all(t.norm in question_norms for t in words):
            return text[words[0].start:words[-1].end], None
    return None, None


class Session:
    """A conversation with an engine: ``ask`` remembers the last answer for follow-ups."""

    def __init__(self, engine: QuoteEngine, state: SessionState | None = None) -> None:
        self.engine = engine
        self.state = state or SessionState()

    def ask(self, text: str, k: int = 3) -> Answer:
        answer, self.state = follow_up(self.engine, self.state, text, k)
        return answer
