"""The HTTP API through a real aiohttp server: answers, sessions, documents, health,
metrics, and one error shape for every kind of bad request."""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys
from collections.abc import Awaitable, Callable
from typing import Any

import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient

from quotebot.bot.config import BotConfig
from quotebot.bot.server import create_app

Client = TestClient[web.Request, web.Application]
MakeClient = Callable[..., Awaitable[Client]]


@pytest.fixture()
async def client(aiohttp_client: MakeClient) -> Client:
    return await aiohttp_client(create_app(BotConfig(rate_limit_ip=0, body_timeout=1.0)))


async def ask(client: Client, payload: Any) -> tuple[int, Any]:
    response = await client.post("/v1/ask", json=payload)
    return response.status, await response.json()


async def test_answers_how_many_stabbings_with_72_and_the_quote(client: Client) -> None:
    status, data = await ask(client, {"question": "how many stabbings?"})
    assert status == 200
    assert data["answered"] is True and data["answer"] == "72"
    assert "72 fatal stabbings" in data["quotes"][0]["text"]


async def test_gives_the_same_json_as_the_cli(client: Client) -> None:
    for question in ("how many stabbings?", "who went to New York?",
                     "What is the capital of France?"):
        _, data = await ask(client, {"question": question})
        cli = subprocess.run([sys.executable, "-m", "quotebot", "ask", question, "--json"],
                             capture_output=True, text=True, timeout=60, check=True)
        assert data == json.loads(cli.stdout)


async def test_quotes_slice_back_out_of_the_document_endpoint(client: Client) -> None:
    _, data = await ask(client, {"question": "who went to New York?", "k": 5})
    doc = await (await client.get(f"/v1/docs/{data['quotes'][0]['doc']}")).json()
    for quote in data["quotes"]:
        assert doc["text"][quote["start"]:quote["end"]] == quote["text"]


async def test_follow_ups_work_across_requests_with_a_session(client: Client) -> None:
    await ask(client, {"question": "Who is the deputy mayor for policing?", "session": "s1"})
    _, data = await ask(client, {"question": "What did she say?", "session": "s1"})
    assert data["quotes"][0]["text"].startswith("Ms Linden said")
    first = await ask(client, {"question": "who went to New York?", "session": "s2", "k": 2})
    more = await ask(client, {"question": "more", "session": "s2", "k": 2})
    assert more[1]["quotes"]  # else the check below passes with nothing to compare
    assert {q["text"] for q in first[1]["quotes"]}.isdisjoint(q["text"] for q in more[1]["quotes"])
    # Another session knows nothing of s1's conversation.
    _, other = await ask(client, {"question": "What did she say?", "session": "s3"})
    assert other.get("resolved_question") is None


async def test_documents_health_and_metrics(client: Client) -> None:
    docs = await (await client.get("/v1/docs")).json()
    assert docs["documents"] == [{"doc": "met-police-nypd-visit", "title": docs["documents"][0][
        "title"], "sentences": 18}]
    health = await client.get("/healthz")
    assert health.status == 200 and (await health.json())["sentences"] == 18
    assert (await health.json())["semantic"] is True  # the bundled model is installed
    await ask(client, {"question": "how many stabbings?"})
    await ask(client, {"question": "How do I bake sourdough bread?"})
    text = await (await client.get("/metrics")).text()
    assert 'quotebot_answers_total{frontend="http",outcome="answered"} 1' in text
    assert 'quotebot_answers_total{frontend="http",outcome="abstained"} 1' in text
    assert 'quotebot_http_request_duration_seconds_bucket{route="/v1/ask",le="+Inf"} 2' in text


async def test_every_response_carries_a_request_id(client: Client) -> None:
    response = await client.post("/v1/ask", json={"question": "how many stabbings?"},
                                 headers={"X-Request-Id": "abc-123"})
    assert response.headers["X-Request-Id"] == "abc-123"
    response = await client.get("/nowhere")
    assert len(response.headers["X-Request-Id"]) >= 8


