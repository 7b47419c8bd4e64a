"""Features of BM25's candidates: the evidence reranking and the decision weigh.

For every candidate sentence and every concept of the plan: whether the sentence holds
the concept's own word (1), only a related word (the expansion weight) or neither (0);
whether the sentence's paragraph holds it nearby (context); how much of the question's
evidence (idf mass) that covers; how close together and in order the words are. All of
it comes from the token table saved with the index and the BM25 postings, computed for
all candidates at once with array operations: no corpus text is read or tokenised.
"""

from __future__ import annotations

import itertools
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from functools import lru_cache
from typing import TYPE_CHECKING

import numpy as np
import numpy.typing as npt

from quotebot import analysis
from quotebot.analysis import Token
from quotebot.correction import correct
from quotebot.decide import Clash, Evidence
from quotebot.lexicon import PRONOUNS, is_negation, word_set
from quotebot.names import can_be_name
from quotebot.plan import QueryPlan
from quotebot.question import Kind
from quotebot.retrieve import Candidates
from quotebot.store.model import IntArray, SentenceIndex
from quotebot.tuning import Correction, Lexical

if TYPE_CHECKING:
    from quotebot.bm25 import BM25Matrix

FloatArray = npt.NDArray[np.float64]

#: Kinds whose answer is a typed span (a number, a name, a time or a place).
TYPED_KINDS = frozenset({Kind.HOW_MANY, Kind.WHO, Kind.WHEN, Kind.WHERE})
NEGATIVE_WORDS = word_set("negative_words")
NEGATIVE_PREFIXES = word_set("negative_prefixes")
SUPERLATIVE_WORDS = word_set("superlative_words")
COMPARATIVE_WORDS = word_set("comparative_words")


@dataclass(slots=True)
class Features:
    """Per candidate (columns follow ``sids``); per concept and candidate where 2-D."""

    sids: IntArray
    #: BM25 of the sentence, plus its share of the paragraph's.
    bm25: FloatArray
    #: (concepts × candidates): 1 own word, the expansion weight for a related word, 0.
    strength: FloatArray
    #: The same, counting words found elsewhere in the paragraph for part.
    evidence: FloatArray
    #: Share of the question's idf mass the sentence (with its paragraph) covers.
    coverage: FloatArray
    #: Share of the question's idf mass the sentence's own words cover.
    literal: FloatArray
    #: idf mass of the words found only elsewhere in the paragraph.
    context: FloatArray
    #: Share of consecutive question words found close together and in order (0..1).
    proximity: FloatArray
    #: The candidates' tokens laid end to end: the concept each matched (−1: none), and
    #: where each candidate's tokens begin and end in that list.
    token_concept: IntArray
    bounds: IntArray
    #: Per candidate, the flags of its words together (see quotebot.store.model.NUMBER):
    #: which kinds of answer it can hold at all.
    holds: npt.NDArray[np.uint8]
    #: Cosines of the question with the sentence, its window and its paragraph (semantic).
    cosines: tuple[FloatArray, FloatArray, FloatArray] | None = None
    _best_cosine: FloatArray | None = field(default=None, repr=False)
    _matched: dict[int, dict[int, int]] = field(default_factory=dict, repr=False)

    def __len__(self) -> int:
        return int(self.sids.shape[0])

    def matched(self, i: int) -> dict[int, int]:
        """Candidate ``i``'s tokens that match the question: token position → concept."""
        found = self._matched.get(i)
        if found is None:
            lo, hi = int(self.bounds[i]), int(self.bounds[i + 1])
            found = {pos: concept for pos, concept in enumerate(
                self.token_concept[lo:hi].tolist()) if concept >= 0}
            self._matched[i] = found
        return found

    def similarity(self, i: int) -> float | None:
        """The closest cosine of the question to candidate ``i``'s sentence, window or
        paragraph (None without vectors)."""
        if self.cosines is None:
            return None
        if self._best_cosine is None:
            self._best_cosine = np.maximum(np.maximum(self.cosines[0], self.cosines[1]),
                                           self.cosines[2])
        return float(self._best_cosine[i])


