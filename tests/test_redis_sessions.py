"""Conversations in a real redis-server: shared by replicas, surviving a Redis outage."""

from __future__ import annotations

import json
import subprocess
import time
import urllib.request
from collections.abc import Iterator
from typing import Any

import pytest

from conftest import requires
from servers import Process, redis_server, serve, wait_until

pytestmark = [pytest.mark.slow, requires("redis-server", "redis-cli")]


@pytest.fixture()
def redis() -> Iterator[Process]:
    with redis_server() as server:
        yield server


def redis_cli(redis: Process, *args: str) -> str:
    return subprocess.run(["redis-cli", "-p", str(redis.port), *args], capture_output=True,
                          text=True, timeout=10).stdout.strip()


def health(server: Process) -> dict[str, Any]:
    with urllib.request.urlopen(server.url + "/healthz", timeout=10) as response:
        assert response.status == 200
        return dict(json.loads(response.read()))


def test_two_replicas_share_one_conversation(redis: Process) -> None:
    env = {"QUOTEBOT_REDIS_URL": redis.extra["url"]}
    with serve(env=env) as first, serve(env=env) as second:
        _, asked = first.post("/v1/ask", {"question": "who went to New York?", "k": 2})
        r1 = asked["session"]
        # The id one replica issued is good on the other.
        _, more = second.post("/v1/ask", {"question": "more", "session": r1, "k": 2})
        assert more["answered"] and more["resolved_question"] == "who went to New York?"
        shown = {q["text"] for q in asked["quotes"]}
        assert more["quotes"] and shown.isdisjoint(q["text"] for q in more["quotes"])
        _, started = second.post("/v1/ask", {"question": "Who is the deputy mayor for policing?"})
        r2 = started["session"]
        _, said = first.post("/v1/ask", {"question": "What did she say?", "session": r2})
        assert said["quotes"][0]["text"].startswith("Ms Linden said")
        # An id neither issued is unknown to both.
        for server in (first, second):
            status, body = server.post("/v1/ask", {"question": "more", "session": "alice"})
            assert (status, body["error"]["code"]) == (404, "unknown_session")
        keys = redis_cli(redis, "--scan", "--pattern", "quotebot:session:*").split()
        assert sorted(keys) == sorted([f"quotebot:session:http:{r1}",
                                       f"quotebot:session:http:{r2}"])
        ttl = redis_cli(redis, "ttl", f"quotebot:session:http:{r1}")
        assert 0 < int(ttl) <= 24 * 3600
        assert health(first)["status"] == "ok" and health(first)["sessions"] == "redis"


def test_conversations_are_stored_compactly_as_utf8(redis: Process) -> None:
    env = {"QUOTEBOT_REDIS_URL": redis.extra["url"], "QUOTEBOT_SEMANTIC": "off"}
    question = "how many stabbings? " + "😀" * 970
    with serve(env=env) as server:
        status, body = server.post("/v1/ask", {"question": question})
        assert status == 200
        key = f"quotebot:session:http:{body['session']}"
        stored = json.loads(redis_cli(redis, "get", key))
        assert stored["question"] == question
        assert None not in stored.values() and 0 not in stored.values()  # no defaults
        size = int(redis_cli(redis, "strlen", key))
        # UTF-8 (4 bytes an emoji), not json.dumps's \ud83d\ude00 (12 bytes an emoji); the
        # other fields (the answer's place, its quotes, the referents) take under 300 bytes.
        assert size < len(question.encode()) + 300


