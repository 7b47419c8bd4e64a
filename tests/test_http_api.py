"""The HTTP API through a real aiohttp server: answers, sessions, documents, health,
metrics, client addresses behind proxies, and one error shape for every kind of bad request."""

from __future__ import annotations

import asyncio
import gc
import json
import logging
import os
import re
import subprocess
import sys
from collections.abc import Awaitable, Callable
from typing import Any

import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer

from quotebot.bot.config import BotConfig, parse_forwarded_allow_ips
from quotebot.bot.server import create_app

from conftest import ROOT, forget_served_apps, open_files, quotes_the_stabbings

pytestmark = pytest.mark.slow

Client = TestClient[web.Request, web.Application]
MakeClient = Callable[..., Awaitable[Client]]


@pytest.fixture()
async def client(aiohttp_client: MakeClient) -> Client:
    return await aiohttp_client(create_app(BotConfig(rate_limit_ip=0, body_timeout=1.0)))


async def ask(client: Client, payload: Any) -> tuple[int, Any]:
    response = await client.post("/v1/ask", json=payload)
    return response.status, await response.json()


async def test_answers_how_many_offences_with_15000_and_the_quote(client: Client) -> None:
    status, data = await ask(client, {"question": "how many offences?"})
    assert status == 200
    assert data["answered"] is True and data["answer"] == "15,000"
    assert "15,000 offences" in data["quotes"][0]["text"]


async def test_gives_the_same_json_as_the_cli(client: Client) -> None:
    for question in ("how many stabbings?", "who went to New York?",
                     "What is the capital of France?"):
        _, data = await ask(client, {"question": question})
        cli = subprocess.run([sys.executable, "-m", "quotebot", "ask", question, "--json"],
                             capture_output=True, text=True, timeout=60, check=True)
        assert data.pop("session")  # the conversation it started; the rest is the CLI's
        assert data == json.loads(cli.stdout)


async def test_quotes_slice_back_out_of_the_document_endpoint(client: Client) -> None:
    _, data = await ask(client, {"question": "who went to New York?", "k": 5})
    doc = await (await client.get(f"/v1/docs/{data['quotes'][0]['doc']}")).json()
    for quote in data["quotes"]:
        assert doc["text"][quote["start"]:quote["end"]] == quote["text"]


async def test_follow_ups_work_across_requests_with_the_session_the_server_issued(
        client: Client) -> None:
    _, first = await ask(client, {"question": "Who is the deputy mayor for policing?"})
    s1 = first["session"]
    _, data = await ask(client, {"question": "What did she say?", "session": s1})
    assert data["quotes"][0]["text"].startswith("Ms Linden said")
    assert data["session"] == s1
    first = await ask(client, {"question": "who went to New York?", "k": 2})
    s2 = first[1]["session"]
    more = await ask(client, {"question": "more", "session": s2, "k": 2})
    assert more[1]["quotes"]  # else the check below passes with nothing to compare
    assert {q["text"] for q in first[1]["quotes"]}.isdisjoint(q["text"] for q in more[1]["quotes"])
    # A new conversation knows nothing of s1's.
    _, other = await ask(client, {"question": "What did she say?"})
    assert other.get("resolved_question") is None
    assert len({s1, s2, other["session"]}) == 3


async def test_session_ids_are_unguessable_and_every_question_without_one_gets_a_new_one(
        client: Client) -> None:
    ids = [(await ask(client, {"question": "how many stabbings?"}))[1]["session"]
           for _ in range(20)]
    assert len(set(ids)) == 20
    assert all(re.fullmatch(r"[A-Za-z0-9_-]{22,}", i) for i in ids)  # >= 128 random bits


@pytest.mark.parametrize("session", ["alice", "s1", "web-abc123", "x" * 24, "a b", "s" * 200,
                                     "../../etc", "", "\u0000"])
async def test_a_session_id_the_server_did_not_issue_is_404_and_reveals_nothing(
        client: Client, session: str) -> None:
    _, started = await ask(client, {"question": "Who is the deputy mayor for policing?"})
    status, data = await ask(client, {"question": "What did she say?", "session": session})
    assert status == 404
    assert data["error"]["code"] == "unknown_session"
    assert "without 'session'" in data["error"]["message"]
    assert "Linden" not in json.dumps(data)
    # The issued one still works, and a neighbour of it does not.
    assert (await ask(client, {"question": "more", "session": started["session"]}))[0] == 200
    neighbour = started["session"][:-1] + ("A" if started["session"][-1] != "A" else "B")
    assert (await ask(client, {"question": "more", "session": neighbour}))[0] == 404