def compute_features(plan: QueryPlan, index: SentenceIndex, candidates: Candidates,
                     settings: Lexical) -> Features:
    """The features of every candidate (see :class:`Features`)."""
    sids = candidates.sids
    n, k = len(candidates), len(plan.concepts)
    forms, seg, pos = index.tokens.gather(sids)
    bounds = np.zeros(n + 1, dtype=np.int64)
    np.cumsum(np.bincount(seg, minlength=n), out=bounds[1:])
    expansion = plan.expansion_weight
    strength = np.zeros((k, n))
    chosen: list[npt.NDArray[np.bool_]] = []
    token_concept = np.full(forms.shape[0], -1, dtype=np.int64)
    for c, concept in enumerate(plan.concepts):
        own = _hits(forms, index.forms.of_terms(concept.terms))
        has_own = np.bincount(seg[own], minlength=n) > 0
        if not concept.related:  # (most words: no related word to look for)
            strength[c] = has_own
            token_concept[(token_concept < 0) & own] = c
            chosen.append(own)
            continue
        related = _hits(forms, index.forms.of_terms(concept.related)) & ~has_own[seg]
        has_related = np.bincount(seg[related], minlength=n) > 0
        strength[c] = np.where(has_own, 1.0, np.where(has_related, expansion, 0.0))
        hit = own | related
        token_concept[(token_concept < 0) & hit] = c
        chosen.append(hit)
    _resolve_leading_pronouns(plan, index, sids, forms, bounds, strength, chosen)
    context = _paragraph_context(plan, index, sids, strength, settings.context_span)
    idfs = np.asarray(plan.idfs, dtype=np.float64)[:, None]
    total = float(idfs.sum()) or 1.0
    evidence = np.maximum(strength, settings.context_weight * context)
    return Features(
        sids=sids,
        bm25=candidates.bm25,
        strength=strength,
        evidence=evidence,
        coverage=(idfs * evidence).sum(axis=0) / total if k else np.zeros(n),
        literal=(idfs * strength).sum(axis=0) / total if k else np.zeros(n),
        context=(idfs * settings.context_weight * context * (strength == 0)).sum(axis=0)
        if k else np.zeros(n),
        proximity=_proximity(chosen, seg, pos, n),
        token_concept=token_concept,
        bounds=bounds,
        holds=_holds(index.forms.flags, forms, seg, n),
    )


def _holds(flags: npt.NDArray[np.uint8], forms: npt.NDArray[np.int32], seg: IntArray,
           n: int) -> npt.NDArray[np.uint8]:
    """Each candidate's word-form flags, or-ed together."""
    holds = np.zeros(n, dtype=np.uint8)
    token_flags = np.asarray(flags)[forms]
    marked = np.flatnonzero(token_flags)
    np.bitwise_or.at(holds, seg[marked], token_flags[marked])
    return holds


def _hits(forms: npt.NDArray[np.int32], wanted: npt.NDArray[np.int32]
          ) -> npt.NDArray[np.bool_]:
    """Which of ``forms`` are in ``wanted`` (sorted): a binary search each, which beats
    ``np.isin``'s set-up on the few hundred tokens of the candidates."""
    if wanted.size == 0 or forms.size == 0:
        return np.zeros(forms.shape[0], dtype=bool)
    at = np.searchsorted(wanted, forms)
    at[at == wanted.shape[0]] = 0
    hits: npt.NDArray[np.bool_] = wanted[at] == forms
    return hits


#: The pronouns as a sentence may write them.
_PRONOUN_SURFACES = tuple(w for p in sorted(PRONOUNS) for w in (p, p.capitalize(), p.upper()))


def _pronoun_forms(index: SentenceIndex) -> npt.NDArray[np.int32]:
    return index.forms.ids_of(_PRONOUN_SURFACES)


