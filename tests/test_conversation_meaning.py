"""A follow-up's meaning in the conversation's ranking: a sentence that shares no word with
the question but says what it asks is lifted; without sentence vectors nothing changes."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest

from quotebot.context import MEANINGS, Context, meaning_features, meaning_texts
from quotebot.engine import QuoteEngine
from quotebot.fitting import with_tuning

DERBY = """Derby Day

The Rovers played the Town at Meadow Park on Saturday afternoon.
The Rovers' coach named an unchanged team for the derby.
Jamie Cole scored twice for the Rovers before half time.
Thousands of supporters booed and whistled at the referee after the second goal.
The Town's keeper was injured in the second half.
The match ended three goals to one.
"""

REACTION = "How did the people watching the match react to that?"


def _weighed(engine: QuoteEngine, meaning: float, talk: float) -> QuoteEngine:
    return with_tuning(engine, replace(engine.tuning, conversation=replace(
        engine.tuning.conversation, meaning_weight=meaning, talk_meaning_weight=talk)))


def _after_the_goals(engine: QuoteEngine) -> Context:
    text = engine.document("derby").text
    start = text.index("Jamie Cole")
    return Context("Jamie Cole scored twice for the Rovers before half time.", "derby", start,
                   "Who scored for the Rovers?", (("derby", start),))


def test_the_texts_compared_are_the_question_as_written_and_with_the_earlier_ones() -> None:
    context = Context(asked="Who scored for the Rovers?", said="When did he score?")
    assert meaning_texts("When did Jamie Cole score?", context) == (
        "When did he score?", "When did he score? Who scored for the Rovers?")
    assert meaning_texts("Who won?", Context()) == ("Who won?", "Who won?")


def test_a_candidate_is_weighed_by_how_far_its_meaning_is_from_the_nearest() -> None:
    cosines = np.array([[0.2, 0.5], [0.6, 0.1], [0.4, 0.3]])
    assert np.allclose(meaning_features(cosines), [[-0.4, 0.0], [0.0, -0.4], [-0.2, -0.2]])
    assert meaning_features(np.zeros((0, MEANINGS))).shape == (0, MEANINGS)


def test_without_sentence_vectors_the_ranking_is_the_words_alone(tmp_path: Path) -> None:
    """Catches: a weight of meaning failing or moving anything where there are no vectors."""
    (tmp_path / "derby.txt").write_text(DERBY, encoding="utf-8")
    engine = QuoteEngine.open(tmp_path, index_dir=tmp_path / "index", semantic="off")
    context = _after_the_goals(engine)
    plain = engine.answer_question(REACTION, context=context)
    weighed = _weighed(engine, 50.0, 50.0).answer_question(REACTION, context=context)
    assert plain.quotes and weighed.quotes == plain.quotes


@pytest.mark.slow
def test_a_follow_up_finds_the_sentence_that_means_it_without_its_words(
        tmp_path: Path) -> None:
    """Catches: the conversation's ranking ignoring meaning, so that "How did the people
    watching the match react?" quotes the sentence that shares "match" with it, not the
    one about supporters booing, however much meaning is weighed."""
    (tmp_path / "derby.txt").write_text(DERBY, encoding="utf-8")
    engine = QuoteEngine.open(tmp_path, index_dir=tmp_path / "index", semantic="on")
    context = _after_the_goals(engine)
    words_only = _weighed(engine, 0.0, 0.0).answer_question(REACTION, context=context)
    assert words_only.quotes[0].text.startswith("The match ended")
    meant = _weighed(engine, 40.0, 0.0).answer_question(REACTION, context=context)
    assert meant.quotes[0].text.startswith("Thousands of supporters booed")
    # The fitted weights weigh meaning, in a conversation only.
    fitted = engine.tuning.conversation
    assert fitted.meaning_weight > 0 and fitted.talk_meaning_weight > 0
