"""Conversations: "more", pronouns, "what about X?", and a state that survives JSON."""

from __future__ import annotations

import pytest

from quotebot.engine import QuoteEngine
from quotebot.session import Session, SessionState, is_more, resolve, swap_subject

from conftest import open_gate

ARTICLE = """\
Chef Amara Okafor opened a new restaurant in Leeds last week.
She said the menu would change every season.
The restaurant employs 25 staff and 3 apprentices.
Critic Paul Hay praised the bread and the soup.
Hay said the soup was the best he had tasted in years.
The bakery next door sells 400 loaves a day.
"""


@pytest.fixture(scope="module")
def engine(tmp_path_factory: pytest.TempPathFactory) -> QuoteEngine:
    folder = tmp_path_factory.mktemp("food")
    (folder / "restaurant.txt").write_text(ARTICLE, encoding="utf-8")
    # Every short answer found is shown: these tests follow the conversation from it.
    return open_gate(QuoteEngine.open(folder / "restaurant.txt", index_dir=folder / "index"))


def test_more_gives_the_next_passages_then_says_there_are_no_more(engine: QuoteEngine) -> None:
    """Catches: "more" that repeats a passage, stops early, or starts over once the
    passages have run out."""
    session = Session(engine)
    first = session.ask("restaurant soup", k=1)
    seen = {first.quotes[0].text}
    for _ in range(len(ARTICLE.splitlines()) + 1):
        more = session.ask("more", k=1)
        if not more.quotes:
            break
        assert more.continued and more.quotes[0].text not in seen
        seen.add(more.quotes[0].text)
    assert not more.answered and "no more" in more.reason.lower()
    assert len(seen) >= 3
    again = session.ask("more", k=1)
    assert again.quotes == () and not again.answered and "no more" in again.reason.lower()


def test_more_before_any_question_asks_for_one(engine: QuoteEngine) -> None:
    """Catches: "more" with nothing to continue that searches for the word or quotes
    something anyway."""
    answer = Session(engine).ask("more")
    assert not answer.answered and "Ask a question first" in answer.reason
    assert answer.quotes == () and answer.short is None


@pytest.mark.parametrize("text", ["more", "More.", "next", "/more", "tell me more", "MORE!"])
def test_ways_of_saying_more(text: str) -> None:
    assert is_more(text)


def test_pronouns_refer_to_the_person_of_the_last_answer(engine: QuoteEngine) -> None:
    session = Session(engine)
    assert session.ask("Who opened a new restaurant?").short.text == "Amara Okafor"  # type: ignore[union-attr]
    answer = session.ask("What did she say?")
    assert answer.resolved_question == "What did Amara Okafor say?"
    assert answer.quotes[0].text.startswith("She said the menu")


def test_what_about_asks_the_last_question_about_something_else(engine: QuoteEngine) -> None:
    session = Session(engine)
    assert session.ask("how many staff?").short.text == "25"  # type: ignore[union-attr]
    answer = session.ask("what about apprentices?")
    assert answer.resolved_question == "how many apprentices?"
    assert answer.short is not None and answer.short.text == "3"


def test_conversations_do_not_leak_into_each_other(engine: QuoteEngine) -> None:
    one, two = Session(engine), Session(engine)
    one.ask("Who praised the bread?")
    assert two.ask("What did he say?").resolved_question is None


def test_state_survives_json_and_bad_state_starts_afresh(engine: QuoteEngine) -> None:
    session = Session(engine)
    session.ask("Who praised the bread?")
    restored = Session(engine, SessionState.from_json(session.state.to_json()))
    assert restored.ask("What did he say?").resolved_question == "What did Paul Hay say?"
    # Catches: a malformed state that is half kept (a negative count of quotes shown, a
    # name that is not a string), which the old `== SessionState() or question is None`
    # let through.
    for junk in (None, [], "x", {"question": 5, "shown": -3}, {"entity": ["a"]},
                 {"shown": "2", "place": 7}, {"history": [1, 2], "anchor": -1},
                 {"asked_in": ["a", 3, None]}, {"anchor": "12"}):
        assert SessionState.from_json(junk) == SessionState()
    # What the next turn's retrieval leans on comes back whole.
    state = session.state
    assert state.history and state.anchor is not None
    assert SessionState.from_json(state.to_json()) == state
    assert state.context() is not None and state.context() == (
        SessionState.from_json(state.to_json()).context())