def _resolve_leading_pronouns(plan: QueryPlan, index: SentenceIndex, sids: IntArray,
                              forms: npt.NDArray[np.int32], bounds: IntArray,
                              strength: FloatArray, chosen: list[npt.NDArray[np.bool_]]
                              ) -> None:
    """"She said …" right after a sentence naming Amara Okafor is about Amara Okafor: a
    name the sentence lacks counts as found when the sentence opens with a pronoun and
    the sentence before (in the same document) names it."""
    proper = [c for c, concept in enumerate(plan.concepts) if concept.proper]
    if not proper or sids.size == 0:
        return
    nonempty = bounds[1:] > bounds[:-1]
    first = np.where(nonempty, bounds[:-1], 0)
    opens = nonempty & _hits(forms[first], _pronoun_forms(index)) if forms.size else nonempty
    doc = np.asarray(index.doc_idx)
    same_doc = (sids > 0) & (doc[np.maximum(sids - 1, 0)] == doc[sids])
    for c in proper:
        lacking = np.flatnonzero(opens & same_doc & (strength[c] == 0))
        if lacking.size == 0 or not plan.concepts[c].terms:
            continue
        found = lacking[index.matrix.contains(plan.concepts[c].terms, sids[lacking] - 1)]
        strength[c, found] = 1.0
        chosen[c][first[found]] = True


def _paragraph_context(plan: QueryPlan, index: SentenceIndex, sids: IntArray,
                       strength: FloatArray, span: int) -> FloatArray:
    """Words the sentence lacks but its paragraph has, within ``span`` sentences ("Super
    Bowl 50" said once, up front): 1 for the word itself, the expansion weight for a
    related word."""
    context = np.zeros_like(strength)
    lacking = strength < 1.0
    if not lacking.any():
        return context
    paragraph = index.paragraph_ids[sids]
    starts = index.paragraph_starts
    lo = np.maximum(starts[paragraph], sids - span)
    hi = np.minimum(starts[paragraph + 1], sids + span + 1)
    matrix = index.matrix
    for c, concept in enumerate(plan.concepts):
        # Only where the sentence lacks the word, the sentences before and after it at once.
        some = np.flatnonzero(lacking[c])
        if not some.size:
            continue
        own = _held_around(matrix, concept.terms, lo[some], sids[some], hi[some])
        context[c, some[own]] = 1.0
        # Related words count only where the word itself is not around.
        rest = some[~own]
        if rest.size and concept.related:
            related = _held_around(matrix, concept.related, lo[rest], sids[rest], hi[rest])
            context[c, rest[related]] = plan.expansion_weight
    return context


def _held_around(matrix: BM25Matrix, terms: tuple[int, ...], lo: IntArray, sids: IntArray,
                 hi: IntArray) -> npt.NDArray[np.bool_]:
    """Whether a sentence of ``lo[i]:sids[i]`` or ``sids[i] + 1:hi[i]`` holds any of
    ``terms`` (both sides in one count)."""
    n = sids.shape[0]
    if not terms:
        return np.zeros(n, dtype=bool)
    found = matrix.count_in_ranges(terms, np.concatenate([lo, sids + 1]),
                                   np.concatenate([sids, hi]))
    held: npt.NDArray[np.bool_] = (found[:n] + found[n:]) > 0
    return held


def _proximity(chosen: list[npt.NDArray[np.bool_]], seg: IntArray, pos: IntArray, n: int
               ) -> FloatArray:
    """Per candidate: the share of consecutive concepts whose words occur close together
    and in order (gap of at most 2 tokens: 1, at most 5: ½)."""
    pairs = len(chosen) - 1
    if pairs <= 0:
        return np.zeros(n)
    total = np.zeros(n)
    key = seg * (int(pos.max()) + 2 if pos.size else 1) + pos
    for a, b in itertools.pairwise(chosen):
        if not a.any() or not b.any():
            continue
        key_a, key_b = key[a], key[b]
        before = np.searchsorted(key_a, key_b, "left") - 1
        valid = before >= 0
        seg_a, seg_b = seg[a], seg[b]
        valid[valid] &= seg_a[before[valid]] == seg_b[valid]
        gap = np.full(n, np.iinfo(np.int64).max, dtype=np.int64)
        np.minimum.at(gap, seg_b[valid], pos[b][valid] - pos[a][before[valid]])
        total += np.where(gap <= 2, 1.0, np.where(gap <= 5, 0.5, 0.0))
    return total / pairs