async def test_an_expired_session_is_404_unknown_session(aiohttp_client: MakeClient) -> None:
    short = await aiohttp_client(create_app(BotConfig(rate_limit_ip=0, session_ttl=1)))
    _, started = await ask(short, {"question": "how many stabbings?"})
    assert (await ask(short, {"question": "more", "session": started["session"]}))[0] == 200
    await asyncio.sleep(1.3)
    status, data = await ask(short, {"question": "more", "session": started["session"]})
    assert (status, data["error"]["code"]) == (404, "unknown_session")


async def test_documents_health_and_metrics(client: Client) -> None:
    docs = await (await client.get("/v1/docs")).json()
    assert docs["documents"] == [{"doc": "met-police-nypd-visit", "title": docs["documents"][0][
        "title"], "sentences": 18}]
    health = await client.get("/healthz")
    assert health.status == 200 and (await health.json())["sentences"] == 18
    assert (await health.json())["status"] == "ok"
    assert (await health.json())["sessions"] == "memory"
    # The bundled model is installed: vectors are there, or being computed.
    assert (await health.json())["semantic"] in ("on", "pending")
    # docs/bot.md shows /healthz with the keys it really has.
    shown = re.search(r"curl -s localhost:8080/healthz\n(\{.*\})", (ROOT / "docs" / "bot.md")
                      .read_text(encoding="utf-8"))
    assert shown is not None and set(json.loads(shown[1])) == set(await health.json())
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
    ("session list", "POST", "/v1/ask", {}, b'{"question": "stabbings", "session": ["a"]}', 422,
     "invalid_field"),
    ("session never issued", "POST", "/v1/ask", {},
     b'{"question": "stabbings", "session": "alice"}', 404, "unknown_session"),
    ("session with spaces", "POST", "/v1/ask", {},
     b'{"question": "stabbings", "session": "a b"}', 404, "unknown_session"),
    ("session too long", "POST", "/v1/ask", {},
     json.dumps({"question": "stabbings", "session": "s" * 200}).encode(), 404,
     "unknown_session"),
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
    # Messages are for people: JSON's names for types, never Python's.
    assert not re.search(r"NoneType|\b(?:str|int|dict|list|bool|float)\b",
                         data["error"]["message"]), data["error"]["message"]
    good_status, good = await ask(client, {"question": "how many stabbings?"})
    assert good_status == 200 and quotes_the_stabbings(good)


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


