"""Word classes and noun phrases, enough for the rules of short answers: "[the center of
mass] will experience …", "… performed [the national anthem]".

quotebot has no tagger that needs downloaded models; a word's possible classes come from
lemminflect's tables (which the analysis already uses for lemmas) and the word lists, and
a word that may be a noun or a verb ("offers", "record") is told by its neighbours: after
a determiner it is a noun, before one a verb.
"""

from __future__ import annotations

from collections.abc import Sequence
from functools import lru_cache

from quotebot.analysis import Token, lemminflect_tables
from quotebot.lexicon import (
    AUXILIARIES,
    DETERMINERS,
    NUMBER_WORDS,
    PRONOUNS,
    RELATIVE_WORDS,
)
from quotebot.names import can_be_name

#: Word classes: a noun or an adjective (anything a noun phrase is made of), a verb, an
#: auxiliary (or "not"), a determiner, a pronoun, a conjunction, another function word.
NOUN, VERB, AUX, DET, PRON, CONJ, FUNC = "N", "V", "A", "D", "R", "C", "P"
_AMBIGUOUS = "X"
Span = tuple[int, int]
#: The most tokens a noun phrase (or a list of them) may span: walks stop there, so that a
#: sentence repeating one noun costs each rule a bounded walk, not one as long as itself.
PHRASE_TOKENS = 24


@lru_cache(maxsize=1 << 16)
def _classes(word: str) -> frozenset[str]:
    """The parts of speech a lower-case word may have (empty: unknown): the classes
    lemminflect's ``getAllLemmas`` gives it."""
    if not word.isascii() or not word.isalpha():
        return frozenset()
    tables = lemminflect_tables()
    if tables is None:
        from lemminflect import getAllLemmas

        return frozenset(getAllLemmas(word))
    lookups, overrides = tables
    word = word.lower()
    return frozenset((*lookups.get(word, ()), *overrides.get(word, ())))


def may_be_verb(word: str) -> bool:
    """Whether lemminflect knows ``word`` (lower case) as a verb form."""
    return "VERB" in _classes(word)


def may_be_adjective(word: str) -> bool:
    """Whether lemminflect knows ``word`` (lower case) as an adjective and not as a verb
    form ("ancient", "large"; not "closed")."""
    classes = _classes(word)
    return "ADJ" in classes and "VERB" not in classes


def _word_class(token: Token, first: bool) -> str:
    return _class_of(token.surface, token.norm, token.is_stop, first)


@lru_cache(maxsize=1 << 16)
def _class_of(surface: str, norm: str, is_stop: bool, first: bool) -> str:
    if surface[:1].isdigit() or norm in NUMBER_WORDS:
        return NOUN
    if norm in DETERMINERS:
        return DET
    if norm in AUXILIARIES or norm in ("not", "never") or (
            norm.endswith("n't") and norm[:-3] in AUXILIARIES | {"ca", "wo", "do"}):
        return AUX
    if norm in ("and", "or", "but", "nor"):
        return CONJ
    if norm in PRONOUNS or norm in ("i", "we", "you", "us", "me"):
        return PRON
    if is_stop:
        return FUNC
    if not first and can_be_name(surface):
        return NOUN
    base = norm[:-2] if norm.endswith("'s") else norm
    classes = _classes(base)
    if not classes:
        return NOUN
    if "VERB" in classes:
        if "NOUN" in classes or "ADJ" in classes or base.endswith("ing"):
            return _AMBIGUOUS
        return VERB
    if classes == {"ADV"}:
        return FUNC
    return NOUN


def word_classes(tokens: Sequence[Token]) -> list[str]:
    """The class of each token (see the module's docstring)."""
    tags = [_word_class(t, i == 0) for i, t in enumerate(tokens)]
    for i, tag in enumerate(tags):
        if tag == VERB:
            # lemminflect knows some adjectives only as verbs: "general and [complete]
            # disarmament", "a [separate] body", "the largest [mainline] denomination".
            before = tags[i - 1] if i > 0 else None
            adjective_before = before == NOUN and _classes(tokens[i - 1].norm) == {"ADJ"}
            # After a determiner a participle is an adjective too: "a [unified] force".
            base_form = not tokens[i].norm.endswith(("ed", "s", "ing"))
            if (0 < i < len(tags) - 1 and tags[i + 1] in (NOUN, _AMBIGUOUS) and (
                    before == DET or (base_form and (before == CONJ or adjective_before)))):
                tags[i] = NOUN
            continue
        if tag != _AMBIGUOUS:
            continue
        before = tags[i - 1] if i > 0 else None
        after = tags[i + 1] if i + 1 < len(tags) else None
        norm = tokens[i].norm
        if before == DET or (i > 0 and tokens[i - 1].norm.endswith("'s")):
            tags[i] = NOUN  # "the record", "the game's leading rusher"
        elif before == AUX or (after in (DET, PRON) and tokens[i + 1].norm != "that") or (
                after == NOUN and i + 1 < len(tokens) and tokens[i + 1].surface[:1].isdigit()):
            tags[i] = VERB  # "was used", "offers an", "beat them", "scored 24"
        elif norm.endswith("ed") and before != FUNC:
            tags[i] = VERB
        else:
            tags[i] = NOUN
    return tags