# -- what a careful reader checks in the best passage ------------------------------------------


def gather_evidence(plan: QueryPlan, index: SentenceIndex, features: Features, i: int,
                    tokens: Sequence[Token], has_answer: Callable[[int], bool],
                    correction: Correction, text: str | None = None) -> Evidence:
    """The decision's evidence about candidate ``i`` (whose sentence has ``tokens``, and
    ``text`` when the caller has read it):
    coverage and similarity, whether it holds the kind of answer asked for, the question's
    constraints it contradicts, whether it lacks the question's focus, and which names the
    corpus lacks only by their spelling."""
    concepts = plan.concepts
    strength = features.strength[:, i]
    evidence = features.evidence[:, i]
    question = plan.question
    if text is None:
        text = index.sentence_text(int(features.sids[i]))
    clashes = [*_negation(question.tokens, text, tokens),
               *_opposites(plan, strength, text, tokens),
               *_numbers(plan, evidence, text, tokens),
               *_degrees(plan, text, tokens)]
    focus = _focus(plan)
    return Evidence(
        coverage=float(features.coverage[i]),
        evidence=evidence.tolist(),
        similarity=features.similarity(i),
        has_answer=has_answer(i) if question.kind in TYPED_KINDS and concepts else None,
        clashes=tuple(clashes),
        missing_focus=focus if focus is not None and evidence[focus] == 0 else None,
        other_name=_other_name(plan, evidence, text, tokens, features.matched(i)),
        misspelt=_misspelt_names(plan, index, correction),
    )


def _misspelt_names(plan: QueryPlan, index: SentenceIndex, correction: Correction
                    ) -> frozenset[int]:
    """Names of the question the corpus lacks but nearly spells ("Primer League" for
    "Premier League", "Sky Drive" for "SkyDrive"): by one edit more than correction allows
    (it changes what is searched for, this only doubts that the name is absent), or joined
    to the word before it."""
    lenient = replace(correction, one_edit_length=correction.min_length,
                      two_edit_length=correction.one_edit_length)
    norms = [t.norm for t in plan.question.tokens]
    found = set()
    for c, concept in enumerate(plan.concepts):
        if not concept.proper or concept.known:
            continue
        word = concept.label
        at = norms.index(word) if word in norms else -1
        joined = [norms[at - 1] + word] if at > 0 else []
        joined += [word + norms[at + 1]] if 0 <= at < len(norms) - 1 else []
        if correct(word, index.words, lenient) is not None or any(
                index.words.count_of(j) > 0 for j in joined):
            found.add(c)
    return frozenset(found)


def _negative(token: Token) -> bool:
    return is_negation(token) or any(t in _NEGATIVE_STEMS for t in token.terms)


_NEGATIVE_STEMS = frozenset(analysis.stem(w) for w in NEGATIVE_WORDS)


def _negation(question: Sequence[Token], text: str, tokens: Sequence[Token]) -> list[Clash]:
    """A question negated ("which channel was never dropped?") where the passage says it
    without any negation."""
    asked = [t for t in question if is_negation(t)]
    if not asked or any(_negative(t) for t in tokens):
        return []
    return [Clash("negation", asked[0].surface, None, _phrase(text, tokens, 0, len(tokens)))]


