"""The word lists quotebot knows, loaded from one data file each (``data/lexicon/*.txt``).

Every list of English words lives here, once: stop words, auxiliaries, months, pronouns,
number words, titles, related words … so that two modules never keep two lists that
drift apart. A file holds words separated by whitespace; ``#`` starts a comment. The
related-words file holds one ``word: related words`` entry a line, the expanded
abbreviations one ``abbreviation: long form, long form`` entry a line.
"""

from __future__ import annotations

from collections.abc import Mapping
from functools import cache
from pathlib import Path
from types import MappingProxyType
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from quotebot.analysis import Token

DATA = Path(__file__).parent / "data" / "lexicon"


def _lines(name: str) -> list[str]:
    text = (DATA / f"{name}.txt").read_text(encoding="utf-8")
    return [line.split("#", 1)[0] if not line.lstrip().startswith("#") else ""
            for line in text.splitlines()]


@cache
def words(name: str) -> tuple[str, ...]:
    """The words of list ``name``, in file order."""
    return tuple(word for line in _lines(name) for word in line.split())


def word_set(name: str) -> frozenset[str]:
    return frozenset(words(name))


@cache
def related_words() -> Mapping[str, tuple[str, ...]]:
    """Question word → related words (searched for at a lower weight)."""
    table: dict[str, tuple[str, ...]] = {}
    for line in _lines("related_words"):
        if ":" not in line:
            continue
        word, _, related = line.partition(":")
        table[word.strip()] = tuple(related.split())
    return MappingProxyType(table)


@cache
def lines(name: str) -> tuple[str, ...]:
    """The entries of list ``name`` that hold one phrase a line ("because of")."""
    return tuple(" ".join(line.split()) for line in _lines(name) if line.strip())


@cache
def abbreviation_expansions() -> Mapping[str, tuple[str, ...]]:
    """Abbreviation → the long forms it stands for ("ceo" → "chief executive", …)."""
    table: dict[str, tuple[str, ...]] = {}
    for line in _lines("abbreviations_expanded"):
        if ":" not in line:
            continue
        word, _, forms = line.partition(":")
        table[word.strip()] = tuple(f.strip() for f in forms.split(",") if f.strip())
    return MappingProxyType(table)


@cache
def antonyms() -> Mapping[str, tuple[str, ...]]:
    """Word → its opposites as written ("won" → "lost"), both ways, from the pairs of the
    antonyms list."""
    table: dict[str, list[str]] = {}
    for line in _lines("antonyms"):
        pair = line.split()
        if len(pair) != 2:
            continue
        a, b = pair
        for word, other in ((a, b), (b, a)):
            if other not in table.setdefault(word, []):
                table[word].append(other)
    return MappingProxyType({word: tuple(others) for word, others in table.items()})


STOP_WORDS = word_set("stop_words")
AUXILIARIES = word_set("auxiliaries")
NEGATIONS = word_set("negations")


def is_negation(token: Token) -> bool:
    """"not", "never", "no" and the like, and any "n't" ("didn't", "can't")."""
    return token.norm in NEGATIONS or token.norm.endswith("n't")
MONTHS = words("months")
MONTH_ABBREVIATIONS = words("month_abbreviations")
WEEKDAYS = words("weekdays")
#: Months and weekdays: capitalised in English, never names.
CALENDAR = frozenset(MONTHS) | frozenset(WEEKDAYS)
TIME_WORDS = word_set("time_words")
#: Units of time, singular and plural ("hour", "months"): durations and rates.
TIME_UNITS = word_set("time_units")
PRONOUNS = word_set("pronouns")
NUMBER_WORDS = word_set("number_words")
SCALE_WORDS = word_set("scale_words")
TITLES = word_set("titles")
COLOURS = word_set("colours")
WHO_NOUNS = word_set("who_nouns")
WHEN_NOUNS = word_set("when_nouns")
WHERE_NOUNS = word_set("where_nouns")
WEAK_WORDS = word_set("weak_words")
COUNTERS = word_set("counters")
PLACE_PREPOSITIONS = word_set("place_prepositions")
NAME_CONNECTORS = word_set("name_connectors")
ABBREVIATIONS = word_set("abbreviations")
CURRENCIES = word_set("currencies")
#: Units and currencies written after an amount.
UNITS = word_set("units") | CURRENCIES
MONEY_WORDS = word_set("money_words")
MEASURE_ADJECTIVES = word_set("measure_adjectives")
DETERMINERS = word_set("determiners")
RELATIVE_WORDS = word_set("relative_words")
NUMBER_NOUNS = word_set("number_nouns")
REASON_MARKERS = lines("reason_markers")
ORDINALS = words("ordinals")
KIND_NOUNS = word_set("kind_nouns")
ROLE_NOUNS = word_set("role_nouns")
NAMING_WORDS = word_set("naming_words")
QUESTION_WORDS = word_set("question_words")
SHARE_NOUNS = word_set("share_nouns")
PARTICIPLE_PREPOSITIONS = word_set("participle_prepositions")
NAMING_VERBS = word_set("naming_verbs")
SPEECH_VERBS = word_set("speech_verbs")
