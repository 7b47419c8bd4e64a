"""What a question asks for, read before any sentence: the kind its question word asks when
that word comes late ("… in what year?"), and where a "what" question's gap is (its
:class:`Shape`)."""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, replace
from functools import lru_cache

from quotebot.analysis import Token
from quotebot.extract.grammar import (
    AUX,
    CONJ,
    DET,
    FUNC,
    NOUN,
    VERB,
    may_be_verb,
    noun_phrase_after,
    word_classes,
)
from quotebot.lexicon import (
    AUXILIARIES,
    KIND_NOUNS,
    NUMBER_NOUNS,
    PARTICIPLE_PREPOSITIONS,
    QUESTION_WORDS,
    STOP_WORDS,
)
from quotebot.names import can_be_name
from quotebot.question import Kind, Question, parse_question


def asked(question: Question) -> Question:
    """The question with the kind its question word asks for, where that word comes late
    ("The UMC was a founding member of what coalition?", "… in what year?")."""
    clause = _SECOND_QUESTION.search(question.text)
    if clause is not None:
        # "When John Fox left, who replaced him?": the question after the clause.
        tail = parse_question(question.text[clause.start(1):])
        return replace(question, kind=tail.kind, wh_noun=tail.wh_noun, copula=tail.copula,
                       head=tail.head)
    if question.kind not in (Kind.KEYWORDS, Kind.YES_NO):
        return question
    for token in question.tokens[1:]:
        if token.norm in QUESTION_WORDS:
            tail = parse_question(question.text[token.start:])
            if tail.kind in (Kind.KEYWORDS, Kind.YES_NO):
                return question
            return replace(question, kind=tail.kind, wh_noun=tail.wh_noun,
                           copula=tail.copula, head=tail.head)
    return question


# A question word opening a clause, then a comma and the question itself.
_SECOND_QUESTION = re.compile(r"^\s*(?:when|where|while|after|before|if|as)\b[^?,]*,\s*"
                              r"((?:who|whom|what|which|when|where|how)\b)", re.I)


@dataclass(frozen=True, slots=True)
class Shape:
    """Where a "what" question's gap is: ``head`` is the noun it asks about ("What
    [team] …", "What kind of [measurements] …"), ``form`` how the rest of the question
    uses it: "subject" ("What offers …?"), "object" ("What did X sing?"), "copula"
    ("What was the belief …?"); ``verb`` the question's verb and ``subject`` (for an
    object) who does it."""

    head: str | None
    #: The question's tokens that belong to the question phrase ("what kind of").
    phrase: frozenset[int]
    form: str | None
    verb: Token | None = None
    subject: tuple[Token, ...] = ()


