"""A conversation's rules one at a time: what a saved state keeps, how a fragment or "what
about X?" is rewritten, which pronoun an article uses for a name, what an answer leaves
for the next turn, and what "more" shows when the passages run out.

Each rule is called directly on text written here, or on a small index of articles
written here, so that each runs in milliseconds.
"""

from __future__ import annotations

import sys
from collections import Counter
from dataclasses import replace
from types import FrameType

import pytest

from quotebot import analysis
from quotebot.context import Context
from quotebot.engine import QuoteEngine
from quotebot.models import Answer, Document, Quote, ShortAnswer
from quotebot.question import parse_question
from quotebot.session import (
    HISTORY_TURNS,
    HOME_TURNS,
    MAX_REFERENTS,
    MAX_SEEN,
    NO_MORE,
    SessionState,
    _first_pronoun,
    _is_clause,
    _number_of,
    _qualifies_next,
    _quoted_name,
    answer_once,
    complete_fragment,
    follow_up,
    is_fragment,
    learn_kind,
    referents_of,
    resolve,
    swap_subject,
)
from quotebot.store import SentenceIndex, build_index

from conftest import open_gate

# -- a saved state ------------------------------------------------------------------------


def test_a_saved_state_keeps_each_field_that_is_well_formed() -> None:
    state = SessionState.from_json({
        "question": "who went?", "said": "where did she go?", "question_entity": "Ms Ek",
        "scope": "a", "prefer": "b", "doc": "c", "place": "Leeds", "shown": 0, "anchor": 0,
        "history": ["Karin Ek", "Leeds", "Monday"],
        "asked_in": ["ferry harbour", None, 12],
        "seen": [["a", 1], ["b", 2]],
        "referents": [["Ms Ek", "she"], ["the union", "they"], ["CNN", ""], ["Leeds", "place"]],
        "homes": [["a", 1], ["b", 0], ["a", 40]], "asked_homes": [["b", 0]],
    })
    assert state == SessionState(
        question="who went?", said="where did she go?", question_entity="Ms Ek", scope="a",
        prefer="b", doc="c",
        place="Leeds", shown=0, anchor=0, history=("Karin Ek", "Leeds")[:HISTORY_TURNS],
        asked_in=("ferry harbour", None, 12), seen=(("a", 1), ("b", 2)),
        referents=(("Ms Ek", "she"), ("the union", "they"), ("CNN", ""), ("Leeds", "place")),
        homes=(("a", 1), ("b", 0), ("a", 40)), asked_homes=(("b", 0),))
    assert SessionState.from_json(state.to_json()) == state
    assert SessionState.from_json({"asked_in": ["ferry", "a", None]}).asked_in == (
        "ferry", "a", None)
    assert SessionState.from_json({"shown": 4, "anchor": 7}).shown == 4


@pytest.mark.parametrize(("field", "value"), [
    ("question", 7), ("said", ["who?"]), ("doc", ["a"]), ("shown", -1), ("shown", "3"),
    ("anchor", -1), ("anchor", "3"), ("history", ["a", 3]), ("history", "a"),
    ("asked_in", ["w", 3, 5]), ("asked_in", ["w", "a", "5"]), ("asked_in", [None, "a", 5]),
    ("asked_in", ["w", "a"]), ("asked_in", "w"),
    ("seen", [["a", 1], ["b"]]), ("seen", [["a", 1], 5]), ("seen", [[1, 1]]),
    ("seen", [["a", "1"]]), ("seen", {"a": 1}),
    ("referents", [["", "she"]]), ("referents", [["Ms Ek", "woman"]]),
    ("referents", [["Ms Ek"]]), ("referents", [[3, "she"]]), ("referents", ["Ms Ek"]),
    ("homes", [["a", 1], ["b"]]), ("homes", [["a", "1"]]), ("homes", ["a"]),
    ("asked_homes", [[1, 1]]), ("asked_homes", {"a": 1}),
])
def test_a_malformed_field_of_a_saved_state_is_left_fresh(field: str, value: object) -> None:
    good = SessionState.from_json({"question": "who went?", "said": "who?",
                                   "referents": [["Ms Ek", "she"]],
                                   "seen": [["a", 1]], "history": ["x"],
                                   "asked_in": ["w", None, None], "shown": 2, "anchor": 3,
                                   "homes": [["a", 1]], "asked_homes": [["a", 1]]})
    assert getattr(good, field) != getattr(SessionState(), field) or field == "doc"
    bad = SessionState.from_json({**good.to_json(), field: value})
    assert getattr(bad, field) == getattr(SessionState(), field)


