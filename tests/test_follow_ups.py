"""Follow-ups as users meet them: "more" at its edges (before any question, page after page
without repeats, after the passages run out), pronouns and "what about X?" over a folder of
one's own articles, and asking one article of a folder."""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient

from quotebot.bot.config import BotConfig
from quotebot.bot.server import create_app
from quotebot.engine import QuoteEngine
from quotebot.errors import UnknownDocument
from quotebot.session import Session, SessionState, answer_once

from conftest import open_gate, run_main

Client = TestClient[web.Request, web.Application]
MakeClient = Callable[..., Awaitable[Client]]
QUESTION = "who went to New York?"  # eleven passages of the article mention the trip


@pytest.fixture()
async def client(aiohttp_client: MakeClient) -> Client:
    return await aiohttp_client(create_app(BotConfig(rate_limit_ip=0, semantic="off")))


async def ask(client: Client, payload: dict[str, Any]) -> dict[str, Any]:
    response = await client.post("/v1/ask", json=payload)
    assert response.status == 200
    return await response.json()  # type: ignore[no-any-return]


async def test_more_with_nothing_before_it_asks_for_a_question(client: Client) -> None:
    """Catches: "more" on a fresh conversation that answers anyway (searching for the word
    "more", or continuing some other conversation's question)."""
    other = await ask(client, {"question": QUESTION})  # someone else's conversation
    data = await ask(client, {"question": "more"})
    assert data["session"] != other["session"]
    assert data["answered"] is False and data["answer"] is None and data["quotes"] == []
    assert data["reason"].startswith("Ask a question first")
    assert "resolved_question" not in data
    again = await ask(client, {"question": "more", "session": data["session"]})
    assert again["quotes"] == [] and again["reason"].startswith("Ask a question first")


async def test_more_pages_through_the_passages_once_then_says_there_are_no_more(
        client: Client) -> None:
    """Catches: "more" that repeats a passage, returns nothing while passages are left,
    forgets the question it continues, or starts over when the passages run out."""
    first = await ask(client, {"question": QUESTION, "k": 2})
    pages_id = first["session"]
    seen = [q["sentence"] for q in first["quotes"]]
    assert len(seen) == 2
    pages = 0
    for _ in range(20):
        more = await ask(client, {"question": "more", "session": pages_id, "k": 2})
        assert more["resolved_question"] == QUESTION
        if not more["quotes"]:
            break
        assert more["answered"] and 1 <= len(more["quotes"]) <= 2
        seen += [q["sentence"] for q in more["quotes"]]
        pages += 1
    else:
        pytest.fail("\"more\" never ran out of passages")
    assert pages >= 3, "\"more\" gave fewer pages than the article has passages"
    assert len(seen) == len(set(seen)), f"a passage came twice: {seen}"
    assert more["answered"] is False and more["answer"] is None
    assert "no more" in more["reason"].lower()
    again = await ask(client, {"question": "more", "session": pages_id, "k": 2})
    assert again["quotes"] == [] and "no more" in again["reason"].lower()
    # A new question after the end starts a new series.
    fresh = await ask(client, {"question": "how many stabbings?", "session": pages_id})
    assert fresh["answered"] and "72 fatal stabbings" in fresh["quotes"][0]["text"]


def test_the_repl_says_when_more_has_nothing_to_continue_or_nothing_left() -> None:
    """Catches the same in the REPL: "more" first, then "more" past the last passage."""
    result = run_main("repl", "--json", "--semantic", "off", "-k", "2",
                     stdin="more\n" + QUESTION + "\n" + "more\n" * 8)
    assert result.returncode == 0, result.stderr
    out = [json.loads(line) for line in result.stdout.splitlines()]
    assert len(out) == 10
    assert out[0]["answered"] is False and out[0]["reason"].startswith("Ask a question first")
    pages = [o for o in out[1:] if o["quotes"]]
    assert len(pages) >= 4
    sentences = [q["sentence"] for o in pages for q in o["quotes"]]
    assert len(sentences) == len(set(sentences))
    assert out[1:len(pages) + 1] == pages  # the pages come first, then only "no more"
    for tail in out[len(pages) + 1:]:
        assert tail["answered"] is False and tail["quotes"] == []
        assert "no more" in tail["reason"].lower()
        assert tail["resolved_question"] == QUESTION
    assert len(out) > len(pages) + 1, "the eight \"more\" never ran past the last passage"