NESTED = "[" * 100_000 + "]" * 100_000

BAD_REQUESTS: list[tuple[str, str, str, dict[str, str], bytes, int, str]] = [
    # (name, method, path, headers, body, status, error code)
    ("get on ask", "GET", "/v1/ask", {}, b"", 405, "method_not_allowed"),
    ("put on ask", "PUT", "/v1/ask", {}, b"{}", 405, "method_not_allowed"),
    ("delete on docs", "DELETE", "/v1/docs", {}, b"", 405, "method_not_allowed"),
    ("unknown path", "GET", "/v2/ask", {}, b"", 404, "not_found"),
    ("text/plain", "POST", "/v1/ask", {"Content-Type": "text/plain"}, b'{"question":"x"}', 415,
     "unsupported_media_type"),
    ("multipart", "POST", "/v1/ask", {"Content-Type": "multipart/form-data; boundary=x"},
     b"--x--", 415, "unsupported_media_type"),
    ("html", "POST", "/v1/ask", {"Content-Type": "text/html"}, b"<p>", 415,
     "unsupported_media_type"),
    ("invalid json", "POST", "/v1/ask", {}, b'{"question": ', 400, "invalid_json"),
    ("not json at all", "POST", "/v1/ask", {}, b"how many stabbings?", 400, "invalid_json"),
    ("empty body", "POST", "/v1/ask", {}, b"", 400, "invalid_json"),
    ("invalid utf-8", "POST", "/v1/ask", {}, b'{"question": "\xff\xfe"}', 400, "invalid_json"),
    ("json array", "POST", "/v1/ask", {}, b'["how many stabbings?"]', 422, "invalid_request"),
    ("json string", "POST", "/v1/ask", {}, b'"how many stabbings?"', 422, "invalid_request"),
    ("json number", "POST", "/v1/ask", {}, b"72", 422, "invalid_request"),
    ("json null", "POST", "/v1/ask", {}, b"null", 422, "invalid_request"),
    ("missing question", "POST", "/v1/ask", {}, b"{}", 422, "missing_field"),
    ("null question", "POST", "/v1/ask", {}, b'{"question": null}', 422, "invalid_field"),
    ("number question", "POST", "/v1/ask", {}, b'{"question": 72}', 422, "invalid_field"),
    ("list question", "POST", "/v1/ask", {}, b'{"question": ["a"]}', 422, "invalid_field"),
    ("object question", "POST", "/v1/ask", {}, b'{"question": {"a": 1}}', 422, "invalid_field"),
    ("empty question", "POST", "/v1/ask", {}, b'{"question": ""}', 422, "empty_question"),
    ("blank question", "POST", "/v1/ask", {}, b'{"question": "   "}', 422, "empty_question"),
    ("punctuation", "POST", "/v1/ask", {}, b'{"question": "?!?"}', 422, "no_words"),
    ("lone surrogate", "POST", "/v1/ask", {}, b'{"question": "\\ud800 stab"}', 422,
     "invalid_unicode"),
    ("too long", "POST", "/v1/ask", {}, json.dumps({"question": "x " * 600}).encode(), 422,
     "question_too_long"),
    ("k as string", "POST", "/v1/ask", {}, b'{"question": "stabbings", "k": "3"}', 422,
     "invalid_field"),
    ("k as bool", "POST", "/v1/ask", {}, b'{"question": "stabbings", "k": true}', 422,
     "invalid_field"),
    ("k zero", "POST", "/v1/ask", {}, b'{"question": "stabbings", "k": 0}', 422,
     "invalid_field"),
    ("k huge", "POST", "/v1/ask", {}, b'{"question": "stabbings", "k": 1000000}', 422,
     "invalid_field"),
    ("k float", "POST", "/v1/ask", {}, b'{"question": "stabbings", "k": 2.5}', 422,
     "invalid_field"),
    ("session number", "POST", "/v1/ask", {}, b'{"question": "stabbings", "session": 5}', 422,
     "invalid_field"),
    ("session with spaces", "POST", "/v1/ask", {},
     b'{"question": "stabbings", "session": "a b"}', 422, "invalid_field"),
    ("session too long", "POST", "/v1/ask", {},
     json.dumps({"question": "stabbings", "session": "s" * 200}).encode(), 422, "invalid_field"),
    ("deeply nested", "POST", "/v1/ask", {}, NESTED.encode()[:60_000], 400, "invalid_json"),
    ("body over 64 KB", "POST", "/v1/ask", {}, b'{"question": "' + b"a" * 70_000 + b'"}', 413,
     "body_too_large"),
    ("10 MB body", "POST", "/v1/ask", {}, b"x" * 10_000_000, 413, "body_too_large"),
    ("path traversal", "GET", "/v1/docs/..%2F..%2Fetc%2Fpasswd", {}, b"", 404,
     "unknown_document"),
    ("dotdot doc", "GET", "/v1/docs/..", {}, b"", 404, "not_found"),
    ("unknown doc", "GET", "/v1/docs/nope", {}, b"", 404, "unknown_document"),
    ("webhook without telegram", "POST", "/telegram/webhook", {}, b"{}", 404, "not_found"),
    ("static outside the folder", "GET", "/static/..%2F..%2Fserver.py", {}, b"", 404,
     "not_found"),
]


