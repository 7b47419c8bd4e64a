"""Answer quality, pinned with small corpora of our own: question kinds, short answers,
proximity, abstention, typos and related words."""

from __future__ import annotations

from pathlib import Path

import pytest

from quotebot.engine import QuoteEngine
from quotebot.question import Kind, parse_question

from conftest import open_gate

ARTICLE = """\
The Riverside Choir travelled to Vienna last spring to sing at the Musikverein.
Maria Lopez announced a new youth programme for singers under eighteen.
The tour ran from April 3 to 9, with 14 concerts and 3 workshops in total.
Thieves stole two violins in Salzburg and a cello in Graz during the tour.
Choir director Tom Fields said: "We learned more in one week than in a year."
The choir sold 2,500 tickets, a record for the group.
Rehearsals usually take place in the old library on Mondays.
"""


@pytest.fixture(scope="module")
def engine(tmp_path_factory: pytest.TempPathFactory) -> QuoteEngine:
    folder = tmp_path_factory.mktemp("choir")
    (folder / "choir-tour.txt").write_text(ARTICLE, encoding="utf-8")
    return open_gate(QuoteEngine.open(folder / "choir-tour.txt", index_dir=folder / "index"))


def first_quote(engine: QuoteEngine, question: str) -> str:
    answer = engine.answer_question(question)
    assert answer.answered, answer.reason
    return answer.quotes[0].text


@pytest.mark.parametrize(
    ("question", "kind"),
    [
        ("how many concerts were there?", Kind.HOW_MANY),
        ("How much did tickets cost?", Kind.HOW_MANY),
        ("Who announced the programme?", Kind.WHO),
        ("Which group travelled to Vienna?", Kind.WHO),
        ("Which NFL team won?", Kind.WHO),
        ("When did the tour run?", Kind.WHEN),
        ("What year was it?", Kind.WHEN),
        ("Where were the violins stolen?", Kind.WHERE),
        ("What did the director say?", Kind.WHAT),
        ("Why did they go?", Kind.WHY),
        ("Did the choir sing in Vienna?", Kind.YES_NO),
        ("violins Salzburg", Kind.KEYWORDS),
    ],
)
def test_recognises_the_kind_of_question(question: str, kind: Kind) -> None:
    assert parse_question(question).kind is kind


def test_question_words_are_not_searched_for() -> None:
    content = {t.norm for t in parse_question("Who went to New York?").content}
    assert content == {"went", "new", "york"}


def test_how_many_answers_with_the_number_next_to_the_word_asked_about(engine: QuoteEngine
                                                                        ) -> None:
    for question, number in [("how many concerts?", "14"), ("how many workshops?", "3"),
                             ("How many tickets did the choir sell?", "2,500")]:
        answer = engine.answer_question(question)
        assert answer.short is not None, question
        assert answer.short.text == number


def test_short_answers_slice_back_out_of_the_document(engine: QuoteEngine) -> None:
    text = engine.document("choir-tour").text
    for question in ("how many concerts?", "Who announced a youth programme?",
                     "When did the tour run?", "Where were the violins stolen?"):
        answer = engine.answer_question(question)
        assert answer.short is not None, question
        assert text[answer.short.start:answer.short.end] == answer.short.text
        quote = answer.quotes[0]
        assert quote.start <= answer.short.start < answer.short.end <= quote.end


def test_who_answers_with_the_name_of_the_doer(engine: QuoteEngine) -> None:
    answer = engine.answer_question("Who announced a youth programme?")
    assert answer.short is not None and answer.short.text == "Maria Lopez"


def test_who_is_answers_with_the_name_the_role_describes(engine: QuoteEngine) -> None:
    answer = engine.answer_question("Who is the choir director?")
    assert answer.short is not None and answer.short.text == "Tom Fields"