def test_a_saved_state_keeps_the_last_passages_and_the_first_referents() -> None:
    state = SessionState.from_json({
        "seen": [["d", n] for n in range(MAX_SEEN + 5)],
        "referents": [[f"Name {n}", "she"] for n in range(MAX_REFERENTS + 2)],
        "homes": [["d", n] for n in range(HOME_TURNS + 3)],
    })
    assert state.homes == tuple(("d", n) for n in range(HOME_TURNS))
    assert state.seen == tuple(("d", n) for n in range(5, MAX_SEEN + 5))
    assert state.referents == tuple((f"Name {n}", "she") for n in range(MAX_REFERENTS))
    assert SessionState.from_json(["question"]) == SessionState()


# -- fragments and "what about X?" --------------------------------------------------------


@pytest.mark.parametrize(("text", "fragment"), [
    ("When?", True), ("By who?", True), ("For how long?", True), ("And then?", True),
    ("and after that", True), ("Why?", True), ("And why?", True),
    ("where and when and why then?", False),  # five words: a question of its own
    ("Who is she?", False), ("Leeds?", False), ("?", False),
])
def test_a_fragment_is_a_question_word_with_nothing_to_ask_about(text: str,
                                                                 fragment: bool) -> None:
    assert is_fragment(text) is fragment


@pytest.mark.parametrize(("fragment", "last", "completed"), [
    ("When?", "Where did she go?", "When did she go?"),
    ("And how long?", "how often does the ferry run?", "How long does the ferry run?"),
    ("why", "Who closed the road?", "Why (who closed the road)?"),
    ("When?", "How many?", "When (how many)?"),  # nothing after the question words
    ("And then?", "Who closed the road?", "What happened then (who closed the road)?"),
    # The last question was a fragment completed beside its frame: that frame is taken,
    # with its brackets closed and not nested.
    ("And when?", "Who (was someone famous born in Leeds)?",
     "When (was someone famous born in Leeds)?"),
    ("To what?", "By who (which date)?", "To what (which date)?"),
    ("Why?", "How many (does it house 10 million people)?",
     "Why (does it house 10 million people)?"),
    ("Why?", "To the southwest (to the south)?", "Why (to the southwest (to the south))?"),
])
def test_a_fragment_takes_the_frame_of_the_last_question(fragment: str, last: str,
                                                         completed: str) -> None:
    assert complete_fragment(fragment, last) == completed


@pytest.mark.parametrize(("about", "clause"), [
    ("the union", False), ("Canada", False), ("are they targeting terrorists", True),
    ("why the delay", True), ("her", True), ("them", True), ("who else", True),
])
def test_what_about_a_clause_is_asked_as_written(about: str, clause: bool) -> None:
    assert _is_clause(about) is clause


