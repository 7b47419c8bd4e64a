"""Load and shutdown: nothing lost under 10,000 requests or a SIGTERM in the middle."""

from __future__ import annotations

import asyncio
import http.client
import json
import re
import signal
import socket
import statistics
import threading
import time
from typing import Any

import aiohttp
import pytest

from conftest import quotes_the_stabbings, requires
from fake_bot_api import FakeBotApi
from servers import redis_server, serve

pytestmark = pytest.mark.slow

SECRET = "load-secret"


async def hammer(url: str, total: int, concurrency: int, payload: dict[str, Any]
                 ) -> tuple[list[float], list[Any]]:
    """POST ``total`` requests with ``concurrency`` workers; (latencies, failures)."""
    latencies: list[float] = []
    failures: list[Any] = []
    counter = iter(range(total))
    connector = aiohttp.TCPConnector(limit=concurrency)
    timeout = aiohttp.ClientTimeout(total=60)
    async with aiohttp.ClientSession(connector=connector, timeout=timeout) as session:

        async def worker() -> None:
            for _ in counter:
                started = time.perf_counter()
                try:
                    async with session.post(url, json=payload) as response:
                        body = await response.json()
                        if response.status != 200 or not quotes_the_stabbings(body):
                            failures.append((response.status, body))
                except (aiohttp.ClientError, TimeoutError) as exc:
                    failures.append(repr(exc))
                latencies.append(time.perf_counter() - started)

        await asyncio.gather(*(worker() for _ in range(concurrency)))
    return latencies, failures


async def until(condition: Any, timeout: float = 20.0) -> None:
    """Wait (bounded) until ``condition()`` holds."""
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise TimeoutError("the load never got under way")
        await asyncio.sleep(0.005)


def percentile(values: list[float], q: float) -> float:
    return statistics.quantiles(values, n=100)[int(q) - 1]


def test_ten_thousand_requests_at_concurrency_100_lose_nothing() -> None:
    """Catches: requests lost or failed under load, and /metrics that miscounts them."""
    with serve(env={"QUOTEBOT_RATE_LIMIT_IP": "0", "QUOTEBOT_SEMANTIC": "off"}) as server:
        started = time.perf_counter()
        latencies, failures = asyncio.run(hammer(server.url + "/v1/ask", 10_000, 100,
                                                 {"question": "how many stabbings?"}))
        elapsed = time.perf_counter() - started
        assert failures == []
        assert len(latencies) == 10_000
        print(f"\n10,000 requests at concurrency 100: {10_000 / elapsed:,.0f} req/s, "
              f"p50 {percentile(latencies, 50) * 1000:.1f} ms, "
              f"p99 {percentile(latencies, 99) * 1000:.1f} ms, errors 0, lost 0")
        # The server counted every one of them, once.
        assert server.metric("quotebot_http_requests_total", method="POST", route="/v1/ask",
                             status="200") == 10_000
        assert server.metric("quotebot_answers_total", frontend="http",
                             outcome="answered") == 10_000
        assert server.metric("quotebot_http_request_duration_seconds_count",
                             route="/v1/ask") == 10_000


def server_requests(log: str, prefix: str) -> dict[str, str]:
    """request id → status, for every request the server handled (from its JSON log)."""
    handled: dict[str, str] = {}
    for line in log.splitlines():
        if not line.startswith("{"):
            continue
        record = json.loads(line)
        match = re.match(r"POST /v1/ask -> (\d+) in ", record.get("message", ""))
        if match and str(record.get("request_id", "")).startswith(prefix):
            handled[record["request_id"]] = match.group(1)
    return handled


@requires("redis-server")
def test_sigterm_lets_in_flight_requests_finish_and_exits_cleanly() -> None:
    """Catches: a shutdown without a grace period, which cuts off requests the server had
    already started (each started request must get its full 200; only requests the server
    never took may fail, refused or reset). Conversations live in Redis, as in production,
    so requests wait on it and are in flight when the signal comes."""
    total = 300
    args = ("--log-format", "json", "--log-level", "INFO")
    with redis_server() as redis, serve(*args, env={
            "QUOTEBOT_REDIS_URL": redis.extra["url"], "QUOTEBOT_RATE_LIMIT_IP": "0",
            "QUOTEBOT_SEMANTIC": "off"}) as server:
        answered: dict[str, float] = {}  # request id → when its full answer arrived
        failed: dict[str, str] = {}
        wrong: list[Any] = []
        signalled: list[float] = []

        async def scenario() -> None:
            async with aiohttp.ClientSession() as session:

                async def one(rid: str) -> None:
                    try:
                        async with session.post(server.url + "/v1/ask",
                                                json={"question": "how many stabbings?"},
                                                headers={"X-Request-Id": rid}) as r:
                            body = await r.json()
                            if r.status == 200 and quotes_the_stabbings(body):
                                answered[rid] = time.monotonic()
                            else:
                                wrong.append((rid, r.status, body))
                    except aiohttp.ClientConnectionError as exc:
                        failed[rid] = repr(exc)

                tasks = [asyncio.create_task(one(f"load-{n:03d}")) for n in range(total)]
                await until(lambda: len(answered) >= 20)  # the load is under way
                signalled.append(time.monotonic())
                server.proc.send_signal(signal.SIGTERM)
                await asyncio.gather(*tasks)

        asyncio.run(scenario())
        assert server.proc.wait(15) == 0
        handled = server_requests(server.log(), "load-")
    assert wrong == []
    assert len(answered) + len(failed) == total
    # Every request the server started ran to its end and its client got the whole answer.
    cut_off = {rid: status for rid, status in handled.items() if status != "200"}
    assert cut_off == {}, f"{len(cut_off)} requests were cut off: {list(cut_off.items())[:3]}"
    unanswered = sorted(set(handled) - set(answered))
    assert unanswered == [], f"{len(unanswered)} started requests got no answer: " \
                             f"{[(rid, failed.get(rid)) for rid in unanswered[:3]]}"
    # Requests were in flight at the signal and were answered after it: the grace was used.
    after_signal = [rid for rid, at in answered.items() if at > signalled[0]]
    assert after_signal, "no request was in flight at SIGTERM; the test proved nothing"
    assert set(failed).isdisjoint(handled)
    print(f"\nSIGTERM during {total} requests: {len(handled)} started and answered "
          f"({len(after_signal)} after the signal), {len(failed)} refused or reset")


