"""Work bounded by construction: articles and questions written to make answering slow are
answered as fast as ordinary ones.

Each case was minutes of one server thread before the bounds (a sentence repeating the
asked noun 16,000 times, a 990-letter question word, a 10 MB line without a sentence end);
the time limits below are ten times what an ordinary question takes here, so a quadratic
step fails them by far while a busy machine does not.
"""

from __future__ import annotations

import random
import string
import threading
import time
from pathlib import Path

import pytest

from quotebot.correction import correct
from quotebot.engine import QuoteEngine
from quotebot.models import Document
from quotebot.plan import MAX_CONCEPTS, plan_question
from quotebot.question import parse_question
from quotebot.sentences import MAX_SENTENCE_CHARS, split_document
from quotebot.store import build_index
from quotebot.tuning import default_tuning

from conftest import engine_over as open_engine
from servers import serve

#: Seconds any one of these questions may take (an ordinary one takes milliseconds).
LIMIT = 5.0


def timed_answer(engine: QuoteEngine, question: str) -> float:
    started = time.perf_counter()
    engine.answer_question(question)
    return time.perf_counter() - started


def engine_over(tmp_path: Path, text: str) -> QuoteEngine:
    return open_engine(tmp_path, "article.txt", text)


def test_a_sentence_repeating_the_asked_noun_is_answered_at_once(tmp_path: Path) -> None:
    engine = engine_over(tmp_path, "The harbour master spoke. Workers built "
                         + " ".join(["wall"] * 16_000) + " near the town.\n")
    assert timed_answer(engine, "What kind of wall did workers build?") < LIMIT
    assert timed_answer(engine, "Which wall was built?") < LIMIT


def test_many_long_sentences_of_one_noun_are_answered_at_once(tmp_path: Path) -> None:
    # Sixty candidates, each as long as a sentence may be, all of the asked noun.
    line = "Walls " + " ".join(["wall"] * 190) + "."
    engine = engine_over(tmp_path, "\n".join([line] * 60) + "\n")
    assert timed_answer(engine, "What kind of wall was it?") < LIMIT


def test_a_990_letter_word_is_not_corrected_and_costs_nothing(tmp_path: Path) -> None:
    rng = random.Random(1)
    word = "".join(rng.choice("abcdefghijklmnopqrstuvwxyz") for _ in range(970))
    engine = engine_over(tmp_path, "The harbour wall was rebuilt in 2024.\n")
    assert timed_answer(engine, f"when was {word} rebuilt?") < LIMIT
    assert correct(word, engine.index.words, default_tuning().correction) is None


def test_the_longest_corrected_word_is_still_corrected() -> None:
    rules = default_tuning().correction
    word = "internationalisation"
    assert len(word) <= rules.max_length
    index = build_index([Document("a", "A", f"The {word} of the port went ahead.")])
    assert correct("internationalisatoin", index.words, rules) == word
    too_long = "x" * (rules.max_length + 1)
    index = build_index([Document("b", "B", f"The {too_long} went ahead.")])
    assert correct(too_long[:-1] + "y", index.words, rules) is None


def test_a_line_without_sentence_ends_is_cut_into_bounded_sentences() -> None:
    rng = random.Random(2)
    words = ["wall", "harbour", "the", "built", "stone", "a", "of", "supercalifragilistic"]
    text = " ".join(rng.choice(words) for _ in range(60_000)) + "\n" + "x" * 2500 + "\n"
    sentences = split_document(Document("d", "D", text))
    assert len(sentences) > 60_000 * 5 // MAX_SENTENCE_CHARS
    for s in sentences:
        assert s.text == text[s.start:s.end]
        assert 0 < len(s.text) <= MAX_SENTENCE_CHARS
        assert s.text == s.text.strip()
    # Cut at spaces: every word whole, no text lost but the spaces between pieces.
    joined = " ".join(s.text for s in sentences[:-3])
    assert joined.split() == text.split("\n")[0].split()
    # A run without spaces is cut at the limit, and nothing of it is lost.
    assert "".join(s.text for s in sentences[-3:]) == "x" * 2500


def test_a_long_sentence_is_cut_after_a_clause_mark() -> None:
    clause = "the council met and talked about the wall for a long time, "
    text = (clause * 40).strip() + "."
    sentences = split_document(Document("d", "D", text))
    assert len(sentences) > 1
    assert all(s.text.endswith(",") for s in sentences[:-1])


def test_real_sentences_are_never_cut() -> None:
    sentence = ("The capital has seen at least 127 homicides, which includes murder and "
                "manslaughter cases, with 72 fatal stabbings and 14 shootings among them.")
    assert [s.text for s in split_document(Document("d", "D", sentence))] == [sentence]


