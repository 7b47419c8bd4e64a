"""A saved conversation reads the same from every front end: the Markdown the web page offers
(``POST /v1/transcript``) is the Markdown the REPL's ``:save`` writes for the same turns,
and a transcript that is not the answers' JSON is refused with the field that is wrong."""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient

from quotebot.bot.config import BotConfig
from quotebot.bot.server import create_app

from conftest import run_main

Client = TestClient[web.Request, web.Application]
MakeClient = Callable[..., Awaitable[Client]]

SEALS = ("---\ntitle: Harbour seal\nurl: https://example.org/wiki/Harbour_seal\n---\n"
         "# Harbour seal\n\n## Population\n\nDr Ana Ruiz counted 205,000 harbour seals in "
         "*Alaska* <b>in 2018</b>.\n\nShe said the seals haul out on rocky shores.\n\n"
         "Seals dive for up to 30 minutes.\n")


@pytest.fixture()
async def client(aiohttp_client: MakeClient, tmp_path: Path) -> Client:
    (tmp_path / "seal.md").write_text(SEALS, encoding="utf-8")
    # Answered in the test's own process, where ``gate_open`` opens the short-answer gate.
    config = BotConfig(rate_limit_ip=0, semantic="off", corpus=str(tmp_path),
                       answer_processes=0)
    return await aiohttp_client(create_app(config))


async def markdown(client: Client, body: object) -> tuple[int, str]:
    response = await client.post("/v1/transcript", json=body)
    return response.status, await response.text()


async def test_the_page_and_the_repl_save_a_conversation_as_the_same_markdown(
        client: Client, tmp_path: Path) -> None:
    saved_md, saved_json = tmp_path / "talk.md", tmp_path / "talk.json"
    questions = ["Who counted the harbour seals?", "What did she say?", "more",
                 "What is the capital of France?"]
    result = run_main("repl", "--json", "--corpus", str(tmp_path), "--semantic", "off",
                      stdin="\n".join([*questions, f":save {saved_md}", f":save {saved_json}",
                                       ""]))
    assert result.returncode == 0, result.stderr
    turns = json.loads(saved_json.read_text(encoding="utf-8"))["turns"]
    assert [t["question"] for t in turns] == questions
    assert turns[1]["answer"]["resolved_question"] == "What did Ana Ruiz say?"
    assert not turns[3]["answer"]["answered"]
    status, text = await markdown(client, {"turns": turns})
    assert status == 200
    assert text == saved_md.read_text(encoding="utf-8")
    assert "*Understood as: What did Ana Ruiz say?*" in text
    assert text.count("*Understood as:") == 1  # "more" continues; it is no rewrite
    assert "(<https://example.org/wiki/Harbour_seal>)" in text


async def test_the_page_saves_the_turns_the_server_answered(gate_open: None,
                                                           client: Client) -> None:
    """Every short answer found is shown (``gate_open``), so that its Markdown is seen."""
    turns: list[dict[str, Any]] = []
    session = None
    for question in ["Who counted the harbour seals?", "How long do seals dive?"]:
        response = await client.post("/v1/ask", json={"question": question,
                                                      **({"session": session} if session else {})})
        answer = await response.json()
        session = answer.pop("session")
        turns.append({"question": question, "answer": answer})
    status, text = await markdown(client, {"turns": turns})
    assert status == 200
    assert text.startswith("# quotebot conversation\n\n## Who counted the harbour seals?\n")
    assert "**30 minutes**" in text and "> Seals dive for up to 30 minutes." in text
    response = await client.post("/v1/transcript", json={"turns": []})
    assert response.content_type == "text/markdown" and response.charset == "utf-8"
    assert await response.text() == "# quotebot conversation\n"


@pytest.mark.parametrize(("body", "code", "field"), [
    ({}, "missing_field", "turns"),
    ({"turns": "talk"}, "invalid_field", "turns"),
    ({"turns": ["talk"]}, "invalid_field", "turns[0]"),
    ({"turns": [{"answer": {}}]}, "missing_field", "turns[0].question"),
    ({"turns": [{"question": "q"}]}, "missing_field", "turns[0].answer"),
    ({"turns": [{"question": "q", "answer": {"answered": "yes", "quotes": []}}]},
     "invalid_field", "turns[0].answer.answered"),
    ({"turns": [{"question": "q", "answer": {"answered": True, "quotes": [{}]}}]},
     "missing_field", "turns[0].answer.quotes[0].text"),
    ({"turns": [{"question": "q", "answer": {"answered": True, "quotes": [
        {"text": "t", "doc": "d", "title": "T", "paragraph": 1, "start": True, "end": 1}]}}]},
     "invalid_field", "turns[0].answer.quotes[0].start"),
    ({"turns": [{"question": "q", "answer": {"answered": True, "quotes": [
        {"text": "t", "doc": "d", "title": "T", "paragraph": 1, "start": 0, "end": 1,
         "section": [1]}]}}]},
     "invalid_field", "turns[0].answer.quotes[0].section"),
])
async def test_a_transcript_that_is_not_the_answers_json_names_the_field(
        client: Client, body: object, code: str, field: str) -> None:
    response = await client.post("/v1/transcript", json=body)
    assert response.status == 422
    error = (await response.json())["error"]
    assert error["code"] == code
    assert f"The field {field!r} " in error["message"]