@requires("redis-server")
def test_requests_waiting_on_redis_at_sigterm_are_answered_before_exit() -> None:
    """Catches: a shutdown without a grace period. Here the requests are certainly in
    flight: Redis is frozen, so each waits on its conversation when SIGTERM comes."""
    with redis_server() as redis, serve(env={"QUOTEBOT_REDIS_URL": redis.extra["url"],
                                             "QUOTEBOT_RATE_LIMIT_IP": "0",
                                             "QUOTEBOT_SEMANTIC": "off"}) as server:
        connections = [http.client.HTTPConnection("127.0.0.1", server.port, timeout=30)
                       for _ in range(3)]
        for connection in connections:  # each connection is the server's, kept alive
            assert post(connection, {"question": "how many stabbings?"})[0] == 200
        replies: list[tuple[int, Any]] = []

        def ask_in_a_conversation(connection: http.client.HTTPConnection, n: int) -> None:
            try:
                # A new conversation, which the server stores in (frozen) Redis.
                replies.append(post(connection, {"question": "how many stabbings?"}))
            except (OSError, http.client.HTTPException) as exc:  # dropped by the server
                replies.append((0, {"error": repr(exc)}))

        redis.proc.send_signal(signal.SIGSTOP)
        try:
            threads = [threading.Thread(target=ask_in_a_conversation, args=(c, n))
                       for n, c in enumerate(connections)]
            for thread in threads:
                thread.start()
            time.sleep(0.5)  # the requests have reached Redis and wait on it
            server.proc.send_signal(signal.SIGTERM)
            deadline = time.monotonic() + 10
            while not refused(server.port):  # shutting down: no new connections
                assert time.monotonic() < deadline, "the server never closed its listener"
                time.sleep(0.02)
            assert replies == [], "the requests ended before the shutdown waited for them"
            for thread in threads:
                thread.join(30)
        finally:
            redis.proc.send_signal(signal.SIGCONT)
        assert [(status, quotes_the_stabbings(body)) for status, body in replies] == [
            (200, True)] * 3, replies
        assert server.proc.wait(15) == 0


def post(connection: http.client.HTTPConnection, data: Any) -> tuple[int, Any]:
    connection.request("POST", "/v1/ask", body=json.dumps(data),
                       headers={"Content-Type": "application/json"})
    response = connection.getresponse()
    return response.status, json.loads(response.read() or b"{}")


def refused(port: int) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=1):
            return False
    except OSError:
        return True


def test_sigterm_answers_every_acknowledged_telegram_update() -> None:
    with FakeBotApi() as api:
        env = {"TELEGRAM_BOT_TOKEN": api.token, "TELEGRAM_WEBHOOK_SECRET": SECRET,
               "TELEGRAM_API_BASE_URL": api.base_url, "QUOTEBOT_RATE_LIMIT_CHAT": "0",
               "QUOTEBOT_SEMANTIC": "off"}
        with serve(env=env) as server:
            acked: list[int] = []

            async def send_all() -> None:
                headers = {"X-Telegram-Bot-Api-Secret-Token": SECRET}
                async with aiohttp.ClientSession() as session:

                    async def one(chat: int) -> None:
                        update = api.message_update(chat, "how many stabbings?")
                        try:
                            async with session.post(server.url + "/telegram/webhook",
                                                    json=update, headers=headers) as r:
                                if r.status == 200 and (await r.json())["ok"]:
                                    acked.append(chat)
                        except aiohttp.ClientConnectionError:
                            pass  # not acknowledged: Telegram would deliver it again

                    tasks = [asyncio.create_task(one(9000 + n)) for n in range(300)]
                    await until(lambda: len(acked) >= 20)  # updates are arriving
                    server.proc.send_signal(signal.SIGTERM)
                    await asyncio.gather(*tasks)

            asyncio.run(send_all())
            assert server.proc.wait(20) == 0
            assert acked
            answered = {int(m["chat_id"]) for m in api.sent}
            assert set(acked) <= answered, f"{len(set(acked) - answered)} acknowledged " \
                                           f"updates were dropped"
            print(f"\nSIGTERM during 300 webhook updates: {len(acked)} acknowledged, "
                  f"{len(answered)} answered, 0 dropped")