def test_when_answers_with_the_time_phrase(engine: QuoteEngine) -> None:
    assert engine.answer_question("When did the tour run?").short.text == "April 3 to 9"  # type: ignore[union-attr]
    assert engine.answer_question("When did the choir travel to Vienna?").short.text == (  # type: ignore[union-attr]
        "last spring")


def test_where_answers_with_the_place_nearest_the_question_words(engine: QuoteEngine) -> None:
    assert engine.answer_question("Where were the violins stolen?").short.text == "Salzburg"  # type: ignore[union-attr]
    assert engine.answer_question("Where was the cello stolen?").short.text == "Graz"  # type: ignore[union-attr]


def test_no_short_answer_when_the_question_asks_for_no_single_fact(engine: QuoteEngine) -> None:
    answer = engine.answer_question("Did the choir sing at the Musikverein?")
    assert answer.answered and answer.short is None


def test_related_words_find_a_paraphrase(engine: QuoteEngine) -> None:
    # "went" is not in the article; "travelled" is, and is related to it.
    assert "travelled to Vienna" in first_quote(engine, "Who went to Vienna?")
    assert "Tom Fields said" in first_quote(engine, "What did the director tell?")


def test_a_misspelt_word_is_corrected_against_the_index_and_reported(engine: QuoteEngine
                                                                      ) -> None:
    answer = engine.answer_question("how many consterts?")
    assert answer.searched_for == "concerts"
    assert answer.short is not None and answer.short.text == "14"


def test_a_known_word_is_never_corrected(engine: QuoteEngine) -> None:
    assert engine.answer_question("how many concerts?").searched_for is None


def test_words_close_together_and_in_order_outrank_scattered_ones(tmp_path: Path) -> None:
    corpus = tmp_path / "proximity.txt"
    corpus.write_text(
        "The red team beat the blue side while fans wore scarves in the square.\n"
        "Fans said the blue team wore red scarves.\n",
        encoding="utf-8",
    )
    engine = QuoteEngine.open(corpus, index_dir=tmp_path / "index")
    assert first_quote(engine, "red scarves") == "Fans said the blue team wore red scarves."


@pytest.mark.parametrize(
    "question",
    [
        "What is the capital of France?",
        "How do I bake sourdough bread?",
        "zzzz qqqq",
        "Who won the Champions League?",
        "What is the population of Vienna?",
    ],
)
def test_abstains_when_the_article_does_not_answer(engine: QuoteEngine, question: str) -> None:
    answer = engine.answer_question(question)
    assert not answer.answered
    assert answer.quotes == ()
    assert answer.to_json()["answer"] is None
    assert answer.reason


def test_abstention_offers_closest_passages_only_outside_the_answer(engine: QuoteEngine) -> None:
    """Catches: an abstention that drops its closest passages (the check used to pass with
    no "closest" at all), or that puts them among the quotes."""
    data = engine.answer_question("What is the population of Vienna?").to_json()
    assert data["answered"] is False and data["quotes"] == [] and data["answer"] is None
    closest = data["closest"]
    assert closest and "travelled to Vienna" in closest[0]["text"]
    text = engine.document("choir-tour").text
    assert all(text[q["start"]:q["end"]] == q["text"] for q in closest)


def test_answers_when_the_question_is_covered(engine: QuoteEngine) -> None:
    assert engine.answer_question("Where do rehearsals take place?").answered


def test_no_quote_ever_has_a_zero_score(engine: QuoteEngine) -> None:
    answer = engine.answer_question("choir", k=50)
    assert answer.quotes
    assert all(q.score > 0 for q in answer.quotes)
    assert len(answer.quotes) == len({(q.start, q.end) for q in answer.quotes})


MATCH = """\
Riverside Rovers beat Hillford Town 3–1 in the County Cup final, ending a 12–4 season.
The winning goal was scored by Jamie Cole, who now has 31 goals this season.
The trophy was presented by the mayor of Hillford, a former goalkeeper.
Tickets cost £8 for adults and £2 for children, and seventy thousand fans applied for them.
QuickBooks sponsored the match programme, which was printed in gold and green.
Cole later thanked the groundstaff of the Meadow Park stadium.
Earlier in the season the Rovers defeated the Harbour Athletic in the semi-final.
The players stayed at the Grand Marine Hotel before the final.
"""


