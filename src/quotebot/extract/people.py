"""Short answers to "who" and "which [noun]": the name the question asks for (the doer, the
one acted on, the one a copula names, the one tied to the question's noun), or a list of
names."""

from __future__ import annotations

import itertools
import re
from collections.abc import Mapping, Sequence

from quotebot.analysis import Token
from quotebot.extract.grammar import AUX, DET, FUNC, NOUN, PRON, VERB, word_classes
from quotebot.extract.naming import new_names
from quotebot.extract.shape import question_shape
from quotebot.extract.spans import (
    CLAUSE_END,
    COPULAS,
    Span,
    adjacent,
    distance,
    is_cap,
    same_word,
    span_chars,
)
from quotebot.lexicon import NAME_CONNECTORS, NAMING_VERBS
from quotebot.names import KnownName
from quotebot.question import Question
from quotebot.tuning import Extraction


def who_answer(
    text: str, tokens: Sequence[Token], matched: Mapping[int, int], q: Question,
    limits: Extraction, is_name: KnownName | None = None, keep: frozenset[str] = frozenset(),
    *, linked_only: bool = False,
) -> Span | None:
    """The name a "who" question asks for; ``keep`` holds the words of the question phrase
    ("which [task force] …"), which may be part of the name; ``linked_only``: only a name
    tied to the question's noun ("the London Councils group")."""
    keep = keep | ({q.wh_noun} if q.wh_noun else set())
    names = new_names(text, tokens, q, matched, keep=frozenset(w.rstrip("s") for w in keep),
                      is_name=is_name)
    span = _one_name(text, tokens, matched, q, limits, names, linked_only)
    if span is None or not _asks_for_several(q):
        return span
    return _with_list(text, tokens, span, names)


def _asks_for_several(q: Question) -> bool:
    """"Which teams …?", "Who were the guests …?": the answer may be a list."""
    if q.wh_noun and q.wh_noun.endswith("s") and q.wh_noun not in ("was", "is", "does"):
        return True
    norms = [t.norm for t in q.tokens]
    return any(a in ("who", "what", "which") and b in ("were", "are")
               for a, b in itertools.pairwise(norms))


def _with_list(text: str, tokens: Sequence[Token], span: Span,
               names: Sequence[tuple[int, int]]) -> Span:
    """``span`` (a name) with the names listed after it: "A, B and C"."""
    by_first = {first: last for first, last in names}
    last = next((la for f, la in names if tokens[f].start == span[0]), None)
    if last is None:
        return span
    end = last
    while True:
        k = end + 1
        gap = text[tokens[end].end:tokens[k].start].strip() if k < len(tokens) else ""
        if k < len(tokens) and tokens[k].norm in ("and", "or") and gap in ("", ","):
            k += 1
        elif gap != ",":
            break
        if k not in by_first or text[tokens[k - 1].end:tokens[k].start].strip() not in ("",
                                                                                         ","):
            break
        end = by_first[k]
    # … and before it, when the name found is the end of the list ("Leeds, [York and Hull]").
    by_last = {la: f for f, la in names}
    first = next(f for f, la in names if tokens[f].start == span[0])
    while first - 1 in by_last and text[tokens[first - 1].end:tokens[first].start].strip(
            ) == "," and any(tokens[k].norm in ("and", "or") for k in range(first, end + 1)):
        first = by_last[first - 1]
    return tokens[first].start, tokens[end].end