@pytest.mark.parametrize(("question", "subject", "entity", "swapped"), [
    # The thing counted comes first for a plain word, the phrase for a phrase.
    ("how many jobs will the plant cut?", "houses", None,
     "how many houses will the plant cut?"),
    ("how much rent will the council pay?", "tax", None,
     "how much tax will the council pay?"),
    ("how many jobs will the plant cut?", "the mill", None,
     "how many jobs will the mill cut?"),
    # The first phrase, not the second.
    ("What did the chief executive tell the union?", "staff", None,
     "What did staff tell the union?"),
    # A name for the longest name.
    ("Did Tom meet Karin Ek?", "Paul Hay", None, "Did Tom meet Paul Hay?"),
    # The name a pronoun stood for, where it first stands.
    ("When did Leeds play in Leeds?", "York", "Leeds", "When did York play in Leeds?"),
    # No phrase, name or count: the last word that is not the verb.
    ("Why did prices rise?", "wages", None, "Why did wages rise?"),
    # Nothing to swap: the question asked again about it.
    ("Who is it?", "rent", None, "Who is it (rent)?"),
    # A name opening the question is a name; one capitalised word opening it is not.
    ("Karin Ek said what?", "Tom Hale", None, "Tom Hale said what?"),
    ("Leeds beat whom?", "Tom Hale", None, "Leeds beat whom (Tom Hale)?"),
    # A phrase ends before the question's verb, even after "will"/"is" opening it.
    ("What did the council approve?", "the mayor", None, "What did the mayor approve?"),
    ("Is the plant closing?", "the mill", None, "Is the mill closing?"),
    ("Will the scheme cost more?", "the tram", None, "Will the tram cost more?"),
    # The name the last question was about, not the longest one in it.
    ("What did Karin Ek tell the Riverside Harbour Board?", "Tom Hale", "Karin Ek",
     "What did Tom Hale tell the Riverside Harbour Board?"),
])
def test_what_about_x_puts_x_in_the_slot_of_its_sort(question: str, subject: str,
                                                     entity: str | None, swapped: str) -> None:
    assert swap_subject(question, subject, entity) == swapped


# -- which pronoun an article uses ------------------------------------------------------


def index_of(*texts: str) -> SentenceIndex:
    return build_index([Document(f"d{n}", f"D{n}", text) for n, text in enumerate(texts)])


@pytest.mark.parametrize(("texts", "text", "name", "kind"), [
    # Titles: the most frequent wins.
    (["Ms Ek arrived on Monday. Ms Ek resigned early. Mr Ek remained."], "Ek", True, "she"),
    # A title before the first word of a longer name.
    (["Ms Anna Karin Maria Ek arrived on Monday. It rained."], "Anna Karin Maria Ek", True,
     "she"),
    # The pronoun opening the next sentence, outside quotation marks.
    (["Tom Hale arrived on Monday. \"It was late\", he said."], "Tom Hale", True, "he"),
    # The first pronoun after a mention: the most frequent wins, one each says nothing.
    (["The jury praised Lena Moss for her goal.", "Fans cheered Lena Moss and her team.",
      "Coaches watched Lena Moss and his brother."], "Lena Moss", True, "she"),
    (["The jury praised Lena Moss for her goal.", "Coaches watched Lena Moss and his brother."],
     "Lena Moss", True, ""),
    # A place: written after "in"/"to" in at least half of its mentions.
    (["She moved to New York. The team flew to New York."], "New York", True, "place"),
    (["Crowds filled Leeds. Leeds grew. Shops in Leeds opened."], "Leeds", True, ""),
    (["Leeds is the city we moved to. Crowds filled Leeds."], "Leeds", True, ""),
    (["Crowds filled Leeds. Rain hit Leeds. Shops in Leeds and in Leeds opened."], "Leeds",
     True, "place"),
    # A role is a person; a group is "they"; a thing without evidence is "it" or "they".
    (["The chef arrived on Monday. She said the menu would change."], "the chef", False,
     "she"),
    (["The member arrived on Monday. He said the club would close."], "the member", False,
     "he"),
    (["The harbour reopened. It was busy."], "the", False, ""),
    (["The union met on Monday. They voted to strike."], "the union", False, "they"),
    (["The union met on Monday. She voted to strike."], "the union", False, "it"),
    (["The bread sold out."], "the bread", False, "it"),
    (["The loaves sold out."], "the loaves", False, "they"),
    (["The officers waited."], "the officers", False, "they"),
    (["The officer waited."], "the officer", False, ""),
    # "Riverside manager Tom Hale …": Riverside qualifies the next word and says nothing.
    (["Riverside manager Tom Hale said his team won. Riverside is a club. It won."],
     "Riverside", True, "it"),
    (["Riverside fans said Riverside lost its final."], "Riverside", True, "it"),
])
def test_the_pronoun_of_a_name_is_learned_from_the_article(texts: list[str], text: str,
                                                           name: bool, kind: str) -> None:
    assert learn_kind(index_of(*texts), text, name=name) == kind