# -- a user's own articles: three short news stories -------------------------------------------

OWN = Path(__file__).resolve().parent / "fixtures" / "own-articles"


@pytest.fixture(scope="module")
def own(tmp_path_factory: pytest.TempPathFactory) -> QuoteEngine:
    index = tmp_path_factory.mktemp("own") / "index"
    return QuoteEngine.open(OWN, index_dir=index, semantic="off")


def test_she_after_a_woman_is_named_means_her_and_the_rewrite_is_shown(own: QuoteEngine) -> None:
    """Catches: "what did she say?" left unresolved (quoting whoever "said" anything, such as
    the union official's '"People are frightened," he said.') and a rewrite not reported."""
    session = Session(own)
    session.ask("Who is Karin Ek?")
    answer = session.ask("what did she say?")
    assert answer.resolved_question == "what did Karin Ek say?"
    assert len(answer.quotes) >= 2
    assert all(q.doc == "tram-extension" and "frightened" not in q.text
               for q in answer.quotes[:2])
    first = answer.quotes[0].text
    assert "Karin Ek" in first or first.startswith("She said")


def test_a_follow_up_shows_its_quotes_scores_on_the_scale_of_a_question_asked_alone(
        own: QuoteEngine) -> None:
    """Catches: scores in a conversation on a scale of their own (shares of the best, 0.97
    against 9.42 for the same passage asked alone), which a reader compares across turns."""
    alone = Session(own).ask("Who is Karin Ek?").quotes[0]
    session = Session(own)
    session.ask("What did the chief executive say?")
    followed = session.ask("Who is Karin Ek?").quotes[0]
    assert (followed.doc, followed.start) == (alone.doc, alone.start)
    # The conversation weighs it down a little (the last answer was in another article),
    # never to another scale.
    assert 0.5 * alone.score <= followed.score <= 2 * alone.score
    assert all(q.score >= 0 for q in session.ask("what about the union?").quotes)


def test_more_after_its_document_was_removed_says_so(tmp_path: Path) -> None:
    """Catches: "more" after the document it pages through is removed from the library,
    declined with a reason that is not true ("no sentence shares a word with the
    question": the question was answered a moment ago) instead of saying what happened."""
    folder = tmp_path / "library"
    folder.mkdir()
    (folder / "harbour.txt").write_text(
        "The harbour master, Tom Okafor, closed the pier on Friday. Storm waves broke the "
        "sea wall in two places. Repairs to the sea wall will take six weeks.\n",
        encoding="utf-8")
    (folder / "market.txt").write_text(
        "The Saturday market moves to the town square in May. Forty stalls sell food and "
        "crafts.\n", encoding="utf-8")
    engine = QuoteEngine.open(folder, index_dir=tmp_path / "index", semantic="off")
    session = Session(engine)
    first = session.ask("What happened to the sea wall?", 1)
    assert first.answered and first.quotes[0].doc == "harbour"
    (folder / "harbour.txt").unlink()
    smaller = QuoteEngine.open(folder, index_dir=tmp_path / "index2", semantic="off")
    more = Session(smaller, session.state).ask("more")
    assert not more.answered and more.quotes == () and more.closest == ()
    assert "'harbour'" in (more.reason or "") and "removed" in (more.reason or "")
    # With the document still there, paging to the end says there is no more.
    kept = Session(engine, session.state)
    for _ in range(10):
        last = kept.ask("more")
        if not last.answered:
            break
    assert last.reason == "There are no more passages about this."


def test_pronouns_follow_the_gender_the_article_shows_not_the_most_recent_name(
        tmp_path: Path) -> None:
    """Catches: "he" taken for the last person named whatever the article calls them, or a
    gender guessed from a list of first names (these names give nothing away)."""
    article = tmp_path / "library.txt"
    article.write_text(
        "Councillor Robin Vale opened the new library on Monday. He said it had cost "
        "£2 million.\n"
        "The architect, Sam Orley, designed the reading room. Ms Orley said the roof was the "
        "hardest part.\n", encoding="utf-8")
    engine = QuoteEngine.open(article, index_dir=tmp_path / "index", semantic="off")
    session = Session(engine)
    assert "Robin Vale" in session.ask("Who opened the new library?").quotes[0].text
    assert "Sam Orley" in session.ask("Who designed the reading room?").quotes[0].text
    assert session.ask("what did she say?").resolved_question == "what did Sam Orley say?"
    he = session.ask("what did he say?")
    assert he.resolved_question == "what did Robin Vale say?"
    assert "£2 million" in " ".join(q.text for q in he.quotes)


