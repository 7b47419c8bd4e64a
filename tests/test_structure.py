"""Structure is not an answer: a section heading helps find the sentences under it, but is
never quoted first, nor given as the short answer, while a sentence answers."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from quotebot.engine import QuoteEngine

from conftest import engine_over

ARTICLE = """\
# Inchmorra

## Clearances and emigration

In the 1850s most families of the island emigrated to Canada during the clearances.

## Population

Inchmorra has a population of 160 people, most of them in Kilmory.

## Startup and Code

The company's chief executive is Ingrid Solberg, who founded it in 2011.
"""


@pytest.fixture(scope="module")
def engine(tmp_path_factory: pytest.TempPathFactory) -> QuoteEngine:
    return engine_over(tmp_path_factory.mktemp("structure"), "inchmorra.md", ARTICLE)


@pytest.mark.parametrize(("question", "expected"), [
    ("What happened during the clearances and emigration?", "emigrated to Canada"),
    ("What is the population of Inchmorra?", "160 people"),
    ("Who is the chief executive of Startup and Code?", "Ingrid Solberg"),
])
def test_a_heading_is_never_quoted_first(engine: QuoteEngine, question: str,
                                         expected: str) -> None:
    answer = engine.answer_question(question)
    assert answer.answered, answer.reason
    assert expected in answer.quotes[0].text
    headings = {"Clearances and emigration", "Population", "Startup and Code", "Inchmorra"}
    assert answer.quotes[0].text not in headings
    assert answer.short is None or answer.short.text not in headings


def test_who_is_the_ceo_is_not_answered_by_a_heading(engine: QuoteEngine) -> None:
    answer = engine.answer_question("Who is the CEO of Startup and Code?")
    assert answer.answered, answer.reason
    assert answer.short is None or answer.short.text == "Ingrid Solberg"


def test_the_index_knows_every_heading_sentence(tmp_path: Path) -> None:
    """Catches: a heading missed because only paragraphs far enough from the sentence
    before are read (a document's first line, a heading under a heading, ``\\r\\n`` line
    ends, a heading of two sentences, closing marks), or text taken for a heading."""
    from quotebot.models import Document
    from quotebot.sentences import heading_at
    from quotebot.store import build_index, load_index, save_index

    docs = [
        Document("a", "A", "# Ferries\r\n## Timetable ##\r\nBoats leave at noon. They are red.\r\n"
                           "### Fares. Adults pay\n  indented text line.\n######\n#1 in town."),
        Document("b", "B", "Plain text first.\n\n# A heading. Of two sentences\nMore text.\n"
                           "#\tTabbed heading\nEnd."),
        Document("c", "C", "No headings. None at all.\nJust lines."),
    ]
    built = build_index(docs)
    save_index(built, tmp_path)
    for index in (built, load_index(tmp_path)):
        sids = np.arange(index.n_sentences)
        want = [heading_at(index.texts(int(index.doc_idx[s])), int(index.start[s]))
                for s in sids.tolist()]
        assert index.in_headings(sids).tolist() == want
        assert sum(want) == 7


@pytest.mark.parametrize("question", [
    "What happened during the clearances and emigration?",
    "What is the population of Inchmorra?",
    "Who is the chief executive of Startup and Code?",
    "population",
    "Startup and Code",
])
def test_no_quote_is_a_heading(engine: QuoteEngine, question: str) -> None:
    """Catches: a heading quoted second or third, after the sentences that answer, or
    first, when only a heading holds the question's words."""
    headings = {"Clearances and emigration", "Population", "Startup and Code", "Inchmorra"}
    answer = engine.answer_question(question, k=3)
    assert answer.answered, answer.reason
    assert answer.quotes
    assert not {q.text for q in answer.quotes} & headings
    assert len({(q.doc, q.start) for q in answer.quotes}) == len(answer.quotes)


def test_a_question_only_a_heading_holds_is_answered_by_the_sentence_under_it(
        engine: QuoteEngine) -> None:
    """Catches: the heading quoted, or nothing, when the question's word is the section's
    name ("population") and not its sentence's."""
    answer = engine.answer_question("population", k=3)
    assert answer.quotes[0].text.startswith("Inchmorra has a population of 160 people")
    answer = engine.answer_question("startup", k=3)
    assert answer.answered, answer.reason
    assert answer.quotes[0].text.startswith("The company's chief executive is Ingrid Solberg")


def test_more_after_a_heading_gives_a_full_page_of_sentences(tmp_path: Path) -> None:
    """Catches: a heading whose sentence is quoted already taking a place on the page, so
    that a page (and "more") gives fewer quotes than there are passages."""
    text = "# Harbour\n\n" + "".join(
        f"## Boats {n}\n\nThe harbour counted {n} {'boats' if n < 3 else 'vessels'} on "
        f"day {n}.\n\n" for n in range(1, 6))
    engine = engine_over(tmp_path, "harbour.md", text)
    first = engine.answer_question("boats", k=3)
    more = engine.answer_question("boats", k=3, offset=3)
    quoted = [q.text for q in (*first.quotes, *more.quotes)]
    assert [len(first.quotes), len(more.quotes)] == [3, 2]
    assert sorted(quoted) == sorted(
        f"The harbour counted {n} {'boats' if n < 3 else 'vessels'} on day {n}."
        for n in range(1, 6))


def test_the_sentence_standing_in_for_a_heading_has_the_question_s_words_highlighted(
        tmp_path: Path) -> None:
    """Catches: the first sentence under a heading quoted in the heading's place without
    the highlights every other quote has."""
    # The sentence under the heading holds one of the question's two words, so that the
    # many sentences holding both leave it out of the candidates: the heading brings it.
    text = "# Harbour\n\n" + "".join(
        f"The harbour boats sailed out on day {n} of the season.\n\n" for n in range(1, 80)
    ) + "## Harbour boats\n\nTwo boats were lost in the storm.\n"
    engine = engine_over(tmp_path, "harbour.md", text)
    answer = engine.answer_question("harbour boats", k=20, offset=50)
    lost = [q for q in answer.quotes if q.text == "Two boats were lost in the storm."]
    assert lost and lost[0].section == ("Harbour boats",), [q.text for q in answer.quotes]
    assert [lost[0].text[a:b] for a, b in lost[0].highlights] == ["boats"]
    for quote in answer.quotes:
        assert {quote.text[a:b].casefold() for a, b in quote.highlights} <= {"harbour", "boats"}
        assert quote.highlights
