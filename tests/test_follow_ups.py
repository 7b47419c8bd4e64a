""""more" at its edges, as HTTP clients and REPL users meet it: before any question, page
after page without repeats, and after the passages run out."""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable
from typing import Any

import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient

from quotebot.bot.config import BotConfig
from quotebot.bot.server import create_app

from conftest import run_cli

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
    assert fresh["answer"] == "72"


def test_the_repl_says_when_more_has_nothing_to_continue_or_nothing_left() -> None:
    """Catches the same in the REPL: "more" first, then "more" past the last passage."""
    result = run_cli("repl", "--json", "--semantic", "off", "-k", "2",
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