def test_it_is_left_as_written_and_the_conversation_finds_what_it_is(own: QuoteEngine) -> None:
    """Catches: "it" replaced by something the last turns named (the team that won the
    cup, or any noun of the last question: most often the wrong one), and a follow-up with
    "it" not answered from the article the conversation moved on to."""
    session = Session(own)
    session.ask("who won the cup?")
    session.ask("when was the tram extension approved?")
    answer = session.ask("who voted against it?")
    assert answer.resolved_question is None
    assert answer.answered and all(q.doc == "tram-extension" for q in answer.quotes)
    assert any("voted against the scheme" in q.text for q in answer.quotes[:2])


def test_a_date_is_never_a_person(own: QuoteEngine) -> None:
    """Catches: "he" resolved to the day of the last answer ("what did Monday say?")."""
    session = Session(own)
    parade = session.ask("When will the club parade the trophy?")
    assert parade.short is not None and parade.short.text == "Monday"
    answer = session.ask("what did he say?")
    assert "Monday" not in (answer.resolved_question or "")


def test_they_means_the_group_the_article_calls_they(tmp_path: Path) -> None:
    article = tmp_path / "choir.txt"
    article.write_text(
        "The Harbour Singers won the regional choir contest on Friday. They sang three "
        "songs in Welsh.\nThe judges praised the soloist.\n", encoding="utf-8")
    engine = open_gate(QuoteEngine.open(article, index_dir=tmp_path / "index", semantic="off"))
    session = Session(engine)
    assert session.ask("Who won the choir contest?").short.text == "Harbour Singers"  # type: ignore[union-attr]
    answer = session.ask("how many songs did they sing?")
    assert answer.resolved_question == "how many songs did Harbour Singers sing?"
    assert answer.short is not None and answer.short.text == "three"


def test_what_about_swaps_the_subject_the_last_question_asked_about(own: QuoteEngine) -> None:
    """Catches: "what about the union?" pasted over the verb ("What did the chief executive
    the union?")."""
    session = Session(own)
    session.ask("What did the chief executive say?")
    answer = session.ask("what about the union?")
    assert answer.resolved_question == "What did the union say?"
    assert "union" in answer.quotes[0].text.lower()
    names = session.ask("what about Dev Patel?")
    assert names.resolved_question == "What did Dev Patel say?"


def test_a_follow_up_prefers_the_article_the_conversation_is_about(tmp_path: Path) -> None:
    """Two articles answer equally well; the conversation's article wins, and a fresh
    question without a conversation shows that it was the conversation that decided."""
    (tmp_path / "a-bridge.txt").write_text(
        "The old bridge will close for repairs.\nWork begins in May.\n", encoding="utf-8")
    (tmp_path / "b-pool.txt").write_text(
        "The town pool will get a new roof.\nWork begins in June.\n", encoding="utf-8")
    engine = open_gate(QuoteEngine.open(tmp_path, index_dir=tmp_path / "index",
                                        semantic="off"))
    assert answer_once(engine, "when does work begin?").quotes[0].doc == "a-bridge"
    session = Session(engine)
    assert session.ask("what will the pool get?").quotes[0].doc == "b-pool"
    follow = session.ask("when does work begin?")
    assert follow.quotes[0].doc == "b-pool"
    assert follow.short is not None and follow.short.text.startswith("June")


def test_a_short_answer_comes_from_the_article_the_question_is_about(own: QuoteEngine) -> None:
    """Catches a "when" answer taken from another article's date (the cup final's parade
    on Monday for the tram's opening): the short answer is in the first quote, and both
    come from the tram article."""
    # Where it comes from, whether the gate shows it or not (gate=False).
    answer = own._answer("When does the tram open?", 3, 0, None, gate=False)
    short = answer.short
    assert short is not None and answer.quotes
    first = answer.quotes[0]
    assert first.doc.startswith("tram")
    assert first.start <= short.start < short.end <= first.end
    assert short.text == "2027"


