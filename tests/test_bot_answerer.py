"""The answering front of the servers: first turns remembered, but never across options."""

from __future__ import annotations

import asyncio

from quotebot.bot.answerer import Answerer
from quotebot.engine import QuoteEngine
from quotebot.models import Document
from quotebot.session import SessionState
from quotebot.store.build import build_index

DOCS = [Document("final", "The final", "The club sold 72 tickets for the final.\n"),
        Document("cup", "The cup", "The club sold 15 tickets for the cup match.\n")]


def engine() -> QuoteEngine:
    return QuoteEngine(build_index(DOCS))


def test_a_first_question_scoped_to_a_document_is_answered_from_that_document() -> None:
    answerer = Answerer(engine(), watch_seconds=0)

    async def ask() -> list[str]:
        answers = []
        for doc in ("final", "cup", "final", None, "cup"):
            answer, _ = await answerer.follow_up(SessionState(), "how many tickets?", doc=doc)
            answers.append(f"{doc}:{answer.quotes[0].doc}")
        return answers

    try:
        answers = asyncio.run(ask())
    finally:
        answerer.close()
    assert answers[:3] == ["final:final", "cup:cup", "final:final"]
    assert answers[4] == "cup:cup"


def test_the_engines_own_answers_are_kept_apart_by_document_too() -> None:
    quotes = engine()
    for _ in range(2):
        assert quotes.answer_question("how many tickets?", doc="final").quotes[0].doc == "final"
        assert quotes.answer_question("how many tickets?", doc="cup").quotes[0].doc == "cup"