def _opposites(plan: QueryPlan, strength: FloatArray, text: str, tokens: Sequence[Token]
               ) -> list[Clash]:
    """A word of the question the passage has the opposite of by a negative prefix
    ("unavailable" / "available", "connect" / "disconnect")."""
    found: list[Clash] = []
    stems = {term: k for k, t in enumerate(tokens) for term in t.terms}
    prefixed: list[tuple[int, frozenset[str]]] | None = None
    for c, concept in enumerate(plan.concepts):
        if strength[c] > 0 or not concept.surface:
            continue
        word = concept.label
        for prefix in NEGATIVE_PREFIXES:
            rest = word[len(prefix):]
            if word.startswith(prefix) and len(rest) >= 4:
                at = next((stems[t] for t in analysis.terms(rest) if t in stems), None)
                if at is not None:
                    found.append(Clash("opposite", concept.surface, tokens[at].surface,
                                       _phrase(text, tokens, at, at + 1)))
                    break
        else:
            if prefixed is None:
                prefixed = _without_negative_prefix(tokens)
            own = set(analysis.terms(word))
            for k, unprefixed in prefixed:
                if own & unprefixed:
                    found.append(Clash("opposite", concept.surface, tokens[k].surface,
                                       _phrase(text, tokens, k, k + 1)))
                    break
    return found


def _without_negative_prefix(tokens: Sequence[Token]) -> list[tuple[int, frozenset[str]]]:
    """(position, terms of the rest) of each token that starts with a negative prefix
    ("disconnect" → the terms of "connect")."""
    out = []
    for k, token in enumerate(tokens):
        norm = token.norm
        cut = next((len(p) for p in NEGATIVE_PREFIXES if norm.startswith(p)
                    and len(norm) - len(p) >= 4), None)
        if cut is not None:
            out.append((k, frozenset(analysis.terms(norm[cut:]))))
    return out


_DIGIT = re.compile(r"\d")
#: Numbers shorter than this ("12", "50") are too common for one in the place of another to
#: mean anything; years ("1995"), large numbers and codes ("MPEG-3") are not.
_NUMBER_SHAPE = 4
#: A number written in groups of digits ("3,222,000", "1.5").
_GROUPED = re.compile(r"\d+(?:[.,]\d+)+")


def _shape(surface: str) -> str:
    """A number's shape: its digits as 0 ("1995" → "0000", "MPEG-3" → "mpeg-0")."""
    return _DIGIT.sub("0", analysis.normalise(surface).strip(".,"))


def _numbers(plan: QueryPlan, evidence: FloatArray, text: str, tokens: Sequence[Token]
             ) -> list[Clash]:
    """A number of the question ("in 1995", "MPEG-3") that nothing near the passage has,
    where the passage has another of the same shape ("1998", "MPEG-2"); short numbers
    ("12", "50") are left alone."""
    found: list[Clash] = []
    for c, concept in enumerate(plan.concepts):
        surface = concept.surface
        if not _DIGIT.search(surface):
            continue
        whole = tuple(analysis.terms(surface)[:1])
        if evidence[c] > 0 and (not _GROUPED.fullmatch(surface) or any(
                t.terms[:1] == whole for t in tokens)):
            # Found; a number written in groups ("3,222,000") only when found whole, not
            # by the groups it shares with another ("4,222,000").
            continue
        shape = _shape(surface)
        if len(shape) < _NUMBER_SHAPE:
            continue
        for k, token in enumerate(tokens):
            if _shape(token.surface) == shape and token.norm != concept.label:
                found.append(Clash("number", surface, token.surface,
                                   _phrase(text, tokens, k, k + 1)))
                break
    return found


@lru_cache(maxsize=4096)
def degree(norm: str) -> str | None:
    """"superlative" ("largest", "most"), "comparative" ("earlier", "fewer") or None: an
    adjective or adverb in -est or -er is recognised by its form (not "number", a noun in
    its own right), "most", "less" … by the degree word lists."""
    if norm in SUPERLATIVE_WORDS:
        return "superlative"
    if norm in COMPARATIVE_WORDS:
        return "comparative"
    if not (norm.endswith("est") or norm.endswith("er")) or not norm.isalpha():
        return None
    from lemminflect import getAllLemmas

    lemmas = getAllLemmas(norm)
    base = [lemma for upos in ("ADJ", "ADV") for lemma in lemmas.get(upos, ()) if lemma != norm]
    if not base or norm in lemmas.get("NOUN", ()):
        return None
    return "superlative" if norm.endswith("est") else "comparative"