def tokens(text: str) -> list[analysis.Token]:
    return analysis.tokenize(text)


def test_a_word_qualifies_the_next_only_when_it_is_a_lower_case_noun_or_more_name() -> None:
    text = "Riverside manager Tom Hale said New York Police and Leeds, York agreed."
    words = tokens(text)
    at = {t.surface: i for i, t in enumerate(words)}
    assert _qualifies_next(text, words, at["Riverside"])  # a noun
    assert _qualifies_next(text, words, at["New"])  # more of the name
    assert not _qualifies_next(text, words, at["Hale"])  # "said": a verb
    assert not _qualifies_next(text, words, at["Leeds"])  # a comma between
    assert not _qualifies_next(text, words, at["Police"])  # "and": a small word
    assert not _qualifies_next(text, words, len(words) - 1)  # the last word


def test_the_number_of_a_noun_gives_its_pronoun() -> None:
    assert [_number_of(tokens(w)[0]) for w in ("jobs", "bread", "officers", "officer")] == [
        "they", "it", "they", ""]


def test_the_first_pronoun_counts_only_when_it_is_allowed() -> None:
    assert _first_pronoun(tokens("and then she said"), {"she", "it"}) == "she"
    assert _first_pronoun(tokens("and then she said they"), {"it", "they"}) is None
    assert _first_pronoun(tokens("nobody did"), {"it"}) is None


def test_a_quote_gives_first_the_name_the_question_asked_about() -> None:
    assert _quoted_name("Tom Hale met Karin Ek on Monday.", "What did Karin Ek say?") == (
        "Karin Ek")
    assert _quoted_name("Tom Hale met Karin Ek on Monday.", "Who spoke?") == "Tom Hale"
    assert _quoted_name("In March Tom left.", "Who spoke?") is None


# -- what an answer leaves for the next turn ----------------------------------------------


def quote(text: str, doc: str = "d0", start: int = 0) -> Quote:
    return Quote(text=text, doc=doc, title="D0", paragraph=0, sentence=0, start=start,
                 end=start + len(text), score=1.0)


def answered(question: str, short: str, text: str) -> Answer:
    return Answer(question=question, answered=True, quotes=(quote(text),),
                  short=ShortAnswer(short, 0, len(short)))


ARTICLE = ("Ms Karin Ek moved to New York in May. She said the harbour was busy. "
           "The union met in Leeds. They voted to strike.")


def test_a_where_answer_is_the_place_there_stands_for() -> None:
    index = index_of(ARTICLE)
    found, place = referents_of(index, answered("Where did Karin Ek move?", "New York",
                                                ARTICLE), "Where did Karin Ek move?")
    assert place == "New York" and found == [("Karin Ek", "she")]


def test_a_who_answer_and_the_questions_names_become_referents() -> None:
    index = index_of(ARTICLE)
    found, place = referents_of(index, answered("Who moved to New York?", "Karin Ek",
                                                "Tom Hale saw Karin Ek leave."),
                                "Who moved to New York?")
    assert found == [("Karin Ek", "she"), ("New York", "place")]
    assert place == "New York"
    found, place = referents_of(index, answered("Who met?", "The union",
                                                         "The union met in Leeds."),
                                "Who met?")
    assert found == [("The union", "they")] and place is None


def test_a_who_answer_without_a_person_borrows_the_quotes_first_name() -> None:
    index = index_of(ARTICLE)
    said = Answer(question="Who spoke?", answered=True, quotes=(quote(ARTICLE),))
    assert referents_of(index, said, "Who spoke?") == ([("Karin Ek", "she")], None)
    # Read as a name: a name's pronoun, not a thing's.
    hale = index_of("Tom Hale arrived on Monday. He said the harbour was busy.")
    spoke = Answer(question="Who spoke?", answered=True,
                   quotes=(quote("Tom Hale arrived on Monday."),))
    assert referents_of(hale, spoke, "Who spoke?") == ([("Tom Hale", "he")], None)
    # Not for a question of another kind, nor once a person is known.
    assert referents_of(index, replace_question(said, "What was said?"),
                        "What was said?") == ([], None)
    assert referents_of(index, said, "Who spoke?", kept=[("Tom", "he")]) == (
        [("Tom", "he")], None)