def test_one_article_of_a_folder_is_asked_alone_and_more_stays_in_it(own: QuoteEngine) -> None:
    """Catches: --doc ignored by "more", or an unknown document answered from the rest."""
    everywhere = answer_once(own, "who said", k=10)
    assert len({q.doc for q in everywhere.quotes}) > 1
    session = Session(own, doc="battery-jobs")
    first = session.ask("who said", k=2)
    more = session.ask("more", k=2)
    quotes = [*first.quotes, *more.quotes]
    assert len(quotes) == 4 and {q.doc for q in quotes} == {"battery-jobs"}
    with pytest.raises(UnknownDocument):
        answer_once(own, "who said", doc="no-such-article")


def test_the_state_keeps_referents_through_json(own: QuoteEngine) -> None:
    session = Session(own)
    session.ask("Who is Karin Ek?")
    restored = Session(own, SessionState.from_json(json.loads(json.dumps(
        session.state.to_json()))))
    assert restored.ask("what did she say?").resolved_question == "what did Karin Ek say?"
    broken = {**session.state.to_json(), "referents": [["Karin Ek", "queen"]]}
    assert SessionState.from_json(broken).referents == ()


async def test_http_doc_answers_from_one_article(aiohttp_client: MakeClient) -> None:
    client = await aiohttp_client(create_app(BotConfig(corpus=str(OWN), rate_limit_ip=0,
                                                       semantic="off")))
    data = await ask(client, {"question": "who said", "doc": "cup-final", "k": 5})
    assert data["quotes"] and {q["doc"] for q in data["quotes"]} == {"cup-final"}
    response = await client.post("/v1/ask", json={"question": "who said", "doc": "nope"})
    assert response.status == 404
    assert (await response.json())["error"]["code"] == "unknown_document"
    message = (await response.json())["error"]["message"]
    assert "GET /v1/docs" in message and "quotebot docs" not in message
    response = await client.post("/v1/ask", json={"question": "who said", "doc": 3})
    assert response.status == 422


def test_a_referent_of_the_wrong_kind_is_never_put_in_for_a_pronoun(tmp_path: Path) -> None:
    """Catches: "What happened to him?" rewritten "What happened to CNN?" after a sentence
    naming CNN and a medical examiner, and one name put in for two pronouns."""
    article = tmp_path / "bay.txt"
    article.write_text(
        "A fisherman was found dead on the beach at Hollow Bay on Sunday. The county medical "
        "examiner told CNN the man had drowned. CNN reported that the police were still "
        "searching the harbour.\n", encoding="utf-8")
    engine = QuoteEngine.open(article, index_dir=tmp_path / "index", semantic="off")
    session = Session(engine)
    first = session.ask("Who told CNN the man had drowned?")
    assert "medical examiner" in first.quotes[0].text
    answer = session.ask("What happened to him?")
    assert answer.resolved_question is None or "CNN" not in answer.resolved_question
    again = session.ask("Did they tell it to the police?")
    resolved = again.resolved_question or again.question
    assert resolved.count("CNN") <= 1 and "examiner" not in resolved


# -- the conversation as retrieval context ---------------------------------------------------

TOWNS = {
    "riverside": "Riverside is a market town on the Avon. Its library opened in 1990.\n",
    "hilltop": ("Hilltop is a village above the valley. The Hilltop museum houses fossils "
                "from the valley quarries. The museum, with its collection of old maps of the "
                "county and its fossil hall, opened in 2004. A new wing followed in 2015.\n"),
}


@pytest.fixture(scope="module")
def towns(tmp_path_factory: pytest.TempPathFactory) -> QuoteEngine:
    folder = tmp_path_factory.mktemp("towns")
    for name, text in TOWNS.items():
        (folder / f"{name}.txt").write_text(text, encoding="utf-8")
    return QuoteEngine.open(folder, index_dir=folder / "index", semantic="off")