@lru_cache(maxsize=256)
def question_shape(q: Question) -> Shape:
    """The :class:`Shape` of ``q`` (remembered: each candidate's extraction asks)."""
    tokens = q.tokens
    wh = next((i for i, t in enumerate(tokens) if t.norm in ("what", "which", "who", "whom")),
              None)
    if wh is None:
        return Shape(None, frozenset(), None)
    tags = word_classes(tokens)
    tags[wh] = FUNC
    k = wh + 1
    phrase = {wh}
    if k + 1 < len(tokens) and tokens[k].norm in KIND_NOUNS and tokens[k + 1].norm == "of":
        phrase.update((k, k + 1))
        k += 2
    head = None
    named = _NAME_OF_NOUN.match(q.text, tokens[wh].start)
    if named is not None:
        # "What is the name of Wesley's famous sermon …?": the noun asked about is "sermon".
        at = next((i for i, t in enumerate(tokens) if t.start >= named.end()), None)
        found = noun_phrase_after(q.text, tokens, tags, at) if at is not None else None
        if found is not None:
            last = next((i for i in range(found[0], found[1] + 1) if tokens[i].norm == "of"),
                        found[1] + 1) - 1
            return Shape(tokens[last].norm, frozenset({wh}), None)
    while k < len(tokens) and (tags[k] == NOUN or tokens[k].norm == "other" or (
            tags[k] == CONJ and k + 1 < len(tokens) and tags[k + 1] == NOUN)) and (
            tokens[k].norm not in AUXILIARIES):
        if _verb_after_what(tokens, tags, k):
            tags[k] = VERB  # "What [experiences] acceleration …?", "What [makes] friction …?"
            break
        if tags[k] == NOUN:
            head = k
        phrase.add(k)
        k += 1
    form = None
    verb: int | None = None
    subject: list[int] = []
    while k < len(tokens) and tags[k] == FUNC and tokens[k].norm.endswith("ly"):
        k += 1  # "What [directly] opposes …?"
    if k < len(tokens):
        nxt = tokens[k].norm
        after = tags[k + 1] if k + 1 < len(tokens) else None
        if nxt in ("is", "are", "was", "were", "'s"):
            form = "copula"
            if after == VERB:
                form, verb = "subject", k + 1  # "What was used to …?": the passive's subject
        elif tags[k] == VERB:
            form, verb = "subject", k
        elif tags[k] == AUX and after in (VERB, AUX):
            form, verb = "subject", k + 1  # "What can keep …?"
        elif tags[k] == AUX:
            # "What did Lady Gaga sing?", "What has the Met fallen behind …?": the verb ends
            # the words after the auxiliary, the subject comes before it.
            run = []
            j = k + 1
            while j < len(tokens) and (tags[j] in (NOUN, VERB, DET)
                                       or tokens[j].norm.endswith("ly")):
                if tags[j] in (NOUN, VERB) and not tokens[j].norm.endswith("ly"):
                    run.append(j)
                j += 1
            # The verb: the first word after the subject read as one ("John Wesley [call]
            # the experience"), else the last that may be one ("the Met [fallen] behind",
            # "strong force [act] upon").
            verbs = [n for n in range(1, len(run)) if may_be_verb(tokens[run[n]].norm)
                     and not can_be_name(tokens[run[n]].surface)]
            at = next((n for n in verbs if tags[run[n]] == VERB), verbs[-1] if verbs else None)
            if nxt in ("do", "does", "did") or at is not None:
                form = "object"
                if at is not None:
                    verb, subject = run[at], run[:at]
            else:
                form = "subject"  # "What has an equivalence …?": "has" is the verb
    if form == "copula" and tokens[-1].norm in ("called", "named", "known"):
        form, verb = "object", len(tokens) - 1  # "What are the particles called?"
    last = len(tokens) - 1
    if form == "copula" and wh < last - 2:
        # "What are the boxes able to connect to?", "What is the material broadcast using?":
        # the phrase after the question's last word.
        noun = tokens[head].norm if head is not None else None
        if tokens[last].is_stop and tags[last] == FUNC and not tokens[last - 1].is_stop:
            return Shape(noun, frozenset(phrase), "tail", tokens[last - 1])
        if tokens[last].norm in PARTICIPLE_PREPOSITIONS:
            return Shape(noun, frozenset(phrase), "tail", tokens[last])
    if wh == last or (wh == last - 1 and tokens[last].norm == "else"):
        # "The UMC maintains that war is incompatible with what?": the phrase after the
        # question's last word.
        before = [i for i in range(wh) if not tokens[i].is_stop]
        if before:
            form, verb = "tail", before[-1]
    return Shape(tokens[head].norm if head is not None else None, frozenset(phrase), form,
                 tokens[verb] if verb is not None else None,
                 tuple(tokens[i] for i in subject))


def _verb_after_what(tokens: Sequence[Token], tags: Sequence[str], k: int) -> bool:
    """Whether the word at ``k`` of a question is a verb in the present, with its object
    after it ("What [offers] a definition …?"), rather than the noun asked about ("What
    [forces] act …?")."""
    word = tokens[k].norm
    if not word.endswith("s") or not may_be_verb(word) or can_be_name(tokens[k].surface):
        return False
    if k + 1 >= len(tokens):
        return False
    after = tokens[k + 1]
    return tags[k + 1] == DET or (tags[k + 1] == NOUN and not may_be_verb(after.norm))


_NAME_OF_NOUN = re.compile(r"(?:what|which)\s+(?:is|was|were|are)\s+(?:the\s+)?(?:\w+\s+)?"
                           r"names?\s+of\s+", re.I)


def asks_for_a_number(q: Question, shape: Shape) -> bool:
    """"What was the average cost …?", "What is the population …?": a number."""
    if shape.head is not None:
        return shape.head in NUMBER_NOUNS
    return shape.form == "copula" and q.head in NUMBER_NOUNS


def asks_for_a_name(q: Question, shape: Shape | None = None) -> bool:
    """"What hotel …?", "Which building …?", "What is the name of …?": the answer is a name
    (a capitalised phrase), found as for "who" questions."""
    if _NAME_OF.search(q.text):
        return True
    if shape is not None:
        return shape.head is not None
    return q.wh_noun is not None and q.wh_noun not in AUXILIARIES and (
        q.wh_noun not in STOP_WORDS or q.wh_noun == "other")


_NAME_OF = re.compile(r"\b(?:what|which)\s+(?:is|was|were|are)\s+the\s+(?:\w+\s+)?name\b"
                      r"|\bcalled\?", re.I)
