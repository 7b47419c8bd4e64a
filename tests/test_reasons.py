"""Reasons that are true: when quotebot declines, what it says about the article holds.

Every question below names a year, a number or a word that the article does have; the
answer may be a quote or "the article doesn't say", but a reason never denies what the
article says elsewhere ("mentions 2009 here, not 1853" while 1853 is in it).
"""

from __future__ import annotations

import re

import pytest

from quotebot.engine import QuoteEngine

from conftest import engine_over

ISLAND = (
    "Inchmorra is an island in the Firth of Lorn with a population of 160.\n"
    "In 2009 the island was bought by the Inchmorra Island Trust, and the island trust "
    "bought the island's pier too.\n"
    """\
The island changed hands in 1853, when Lord Murray bought the island from the Campbell family.
The distillery was founded in 1829 and closed in 1924.
The ferry is available all year, and the pier is unavailable only in storms.
The largest village is Kilmory; the smallest is Port Dubh.
""")


@pytest.fixture(scope="module")
def island(tmp_path_factory: pytest.TempPathFactory) -> QuoteEngine:
    return engine_over(tmp_path_factory.mktemp("island"), "inchmorra.txt", ISLAND)


def denies(reason: str, word: str) -> bool:
    """Whether ``reason`` says the article lacks ``word`` or gives something else in its
    place as the article's word."""
    w = re.escape(word)
    return bool(re.search(rf"(article|corpus) (mentions|says) .*, not “?{w}\b", reason)
                or re.search(rf"never mentions .*\b{w}\b", reason))


def test_the_passage_with_the_asked_year_answers(island: QuoteEngine) -> None:
    answer = island.answer_question("Who bought the island in 1853?")
    assert answer.answered, answer.reason
    assert "1853" in answer.quotes[0].text


@pytest.mark.parametrize("year", ["1853", "2009", "1829", "1924"])
@pytest.mark.parametrize("template", [
    "Who bought the island in {}?",
    "What happened to the distillery in {}?",
    "What did the trust buy in {}?",
    "Was the pier unavailable in {}?",
])
def test_no_reason_denies_a_year_the_article_has(island: QuoteEngine, year: str,
                                                 template: str) -> None:
    answer = island.answer_question(template.format(year))
    if not answer.answered:
        assert not denies(answer.reason, year), answer.reason


@pytest.mark.parametrize("question, word", [
    ("When was the pier unavailable?", "unavailable"),
    ("Which is the smallest village?", "smallest"),
    ("How many people live on Inchmorra?", "160"),
])
def test_no_reason_denies_a_word_the_article_has(island: QuoteEngine, question: str,
                                                 word: str) -> None:
    answer = island.answer_question(question)
    if not answer.answered:
        assert not denies(answer.reason, word), answer.reason
    else:
        assert word in answer.quotes[0].text.replace("Inchmorra", "160"), answer.quotes[0]


def test_a_year_the_article_lacks_is_still_named_as_missing(island: QuoteEngine) -> None:
    answer = island.answer_question("Who bought the island in 1977?")
    assert not answer.answered
    assert "1977" in answer.reason


HOMES = ("On 31 March 2012, the company announced the number of homes with its box was "
         "4,222,000.\nThe box was launched in 2006 with twelve channels.\n")


def test_a_number_written_in_groups_is_not_found_by_the_groups_it_shares(
        tmp_path_factory: pytest.TempPathFactory) -> None:
    engine = engine_over(tmp_path_factory.mktemp("homes"), "homes.txt", HOMES)
    answer = engine.answer_question(
        "When did the company announce the number of homes with its box was 3,222,000?")
    assert not answer.answered
    assert "4,222,000" in answer.reason and "3,222,000" in answer.reason
    # The number as the article writes it is found, and answered.
    assert engine.answer_question(
        "When did the company announce the number of homes with its box was 4,222,000?"
    ).answered