def _joined(text: str, a: Token, b: Token) -> bool:
    """Only spaces between two tokens."""
    return text[a.end:b.start].strip() == ""


def noun_phrase(text: str, tokens: Sequence[Token], tags: Sequence[str], i: int
                ) -> Span | None:
    """The noun phrase that token ``i`` is part of, with its determiner and an "of"
    complement ("the center of mass"), or None when ``i`` is no noun."""
    if tags[i] != NOUN:
        return None
    first = i
    while first > max(0, i - PHRASE_TOKENS) and tags[first - 1] == NOUN and _joined(
            text, tokens[first - 1], tokens[first]):
        first -= 1
    if first > 0 and tags[first - 1] == DET and _joined(text, tokens[first - 1], tokens[first]):
        first -= 1
    last = _extend(text, tokens, tags, i)
    return first, last


def _extend(text: str, tokens: Sequence[Token], tags: Sequence[str], i: int) -> int:
    """The last token of the noun phrase going on from noun ``i``."""
    n = min(len(tokens), i + PHRASE_TOKENS)
    last = i
    while True:
        nxt = last + 1
        if nxt < n and tags[nxt] == NOUN and _joined(text, tokens[last], tokens[nxt]):
            last = nxt
            continue
        # "center of mass", "laws of the game": one "of" with a noun phrase after it.
        if (nxt + 1 < n and tokens[nxt].norm == "of" and _joined(text, tokens[last], tokens[nxt])
                and "of" not in {tokens[k].norm for k in range(i, last + 1)}):
            k = nxt + 1
            if k < n and tags[k] == DET and k + 1 < n:
                k += 1
            if tags[k] == NOUN and _joined(text, tokens[k - 1], tokens[k]):
                last = k
                continue
        return last


def noun_phrase_after(text: str, tokens: Sequence[Token], tags: Sequence[str], i: int
                      ) -> Span | None:
    """The noun phrase that starts at token ``i`` (a determiner or a noun), with the
    phrases joined to it by "and"/"or" ("clues and evidence", "A, B and C")."""
    found = _simple_after(text, tokens, tags, i)
    if found is None:
        return None
    last = found[1]
    while last + 2 < min(len(tokens), i + PHRASE_TOKENS):
        gap = text[tokens[last].end:tokens[last + 1].start].strip()
        k = last + 1
        if gap == "," and tokens[k].norm in ("and", "or"):
            k += 1  # "A, B, and C"
        elif gap == ",":
            more = _simple_after(text, tokens, tags, k)
            # Only a list that ends in "and"/"or" joins phrases across commas.
            if more is None or not _list_goes_on(text, tokens, tags, more[1]):
                break
            last = more[1]
            continue
        elif gap or tokens[k].norm not in ("and", "or"):
            break
        else:
            k += 1
        more = _simple_after(text, tokens, tags, k)
        if more is None or not _joined(text, tokens[k - 1], tokens[k]):
            break
        last = more[1]
    return i, last


def _list_goes_on(text: str, tokens: Sequence[Token], tags: Sequence[str], last: int
                  ) -> bool:
    """Whether a list's next item follows ``last``: ", X" or "and X"."""
    k = last + 1
    while k < min(len(tokens), last + PHRASE_TOKENS):
        gap = text[tokens[k - 1].end:tokens[k].start].strip()
        if gap not in ("", ","):
            return False
        if tokens[k].norm in ("and", "or"):
            return True
        if gap != ",":
            return False
        more = _simple_after(text, tokens, tags, k)
        if more is None:
            return False
        k = more[1] + 1
    return False


def _simple_after(text: str, tokens: Sequence[Token], tags: Sequence[str], i: int
                  ) -> Span | None:
    k = i
    while k < len(tokens) and tags[k] == DET:
        k += 1
    if k >= len(tokens) or tags[k] != NOUN or (k > i and not _joined(text, tokens[k - 1],
                                                                      tokens[k])):
        return None
    return i, _extend(text, tokens, tags, k)


def noun_phrase_before(text: str, tokens: Sequence[Token], tags: Sequence[str], i: int
                       ) -> Span | None:
    """The noun phrase that ends at token ``i`` ("[General relativity] offers …")."""
    if i < 0 or tags[i] != NOUN:
        return None
    first = i
    while first > max(0, i - PHRASE_TOKENS):
        prev = first - 1
        if tags[prev] in (NOUN, DET) and _joined(text, tokens[prev], tokens[first]):
            first = prev
            if tags[prev] == DET:
                break
            continue
        # "the center [of] mass": back over one "of".
        if (tokens[prev].norm == "of" and prev > 0 and tags[prev - 1] == NOUN
                and _joined(text, tokens[prev - 1], tokens[prev])
                and _joined(text, tokens[prev], tokens[first])):
            first = prev - 1
            continue
        break
    return first, i


def opens_clause(token: Token) -> bool:
    return token.norm in RELATIVE_WORDS