@pytest.mark.slow
@pytest.mark.parametrize("size", [10_000_000])
def test_a_10_mb_one_line_document_is_indexed_and_answered(tmp_path: Path, size: int) -> None:
    rng = random.Random(3)
    words = ["wall", "harbour", "the", "built", "stone", "a", "of", "wall"]
    text = " ".join(rng.choice(words) for _ in range(size // 5)) + "\n"
    engine = engine_over(tmp_path, text)
    index = engine.index
    assert max(len(index.sentence(sid).text) for sid in range(index.n_sentences)
               ) <= MAX_SENTENCE_CHARS
    assert timed_answer(engine, "What kind of wall was built?") < LIMIT


def common_words_article(size: int) -> tuple[str, list[str]]:
    """An article of ``size`` characters written with 600 words, and those words: each is
    in hundreds of its sentences, as the common words of a large library are."""
    rng = random.Random(4)
    words = sorted({"".join(rng.choice(string.ascii_lowercase) for _ in range(rng.randint(5, 9)))
                    for _ in range(600)})
    lines, written = [], 0
    while written < size:
        line = " ".join(rng.choice(words) for _ in range(12)).capitalize() + "."
        lines.append(line)
        written += len(line) + 1
    return "\n".join(lines) + "\n", words


def test_a_question_of_a_hundred_common_words_searches_for_its_rarest_few(tmp_path: Path
                                                                         ) -> None:
    text, words = common_words_article(200_000)
    engine = engine_over(tmp_path, text + "The zephyrine lantern glowed.\n")
    asked = words[:100]
    question = "zephyrine " + " ".join(asked) + " lantern?"
    plan = plan_question(parse_question(question), engine.index, engine.tuning)
    assert len(plan.concepts) == MAX_CONCEPTS
    labels = [c.label for c in plan.concepts]
    # The two words of one sentence are the rarest: kept, in the question's order.
    assert labels[0] == "zephyrine" and labels[-1] == "lantern"
    kept_idf = min(c.idf for c in plan.concepts)
    left_out = [w for w in asked if w not in labels]
    assert all(plan_question(parse_question(w + "?"), engine.index, engine.tuning)
               .concepts[0].idf <= kept_idf for w in left_out)
    # A question within the bound is searched for whole.
    short = " ".join(words[:MAX_CONCEPTS]) + "?"
    assert len(plan_question(parse_question(short), engine.index, engine.tuning).concepts
               ) == MAX_CONCEPTS


@pytest.mark.slow
def test_two_costly_questions_in_flight_do_not_hold_an_ordinary_one(tmp_path: Path) -> None:
    """A question of 120 common words of a 1 MB article took 0.6 s of the one thread that
    answers (an ordinary one 5 ms), and one of a 990-letter word 3.6 s, so two of them held
    every question behind them for seconds. Measured against the server's own pace: the
    ordinary question asked just after two costly ones (answered before them, or behind
    them) is answered sooner than forty ordinary questions asked one after another, which
    two questions of 0.6 s each ahead of it could not be."""
    text, words = common_words_article(1_000_000)
    corpus = tmp_path / "common.txt"
    corpus.write_text(text, encoding="utf-8")
    rng = random.Random(5)

    def ordinary() -> str:  # a new one each time: answers are remembered
        return f"where did {rng.choice(words)} {rng.choice(words)} go?"

    def costly(n: int) -> str:
        if n % 2:
            return " ".join(rng.sample(words, 150))[:999]
        return "what is " + "".join(rng.choice(string.ascii_lowercase) for _ in range(990)) + "?"

    with serve(env={"QUOTEBOT_CORPUS": str(corpus), "QUOTEBOT_SEMANTIC": "off",
                    "QUOTEBOT_RATE_LIMIT_IP": "0"}, timeout=120) as server:
        for _ in range(3):
            assert server.post("/v1/ask", {"question": ordinary()}, timeout=60)[0] == 200
        started = time.monotonic()
        for _ in range(40):
            assert server.post("/v1/ask", {"question": ordinary()}, timeout=60)[0] == 200
        forty = time.monotonic() - started
        finished: dict[str, float] = {}

        def ask(name: str, question: str) -> None:
            status, _ = server.post("/v1/ask", {"question": question}, timeout=60)
            assert status == 200
            finished[name] = time.monotonic()

        waits = []
        for _attempt in range(3):
            finished.clear()
            askers = [threading.Thread(target=ask, args=(f"costly-{i}", costly(i)))
                      for i in range(2)]
            for asker in askers:
                asker.start()
            time.sleep(0.05)  # theirs sent first, as a rule
            asked = time.monotonic()
            ask("ordinary", ordinary())
            waits.append(finished["ordinary"] - asked)
            for asker in askers:
                asker.join(60)
            assert len(finished) == 3
    # Answered before the costly ones or behind them, never held for longer than forty.
    assert max(waits) < forty, (waits, forty)
    assert "Traceback" not in server.log()
