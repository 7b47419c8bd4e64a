"""Rate limits: the token bucket's burst, refill, cap and Retry-After, exactly, on a clock
moved by hand; and the sequence of statuses a client sees from `quotebot serve`."""

from __future__ import annotations

import http.client
import json
import math
import time
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest

from quotebot.bot.ratelimit import Arrival, RateLimiter

from conftest import quotes_the_stabbings
from servers import serve


class FakeClock:
    """A monotonic clock that moves only when told to."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


def take(limiter: RateLimiter, n: int, key: str = "ip:1") -> list[bool]:
    return [limiter.allow(key) for _ in range(n)]


@pytest.mark.parametrize(("per_minute", "burst"), [(60, 10), (30, 5), (600, 100), (6, 1),
                                                    (3, 1)])
def test_a_new_key_gets_exactly_its_burst_then_is_refused(per_minute: int, burst: int) -> None:
    """Catches: a burst one too big or too small (``tokens > 1`` for ``>= 1``), or a
    burst that is not a tenth of a minute's allowance."""
    limiter = RateLimiter(per_minute, clock=FakeClock())
    assert take(limiter, burst + 3) == [True] * burst + [False] * 3


def test_an_explicit_burst_is_the_burst() -> None:
    """Catches: a ``burst`` argument that is ignored."""
    limiter = RateLimiter(60, burst=3, clock=FakeClock())
    assert take(limiter, 5) == [True, True, True, False, False]


def test_tokens_come_back_at_the_per_minute_rate() -> None:
    """Catches: a refill per second where per minute is meant (60 times too fast), or a
    refill that does not count the time since the last request."""
    clock = FakeClock()
    limiter = RateLimiter(60, clock=clock)  # one token a second
    assert take(limiter, 11) == [True] * 10 + [False]
    clock.advance(0.75)
    assert take(limiter, 1) == [False]  # three quarters of a token
    clock.advance(0.25)
    assert take(limiter, 2) == [True, False]  # exactly one
    clock.advance(3.0)
    assert take(limiter, 4) == [True, True, True, False]
    slow = RateLimiter(30, clock=clock)  # one token every two seconds
    assert take(slow, 6) == [True] * 5 + [False]
    clock.advance(1.5)
    assert take(slow, 1) == [False]
    clock.advance(0.5)
    assert take(slow, 2) == [True, False]


def test_an_idle_key_never_holds_more_than_its_burst() -> None:
    """Catches: a bucket without a cap, which after an hour's quiet would let a client send
    an hour's allowance at once."""
    clock = FakeClock()
    limiter = RateLimiter(60, clock=clock)
    assert take(limiter, 10) == [True] * 10
    clock.advance(3600)
    assert take(limiter, 12) == [True] * 10 + [False] * 2


def test_retry_after_is_the_time_until_the_next_token() -> None:
    """Catches: a Retry-After that is a constant, ignores the part of a token already
    refilled, or is computed from the wrong rate."""
    clock = FakeClock()
    limiter = RateLimiter(60, clock=clock)
    assert limiter.retry_after("ip:1") == 0.0  # a key never seen may send now
    take(limiter, 11)
    assert limiter.retry_after("ip:1") == 1.0
    clock.advance(0.25)
    assert limiter.retry_after("ip:1") == 0.75
    clock.advance(0.75)
    assert limiter.retry_after("ip:1") == 0.0 and take(limiter, 1) == [True]
    slow = RateLimiter(30, clock=clock)
    take(slow, 6)
    assert slow.retry_after("ip:1") == 2.0
    clock.advance(0.5)
    assert slow.retry_after("ip:1") == 1.5
    clock.advance(slow.retry_after("ip:1"))
    assert take(slow, 2) == [True, False]


def test_keys_have_buckets_of_their_own_and_zero_turns_the_limit_off() -> None:
    """Catches: one bucket shared by every client, and a limit of 0 that refuses all."""
    limiter = RateLimiter(6, clock=FakeClock())
    assert take(limiter, 2, "ip:a") == [True, False]
    assert take(limiter, 2, "ip:b") == [True, False]
    off = RateLimiter(0, clock=FakeClock())
    assert all(take(off, 1000)) and off.retry_after("ip:1") == 0.0


def test_retry_after_is_zero_once_a_token_is_back_whatever_the_burst() -> None:
    """Catches: a Retry-After that is negative (or waits for a second token) when more than
    one token but less than two has come back."""
    clock = FakeClock()
    limiter = RateLimiter(60, burst=2, clock=clock)
    assert take(limiter, 3) == [True, True, False]
    clock.advance(1.5)
    assert limiter.retry_after("ip:1") == 0.0


