"""Turning text into search terms: Unicode-normalised, case- and accent-folded, stemmed, stop
words handled.

Tokens keep their character offsets in the original text (for highlighting and
proximity); only the *terms* derived from them are normalised.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Mapping
from functools import cache, lru_cache
from typing import Any, NamedTuple

from nltk.stem.snowball import SnowballStemmer

from quotebot.lexicon import STOP_WORDS

#: Bumped whenever analysis changes in a way that makes saved indexes stale.
ANALYZER_VERSION = "5"


# Combining accents, which text decomposed into letters and marks (NFD: "a" + U+0301 for
# "á") writes after their letter: they belong to its word.
_MARKS = "\u0300-\u036f\u1ab0-\u1aff\u1dc0-\u1dff\u20d0-\u20ff\ufe20-\ufe2f"
_WORD = rf"[\w{_MARKS}]"
# A token is a number (with thousands separators or decimals) or a word, with
# apostrophes and hyphens inside it ("London's", "law-enforcement", "high-tech").
TOKEN_RE = re.compile(
    rf"\d+(?:[.,]\d+)*(?:[-\u2010\u2011]{_WORD}+)*"
    rf"|{_WORD}+(?:['\u2019\u2018\u02bc][A-Za-z]+|[-\u2010\u2011]{_WORD}+)*",
    re.UNICODE,
)
#: The same, capturing: ``SPLIT_RE.split(text)`` alternates the text between tokens and the
#: tokens (gap, token, gap, …, gap), so one pass gives the tokens and their offsets.
SPLIT_RE = re.compile(f"({TOKEN_RE.pattern})", re.UNICODE)
# Accents on Latin and Greek letters, which people often leave out; the marks of other
# scripts are letters of their own (Cyrillic "й" is not "и").
_ACCENTS = re.compile(f"(?<=[A-Za-z\u0370-\u03ff])[{_MARKS}]+")
# Latin letters that carry their accent without decomposing into letter and mark.
_UNMARKED = str.maketrans({"ø": "o", "ł": "l", "đ": "d", "ħ": "h", "ŧ": "t", "ı": "i",
                           "æ": "ae", "œ": "oe", "ð": "d", "þ": "th"})
_APOSTROPHES = str.maketrans({"\u2019": "'", "\u2018": "'", "\u02bc": "'", "\u2032": "'"})
_HYPHENS = str.maketrans({"\u2010": "-", "\u2011": "-"})
_POSSESSIVE = re.compile(r"'s$")
_NUMBER = re.compile(r"\d+(?:[.,]\d+)*")


class Token(NamedTuple):
    """A word of the text: its surface form, its offsets, and the terms it is indexed under."""

    surface: str
    start: int
    end: int
    #: The normalised (unstemmed) form: case-folded, NFKC, accents folded, straight
    #: apostrophes.
    norm: str
    #: Index terms: the stemmed whole and, for hyphenated words and numbers, the parts.
    terms: tuple[str, ...]
    is_stop: bool


_stemmer = SnowballStemmer("english")


@lru_cache(maxsize=1 << 18)
def stem(word: str) -> str:
    """Snowball stem of a normalised word; numbers are kept as they are."""
    if word[:1].isdigit():
        return word
    return str(_stemmer.stem(word))


def normalise(text: str) -> str:
    """NFKC, straight apostrophes and hyphens, case-folded, accents folded ("Álvarez" →
    "alvarez", "Søren" → "soren"): people type names without their accents."""
    text = unicodedata.normalize("NFKC", text)
    text = text.translate(_APOSTROPHES).translate(_HYPHENS).casefold()
    if text.isascii():
        return text
    folded = _ACCENTS.sub("", unicodedata.normalize("NFD", text))
    return unicodedata.normalize("NFC", folded).translate(_UNMARKED)


@lru_cache(maxsize=1 << 18)
def analyse_word(surface: str) -> tuple[str, tuple[str, ...], bool]:
    """(normalised form, index terms, is a stop word) of one word form (cached)."""
    norm = normalise(surface)
    if norm in STOP_WORDS:
        return norm, (), True
    base = _POSSESSIVE.sub("", norm)
    if _NUMBER.fullmatch(base):
        whole = base.replace(",", "")
        parts = re.split(r"[.,]", base)
        terms = (whole, *[p for p in parts if p != whole]) if len(parts) > 1 else (whole,)
        return norm, terms, False
    if "-" in base:
        parts = [p for p in base.split("-") if p]
        whole = "-".join(stem(p) for p in parts)
        part_terms = [stem(p) for p in parts if p not in STOP_WORDS]
        return norm, tuple(dict.fromkeys([whole, *part_terms])), False
    base = base.replace("'", "")
    if not base:
        return norm, (), False
    whole = stem(base)
    # Irregular forms share a term with their lemma ("went" → "go", "told" → "tell").
    extra = [s for s in map(stem, _lemmas(base)) if s != whole]
    return norm, tuple(dict.fromkeys([whole, *extra])), False


def _lemmas(word: str) -> tuple[str, ...]:
    """Verb and noun lemmas of an irregular form (from lemminflect's tables)."""
    if len(word) < 3 or not word.isascii() or not word.isalpha():
        return ()
    table = _lemma_table()
    if table is None:
        from lemminflect import getAllLemmas

        found = _verb_and_noun(getAllLemmas(word))
    else:
        found = table.get(word, ())
    return tuple(lemma for lemma in found if lemma != word and lemma.isalpha())


def load_tables() -> None:
    """Read the tables analysing a word needs (lemminflect's lemmas: about half a second
    and 40 MB) now, not at the first word: processes forked after share this process's
    copy instead of each reading its own."""
    _lemma_table()


@cache
def _lemma_table() -> dict[str, tuple[str, ...]] | None:
    """Each lower-case form in lemminflect's tables with its verb lemmas, then its noun
    lemmas, as ``getAllLemmas`` gives them for the form (its table's entry updated by its
    overrides, lower-cased); None if this release of lemminflect keeps its tables
    elsewhere. Read once: ``getAllLemmas`` deep-copies both entries on every call, which
    was about 40% of the time analysing a word took."""
    tables = lemminflect_tables()
    if tables is None:
        return None
    lookups, overrides = tables
    return {word: _verb_and_noun({**lookups.get(word, {}), **overrides.get(word, {})})
            for word in {*lookups, *overrides} if word == word.lower()}


@cache
def lemminflect_tables() -> tuple[Mapping[str, Mapping[str, Any]],
                                  Mapping[str, Mapping[str, Any]]] | None:
    """lemminflect's lemma table and its overrides (form → part of speech → lemmas), read
    in place, never to be changed; None if this release of lemminflect keeps them
    elsewhere. Read them rather than call ``getAllLemmas``, which deep-copies both entries
    of a word on every call."""
    try:
        from lemminflect.core.Lemmatizer import Lemmatizer

        lemmatizer = Lemmatizer()
        return lemmatizer._getLemmaDict(), lemmatizer._getOverridesDict()
    except (ImportError, AttributeError):
        return None


def _verb_and_noun(found: dict[str, Any]) -> tuple[str, ...]:
    """The verb lemmas, then the noun lemmas, of one of lemminflect's entries, lower-cased
    (as ``getAllLemmas`` gives them for a lower-case word)."""
    return tuple(lemma.lower() for upos in ("VERB", "NOUN") for lemma in found.get(upos, ()))


def tokenize(text: str) -> list[Token]:
    """The tokens of ``text`` with offsets into it, stop words included (flagged)."""
    tokens = []
    for match in TOKEN_RE.finditer(text):
        surface = match.group()
        norm, terms, is_stop = analyse_word(surface)
        tokens.append(Token(surface, match.start(), match.end(), norm, terms, is_stop))
    return tokens


def terms(text: str) -> list[str]:
    """The index terms of ``text``, in order (parts follow their whole), stop words removed."""
    out: list[str] = []
    for match in TOKEN_RE.finditer(text):
        out.extend(analyse_word(match.group())[1])
    return out