def test_a_follow_up_is_answered_near_what_the_conversation_is_about(towns: QuoteEngine) -> None:
    """Catches: a follow-up ranked as if asked alone (the short sentence of another article
    that BM25 prefers) instead of near the last answer, in the passage the conversation is
    about."""
    alone = answer_once(towns, "When did that open?")
    assert alone.quotes[0].doc == "riverside"  # asked alone, the short sentence wins
    session = Session(towns)
    first = session.ask("What does the Hilltop museum house?")
    assert first.quotes[0].doc == "hilltop"
    answer = session.ask("When did that open?")
    assert answer.resolved_question is None  # no rewrite: the context did the work
    assert answer.answered and "2004" in answer.quotes[0].text


def test_a_fragment_is_completed_from_the_last_question_and_answered_near_its_answer(
        tmp_path: Path) -> None:
    """Catches: "Why?" and "When?" declined ("No sentence shares a word with the
    question") or answered from another part of the article."""
    article = tmp_path / "road.txt"
    article.write_text(
        "Storms hit the coast in March. Police closed the coast road on Tuesday. The road "
        "was closed because a landslide had buried the bridge. Engineers expect to reopen "
        "it in June. Buses will run inland until then. Why the bridge was built so low is "
        "a question for the county.\n", encoding="utf-8")
    engine = QuoteEngine.open(article, index_dir=tmp_path / "index", semantic="off")
    session = Session(engine)
    first = session.ask("When did police close the coast road?")
    assert "Tuesday" in first.quotes[0].text
    why = session.ask("Why?")
    assert why.answered and why.resolved_question == "Why did police close the coast road?"
    assert any("landslide" in q.text for q in why.quotes[:3])
    session = Session(engine)
    session.ask("Who closed the coast road?")
    when = session.ask("And when?")
    assert when.resolved_question == "When (who closed the coast road)?"
    assert when.answered and "Tuesday" in when.quotes[0].text


def test_a_question_nothing_in_the_conversation_or_corpus_connects_is_still_declined(
        towns: QuoteEngine) -> None:
    """Catches: declining waived for every follow-up once a conversation is under way."""
    session = Session(towns)
    session.ask("What does the Hilltop museum house?")
    answer = session.ask("What is the price of bread?")
    assert answer.answered is False and answer.quotes == ()


def test_a_question_on_another_subject_is_declined_as_it_would_be_alone(
        towns: QuoteEngine) -> None:
    """Catches: "What is the population of Riverside?" after a question about Hilltop's
    museum answered with quotes and the reason "the conversation so far gives the rest",
    though it points back at nothing the conversation said and the corpus gives no
    population; a follow-up that does point back ("When did that open?") is still
    answered."""
    question = "What is the population of Riverside?"
    assert answer_once(towns, question).answered is False
    session = Session(towns)
    assert session.ask("What does the Hilltop museum house?").quotes[0].doc == "hilltop"
    answer = session.ask(question)
    assert answer.answered is False and answer.quotes == ()
    assert answer.reason is not None and "conversation" not in answer.reason
    assert session.ask("When did that open?").answered


def test_a_question_of_common_words_alone_is_answered_from_the_conversation(
        towns: QuoteEngine) -> None:
    """Catches: "When was that?" declined in a conversation for having no word of its own
    ("No sentence shares a word with the question"), though the conversation says what
    "that" is; and the same question answered with no conversation to give it a meaning."""
    alone = answer_once(towns, "When was that?")
    assert alone.answered is False and alone.quotes == ()
    session = Session(towns)
    session.ask("Where are the old maps of the county?")
    answer = session.ask("When was that?")
    assert answer.answered and answer.quotes[0].doc == "hilltop"
    assert "2004" in " ".join(q.text for q in answer.quotes)
    assert answer.reason is not None and "conversation" in answer.reason


# -- yes or no ---------------------------------------------------------------------------------

COAST = ("The old lighthouse stands on Gull Point. The lighthouse is not open to visitors. "
         "The harbour museum is open on Sundays. Its fossil hall was rebuilt in 2012.\n")


@pytest.fixture(scope="module")
def coast(tmp_path_factory: pytest.TempPathFactory) -> QuoteEngine:
    folder = tmp_path_factory.mktemp("coast")
    (folder / "coast.txt").write_text(COAST, encoding="utf-8")
    return QuoteEngine.open(folder / "coast.txt", index_dir=folder / "index", semantic="off")