def test_answers_go_on_while_redis_is_down_and_sharing_resumes_after(redis: Process) -> None:
    env = {"QUOTEBOT_REDIS_URL": redis.extra["url"]}
    with serve(env=env) as server:
        assert server.post("/v1/ask", {"question": "how many stabbings?"})[0] == 200
        port = redis.port
        redis.proc.terminate()
        redis.proc.wait(10)
        _, asked = server.post("/v1/ask", {"question": "who went to New York?", "k": 2})
        status, more = server.post("/v1/ask", {"question": "more", "session": asked["session"],
                                               "k": 2})
        # The conversation carried on in memory: "more" continued the question before it.
        assert status == 200
        assert more["answered"] and more["resolved_question"] == "who went to New York?"
        assert "unreachable" in server.log() and "in memory" in server.log()
        down = health(server)
        assert down["status"] == "degraded"
        assert "unreachable" in down["reason"] and f"127.0.0.1:{port}" in down["reason"]
        restarted = subprocess.Popen(["redis-server", "--port", str(port), "--bind",
                                      "127.0.0.1", "--save", "", "--appendonly", "no"],
                                     stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        try:
            deadline = time.monotonic() + 20
            stored = ""
            while time.monotonic() < deadline and not stored:
                _, body = server.post("/v1/ask", {"question": "who went to New York?"})
                stored = subprocess.run(["redis-cli", "-p", str(port), "get",
                                         f"quotebot:session:http:{body['session']}"],
                                        capture_output=True, text=True, timeout=10
                                        ).stdout.strip()
                time.sleep(0.2)
            assert "who went to New York?" in stored
            assert "reachable again" in server.log()
            assert health(server)["status"] == "ok"
        finally:
            restarted.terminate()
            restarted.wait(10)


def test_a_refused_password_shows_in_healthz_without_the_password(redis: Process) -> None:
    wrong = "not-the-password-7f3a"
    redis_cli(redis, "config", "set", "requirepass", "the-password-b81c")
    env = {"QUOTEBOT_REDIS_URL": f"redis://:{wrong}@127.0.0.1:{redis.port}/0",
           "QUOTEBOT_SEMANTIC": "off"}
    with serve(env=env) as server:
        status, asked = server.post("/v1/ask", {"question": "who went to New York?"})
        assert status == 200  # answered from memory
        assert server.post("/v1/ask", {"question": "more", "session": asked["session"]})[0] \
            == 200
        report = health(server)
        assert report["status"] == "degraded"
        assert "refused" in report["reason"] and "password" in report["reason"]
        assert wrong not in json.dumps(report) and wrong not in server.log()
        assert "refused" in server.log()
        # The operator fixes Redis's side; quotebot notices without a restart.
        redis_cli(redis, "-a", "the-password-b81c", "--no-auth-warning", "config", "set",
                  "requirepass", wrong)
        # /healthz reports the last word from Redis and pings it in the background at most
        # every second, so it notices within a few seconds.
        assert wait_until(lambda: health(server)["status"] == "ok", 10)
        _, body = server.post("/v1/ask", {"question": "how many stabbings?"})
        stored = redis_cli(redis, "-a", wrong, "--no-auth-warning", "exists",
                           f"quotebot:session:http:{body['session']}")
        assert stored == "1"
        assert wrong not in server.log()


def test_a_conversations_lock_expires_by_itself_within_its_timeout(redis: Process) -> None:
    """A replica that dies mid-turn must not lock its conversation for good."""
    import asyncio

    from quotebot.bot.sessions import LOCK_TIMEOUT
    from quotebot.bot.sessions_redis import RedisSessionStore

    async def held_ttl() -> int:
        store = RedisSessionStore(redis.extra["url"])
        try:
            async with store.lock("tg:7"):
                return int(redis_cli(redis, "pttl", "quotebot:lock:tg:7"))
        finally:
            await store.close()

    ttl = asyncio.run(held_ttl())
    assert 0 < ttl <= LOCK_TIMEOUT * 1000 <= 60_000
    assert redis_cli(redis, "exists", "quotebot:lock:tg:7") == "0"  # released after the turn


def test_a_telegram_update_is_remembered_for_a_day_in_seconds(redis: Process) -> None:
    """Redeliveries come for up to a day: the claim must outlive them (a TTL in ms would
    forget the update after 86 s and answer it twice)."""
    import asyncio

    from quotebot.bot.sessions_redis import RedisSessionStore

    async def deliver_twice() -> tuple[bool, bool]:
        store = RedisSessionStore(redis.extra["url"])
        try:
            return (await store.first_delivery("4242:17"), await store.first_delivery("4242:17"))
        finally:
            await store.close()

    assert asyncio.run(deliver_twice()) == (True, False)
    ttl = int(redis_cli(redis, "ttl", "quotebot:update:4242:17"))
    assert 23 * 3600 < ttl <= 24 * 3600


async def test_a_turn_cancelled_while_taking_its_lock_leaves_the_conversation_free(
        redis: Process) -> None:
    """A client that hangs up while the lock's SET NX is on its way back (a slow Redis) must
    not leave its conversation locked: the next turn gets the lock at once, not a 409."""
    import asyncio

    from quotebot.bot.sessions_redis import RedisSessionStore

    delay = 0.3  # Redis's replies reach the store this late
    set_sent = asyncio.Event()

    async def relay(client_r: asyncio.StreamReader, client_w: asyncio.StreamWriter) -> None:
        redis_r, redis_w = await asyncio.open_connection("127.0.0.1", redis.port)

        async def up() -> None:
            while data := await client_r.read(65536):
                redis_w.write(data)
                await redis_w.drain()
                if b"quotebot:lock:http:abc" in data and b"NX" in data.upper():
                    set_sent.set()

        async def down() -> None:
            while data := await redis_r.read(65536):
                await asyncio.sleep(delay)
                client_w.write(data)
                await client_w.drain()

        await asyncio.gather(up(), down(), return_exceptions=True)
        client_w.close()
        redis_w.close()

    proxy = await asyncio.start_server(relay, "127.0.0.1", 0)
    proxy_port = proxy.sockets[0].getsockname()[1]
    slow = RedisSessionStore(f"redis://127.0.0.1:{proxy_port}/0")
    direct = RedisSessionStore(redis.extra["url"])
    try:
        async def turn() -> None:
            async with slow.lock("http:abc"):
                await asyncio.sleep(30)  # answering

        task = asyncio.ensure_future(turn())
        await asyncio.wait_for(set_sent.wait(), 10)
        await asyncio.sleep(0.05)  # the SET NX is done in Redis; its reply is not back
        assert redis_cli(redis, "exists", "quotebot:lock:http:abc") == "1"
        task.cancel()  # what the server does when the client hangs up
        await asyncio.gather(task, return_exceptions=True)
        assert redis_cli(redis, "exists", "quotebot:lock:http:abc") == "0"
        started = time.monotonic()
        async with direct.lock("http:abc"):
            assert time.monotonic() - started < 1.0
    finally:
        await slow.close()
        await direct.close()
        proxy.close()
