"""The answering front of the servers: first turns remembered, but never across options."""

from __future__ import annotations

import asyncio
from pathlib import Path

from quotebot.bot.answerer import Answerer
from quotebot.bot.libraries import Shelf, converse, library_key
from quotebot.bot.sessions import MemorySessionStore
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


def test_a_turn_cancelled_while_it_is_saved_saves_both_its_states(tmp_path: Path) -> None:
    """Catches: a turn whose client hung up between saving its state with the library and
    its state with the corpus, so that the conversation went on from half a turn."""
    saved: list[str] = []

    class SlowStore(MemorySessionStore):
        """A store a little way off: each write takes a moment to arrive."""

        async def put(self, key: str, state: SessionState) -> None:
            await asyncio.sleep(0.05)
            await super().put(key, state)
            saved.append(key)

    answerer = Answerer(engine(), watch_seconds=0)
    store = SlowStore()

    async def turn_cancelled_between_saves() -> tuple[bool, bool]:
        turn = asyncio.ensure_future(converse(answerer, Shelf(tmp_path, semantic="off"),
                                              "web-abc", store, "http:abc",
                                              "how many tickets for the final?"))
        while not saved:
            await asyncio.sleep(0.005)
        turn.cancel()  # its client hung up
        await asyncio.gather(turn, return_exceptions=True)
        return (await store.find(library_key("http:abc")) is not None,
                await store.find("http:abc") is not None)

    try:
        both = asyncio.run(turn_cancelled_between_saves())
    finally:
        answerer.close()
    assert saved[0] == library_key("http:abc")
    assert both == (True, True)
