"""Conversations in a real redis-server: shared by replicas, surviving a Redis outage."""

from __future__ import annotations

import subprocess
import time
from collections.abc import Iterator

import pytest

from conftest import requires
from servers import Process, redis_server, serve

pytestmark = requires("redis-server", "redis-cli")


@pytest.fixture()
def redis() -> Iterator[Process]:
    with redis_server() as server:
        yield server


def test_two_replicas_share_one_conversation(redis: Process) -> None:
    env = {"QUOTEBOT_REDIS_URL": redis.extra["url"]}
    with serve(env=env) as first, serve(env=env) as second:
        _, asked = first.post("/v1/ask", {"question": "who went to New York?", "session": "r1",
                                          "k": 2})
        _, more = second.post("/v1/ask", {"question": "more", "session": "r1", "k": 2})
        assert more["answered"] and more["resolved_question"] == "who went to New York?"
        shown = {q["text"] for q in asked["quotes"]}
        assert more["quotes"] and shown.isdisjoint(q["text"] for q in more["quotes"])
        second.post("/v1/ask", {
            "question": "Who is the deputy mayor for policing?", "session": "r2"})
        _, said = first.post("/v1/ask", {"question": "What did she say?", "session": "r2"})
        assert said["quotes"][0]["text"].startswith("Ms Linden said")
        keys = subprocess.run(["redis-cli", "-p", str(redis.port), "--scan", "--pattern",
                               "quotebot:session:*"], capture_output=True, text=True,
                              timeout=10).stdout.split()
        assert sorted(keys) == ["quotebot:session:http:r1", "quotebot:session:http:r2"]
        ttl = subprocess.run(["redis-cli", "-p", str(redis.port), "ttl",
                              "quotebot:session:http:r1"], capture_output=True, text=True,
                             timeout=10).stdout.strip()
        assert 0 < int(ttl) <= 24 * 3600


def test_answers_go_on_while_redis_is_down_and_sharing_resumes_after(redis: Process) -> None:
    env = {"QUOTEBOT_REDIS_URL": redis.extra["url"]}
    with serve(env=env) as server:
        assert server.post("/v1/ask", {"question": "how many stabbings?", "session": "f"})[0] \
            == 200
        port = redis.port
        redis.proc.terminate()
        redis.proc.wait(10)
        replies = [server.post("/v1/ask", {"question": q, "session": "f", "k": 2})
                   for q in ("who went to New York?", "more")]
        assert [status for status, _ in replies] == [200, 200]
        # The conversation carried on in memory: "more" continued the question before it.
        more = replies[1][1]
        assert more["answered"] and more["resolved_question"] == "who went to New York?"
        assert "unreachable" in server.log() and "in memory" in server.log()
        restarted = subprocess.Popen(["redis-server", "--port", str(port), "--bind",
                                      "127.0.0.1", "--save", "", "--appendonly", "no"],
                                     stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        try:
            deadline = time.monotonic() + 20
            stored = ""
            while time.monotonic() < deadline and not stored:
                server.post("/v1/ask", {"question": "who went to New York?", "session": "h"})
                stored = subprocess.run(["redis-cli", "-p", str(port), "get",
                                         "quotebot:session:http:h"], capture_output=True,
                                        text=True, timeout=10).stdout.strip()
                time.sleep(0.2)
            assert "who went to New York?" in stored
            assert "reachable again" in server.log()
        finally:
            restarted.terminate()
            restarted.wait(10)