def test_a_request_that_arrived_earlier_gives_no_time_back() -> None:
    """Catches: a request's own arrival time ignored for the process's clock, and a request
    handled late (it arrived before the last one handled) that moves the bucket's time
    back, so that the seconds between the two are refilled twice."""
    clock = FakeClock()  # never moves: only the arrival times given count
    limiter = RateLimiter(6, burst=1, clock=clock)  # a token every ten seconds
    assert limiter.allow("ip:1", now=100.0)
    assert not limiter.allow("ip:1", now=95.0)
    assert not limiter.allow("ip:1", now=108.0)  # 0.8 of a token since 100
    assert limiter.allow("ip:1", now=110.0)


def test_at_most_max_keys_are_remembered_and_the_least_recent_is_forgotten() -> None:
    """Catches: one key fewer remembered than ``max_keys``, and the key just used forgotten
    instead of the one used longest ago (which lets a flood of new keys reset any
    client's limit, or makes the newest client's limit forget at once)."""
    limiter = RateLimiter(6, burst=1, max_keys=2, clock=FakeClock())
    assert take(limiter, 1, "ip:a") == [True]
    assert take(limiter, 1, "ip:b") == [True]
    assert take(limiter, 1, "ip:a") == [False]  # both remembered: a is now the most recent
    assert take(limiter, 1, "ip:c") == [True]  # b, used longest ago, is forgotten
    assert take(limiter, 1, "ip:a") == [False]
    assert take(limiter, 1, "ip:c") == [False]
    assert take(limiter, 1, "ip:b") == [True]


def test_an_arrival_is_read_from_both_clocks() -> None:
    """Catches: an arrival stamped with one clock in place of the other (replicas compare
    wall-clock times, a process its monotonic ones)."""
    monotonic, wall = time.monotonic(), time.time()
    arrival = Arrival.now()
    assert monotonic <= arrival.monotonic <= time.monotonic()
    assert wall <= arrival.wall <= time.time()


def ask(connection: http.client.HTTPConnection) -> tuple[int, dict[str, str], Any]:
    connection.request("POST", "/v1/ask", body=json.dumps({"question": "how many stabbings?"}),
                       headers={"Content-Type": "application/json"})
    response = connection.getresponse()
    return response.status, dict(response.headers), json.loads(response.read())


def ask_at(port: int, when: float) -> tuple[float, tuple[int, dict[str, str], Any]]:
    """At the monotonic time ``when``, ask over a connection of its own; the reply and when
    it came back."""
    time.sleep(max(0.0, when - time.monotonic()))
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=120)
    try:
        reply = ask(connection)
    finally:
        connection.close()
    return time.monotonic(), reply


@pytest.mark.slow
def test_http_clients_get_exactly_the_burst_then_429_with_the_limiters_retry_after() -> None:
    """Catches over HTTP: a burst off by one, a limit not applied per address, and a
    Retry-After that is not the limiter's time until the next token.

    The limiter counts a request when it arrives, before it is answered: the burst's
    requests are sent at once (one after another, a slow answer let a token come back during
    the burst on a loaded machine) and the two that find one token back are sent at a set
    time after them, however long the answers take."""
    per_minute, burst = 30, 5  # one token every 2 s; burst = per_minute // 6
    refill = 60 / per_minute
    env = {"QUOTEBOT_RATE_LIMIT_IP": str(per_minute), "QUOTEBOT_SEMANTIC": "off"}
    with serve(env=env) as server, ThreadPoolExecutor(burst + 5) as pool:
        started = time.monotonic()
        at_once = [pool.submit(ask_at, server.port, started) for _ in range(burst + 3)]
        # 1.5 refills after the burst: one token back, not two (nor the whole burst).
        later = [pool.submit(ask_at, server.port, started + 1.5 * refill) for _ in range(2)]
        replies = sorted((future.result() for future in at_once), key=lambda r: r[1][0])
        statuses = [status for _, (status, _, _) in replies]
        assert statuses == [200] * burst + [429] * 3
        assert all(quotes_the_stabbings(body) for _, (_, _, body) in replies[:burst])
        # The refusals came last (the first `burst` arrivals took the tokens): each arrived
        # before its reply, so the burst arrived within `spread` of its start.
        spread = max(returned for returned, (status, _, _) in replies if status == 429) - started
        assert spread < 0.5 * refill, f"the burst took {spread:.2f} s to arrive"
        # The limiter's wait is a refill less the time since the burst began (at most
        # `spread`), which the server rounds up to whole seconds, at least 1.
        possible = {str(n) for n in range(max(1, math.ceil(refill - spread)),
                                          math.ceil(refill) + 1)}
        for _, (_, headers, body) in replies[burst:]:
            assert headers["Retry-After"] in possible, (headers["Retry-After"], spread)
            assert body["error"]["code"] == "rate_limited"
            assert f"retry in {headers['Retry-After']} s" in body["error"]["message"]
        assert sorted(future.result()[1][0] for future in later) == [200, 429]
