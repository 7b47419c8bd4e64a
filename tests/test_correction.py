"""Typo correction, rule by rule: which misspellings become which of the corpus's words, and
which words are left alone.

Each case runs :func:`quotebot.correction.correct` against the words of a small corpus of
the test's own, with the shipped rules (4 letters at least; swapped letters only below 6;
one edit from 6 letters, two from 8; the first letter kept unless swapped; at most 4 words
of a question).
"""

from __future__ import annotations

import pytest

from quotebot.correction import correct, is_swap
from quotebot.models import Document
from quotebot.plan import plan_question
from quotebot.question import parse_question
from quotebot.store import build_index, merge_index
from quotebot.store.model import SentenceIndex
from quotebot.tuning import default_tuning

RULES = default_tuning().correction

CORPUS = [
    Document("ferries", "Ferries", "The ferry from York reached the harbour at dawn. "
             "Allen waited at the stadium for the championship final."),
    Document("market", "Market", "The market sold fish. The market sold bread. "
             "The market closed early, and a marker showed the way to the mantle and the "
             "mantis."),
]


@pytest.fixture(scope="module")
def index() -> SentenceIndex:
    return build_index(CORPUS)


def test_the_rules_are_the_ones_these_cases_are_written_for() -> None:
    assert (RULES.min_length, RULES.one_edit_length, RULES.two_edit_length,
            RULES.max_words) == (4, 6, 8, 4)


@pytest.mark.parametrize(("typed", "meant"), [
    # 4 and 5 letters: two swapped letters, anywhere, even the first two.
    ("yrok", "york"),
    ("yokr", "york"),
    ("oyrk", "york"),
    ("frery", "ferry"),
    ("ferry", None),  # known: nothing to correct
    ("stadium", None),  # known, once: still nothing to correct
    ("harbour", None),
    # From 6 letters: one edit (insertion, deletion, substitution), the first letter kept.
    ("harbor", "harbour"),
    ("harbourr", "harbour"),
    ("habrour", "harbour"),  # a swap inside a longer word
    ("stadum", "stadium"),
    ("stadiun", "stadium"),
    ("championsip", "championship"),
    # From 8 letters: two edits, found through the deletion index (two insertions, or an
    # insertion and a substitution).
    ("staddiumm", "stadium"),
    ("chammpionshup", "championship"),
])
def test_misspellings_become_the_word_meant(index: SentenceIndex, typed: str,
                                            meant: str | None) -> None:
    """Catches: a length rule off by one (4–5 letters only swapped, one edit from 6, two
    from 8), a candidate filter on length that rejects a real one-edit typo, and a swap not
    recognised."""
    assert correct(typed, index.words, RULES) == meant


@pytest.mark.parametrize("typed", [
    # Shorter than 4 letters: too easily another word.
    "yrk", "hte", "teh",
    # 4–5 letters, one edit that is not a swap: "yorl" may be a word of its own.
    "yorl", "yorkk", "ferr", "fery",
    # 6–7 letters, two edits.
    "stdiumm", "harbr", "fearrt",
    # A different first letter, not swapped: "fallen" is not "allen", "barket" not "market".
    "fallen", "barket", "gtadium",
    # Numbers and words with digits or punctuation.
    "1998", "l0ndon", "york's",
    # Three edits, even when long.
    "chmpinshpp",
])
def test_words_that_are_not_corrected(index: SentenceIndex, typed: str) -> None:
    """Catches: short words, words with digits, two-edit typos of 6–7 letter words, and
    words with another first letter corrected into words they were never meant to be."""
    assert correct(typed, index.words, RULES) is None


def test_ties_go_to_the_more_frequent_word_then_the_nearer_then_alphabetically(
        index: SentenceIndex) -> None:
    """Catches: a tie broken towards the rarer word (the sign of the count in the key), a
    farther word preferred to a nearer one, and an order that depends on the index's."""
    # "markeq" is one edit from "market" (3 times) and from "marker" (once).
    assert correct("markeq", index.words, RULES) == "market"
    # "mantls" is one edit from "mantle" and from "mantis" (once each): the first
    # alphabetically.
    assert correct("mantls", index.words, RULES) == "mantis"
    # Nearer beats more frequent: "markerr" is one edit from "marker", two from "market".
    assert correct("markerr", index.words, RULES) == "marker"


def test_words_of_removed_documents_are_not_suggested(index: SentenceIndex) -> None:
    """Catches: a correction towards a word whose documents were all removed (its count is
    0, but it stays in the words table)."""
    updated = merge_index(index, removed=["ferries"])
    assert correct("harbor", index.words, RULES) == "harbour"
    assert correct("harbor", updated.words, RULES) is None
    assert correct("markeq", updated.words, RULES) == "market"