@pytest.mark.parametrize(("question", "subject", "expected"), [
    ("What did the chief executive say?", "the union", "What did the union say?"),
    ("What did the chief executive say?", "Dev Patel", "What did Dev Patel say?"),
    ("how many stabbings?", "shootings", "how many shootings?"),
    ("how many jobs will be cut?", "apprentices", "how many apprentices will be cut?"),
    ("who voted against the tram extension?", "the bus lane", "who voted against the bus lane?"),
    ("How much will the scheme cost each household?", "the bridge",
     "How much will the bridge cost each household?"),
    ("Who is the mayor of London?", "Paris", "Who is the mayor of Paris?"),
    # Nothing of the same sort to swap: a name never replaces the thing counted.
    ("how many jobs will be cut?", "Voltra", "how many jobs will be cut (Voltra)?"),
])
def test_what_about_swaps_the_slot_of_the_same_sort(question: str, subject: str,
                                                    expected: str) -> None:
    assert swap_subject(question, subject) == expected


@pytest.mark.parametrize(("question", "expected"), [
    ("what did she say?", "what did Sam Orley say?"),
    ("what did he say?", "what did Robin Vale say?"),
    # "it" stays as written: a thing the last turns named is too often not what it means.
    ("when will it open?", "when will it open?"),
    ("how much did its roof cost?", "how much did its roof cost?"),
    ("what did they tell her?", "what did the Harbour Singers tell Sam Orley?"),
    ("what was her best design?", "what was Sam Orley's best design?"),
    ("She won what?", "Sam Orley won what?"),
])
def test_pronouns_are_replaced_by_the_referent_of_their_kind(question: str,
                                                             expected: str) -> None:
    state = SessionState(referents=(("the library", "it"), ("Sam Orley", "she"),
                                    ("the Harbour Singers", "they"), ("Robin Vale", "he"),
                                    ("Leeds", "place")))
    assert resolve(question, state)[0] == expected


def test_a_name_the_article_gives_no_pronoun_for_and_a_place_fit_no_pronoun() -> None:
    """Catches: "How long did it take them?" → "How long did Sam take Sam?" and "What
    colours does it come in?" → "… does Ingrid Solberg come in?": a name whose pronoun the
    article never shows is kept out, and the user's words stay."""
    state = SessionState(referents=(("Leeds", "place"), ("Harbour City", "")))
    for question in ("when will they parade the trophy?", "what did he say?",
                     "what colours does it come in?"):
        assert resolve(question, state)[0] == question
    assert SessionState(referents=(("Leeds", "place"),)).referent_for("it") is None


def test_an_acronym_is_never_a_person_and_one_referent_fills_one_slot() -> None:
    """Catches: "What happened to him?" → "What happened to CNN?", and "who did they grant
    it to" → "who did European grant European to"."""
    state = SessionState(referents=(("CNN", "he"), ("US", "they")))
    assert resolve("What happened to him?", state)[0] == "What happened to him?"
    assert resolve("How heavy are they?", state)[0] == "How heavy are they?"
    # "they" has no referent of its own here: the giver is unknown, so neither slot is
    # filled (the European Union is no gift).
    groups = SessionState(referents=(("the European Union", "it"), ("European", "")))
    assert resolve("who did they grant it to", groups)[0] == "who did they grant it to"
    both = SessionState(referents=(("the council", "they"), ("the licence", "it")))
    assert resolve("who did they grant it to", both)[0] == (
        "who did the council grant it to")
    many = SessionState(referents=(("the Harbour Singers", "they"),))
    assert resolve("did they sing their songs?", many)[0] == (
        "did the Harbour Singers sing their songs?")


def test_and_or_what_about_a_clause_is_asked_as_written_not_swapped_in() -> None:
    """Catches: "And are they targeting terrorists?" → "Does are they targeting terrorists
    say …?" and "What about the site does she find useful?" → "Did she the site does she
    find useful her opinion?": a question of its own put into the last question's slot,
    "And another?" → "Name another major city of another.", and "How about to the
    south?" → "To to the south?"."""
    state = SessionState(question="Did she change her opinion?",
                         referents=(("the rebels", "they"),))
    assert resolve("And are they targeting terrorists?", state)[0] == (
        "And are the rebels targeting terrorists?")
    assert resolve("What about the site does she find useful?", state)[0] == (
        "What about the site does she find useful?")
    city = SessionState(question="Name a major city.")
    assert resolve("And another?", city)[0] == "Name a major city (another)?"
    rank = SessionState(question="Where does Toronto rank in terms of population?")
    assert resolve("How about to the south?", rank)[0] == (
        "Where does Toronto rank in terms of population (to the south)?")
    assert resolve("And Montreal?", rank)[0] == (
        "Where does Montreal rank in terms of population?")
