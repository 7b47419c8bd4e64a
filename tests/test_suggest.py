"""Example questions made from the corpus served: answered by the sentence they came
from, the same every time, and quick to make on a large corpus."""

from __future__ import annotations

import time
from pathlib import Path

from quotebot.engine import QuoteEngine
from quotebot.frontend import EXAMPLE_QUESTIONS
from quotebot.suggest import suggest_questions

FERRY = """Harbour council approves new ferry route

The Harbour Council approved a ferry route between Porthleven and Mousehole on Tuesday.
Councillor Maria Tregenza said the service would start in March 2025.
The route will carry 240 passengers a day during the summer season.
Local fishermen raised concerns about 12 moorings that would be moved.
"""


def engine_over(tmp_path: Path, files: dict[str, str]) -> QuoteEngine:
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    for name, text in files.items():
        (corpus / name).write_text(text, encoding="utf-8")
    return QuoteEngine.open(str(corpus), index_dir=str(tmp_path / "index"), semantic="off")


def test_the_shipped_article_gets_questions_of_several_kinds_that_it_answers() -> None:
    engine = QuoteEngine.open(semantic="off")
    questions = suggest_questions(engine, n=4)
    assert len(questions) == 4
    assert questions == suggest_questions(engine, n=4)  # deterministic
    starts = {q.split()[0] + (" many" if q.startswith("How many") else "") for q in questions}
    assert {"How many", "Who", "When"} <= starts
    for question in questions:
        assert engine.answer_question(question).answered, question


def test_another_corpus_gets_its_own_questions(tmp_path: Path) -> None:
    engine = engine_over(tmp_path, {"ferry.txt": FERRY})
    questions = suggest_questions(engine)
    assert len(questions) == 3
    assert not set(questions) & set(EXAMPLE_QUESTIONS)
    sentences = [engine.index.sentence(i).text for i in range(engine.index.n_sentences)]
    for question in questions:
        answer = engine.answer_question(question)
        assert answer.answered and answer.quotes[0].text in sentences
    assert "How many passengers?" in questions or "How many moorings?" in questions


def test_questions_for_one_document_quote_that_document(tmp_path: Path) -> None:
    engine = engine_over(tmp_path, {"a-ferry.txt": FERRY, "b-met.txt": (
        Path(__file__).resolve().parents[1] / "index" / "met-police-nypd-visit.txt"
    ).read_text(encoding="utf-8")})
    for doc in ("a-ferry", "b-met"):
        for question in suggest_questions(engine, doc=doc, n=2):
            assert engine.answer_question(question).quotes[0].doc == doc


def test_a_corpus_without_answerable_sentences_gets_none(tmp_path: Path) -> None:
    engine = engine_over(tmp_path, {"x.txt": "ok.\n\nyes indeed.\n"})
    assert suggest_questions(engine) == []
    assert suggest_questions(engine, n=0) == []


def test_a_large_corpus_is_quick(tmp_path: Path) -> None:
    lines = [f"Inspector Anna Berg{n} said the council counted {n + 3} bridges in the "
             f"valley number {n}." for n in range(400)]
    files = {f"doc{d:03d}.txt": "\n\n".join(lines[d::40]) for d in range(40)}
    engine = engine_over(tmp_path, files)
    started = time.perf_counter()
    questions = suggest_questions(engine)
    assert time.perf_counter() - started < 5
    assert questions


ISLAND = """Inchmorra

## Settlement

Inchmorra has one inhabited and four uninhabited islands in its parish.
The small malt whisky distillery that reopened in 2019 employs 14 people from the island.
Lochan Dubh is a loch in the north of the island, fed by three burns.
Crofters built 36 stone houses along the shore in the 1850s.
Ferry skipper Ewan MacLeod said the crossing takes 40 minutes in calm weather.
"""


def test_suggested_questions_read_as_a_person_would_ask_and_never_come_from_headings(
        tmp_path: Path) -> None:
    engine = engine_over(tmp_path, {"inchmorra.md": ISLAND})
    questions = suggest_questions(engine, n=6)
    assert questions, "the island's article gets questions"
    for question in questions:
        words = question.rstrip("?").split()
        assert words[-1].lower() not in ("of", "the", "a", "that", "and", "to"), question
        assert "that" not in words and " and " not in f" {question} ", question
        assert "Settlement" not in question and "Inchmorra?" not in question, question
    assert "Who is Lochan Dubh?" not in questions  # a loch "is", as a person is
    assert not any(q.startswith("When did small malt") for q in questions)
    assert not any(q.startswith("Who inhabited") for q in questions)
    assert "Who is Ewan MacLeod?" in questions or "How many houses?" in questions


def test_the_repl_help_suggests_questions_from_the_documents_it_answers_from() -> None:
    from conftest import run_main

    corpus = Path(__file__).resolve().parents[1] / "examples" / "articles"
    shown = run_main("repl", "--corpus", str(corpus), "--semantic", "off", stdin=":help\n")
    examples = next(line for line in shown.stdout.splitlines() if line.startswith("Examples:"))
    assert "stabbings" not in examples
    questions = examples.removeprefix("Examples: ").split(" | ")
    engine = QuoteEngine.open(str(corpus), semantic="off")
    for question in questions:
        assert engine.answer_question(question).answered, question