def test_yes_or_no_is_said_only_when_the_quote_states_it(coast: QuoteEngine) -> None:
    """Catches: a yes/no question answered by its quote alone though the quote says it,
    "Yes" where the quote negates ("is not open" → "No"), and a "Yes"/"No" where the quote
    does not state it, the question is negated, or it asks for a choice."""
    no = answer_once(coast, "Is the lighthouse open to visitors?")
    assert no.short is not None and no.short.text == "No"
    assert "not open" in no.quotes[0].text
    assert COAST[no.short.start:no.short.end] == "not"  # where the quote says no
    yes = answer_once(coast, "Is the harbour museum open on Sundays?")
    assert yes.short is not None and yes.short.text == "Yes"
    assert "open on Sundays" in yes.quotes[0].text
    # "Yes" and "No" are no words of the document: the JSON gives no offsets for them
    # (offsets there always slice back to the answer), the first quote states them.
    for said in (no, yes):
        data = said.to_json()
        assert data["answer"] in ("Yes", "No")
        assert "answer_start" not in data and "answer_end" not in data
    for question in ("Is the lighthouse painted red and white by the keepers?",
                     "Isn't the harbour museum open on Sundays?",
                     "Is the harbour museum open on Sundays or Mondays?",
                     "Was the fossil hall rebuilt in 2014?"):
        answer = answer_once(coast, question)
        assert answer.short is None or answer.short.text not in ("Yes", "No"), question
    session = Session(coast)
    session.ask("Where does the lighthouse stand?")
    follow = session.ask("Is it open to visitors?")
    assert follow.short is not None and follow.short.text == "No"


SHOPS = ("The shops in the old market square open at nine on weekdays and close at six, "
         "and the covered market across the river from the station opens on Saturdays from "
         "early morning until late afternoon, when the traders pack up their stalls, load "
         "their vans and drive home to the farms in the hills.\n")


def test_more_goes_on_only_with_passages_the_question_still_finds(tmp_path: Path) -> None:
    """Catches: "more" that quotes a sentence of another article sharing one common word
    with the question, far below its best passage, or that repeats one shown."""
    for name, text in {**TOWNS, "shops": SHOPS}.items():
        (tmp_path / f"{name}.txt").write_text(text, encoding="utf-8")
    engine = QuoteEngine.open(tmp_path, index_dir=tmp_path / "index", semantic="off")
    asked_alone = engine.answer_question("When did the fossil hall open?", 10)
    assert any(q.doc == "shops" for q in asked_alone.quotes)  # a candidate, far below
    session = Session(engine)
    first = session.ask("When did the fossil hall open?", k=1)
    assert "2004" in first.quotes[0].text
    shown = [(first.quotes[0].doc, first.quotes[0].start)]
    for _ in range(6):
        more = session.ask("more", k=1)
        if not more.quotes:
            break
        key = (more.quotes[0].doc, more.quotes[0].start)
        assert key not in shown
        shown.append(key)
    assert not more.answered and "no more" in more.reason.lower()
    assert len(shown) >= 2 and all(doc != "shops" for doc, _ in shown)


def test_what_she_said_is_quoted_before_the_sentence_that_named_her() -> None:
    """Catches: a position prior that holds a follow-up to the last answer's own sentence
    ("… deputy mayor for policing Sophie Linden met senior NYPD officials.") when the
    question's words ("say") point to a later paragraph of the same article ("Ms Linden
    said: …")."""
    session = Session(QuoteEngine.open())
    session.ask(QUESTION)
    first = session.ask("Who is the deputy mayor for policing?")
    lead = first.short or first.withheld  # shown or not, the conversation learns from it
    assert lead is not None and lead.text == "Sophie Linden"
    answer = session.ask("What did she say?")
    assert answer.resolved_question == "What did Sophie Linden say?"
    assert answer.quotes[0].text.startswith("Ms Linden said")
    assert answer.quotes[0].paragraph > first.quotes[0].paragraph


