"""Two real `quotebot serve` replicas sharing one real redis-server: a redelivered Telegram
update is answered once, and a conversation's turns never interleave."""

from __future__ import annotations

import subprocess
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest

from conftest import requires
from fake_bot_api import BOT_ID, FakeBotApi
from servers import Process, redis_server, serve

pytestmark = [pytest.mark.slow, requires("redis-server")]

SECRET = "replica-webhook-secret"


@pytest.fixture()
def redis() -> Iterator[Process]:
    with redis_server() as server:
        yield server


@pytest.fixture()
def api() -> Iterator[FakeBotApi]:
    with FakeBotApi() as fake:
        yield fake


def redis_cli(redis: Process, *args: str) -> str:
    return subprocess.run(["redis-cli", "-p", str(redis.port), *args], capture_output=True,
                          text=True, timeout=10).stdout.strip()


def deliver(server: Process, update: dict[str, Any]) -> int:
    return server.post("/telegram/webhook", update,
                       {"X-Telegram-Bot-Api-Secret-Token": SECRET})[0]


def test_an_update_delivered_four_times_across_two_replicas_is_answered_once(
        redis: Process, api: FakeBotApi) -> None:
    env = {"TELEGRAM_BOT_TOKEN": api.token, "TELEGRAM_WEBHOOK_SECRET": SECRET,
           "TELEGRAM_API_BASE_URL": api.base_url, "QUOTEBOT_REDIS_URL": redis.extra["url"],
           "QUOTEBOT_RATE_LIMIT_CHAT": "0", "QUOTEBOT_SEMANTIC": "off"}
    with serve(env=env) as first, serve(env=env) as second:
        update = api.message_update(41, "how many stabbings?")
        # Telegram retries when it misses an acknowledgement; behind a load balancer the
        # retries land on either replica, here alternately and all at once.
        with ThreadPoolExecutor(max_workers=4) as pool:
            statuses = list(pool.map(deliver, [first, second, first, second], [update] * 4))
        assert statuses == [200] * 4
        # And many more updates, each delivered four times across both, concurrently.
        updates = [api.message_update(500 + n, "how many stabbings?") for n in range(20)]
        deliveries = [(server, u) for u in updates for server in (first, second, second, first)]
        with ThreadPoolExecutor(max_workers=16) as pool:
            assert set(pool.map(lambda d: deliver(*d), deliveries)) == {200}
        chats = [41, *range(500, 520)]
        assert api.wait_for(lambda a: all(a.sent_to(c) for c in chats), 60)
        time.sleep(1.0)  # a second answer would have had time to arrive
        assert {chat: len(api.sent_to(chat)) for chat in chats} == dict.fromkeys(chats, 1)
        key = f"quotebot:update:{BOT_ID}:{update['update_id']}"
        assert redis_cli(redis, "exists", key) == "1"
        assert 0 < int(redis_cli(redis, "ttl", key)) <= 24 * 3600


def test_turns_of_one_conversation_never_interleave_across_replicas(redis: Process) -> None:
    env = {"QUOTEBOT_REDIS_URL": redis.extra["url"], "QUOTEBOT_RATE_LIMIT_IP": "0",
           "QUOTEBOT_SEMANTIC": "off"}
    question = "police officers"
    with serve(env=env) as first, serve(env=env) as second:
        # One at a time, "more" walks through the passages without repeating one.
        _, asked = first.post("/v1/ask", {"question": question, "k": 1})
        sequential = [asked["quotes"][0]["text"]]
        for n in range(8):
            _, more = (first, second)[n % 2].post(
                "/v1/ask", {"question": "more", "session": asked["session"], "k": 1})
            sequential += [q["text"] for q in more["quotes"]]
        assert len(sequential) == len(set(sequential)) >= 6
        # Eight at once, on both replicas: each turn must still see the one before it.
        _, asked = second.post("/v1/ask", {"question": question, "k": 1})
        with ThreadPoolExecutor(max_workers=8) as pool:
            replies = list(pool.map(
                lambda n: (first, second)[n % 2].post(
                    "/v1/ask", {"question": "more", "session": asked["session"], "k": 1}),
                range(8)))
        assert [status for status, _ in replies] == [200] * 8
        concurrent = [asked["quotes"][0]["text"]] + [q["text"] for _, body in replies
                                                      for q in body["quotes"]]
        assert sorted(concurrent) == sorted(sequential), "two turns saw the same state"


def test_a_conversation_locked_by_a_replica_that_died_is_free_again_when_its_lock_expires(
        redis: Process) -> None:
    env = {"QUOTEBOT_REDIS_URL": redis.extra["url"], "QUOTEBOT_SEMANTIC": "off"}
    with serve(env=env) as server:
        _, asked = server.post("/v1/ask", {"question": "who went to New York?", "k": 1})
        # What a replica leaves behind if it dies mid-turn: its lock, which expires by itself.
        lock = f"quotebot:lock:http:{asked['session']}"
        assert redis_cli(redis, "set", lock, "crashed-holder", "px", "1500") == "OK"
        started = time.monotonic()
        status, more = server.post("/v1/ask", {"question": "more", "session": asked["session"],
                                               "k": 1}, timeout=20)
        waited = time.monotonic() - started
        assert status == 200 and more["resolved_question"] == "who went to New York?"
        assert 1.0 <= waited < 10
        # Released after the turn: the next one does not wait.
        started = time.monotonic()
        assert server.post("/v1/ask", {"question": "more", "session": asked["session"]})[0] \
            == 200
        assert time.monotonic() - started < 1.0
        assert redis_cli(redis, "exists", lock) == "0"
