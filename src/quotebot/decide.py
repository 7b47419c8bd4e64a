"""The decision to answer or to say "the article doesn't say", and why.

A pure function of the query plan, the best candidate's evidence and the thresholds:
answer only on evidence, never on a raw score. Each rule that declines has a name
(``Verdict.rule``) and a reason a reader understands.

Besides how much of the question the best passage covers, a careful reader checks the
question's key constraints against it: a question negated where the passage is not
("which channel was *never* dropped?"), a word the passage has the opposite of
("unavailable" / "available"), a number or year the passage gives differently (1995 /
1998), a comparison it makes the other way ("smallest" / "largest"), the kind of answer
asked for missing from it (a "how many" with no number), and the question's focus missing
while only its framing words match. :func:`quotebot.features.gather_evidence` finds these;
the thresholds are fitted by ``benchmarks/fit_weights.py``.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from quotebot.plan import QueryPlan
from quotebot.question import Kind
from quotebot.tuning import Decision

#: Every rule's name, in the order the rules are tried ("answered" last).
RULES = ("no_match", "unknown_words", "unknown_name", "low_coverage", "other_topic",
         "one_word", "missing_head", "negation", "opposite", "other_number", "other_degree",
         "missing_type", "missing_focus", "answered")


@dataclass(frozen=True, slots=True)
class Clash:
    """A constraint of the question that the passage contradicts or lacks."""

    #: "negation", "opposite", "number" or "degree".
    kind: str
    #: The question's word(s) as written ("never", "1995", "smallest").
    asked: str
    #: What the passage has in its place ("1998", "largest"), when it has something.
    found: str | None
    #: A few words of the passage around ``found`` (or around its words that match the
    #: question), verbatim, for the reason.
    context: str


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
    #: Whether the passage holds the kind of answer asked for (a number for "how many", a
    #: time for "when", a name for "who"); None when the question asks for no such type.
    has_answer: bool | None = None
    #: The question's constraints the passage contradicts.
    clashes: tuple[Clash, ...] = ()
    #: The concept the question is most about (its rarest full word), when the passage
    #: has no trace of it (neither in the sentence nor near it); else None.
    missing_focus: int | None = None
    #: A name the passage gives where the question names one the corpus lacks, with a few
    #: words around it (for "the article mentions … New York, not Chicago").
    other_name: str | None = None
    #: Concepts that are names the corpus lacks only by their spelling ("Primer League").
    misspelt: frozenset[int] = frozenset()


@dataclass(frozen=True, slots=True)
class Verdict:
    answered: bool
    reason: str
    #: Which rule decided (see :data:`RULES`).
    rule: str
    #: For a contradiction: the question's word (as written) that the passage contradicts.
    asked: str | None = None


def decide(plan: QueryPlan, best: Evidence | None, thresholds: Decision) -> Verdict:
    """Answer when the best passage covers enough of the question's evidence (less when it
    is close in meaning, more when it is far), every name of the question occurs in the
    corpus, "who is the X?" finds X, and no key constraint of the question is contradicted
    by the passage or missing from it."""
    concepts = plan.concepts
    if best is None:
        return Verdict(False, "No sentence shares a word with the question.", "no_match")
    if not any(c.known for c in concepts):
        return Verdict(False, "None of the question's words occur in the corpus.",
                       "unknown_words")
    unknown_names = [c.surface for n, c in enumerate(concepts)
                     if c.proper and not c.known and n not in best.misspelt]
    if unknown_names:
        listed = ", ".join(unknown_names[:3])
        if best.other_name is not None:
            return Verdict(False, (f"The article mentions “{best.other_name}”, not "
                                   f"{listed}; it never mentions {listed}."), "unknown_name")
        return Verdict(False, f"The corpus never mentions {listed}.", "unknown_name")
    similarity = best.similarity
    close = similarity is not None and similarity >= thresholds.close_similarity
    needed = (thresholds.min_coverage_close if close else thresholds.min_coverage
              if similarity is not None else thresholds.min_coverage_words)
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
    clash = _first_clash(best.clashes, plan)
    if clash is not None:
        return clash
    if best.has_answer is False and best.coverage < thresholds.min_coverage_untyped:
        wanted = _ANSWER_TYPES.get(question.kind, "the answer asked for")
        return Verdict(False, (f"The closest passage has no {wanted} in it, and it covers "
                               f"only {best.coverage:.0%} of the question."), "missing_type")
    if best.missing_focus is not None and best.coverage < thresholds.min_coverage_unfocused:
        focus = concepts[best.missing_focus]
        return Verdict(False, (f"The closest passage matches the question's other words but "
                               f"says nothing about {focus.surface or focus.label}."),
                       "missing_focus")
    return Verdict(True, f"Covers {best.coverage:.0%} of the question.", "answered")


_ANSWER_TYPES = {Kind.HOW_MANY: "number", Kind.WHEN: "time or date", Kind.WHO: "name",
                 Kind.WHERE: "place"}


def _first_clash(clashes: Sequence[Clash], plan: QueryPlan) -> Verdict | None:
    """The verdict of the first contradiction, in the order of :data:`RULES`. Where the
    corpus has the question's word elsewhere, the reason speaks of this passage only: the
    article is never said to lack what it has."""
    by_kind = {c.kind: c for c in reversed(clashes)}
    if (c := by_kind.get("negation")) is not None:
        return Verdict(False, (f"The question says “{c.asked}”, but the closest passage "
                               f"has no negation: “{c.context}”."), "negation", c.asked)
    for kind, rule in (("opposite", "opposite"), ("number", "other_number"),
                       ("degree", "other_degree")):
        c = by_kind.get(kind)
        if c is None:
            continue
        says = "mentions" if kind == "number" else "says"
        found, asked = (c.found, c.asked) if kind == "number" else (f"“{c.found}”",
                                                                     f"“{c.asked}”")
        if _in_corpus(plan, c.asked):
            return Verdict(False, (f"The closest passage {says} {found}, not {asked}: "
                                   f"“{c.context}”; the passages that mention {asked} do "
                                   f"not answer the question."), rule, c.asked)
        here = " here" if kind == "number" else ""
        return Verdict(False, f"The article {says} {found}{here}, not {asked}: “{c.context}”.",
                       rule, c.asked)
    return None


def _in_corpus(plan: QueryPlan, asked: str) -> bool:
    """Whether the question's word ``asked`` (as written) occurs in the corpus."""
    return any(c.known and c.corrected_from is None and c.surface == asked
               for c in plan.concepts)


#: The rules that decline because the passage contradicts a word of the question that
#: another passage may say as the question does (a year, a word or its opposite, a
#: comparison). A negation is not among them: "not" is in passages about anything.
CONTRADICTIONS = frozenset({"opposite", "other_number", "other_degree"})