def replace_question(answer: Answer, question: str) -> Answer:
    return Answer(question=question, answered=answer.answered, quotes=answer.quotes)


# -- "more" and follow-ups through an engine ----------------------------------------------


@pytest.fixture(scope="module")
def twins(tmp_path_factory: pytest.TempPathFactory) -> QuoteEngine:
    """Two articles with the same sentences: only a preference tells them apart."""
    folder = tmp_path_factory.mktemp("twins")
    text = ("The bridge reopened on Monday after repairs.\n"
            "The bridge repairs cost 40,000 pounds.\n"
            "Traffic on the bridge doubled after repairs.\n")
    (folder / "a.txt").write_text(text, encoding="utf-8")
    (folder / "b.txt").write_text(text, encoding="utf-8")
    return QuoteEngine.open(folder, index_dir=folder / "index", semantic="off")


def test_more_with_every_passage_shown_says_so_and_shows_nothing(twins: QuoteEngine) -> None:
    question = "how much did the bridge repairs cost?"
    twins = open_gate(twins)  # the first answer has a short answer, "more" none
    first, state = follow_up(twins, SessionState(), question, k=2)
    assert len(first.quotes) == 2 and (first.short or first.withheld) is not None
    shown = tuple((q.doc, q.start) for q in first.quotes)
    # As if the engine found only what was shown: its offset back at the start.
    again, after = follow_up(twins, SessionState(question=state.question, seen=shown), "more",
                             k=2)
    assert (again.answered, again.quotes, again.short, again.reason) == (
        False, (), None, NO_MORE)
    assert (again.question, again.resolved_question, again.continued) == (
        "more", question, True)
    assert after.shown == 0 and after.seen == shown


def test_more_leaves_out_only_the_passages_already_shown(twins: QuoteEngine) -> None:
    first, state = follow_up(twins, SessionState(), "bridge repairs", k=2)
    one = ((first.quotes[0].doc, first.quotes[0].start),)
    again, after = follow_up(twins, SessionState(question=state.question, seen=one), "more",
                             k=2)
    assert [(q.doc, q.start) for q in again.quotes] == [
        (first.quotes[1].doc, first.quotes[1].start)]
    assert after.shown == 1 and after.seen == (*one, (first.quotes[1].doc,
                                                      first.quotes[1].start))


@pytest.mark.parametrize("doc", ["a", "b"])
def test_a_follow_up_and_its_more_prefer_the_article_of_the_last_answer(
        twins: QuoteEngine, doc: str) -> None:
    answer, state = follow_up(twins, SessionState(doc=doc), "when did the bridge reopen?",
                              k=1)
    assert answer.quotes[0].doc == doc and state.prefer == doc
    # "More" asks again with the same preference (here from the first passage on).
    more, _ = follow_up(twins, replace(state, shown=0, seen=()), "more", k=1)
    assert more.quotes[0].doc == doc
    scoped, state = follow_up(twins, SessionState(doc=doc), "when did the bridge reopen?",
                              k=1, doc="a")
    assert state.prefer is None and state.scope == "a" == scoped.quotes[0].doc


def test_one_question_without_a_conversation_gives_as_many_quotes_as_asked(
        twins: QuoteEngine) -> None:
    assert len(answer_once(twins, "bridge repairs").quotes) == 3
    assert len(answer_once(twins, "bridge repairs", 1).quotes) == 1



def test_what_about_a_name_takes_the_place_of_the_name_the_last_question_was_about() -> None:
    state = SessionState(question="What did Karin Ek tell the Riverside Harbour Board?",
                         question_entity="Karin Ek")
    assert resolve("what about Tom Hale?", state) == (
        "What did Tom Hale tell the Riverside Harbour Board?", None)


