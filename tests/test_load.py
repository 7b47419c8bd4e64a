"""Load and shutdown: nothing lost under 10,000 requests or a SIGTERM in the middle."""

from __future__ import annotations

import asyncio
import signal
import statistics
import time
from typing import Any

import aiohttp

from fake_bot_api import FakeBotApi
from servers import serve

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
                        if response.status != 200 or body.get("answer") != "72":
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
    with serve(env={"QUOTEBOT_RATE_LIMIT_IP": "0"}) as server:
        started = time.perf_counter()
        latencies, failures = asyncio.run(hammer(server.url + "/v1/ask", 10_000, 100,
                                                 {"question": "how many stabbings?"}))
        elapsed = time.perf_counter() - started
        assert failures == []
        assert len(latencies) == 10_000
        print(f"\n10,000 requests at concurrency 100: {10_000 / elapsed:,.0f} req/s, "
              f"p50 {percentile(latencies, 50) * 1000:.1f} ms, "
              f"p99 {percentile(latencies, 99) * 1000:.1f} ms, errors 0, lost 0")
        _, metrics = server.post("/v1/ask", {"question": "how many stabbings?"})
        assert metrics["answer"] == "72"


def test_sigterm_lets_in_flight_requests_finish_and_exits_cleanly() -> None:
    with serve(env={"QUOTEBOT_RATE_LIMIT_IP": "0"}) as server:

        async def scenario() -> tuple[list[int], list[str]]:
            statuses: list[int] = []
            errors: list[str] = []
            async with aiohttp.ClientSession() as session:

                async def one() -> None:
                    try:
                        async with session.post(server.url + "/v1/ask",
                                                json={"question": "how many stabbings?"}) as r:
                            body = await r.json()
                            statuses.append(r.status)
                            assert body["answer"] == "72"
                    except aiohttp.ClientConnectionError as exc:
                        errors.append(repr(exc))  # refused: sent after the listener closed

                tasks = [asyncio.create_task(one()) for _ in range(300)]
                await until(lambda: len(statuses) >= 20)  # the load is under way
                server.proc.send_signal(signal.SIGTERM)
                await asyncio.gather(*tasks)
            return statuses, errors

        statuses, errors = asyncio.run(scenario())
        assert server.proc.wait(15) == 0
        assert statuses and set(statuses) == {200}  # every response that came was complete
        assert len(statuses) + len(errors) == 300
        assert all(e.startswith(("Client", "Server")) for e in errors), errors[:3]


def test_sigterm_answers_every_acknowledged_telegram_update() -> None:
    with FakeBotApi() as api:
        env = {"TELEGRAM_BOT_TOKEN": api.token, "TELEGRAM_WEBHOOK_SECRET": SECRET,
               "TELEGRAM_API_BASE_URL": api.base_url, "QUOTEBOT_RATE_LIMIT_CHAT": "0"}
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