async def test_a_client_gone_before_its_body_arrived_is_no_error_of_the_servers(
        client: Client, caplog: pytest.LogCaptureFixture) -> None:
    """Catches: every client that closed its connection in the middle of its body was logged
    as an unexpected error with a traceback, so that anyone could fill the log with them."""
    for _ in range(3):
        _, writer = await asyncio.open_connection(client.host, client.port)
        writer.write(b"POST /v1/ask HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                     b"Content-Length: 100\r\n\r\n{\"question\"")
        await writer.drain()
        writer.close()
        await writer.wait_closed()
    counted = 'quotebot_http_requests_total{method="POST",route="/v1/ask",status="499"} 3'
    for _ in range(100):  # until the server has seen the three go
        if counted in await (await client.get("/metrics")).text():
            break
        await asyncio.sleep(0.05)
    assert counted in await (await client.get("/metrics")).text()
    assert not [r.getMessage() for r in caplog.records if r.levelno >= logging.ERROR]
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


# -- client addresses behind proxies ---------------------------------------------------------


async def asked_statuses(client: Client, forwarded_for: list[str | None]) -> list[int]:
    statuses = []
    for value in forwarded_for:
        headers = {"X-Forwarded-For": value} if value is not None else {}
        response = await client.post("/v1/ask", json={"question": "stabbings"}, headers=headers)
        statuses.append(response.status)
    return statuses


async def test_without_trusted_proxies_x_forwarded_for_cannot_dodge_the_limit(
        aiohttp_client: MakeClient) -> None:
    limited = await aiohttp_client(create_app(BotConfig(rate_limit_ip=6)))  # a burst of 1
    forged = [f"198.51.100.{n}" for n in range(5)]
    assert await asked_statuses(limited, [*forged]) == [200, 429, 429, 429, 429]


async def test_behind_a_trusted_proxy_each_forwarded_client_has_its_own_bucket(
        aiohttp_client: MakeClient) -> None:
    config = BotConfig(rate_limit_ip=6, forwarded_allow_ips=parse_forwarded_allow_ips(
        "127.0.0.1, 10.0.0.0/8"))
    proxied = await aiohttp_client(create_app(config))
    # The test client (127.0.0.1) is the trusted proxy; what it forwards names the client.
    assert await asked_statuses(proxied, ["203.0.113.1", "203.0.113.2", "203.0.113.1"]) == [
        200, 200, 429]
    # A client's own claim left of its real address counts for nothing: the right-most
    # untrusted entry is the client (203.0.113.2 is already limited).
    assert await asked_statuses(proxied, ["192.0.2.77, 203.0.113.2"]) == [429]
    # Through a chain of trusted proxies, the first untrusted hop from the right.
    assert await asked_statuses(proxied, ["203.0.113.3, 10.1.2.3, 10.0.0.9"]) == [200]
    assert await asked_statuses(proxied, ["203.0.113.3"]) == [429]
    # No header: the proxy itself is the client.
    assert await asked_statuses(proxied, [None, None]) == [200, 429]


@pytest.mark.parametrize("value", ["caddy", "127.0.0.1,,", "10.0.0.0/33", "localhost",
                                   "1.2.3.4/8/8"])
def test_an_invalid_forwarded_allow_ips_is_one_clear_error_at_start(value: str) -> None:
    result = subprocess.run([sys.executable, "-m", "quotebot", "serve", "--port", "0",
                             "--forwarded-allow-ips", value], capture_output=True, text=True,
                            timeout=60, check=False)
    assert result.returncode != 0
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert "--forwarded-allow-ips" in lines[0] and "127.0.0.1" in lines[0]
    assert "Traceback" not in result.stderr


SEAL_PAGE = """---
title: Harbour seal
url: https://example.org/wiki/Harbour_seal
---
# Harbour seal

The harbour seal lives along the coasts of the northern seas.

## Population

### Alaska

Surveys in 2018 counted 205,000 harbour seals along the coast of Alaska.
"""


async def test_a_quote_names_its_section_and_the_page_its_document_came_from(
        aiohttp_client: MakeClient, tmp_path: Any) -> None:
    (tmp_path / "harbour-seal.md").write_text(SEAL_PAGE, encoding="utf-8")
    (tmp_path / "note.txt").write_text("The ferry to Kelsey Bay sails at noon.\n",
                                       encoding="utf-8")
    client = await aiohttp_client(create_app(BotConfig(corpus=str(tmp_path), semantic="off",
                                                       rate_limit_ip=0)))
    _, data = await ask(client, {"question": "How many seals did the 2018 surveys count?"})
    quote = data["quotes"][0]
    assert quote["text"].startswith("Surveys in 2018 counted 205,000")
    assert quote["section"] == ["Population", "Alaska"]
    assert quote["url"] == "https://example.org/wiki/Harbour_seal"
    _, data = await ask(client, {"question": "When does the ferry sail?"})
    assert data["quotes"][0]["doc"] == "note"
    assert "section" not in data["quotes"][0] and "url" not in data["quotes"][0]
    docs = await (await client.get("/v1/docs")).json()
    assert sorted(docs["documents"], key=lambda d: d["doc"]) == [
        {"doc": "harbour-seal", "title": "Harbour seal",
         "url": "https://example.org/wiki/Harbour_seal", "sentences": 5},
        {"doc": "note", "title": docs["documents"][1]["title"], "sentences": 1}]
    shown = await (await client.get("/v1/docs/harbour-seal")).json()
    assert shown["url"] == "https://example.org/wiki/Harbour_seal"
    assert shown["text"][quote["start"]:quote["end"]] == quote["text"]
    page = await (await client.get("/docs/harbour-seal")).text()
    assert ('<a href="https://example.org/wiki/Harbour_seal" rel="noopener noreferrer">open '
            'the original</a>') in page
    assert "open the original" not in await (await client.get("/docs/note")).text()
    assert '<a href="/v1/docs/harbour-seal/text">download the text</a>' in page
    download = await client.get("/v1/docs/harbour-seal/text")
    assert download.status == 200 and download.content_type == "text/plain"
    assert download.headers["Content-Disposition"].startswith(
        'attachment; filename="harbour-seal.txt"')
    text = (await download.read()).decode("utf-8")
    assert text == shown["text"] and text[quote["start"]:quote["end"]] == quote["text"]
    missing = await client.get("/v1/docs/nope/text")
    assert missing.status == 404 and (await missing.json())["error"]["code"] == "unknown_document"


@pytest.mark.skipif(not os.path.isdir("/proc/self/fd"), reason="needs /proc (Linux)")
async def test_a_server_stopped_in_a_process_that_goes_on_leaves_no_file_open() -> None:
    """The server keeps what it loaded out of the collector's passes while it serves; once
    stopped, its index must be collectable again, its files unmapped."""
    first = open_files()
    for _ in range(3):
        async with TestClient(TestServer(create_app(BotConfig(rate_limit_ip=0)))) as client:
            status, data = await ask(client, {"question": "how many offences?"})
            assert status == 200 and data["answer"] == "15,000"
            assert open_files() > first + 50  # the index's files are mapped while serving
        del client
        forget_served_apps()
        gc.collect()
    # What a process opens once (the forkserver's pipes, ...) stays; not the index's ~60.
    assert open_files() < first + 20
