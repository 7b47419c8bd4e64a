"""Work bounded by construction: articles and questions written to make answering slow are
answered as fast as ordinary ones.

Each case was minutes of one server thread before the bounds (a sentence repeating the
asked noun 16,000 times, a 990-letter question word, a 10 MB line without a sentence end);
the time limits below are ten times what an ordinary question takes here, so a quadratic
step fails them by far while a busy machine does not.
"""

from __future__ import annotations

import random
import time
from pathlib import Path

import pytest

from quotebot.correction import correct
from quotebot.engine import QuoteEngine
from quotebot.models import Document
from quotebot.sentences import MAX_SENTENCE_CHARS, split_document
from quotebot.store import build_index
from quotebot.tuning import default_tuning

from conftest import engine_over as open_engine

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
