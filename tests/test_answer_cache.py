"""The answer cache stays within its byte budget however long and many the questions are."""

from __future__ import annotations

import gc
import tracemalloc

import pytest

from quotebot import engine as engine_module
from quotebot.engine import QuoteEngine
from quotebot.models import Document
from quotebot.store.build import build_index

pytestmark = pytest.mark.slow

EMOJI = "😀"  # four bytes a character in memory: a budget in characters would be 4× over


def question(n: int) -> str:
    """The same question, made unique by emoji standing for the digits of ``n``."""
    return "how many tickets? " + EMOJI * 950 + "".join(chr(0x1F300 + int(d)) for d in f"{n:04}")


def test_answers_are_remembered_within_a_byte_budget(monkeypatch: pytest.MonkeyPatch) -> None:
    budget = 1024 * 1024
    monkeypatch.setattr(engine_module, "ANSWER_CACHE_BYTES", budget)
    text = ("The club sold 72 tickets for the final.\n\n"
            "The mayor opened the new tram line on Monday.\n")
    engine = QuoteEngine(build_index([Document("a", "A", text)]))
    engine.answer_question("how many tickets?")  # the first answer loads what answering needs
    gc.collect()
    tracemalloc.start()
    try:
        before = tracemalloc.get_traced_memory()[0]
        for n in range(1500):  # ~4 KB of question each: 6 MB if nothing were dropped
            answer = engine.answer_question(question(n))
            assert answer.answered
        gc.collect()
        used = tracemalloc.get_traced_memory()[0] - before
    finally:
        tracemalloc.stop()
    assert used <= budget * 1.25, f"{used:,} bytes for a budget of {budget:,}"
    assert 120 < len(engine._answers) < 300  # still holds about as many as fit
    # The newest answer is still remembered, the oldest went first.
    newest = "how many tickets 1499? " + EMOJI * 950
    assert engine.answer_question(newest) is engine.answer_question(newest)
    assert all("tickets 0?" not in key[0] for key in engine._answers)