@pytest.fixture(scope="module")
def match(tmp_path_factory: pytest.TempPathFactory) -> QuoteEngine:
    folder = tmp_path_factory.mktemp("match")
    (folder / "cup-final.txt").write_text(MATCH, encoding="utf-8")
    return open_gate(QuoteEngine.open(folder / "cup-final.txt", index_dir=folder / "index"))


@pytest.mark.parametrize(
    ("question", "short"),
    [
        # Amounts keep their currency and their scale word.
        ("How much did a child's ticket cost?", "£2"),
        ("How many fans applied for tickets?", "seventy thousand"),
        # A passive sentence names the doer after "by".
        ("Who scored the winning goal?", "Jamie Cole"),
        # "Who did X beat?" asks for the one beaten.
        ("Who did the Rovers defeat in the semi-final?", "Harbour Athletic"),
        # A name written like one (capitals inside) opens a sentence.
        ("Who sponsored the match programme?", "QuickBooks"),
        # "What hotel …?" asks for a name, as "who" does.
        ("What hotel did the players stay at?", "Grand Marine Hotel"),
    ],
)
def test_short_answers_for_typed_questions(match: QuoteEngine, question: str,
                                          short: str) -> None:
    answer = match.answer_question(question)
    assert answer.short is not None, (question, answer.quotes[0].text if answer.quotes else None)
    assert answer.short.text == short


def test_a_name_that_opens_a_sentence_counts_when_the_article_capitalises_it(
        match: QuoteEngine) -> None:
    answer = match.answer_question("Who thanked the groundstaff?")
    assert answer.short is not None and answer.short.text == "Cole"


def test_a_question_asking_for_a_colour_gets_a_colour_only_when_there_is_one(
        match: QuoteEngine) -> None:
    answer = match.answer_question("What colour was the match programme printed in?")
    assert answer.answered and answer.short is None  # gold and green: two, so no answer


def test_a_name_that_only_describes_the_doer_is_not_the_answer(match: QuoteEngine) -> None:
    answer = match.answer_question("Who presented the trophy?")
    assert answer.quotes[0].text.startswith("The trophy was presented by the mayor")
    assert answer.short is None or answer.short.text != "Hillford"


GAME = """\
Norwood's 61-yard punt return set a new record for the final.
The league announced on October 16, 2012, that two stadiums were finalists.
The Cup 50 Host Committee will give 25 percent of its money to charity.
Stewart scored with 11:28 left in the third quarter.
Organisers said more than 1 million people are expected to come to the fan festival.
"""


@pytest.mark.parametrize(
    ("question", "short"),
    [
        ("How many yards was Norwood's punt return?", "61"),  # the number, not "61-yard"
        ("How many stadiums were finalists?", "two"),  # not the 16 of the date
        ("How much money will the host committee give to charity?", "25 percent"),  # not 50
        ("How much time was left when Stewart scored?", "11:28"),
        # "how many people": the number before the counted word, though "people" is not
        # searched for.
        ("How many people will come to the festival?", "1 million"),
    ],
)
def test_how_many_skips_dates_and_names_and_keeps_units_apart(
        tmp_path_factory: pytest.TempPathFactory, question: str, short: str) -> None:
    folder = tmp_path_factory.mktemp("game")
    (folder / "game.txt").write_text(GAME, encoding="utf-8")
    engine = open_gate(QuoteEngine.open(folder / "game.txt", index_dir=folder / "index"))
    answer = engine.answer_question(question)
    assert answer.short is not None, (question, answer.quotes[0].text if answer.quotes else None)
    assert answer.short.text == short