def _degrees(plan: QueryPlan, text: str, tokens: Sequence[Token]) -> list[Clash]:
    """A comparison of the question ("smallest") that the passage makes with another word
    of the same degree ("largest"); "at least" and "at most" say how many, not which. A
    word corrected against the corpus is checked as the user wrote it ("smallest", which
    the corpus lacks, is searched for as "smaller")."""
    written = {c.label: c.corrected_from for c in plan.concepts if c.corrected_from}
    words = {t.norm for t in tokens}
    stems = {term for t in tokens for term in t.terms}
    for token in plan.question.tokens:
        norm, surface, terms = token.norm, token.surface, token.terms
        if norm in written:
            norm = surface = written[norm]
            terms = tuple(analysis.terms(norm))
        kind = degree(norm)
        if kind is None or norm in words or (terms and set(terms) & stems):
            continue
        for k, other in enumerate(tokens):
            if degree(other.norm) == kind and not (k > 0 and tokens[k - 1].norm == "at"):
                return [Clash("degree", surface, other.surface,
                              _phrase(text, tokens, k, k + 1))]
    return []


def _focus(plan: QueryPlan) -> int | None:
    """The concept the question is most about: its rarest word of full weight that is not
    a name (names have rules of their own)."""
    best: int | None = None
    for c, concept in enumerate(plan.concepts):
        if concept.weight < 1.0 or concept.proper:
            continue
        if best is None or concept.idf > plan.concepts[best].idf:
            best = c
    return best


def _other_name(plan: QueryPlan, evidence: FloatArray, text: str, tokens: Sequence[Token],
                matched: dict[int, int]) -> str | None:
    """A name in the passage that the question does not ask about, closest to the words
    that match it: what the passage speaks of where the question names something else
    (only when the passage holds the rest of the question)."""
    if not any(c.proper and not c.known for c in plan.concepts):
        return None
    if any(c.known and not found for c, found in zip(plan.concepts, evidence, strict=True)):
        return None  # the passage is not about the rest of the question either
    asked = {t.norm for t in plan.question.tokens}
    runs: list[tuple[int, int]] = []
    k = 0
    while k < len(tokens):
        if k > 0 and can_be_name(tokens[k].surface) and tokens[k].norm not in asked:
            end = k + 1
            while end < len(tokens) and can_be_name(tokens[end].surface) and (
                    text[tokens[end - 1].end:tokens[end].start].strip() == ""):
                end += 1
            runs.append((k, end))
            k = end
        else:
            k += 1
    if not runs:
        return None
    near = sorted(runs, key=lambda r: min((abs(r[0] - m) for m in matched), default=0))
    first, end = near[0]
    return _phrase(text, tokens, first, end, before=4, after=0)


def _phrase(text: str, tokens: Sequence[Token], first: int, end: int, *, before: int = 3,
            after: int = 2) -> str:
    """The words from ``first`` to ``end`` (exclusive) of the sentence with up to ``before``
    words before and ``after`` after, not across a comma, semicolon or bracket."""
    if not tokens:
        return text.strip()
    if end - first > 12:  # a whole sentence: its opening words
        end = first + 12
        after = 0
    lo, hi = first, max(first, end - 1)
    while lo > 0 and first - lo < before and not _breaks(text[tokens[lo - 1].end:
                                                             tokens[lo].start]):
        lo -= 1
    while hi + 1 < len(tokens) and hi - (end - 1) < after and not _breaks(
            text[tokens[hi].end:tokens[hi + 1].start]):
        hi += 1
    phrase = text[tokens[lo].start:tokens[hi].end]
    return ("…" if lo > 0 else "") + phrase + ("…" if hi + 1 < len(tokens) else "")


def _breaks(gap: str) -> bool:
    return any(ch in gap for ch in ",;:()[]\"“”.")