def test_there_is_the_place_the_conversation_is_about() -> None:
    state = SessionState(question="Where did Karin Ek move?", place="Leeds")
    assert resolve("What happened there?", state) == ("What happened in Leeds?", "Leeds")
    assert resolve("What happened there?", SessionState(question="x")) == (
        "What happened there?", None)


@pytest.fixture(scope="module")
def harbour(tmp_path_factory: pytest.TempPathFactory) -> QuoteEngine:
    folder = tmp_path_factory.mktemp("harbour")
    (folder / "harbour.txt").write_text(
        "Karin Ek opened the harbour in May.\nThe harbour cost 2 million pounds.\n",
        encoding="utf-8")
    return QuoteEngine.open(folder / "harbour.txt", index_dir=folder / "index",
                            semantic="off")


def test_the_next_state_keeps_what_the_turn_was_about(harbour: QuoteEngine) -> None:
    # The article shows no pronoun for Karin Ek; the conversation said "she" and keeps it.
    state = SessionState(question="Who opened the harbour?", referents=(("Karin Ek", "she"),),
                         place="Leeds", history=("Karin Ek",), doc="harbour", anchor=0,
                         asked=("Who runs the port?",))
    answer, after = follow_up(harbour, state, "When did she open the harbour?")
    assert answer.question == "When did she open the harbour?"
    assert answer.resolved_question == "When did Karin Ek open the harbour?"
    # What the next turn's retrieval is told: this answer, where it was, what was asked.
    assert after.doc == answer.quotes[0].doc and after.anchor == answer.quotes[0].start
    # The newest short answer first, shown or withheld ("" when there was none), then
    # the one before.
    lead = answer.short or answer.withheld
    assert after.history == (lead.text if lead else "", "Karin Ek")
    context = state.context()
    assert context is not None
    assert after.asked_in == (context.words, context.doc, context.start)
    assert after.asked == ("Who opened the harbour?", "Who runs the port?")
    assert after.question_entity == "Karin Ek"
    assert after.referents[0] == ("Karin Ek", "she")
    assert after.place == "Leeds"  # no place named this turn: the last one stays
    assert after.seen == tuple((q.doc, q.start) for q in answer.quotes) != ()


def test_a_turn_parses_its_question_once_for_every_stage(harbour: QuoteEngine) -> None:
    """Planning, the yes/no reading and the referents share one parse of the question:
    counted by the calls the interpreter makes into the parser and the tokenizer."""
    calls: Counter[tuple[str, str]] = Counter()
    counted = {parse_question.__code__: "parse", analysis.tokenize.__code__: "tokenize"}

    def count(frame: FrameType, event: str, arg: object) -> None:
        if event == "call" and frame.f_code in counted:
            calls[counted[frame.f_code], frame.f_locals["text"]] += 1

    state = SessionState(question="Who opened the harbour?", referents=(("Karin Ek", "she"),))
    for text, resolved in [("Did she open the harbour?", "Did Karin Ek open the harbour?"),
                           ("How much did the harbour cost?", None)]:
        calls.clear()
        sys.setprofile(count)
        try:
            answer, _ = follow_up(harbour, state, text)
        finally:
            sys.setprofile(None)
        assert answer.answered and answer.resolved_question == resolved
        asked = resolved or text
        assert (calls["parse", asked], calls["tokenize", asked]) == (1, 1), calls


def test_what_a_conversation_tells_the_next_turn() -> None:
    state = SessionState(question="Who opened it?", history=("Karin Ek", "May"), doc="harbour",
                         anchor=12, asked=("Who runs the port?",))
    assert state.context() == Context("Karin Ek May", "harbour", 12,
                                      "Who opened it? Who runs the port?")
    assert SessionState().context() is None


def test_more_before_any_question_keeps_what_was_said(harbour: QuoteEngine) -> None:
    answer, state = follow_up(harbour, SessionState(), "more")
    assert (answer.question, answer.answered, state) == ("more", False, SessionState())