def test_the_earlier_questions_bring_a_follow_up_back_after_an_answer_went_astray(
        tmp_path: Path) -> None:
    """Catches: a follow-up led only by where the last answer was, when that answer went
    to another article and the person's own questions were about this one."""
    from dataclasses import replace

    from quotebot.fitting import with_tuning

    (tmp_path / "a-lighthouse.txt").write_text(
        "The lighthouse on Gull Point guards the harbour mouth.\n"
        "Its keeper, Anna Berg, lit the lamp every night for forty years.\n"
        "The tower was built in 1871.\n", encoding="utf-8")
    (tmp_path / "b-mill.txt").write_text(
        "The mill stands by the river.\n"
        "Its wheel ground flour for the whole valley.\n"
        "The mill was built in 1890.\n", encoding="utf-8")
    engine = QuoteEngine.open(tmp_path, index_dir=tmp_path / "index", semantic="off")
    mill = engine.document("b-mill").text
    # The last answer went to the mill; the questions were about the lighthouse.
    state = SessionState(question="Who lit the lamp on Gull Point?",
                         asked=("Who keeps the lighthouse on Gull Point?",),
                         doc="b-mill", anchor=mill.index("Its wheel"))
    weights = engine.tuning.conversation
    assert weights.asked_weight > 0
    unheard = with_tuning(engine, replace(engine.tuning,
                                          conversation=replace(weights, asked_weight=0.0)))
    assert Session(unheard, state).ask("When was it built?").quotes[0].doc == "b-mill"
    answer = Session(engine, state).ask("When was it built?")
    assert answer.quotes[0].doc == "a-lighthouse" and "1871" in answer.quotes[0].text
    kept = SessionState.from_json(json.loads(json.dumps(state.to_json())))
    assert kept.asked == state.asked


def test_a_question_about_another_article_leaves_the_conversations_article(
        own: QuoteEngine) -> None:
    """Catches weights fitted only on conversations that never leave their passage: after
    two turns about the tram, "What did the chief executive say?" is the battery plant's
    chief executive, whom no sentence of the tram article names."""
    session = Session(own)
    session.ask("Who is Karin Ek?")
    assert session.ask("what did she say?").quotes[0].doc.startswith("tram")
    answer = session.ask("What did the chief executive say?")
    assert answer.quotes[0].doc == "battery-jobs"
    assert "chief executive" in answer.quotes[0].text


def test_a_follow_up_may_be_answered_near_the_conversations_answers_in_a_passage_it_left(
        tmp_path: Path) -> None:
    """Catches: a follow-up's candidates taken only around the last answer, so that after
    one answer went to another article the sentence after the conversation's answer in its
    own article cannot be quoted at all (it shares no word with the question)."""
    from dataclasses import replace

    from quotebot.fitting import with_tuning

    (tmp_path / "a-lighthouse.txt").write_text(
        "The lighthouse on Gull Point guards the harbour mouth.\n"
        "Its keeper, Anna Berg, lit the lamp every night for forty years.\n"
        "She retired to Tromsø in 1952.\n"
        "Ships no longer pass the point.\n", encoding="utf-8")
    (tmp_path / "b-mill.txt").write_text(
        "The mill stands by the river.\n"
        "Its wheel ground flour for the whole valley.\n"
        "The miller kept bees.\n", encoding="utf-8")
    engine = QuoteEngine.open(tmp_path, index_dir=tmp_path / "index", semantic="off")
    lighthouse = engine.document("a-lighthouse").text
    mill = engine.document("b-mill").text
    context = SessionState(
        question="Who lit the lamp?", doc="b-mill", anchor=mill.index("Its wheel"),
        homes=(("b-mill", mill.index("Its wheel")),
               ("a-lighthouse", lighthouse.index("Its keeper")))).context()
    assert context is not None
    retired = lighthouse.index("She retired")

    def candidates(reach: int) -> set[int]:
        weights = replace(engine.tuning.conversation, home_reach=reach)
        reaching = with_tuning(engine, replace(engine.tuning, conversation=weights))
        _, sids, _ = reaching.scores_in_context("Where did she go after?", context)
        return {engine.index.sentence(int(s)).start for s in sids
                if engine.index.sentence(int(s)).doc == "a-lighthouse"}

    assert retired not in candidates(0)
    assert retired in candidates(1)
    assert lighthouse.index("Ships") not in candidates(1)