def test_a_rejected_candidate_does_not_end_the_search() -> None:
    """Catches: a candidate the rules reject (a word of removed documents, one two edits
    away, one with another first letter) ending the search instead of being passed over,
    when it comes before the word meant (these come first alphabetically and in the
    text)."""
    docs = [Document("garden", "Garden", "An arbor and two arbors stood by the marked path."),
            Document("port", "Port", "The market by the harbour sold fish.")]
    full = build_index(docs)
    # "arbors" is two edits from "harbor", "arbor" one but with another first letter.
    assert correct("harbor", full.words, RULES) == "harbour"
    # "marked" and "market" are both one edit from "markex"; with "marked" only in a
    # removed document, "market" is the one left.
    assert correct("markex", full.words, RULES) == "marked"
    assert correct("markex", merge_index(full, removed=["garden"]).words, RULES) == "market"


def test_rules_come_from_the_tuning(index: SentenceIndex) -> None:
    """Catches: a length threshold written into the code instead of read from the rules."""
    lenient = default_tuning().with_values({"correction.min_length": 3,
                                            "correction.one_edit_length": 5,
                                            "correction.two_edit_length": 6}).correction
    assert correct("yrk", index.words, lenient) is None  # no 3-letter word to swap into
    assert correct("fery", index.words, lenient) is None  # 4 letters: still swaps only
    assert correct("ferri", index.words, lenient) == "ferry"  # 5 letters: one edit now
    assert correct("fearrt", index.words, lenient) == "ferry"  # 6 letters: two edits now
    strict = default_tuning().with_values({"correction.min_length": 5}).correction
    assert correct("yrok", index.words, strict) is None


@pytest.mark.parametrize(("a", "b", "swapped"), [
    ("yrok", "york", True),
    ("oyrk", "york", True),
    ("yokr", "york", True),
    ("york", "york", False),  # the same word
    ("yrko", "york", False),  # three letters moved
    ("kory", "york", False),  # swapped, but not neighbours
    ("yrek", "york", False),  # two neighbours differ, not by a swap
    ("yoek", "york", False),
    ("yorks", "york", False),
    ("york", "yorks", False),
])
def test_a_swap_is_two_neighbouring_letters_exchanged(a: str, b: str, swapped: bool) -> None:
    """Catches: a swap test that accepts any two differing neighbours, letters far apart,
    or words of different lengths."""
    assert is_swap(a, b) is swapped
    assert is_swap(b, a) is swapped


def test_at_most_four_words_of_a_question_are_corrected(index: SentenceIndex) -> None:
    """Catches: a question with many misspelt words corrected without bound (the work per
    question must stay bounded), or fewer corrected than the rules allow."""
    plan = plan_question(parse_question("yrok frery harbor stadum championsip"), index,
                         default_tuning())
    corrections = {c.corrected_from: c.label for c in plan.concepts if c.corrected_from}
    assert corrections == {"yrok": "york", "frery": "ferry", "harbor": "harbour",
                           "stadum": "stadium"}
    assert plan.searched_for is not None and "championsip" in plan.searched_for


@pytest.mark.parametrize(("typed", "meant"), [
    # Short, typed in lower case, and no English word: one edit is allowed.
    ("fery", "ferry"),
    ("ferr", "ferry"),
    ("yorl", "york"),
    # A real English word is left alone however close ("bred" is a form of "breed").
    ("bred", None),
    # The first letter still has to match.
    ("gery", None),
])
def test_a_short_word_that_is_no_english_word_may_be_corrected_by_one_edit(
        index: SentenceIndex, typed: str, meant: str | None) -> None:
    """Catches: "mayr" left as it is (and the question declined) because short words were
    only ever corrected for swapped letters, and the relaxation reaching real words."""
    assert correct(typed, index.words, RULES, typed_lower=True) == meant
    # Typed as a name (capitalised), the same word is not another word misspelt.
    assert correct(typed, index.words, RULES) is None


def test_a_question_typed_in_lower_case_gets_its_short_typo_corrected(
        index: SentenceIndex) -> None:
    plan = plan_question(parse_question("when did the fery reach the harbour?"), index,
                         default_tuning())
    assert [(c.label, c.corrected_from) for c in plan.concepts][:1] == [("ferry", "fery")]
    named = plan_question(parse_question("when did Fery reach the harbour?"), index,
                          default_tuning())
    assert named.concepts[0].corrected_from is None
