"""The decision to answer or to say "the article doesn't say", and why.

A pure function of the query plan, the best candidate's evidence and the thresholds:
answer only on evidence, never on a raw score. Each rule that declines has a name
(``Verdict.rule``) and a reason a reader understands.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from quotebot.plan import QueryPlan
from quotebot.question import Kind
from quotebot.tuning import Decision


@dataclass(frozen=True, slots=True)
class Evidence:
    """What the decision knows about the best candidate."""

    #: Share of the question's idf mass its sentence (with its paragraph) covers.
    coverage: float
    #: Per concept of the plan: how strongly it was found (0: not at all).
    evidence: Sequence[float]
    #: The closest cosine of the question to its sentence, window or paragraph (None
    #: without vectors).
    similarity: float | None = None


@dataclass(frozen=True, slots=True)
class Verdict:
    answered: bool
    reason: str
    #: Which rule decided: "answered", "no_match", "unknown_words", "unknown_name",
    #: "low_coverage", "other_topic", "one_word", "missing_head".
    rule: str


def decide(plan: QueryPlan, best: Evidence | None, thresholds: Decision) -> Verdict:
    """Answer when the best passage covers enough of the question's evidence (less when it
    is close in meaning, more when it is far), every name of the question occurs in the
    corpus, and "who is the X?" finds X."""
    concepts = plan.concepts
    if best is None:
        return Verdict(False, "No sentence shares a word with the question.", "no_match")
    if not any(c.known for c in concepts):
        return Verdict(False, "None of the question's words occur in the corpus.",
                       "unknown_words")
    unknown_names = [c.surface for c in concepts if c.proper and not c.known]
    if unknown_names:
        return Verdict(False, f"The corpus never mentions {', '.join(unknown_names[:3])}.",
                       "unknown_name")
    similarity = best.similarity
    close = similarity is not None and similarity >= thresholds.close_similarity
    needed = thresholds.min_coverage_close if close else thresholds.min_coverage
    if best.coverage < needed:
        missing = [c.surface or c.label for c, ev in zip(concepts, best.evidence, strict=True)
                   if not ev]
        return Verdict(False, (f"The best passage covers only {best.coverage:.0%} of the "
                               f"question; nothing near it mentions "
                               f"{', '.join(missing[:4]) or 'its key words'}."),
                       "low_coverage")
    if similarity is not None and similarity < thresholds.min_similarity and (
            best.coverage < thresholds.words_alone_coverage):
        return Verdict(False, (f"The closest passage shares some words but is about "
                               f"something else (similarity {similarity:.2f})."),
                       "other_topic")
    matched = sum(1 for ev in best.evidence if ev > 0)
    unknown = [c for c in concepts if not c.known and c.weight == 1.0]
    if matched == 1 and unknown:
        return Verdict(False, (f"Only one word of the question occurs near the best passage; "
                               f"nothing mentions {unknown[0].surface or unknown[0].label}."),
                       "one_word")
    question = plan.question
    if question.kind is Kind.WHO and question.head and not close:
        for concept, evidence in zip(concepts, best.evidence, strict=True):
            if concept.label == question.head and evidence == 0.0:
                return Verdict(False, (f"Nothing here mentions the "
                                       f"{concept.surface or concept.label}."), "missing_head")
    return Verdict(True, f"Covers {best.coverage:.0%} of the question.", "answered")
