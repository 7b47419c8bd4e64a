"""Every tuned number in one place: ``data/weights.toml``, read into typed records.

Each number in the file carries its source (hand-set, or fitted by
``benchmarks/fit_weights.py`` on which data and folds). Stages receive the record they
need from the engine; ``Tuning.with_values`` gives a changed copy, which is how the fit
script tries weights without touching the file.
"""

from __future__ import annotations

import tomllib
from dataclasses import dataclass, fields, replace
from functools import cache
from pathlib import Path
from typing import Any, Self

WEIGHTS_FILE = "weights.toml"


class _Section:
    @classmethod
    def from_table(cls, name: str, table: dict[str, Any]) -> Self:
        names = {f.name for f in fields(cls)}  # type: ignore[arg-type]
        unknown = set(table) - names
        missing = names - set(table)
        if unknown or missing:
            raise ValueError(f"{WEIGHTS_FILE} [{name}]: unknown {sorted(unknown)}, "
                             f"missing {sorted(missing)}")
        values = {}
        for key, entry in table.items():
            if not isinstance(entry, dict) or "value" not in entry or "source" not in entry:
                raise ValueError(f"{WEIGHTS_FILE} [{name}] {key}: needs a value and a source")
            values[key] = entry["value"]
        return cls(**values)


@dataclass(frozen=True, slots=True)
class Retrieval(_Section):
    #: How many of BM25's best sentences are reranked, with sentence vectors …
    candidates: int
    #: … and by words alone (no vectors: reranking cannot lift a sentence far from
    #: where BM25 put it, so fewer suffice).
    words_candidates: int
    expansion_weight: float
    weak_weight: float
    paragraph_weight: float
    k1: float
    b: float

    def by_words(self) -> Retrieval:
        """These numbers as an engine without sentence vectors retrieves."""
        return replace(self, candidates=self.words_candidates)


@dataclass(frozen=True, slots=True)
class Lexical(_Section):
    context_weight: float
    context_score: float
    context_span: int
    proximity_weight: float
    type_weight: float
    literal_for_what: float


@dataclass(frozen=True, slots=True)
class Semantic(_Section):
    lexical: float
    number_type: float
    name_type: float
    sentence: float
    window: float
    paragraph: float


@dataclass(frozen=True, slots=True)
class Decision(_Section):
    min_coverage: float
    min_coverage_words: float
    close_similarity: float
    min_coverage_close: float
    min_similarity: float
    words_alone_coverage: float
    min_coverage_untyped: float
    min_coverage_unfocused: float
    recheck: int


@dataclass(frozen=True, slots=True)
class Correction(_Section):
    min_length: int
    one_edit_length: int
    two_edit_length: int
    max_words: int
    max_length: int


@dataclass(frozen=True, slots=True)
class Extraction(_Section):
    time_distance: int
    place_distance: int
    name_distance: int
    max_tokens: int


@dataclass(frozen=True, slots=True)
class Conversation(_Section):
    """How a conversation informs the next turn's ranking (see quotebot.context)."""

    context_weight: float
    prior_weight: float
    window: int
    #: Log-share of next answers at each offset from the last, -window … +window.
    prior: tuple[float, ...]
    #: Added to a sentence of the last answer's document beyond the window, and to one of
    #: another document.
    far_weight: float
    other_doc_weight: float
    #: Times the BM25 of a sentence's paragraph for the earlier questions' words.
    asked_weight: float
    #: Times the share of the conversation's answers before the last one in a sentence's
    #: document, the answer i turns before the last weighing ``home_decay`` ** i.
    home_weight: float
    home_decay: float
    #: Times the score of the question as the person wrote it, where the conversation
    #: rewrote it (the question's own score weighs 1).
    said_weight: float
    #: Times a sentence's cosine to the question as the person wrote it, and to the
    #: conversation's questions with it, less the best candidate's (0 without vectors).
    meaning_weight: float
    talk_meaning_weight: float
    #: A follow-up's candidates include the sentences at most this far from the
    #: conversation's latest answer in each document it has answered from (0: none).
    home_reach: int
    #: The share of a yes/no question's words its quote must hold to say "Yes"/"No".
    yes_no_coverage: float
    #: "more" quotes a passage only if the question's own score for it is at least this
    #: share of its best passage's.
    more_floor: float

    def __post_init__(self) -> None:
        object.__setattr__(self, "prior", tuple(float(p) for p in self.prior))
        if len(self.prior) != 2 * self.window + 1:
            raise ValueError(f"{WEIGHTS_FILE} [conversation]: prior needs 2 × window + 1 "
                             f"values")


@dataclass(frozen=True, slots=True)
class Answer(_Section):
    """The short-answer gate (see quotebot.confidence): a weight per feature, the
    probability a short answer must reach to be shown, and the precision it was fitted
    for."""

    weights: dict[str, float]
    threshold: float
    precision: float
    #: The same for an engine that answers by words alone (no sentence vectors): its
    #: short answers' probabilities run differently, so its threshold is its own.
    words_threshold: float
    words_precision: float
    #: The probability at which a short answer too unsure to show still tells a
    #: conversation who or what was meant (:attr:`quotebot.models.Answer.withheld`).
    lead: float


_SECTIONS: dict[str, type[_Section]] = {
    "retrieval": Retrieval, "lexical": Lexical, "semantic": Semantic, "decision": Decision,
    "correction": Correction, "extraction": Extraction, "answer": Answer,
    "conversation": Conversation,
}


@dataclass(frozen=True, slots=True)
class Tuning:
    """All tuned numbers, by stage."""

    retrieval: Retrieval
    lexical: Lexical
    semantic: Semantic
    decision: Decision
    correction: Correction
    extraction: Extraction
    answer: Answer
    conversation: Conversation
    #: The [fit] table: command, data, folds, date and held-out figures of the last fit.
    fit: dict[str, Any]

    def with_values(self, values: dict[str, float]) -> Tuning:
        """A copy with ``{"section.name": value}`` changed (for fitting and tests)."""
        sections: dict[str, Any] = {}
        for dotted, value in values.items():
            section, _, name = dotted.partition(".")
            current = sections.get(section, getattr(self, section))
            sections[section] = replace(current, **{name: value})
        return replace(self, **sections)


def parse(text: str) -> Tuning:
    data = tomllib.loads(text)
    sections = {name: cls.from_table(name, data.get(name, {})) for name, cls in
                _SECTIONS.items()}
    return Tuning(**sections, fit=dict(data.get("fit", {})))  # type: ignore[arg-type]


@cache
def default_tuning() -> Tuning:
    """The numbers shipped in ``quotebot/data/weights.toml``."""
    return load_tuning(Path(__file__).parent / "data" / WEIGHTS_FILE)


def load_tuning(path: Path) -> Tuning:
    return parse(path.read_text(encoding="utf-8"))