HARBOUR = ("The harbour has a boathouse and a mill.\n"
           "Anna Berg keeps the boathouse.\n"
           "The mill was built in 1890 by the river.\n"
           "Anna Berg built her boathouse in 1880.\n")


def _harbour(tmp_path: Path, **weights: float) -> QuoteEngine:
    """The harbour article, with ``weights`` of the conversation set."""
    from dataclasses import replace

    from quotebot.fitting import with_tuning

    (tmp_path / "harbour.txt").write_text(HARBOUR, encoding="utf-8")
    engine = QuoteEngine.open(tmp_path, index_dir=tmp_path / "index", semantic="off")
    return with_tuning(engine, replace(engine.tuning, conversation=replace(
        engine.tuning.conversation, **weights)))


def test_the_last_answers_words_lift_their_sentences_only_when_the_question_points_back(
        tmp_path: Path) -> None:
    """Catches: the last answer's words ("Anna Berg") lifting their sentences in a question
    about something else ("When was the mill built?"), as well as in one that points back
    at them ("When was that built?")."""
    engine = _harbour(tmp_path, context_weight=5.0)
    text = engine.document("harbour").text
    state = SessionState(question="Who keeps the boathouse?", history=("Anna Berg",),
                         doc="harbour", anchor=text.index("The harbour"),
                         homes=(("harbour", text.index("The harbour")),))
    other = Session(engine, state).ask("When was the mill built?")
    assert other.resolved_question is None
    assert other.quotes[0].text.startswith("The mill was built")
    back = Session(engine, state).ask("When was that built?")
    assert back.quotes[0].text.startswith("Anna Berg")


def test_the_question_as_written_is_weighed_beside_its_rewrite(tmp_path: Path) -> None:
    """Catches: a rewrite alone deciding a follow-up's ranking, so that one that went wrong
    ("When was Anna Berg's boathouse built?" for a question about the mill) costs the whole
    answer; and "more" or a stored conversation forgetting what was written."""
    from dataclasses import replace

    from quotebot.context import Context

    engine = _harbour(tmp_path, said_weight=3.0)
    text = engine.document("harbour").text
    context = Context("Anna Berg", "harbour", text.index("The harbour"),
                      "Who keeps the boathouse?", (("harbour", text.index("The harbour")),))
    rewrite = "When was Anna Berg's boathouse built?"
    unwritten = engine.answer_question(rewrite, context=context)
    assert unwritten.quotes[0].text.startswith("Anna Berg built")
    written = engine.answer_question(rewrite, context=replace(
        context, said="When was the mill built?"))
    assert written.quotes[0].text.startswith("The mill was built")
    # A session keeps what was written for "more", through its stored form.
    session = Session(engine, SessionState(question="Who keeps the boathouse?",
                                           referents=(("Anna Berg", "she"),),
                                           doc="harbour", anchor=text.index("Anna Berg")))
    asked = session.ask("When did she build it?")
    assert asked.resolved_question is not None and "Anna Berg" in asked.resolved_question
    kept = SessionState.from_json(json.loads(json.dumps(session.state.to_json())))
    assert kept.said == "When did she build it?"
    more = Session(engine, kept).ask("more")
    assert more.resolved_question == asked.resolved_question
    # A damaged stored conversation whose written question is no question still goes on.
    damaged = Session(engine, replace(kept, said="?!")).ask("more")
    assert damaged.continued and damaged.resolved_question == asked.resolved_question


def test_the_written_questions_scores_are_each_candidates_own_in_any_order(
        tmp_path: Path) -> None:
    """Catches: the scores of the question as written given to the wrong candidates when
    the candidates are not in the index's order (as a conversation's widened ones are)."""
    from quotebot.context import Context

    engine = _harbour(tmp_path)
    context = Context(said="When was the mill built?")
    sids = np.arange(engine.index.n_sentences, dtype=np.int64)
    ordered = engine.said_scores(context, sids)
    assert ordered is not None and ordered.max() > 0
    shuffled = np.roll(sids[::-1], 2)
    scores = engine.said_scores(context, shuffled)
    assert scores is not None
    assert np.allclose(scores, ordered[shuffled])
    mill = int(np.argmax(ordered))
    assert engine.index.sentence(mill).text.startswith("The mill was built")