@pytest.mark.parametrize(
    ("method", "path", "headers", "body", "status", "code"),
    [case[1:] for case in BAD_REQUESTS], ids=[case[0] for case in BAD_REQUESTS],
)
async def test_bad_requests_get_one_error_shape_and_the_server_keeps_answering(
        client: Client, method: str, path: str, headers: dict[str, str], body: bytes,
        status: int, code: str) -> None:
    headers = {"Content-Type": "application/json", **headers} if method in ("POST", "PUT") \
        else headers
    response = await client.request(method, path, data=body, headers=headers)
    assert response.status == status
    data = await response.json()
    assert set(data) == {"error"}
    assert data["error"]["code"] == code
    assert isinstance(data["error"]["message"], str) and len(data["error"]["message"]) > 10
    good_status, good = await ask(client, {"question": "how many stabbings?"})
    assert good_status == 200 and good["answer"] == "72"


def test_at_least_thirty_kinds_of_bad_request_are_tried() -> None:
    assert len(BAD_REQUESTS) >= 30


async def test_a_slow_body_times_out_and_the_server_keeps_answering(client: Client) -> None:
    reader, writer = await asyncio.open_connection(client.host, client.port)
    writer.write(b"POST /v1/ask HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                 b"Content-Length: 100\r\n\r\n{\"question\"")
    await writer.drain()
    head = await asyncio.wait_for(reader.read(200), timeout=10)
    assert b" 408 " in head.split(b"\r\n")[0]
    writer.close()
    status, _ = await ask(client, {"question": "how many stabbings?"})
    assert status == 200


async def test_the_chat_page_is_served_with_a_strict_content_policy(client: Client) -> None:
    response = await client.get("/")
    assert response.status == 200
    assert "default-src 'none'" in response.headers["Content-Security-Policy"]
    page = await response.text()
    assert "/static/app.js" in page
    script = await client.get("/static/app.js")
    assert script.status == 200 and "textContent" in await script.text()


async def test_clients_over_their_rate_get_429(aiohttp_client: MakeClient) -> None:
    limited = await aiohttp_client(create_app(BotConfig(rate_limit_ip=60)))
    statuses = [(await limited.post("/v1/ask", json={"question": "stabbings"})).status
                for _ in range(15)]
    assert statuses[0] == 200 and 429 in statuses
    response = await limited.post("/v1/ask", json={"question": "stabbings"})
    assert response.status == 429 and int(response.headers["Retry-After"]) >= 1
    assert (await response.json())["error"]["code"] == "rate_limited"