def _one_name(
    text: str, tokens: Sequence[Token], matched: Mapping[int, int], q: Question,
    limits: Extraction, names: list[tuple[int, int]], linked_only: bool = False,
) -> Span | None:
    if q.wh_noun:
        # "Which group …?" → the name that contains, precedes or follows "group"
        # ("the London Councils group", "linebacker Luke Kuechly").
        for i, tok in enumerate(tokens):
            if tok.norm.rstrip("s") != q.wh_noun.rstrip("s"):
                continue
            for first, last in names:
                if first <= i <= last or last == i - 1:
                    return span_chars(tokens, (first, last))
                if first == i + 1:
                    return span_chars(tokens, (first, last))
    if linked_only:
        return None
    if not names:
        return None
    if not matched:
        return None
    # A possessive name ("London's deputy mayor") describes, it does not answer.
    names = [(f, la) for f, la in names if not tokens[la].norm.endswith("'s")] or names
    if q.copula:
        named = _copula_name(text, tokens, matched, names)
        if named is not None:
            return span_chars(tokens, named)
    # "… was recovered by Ward", "… headlined by the British rock group Coldplay" (the
    # last name after the "by" names the agent; earlier ones describe it).
    # "Who were the guests?" asks who they were, not who did something to them.
    agents = [(by, first, (first, last)) for first, last in names
              if not q.copula and (by := _agent_before(text, tokens, first)) is not None
              and any(0 < by - m <= 3 for m in matched)]
    if agents:
        by = min(agents)[0]
        return span_chars(tokens, max(a for a in agents if a[0] == by)[2])
    if _OBJECT_QUESTION.match(q.text):
        # "Who did the Panthers play …?" asks for the one acted on: the first new name
        # after the question's verb, or the last of the names that make up its object
        # ("beat the defending Super Bowl XLIX champion [New England Patriots]").
        asked_verb = question_shape(q).verb
        anchor = next((m for m in sorted(matched) if asked_verb is not None
                       and same_word(tokens[m], asked_verb)), None)
        if anchor is not None:
            objects = sorted(n for n in names if anchor < n[0] <= anchor + 8)
            if objects:
                tags = word_classes(tokens)
                chosen = objects[0]
                for later in objects[1:]:
                    between = range(chosen[1] + 1, later[0])
                    if all(tags[k] == NOUN for k in between) and all(
                            adjacent(text, tokens[k], tokens[k + 1])
                            for k in range(chosen[1], later[0])):
                        chosen = later
                return span_chars(tokens, chosen)
        after = [(first - max(m for m in matched if m < first), (first, last))
                 for first, last in names if any(m < first for m in matched)]
        if after and min(after)[0] <= 4:
            return span_chars(tokens, min(after)[1])
    # The first matched word that is not itself a name, usually the verb or the role (a
    # verb first: "In 1968, … Albert C. Outler [led] the team").
    plain = [m for m in matched if not is_cap(tokens[m])]
    tags = word_classes(tokens)
    verbs = [m for m in plain if tags[m] == VERB]
    verb = min(plain or matched)
    if not q.copula:
        # "Sadiq Khan announced …": a name right before the first matched word (or verb).
        for anchor in dict.fromkeys([*verbs[:1], verb]):
            for first, last in names:
                if 0 < anchor - last <= 2 and (anchor == verb or not CLAUSE_END.search(
                        text, tokens[last].end, tokens[anchor].start)):
                    return span_chars(tokens, (first, last))
        # "… the Wesleyan Holiness Consortium, which seeks …": the name a relative clause
        # with the question's verb describes.
        for first, last in names:
            k = last + 1
            if first > 0 and tokens[first - 1].is_stop and tokens[first - 1].norm not in (
                    "the", "a", "an"):
                continue  # "co-MVP [of] Super Bowl XII, who died": the clause is not its
            if (k < len(tokens) and tokens[k].norm in ("which", "who") and text[
                    tokens[last].end:tokens[k].start].strip() == ","
                    and any(0 < m - k <= 2 for m in matched)):
                return span_chars(tokens, (first, last))
    # "Rebecca Lawrence, chief executive of …" / "… for policing Sophie Linden met …".
    lo, hi = min(matched), max(matched)
    for first, last in names:
        if last < lo and lo - last <= 2 and text[tokens[last].end:tokens[lo].start].strip() == ",":
            return span_chars(tokens, (first, last))
        if first > hi and first - hi <= 1:
            return span_chars(tokens, (first, last))
    # "Senior Met police officers travelled …": a short subject before the verb, without
    # its auxiliaries ("… Stuart Greer was delighted"); a subject that ends in a name is
    # that name ("Ashford manager Stuart Greer").
    if 0 < verb <= 10 and not any(m < verb for m in matched):
        # The subject ends before its verb or the first function word ("[Peyton Manning]
        # became the first …", "[Senior Met police officers] travelled …").
        tags = word_classes(tokens[:verb])
        end = next((k - 1 for k in range(1, verb) if tags[k] in (VERB, AUX, FUNC, DET, PRON)
                    and tokens[k].norm not in NAME_CONNECTORS), verb - 1)
        stop = text[tokens[0].start:tokens[verb].start]
        inside = [(first, last) for first, last in names if last <= end]
        if "," not in stop and inside:
            if inside[-1][1] == end:
                return span_chars(tokens, inside[-1])
            return tokens[0].start, tokens[end].end
    nearest = min(names, key=lambda s: min(distance(s[0], matched), distance(s[1], matched)))
    if min(distance(nearest[0], matched), distance(nearest[1], matched)) <= (
            limits.name_distance):
        return span_chars(tokens, nearest)
    return None


_OBJECT_QUESTION = re.compile(r"\s*(?:who|whom|(?:what|which)(?:\s+[\w-]+){1,2})\s+(?:did|does|do|"
                              r"will|would|could|can|has|have|had)\b", re.I)


def _copula_name(text: str, tokens: Sequence[Token], matched: Mapping[int, int],
                 names: Sequence[tuple[int, int]]) -> tuple[int, int] | None:
    """"Who was the 2015 MVP?": the name on the other side of "is", "was", "became" or
    "was named" from the question's words ("[Cam Newton] was named the NFL MVP")."""
    for c, token in enumerate(tokens):
        if token.norm not in COPULAS and token.norm not in ("became", "becomes", "become"):
            continue
        after = c + 1
        if after < len(tokens) and tokens[after].norm in NAMING_VERBS:
            after += 1  # "was named", "was elected"
        ahead = [m for m in matched if after <= m <= after + 4]
        behind = [m for m in matched if c - 4 <= m < c]
        if ahead and not behind:
            for first, last in names:
                if last == c - 1 and adjacent(text, tokens[last], token):
                    return first, last
        if behind and not ahead:
            for first, last in names:
                start = after + (1 if after < len(tokens) and tokens[after].norm == "the" else 0)
                if first == start:
                    return first, last
    return None


def _agent_before(text: str, tokens: Sequence[Token], first: int) -> int | None:
    """Index of the "by" that introduces the name starting at ``first`` ("by Ward", "by the
    British rock group Coldplay"), if any, within one clause."""
    i = first - 1
    while i >= 0 and first - i <= 5:
        if CLAUSE_END.search(text, tokens[i].end, tokens[i + 1].start):
            return None
        if tokens[i].norm == "by":
            return i
        if tokens[i].is_stop and tokens[i].norm not in ("the", "a", "an"):
            return None  # "by the mayor of Hillford": the name only describes the doer
        i -= 1
    return None
