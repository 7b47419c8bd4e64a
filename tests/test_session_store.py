"""Conversations in memory: kept until idle for the TTL, within their byte budget however
large and many they are, the least recently written dropped first; turns locked per
conversation; an update answered once."""

from __future__ import annotations

import gc
import tracemalloc

import pytest

from quotebot.bot import sessions
from quotebot.bot.ratelimit import Arrival, RateLimiter
from quotebot.bot.sessions import (
    ENTRY_OVERHEAD,
    RECENT_UPDATES,
    ConversationBusy,
    MemorySessionStore,
    RecentIds,
    decode_state,
    encode_state,
)
from quotebot.session import SessionState

from conftest import quotes_the_stabbings
from servers import serve

EMOJI = "😀"


def large_state(n: int) -> SessionState:
    question = f"what did {n} say? " + EMOJI * 980
    return SessionState(question=question, question_entity=EMOJI * 200,
                        referents=((EMOJI * 200, "she"),), place="London", shown=3)


def test_a_conversation_is_stored_as_compact_utf8() -> None:
    state = SessionState(question=EMOJI * 1000, shown=3)
    encoded = encode_state(state)
    assert len(encoded) < 4100  # 4 bytes an emoji; json.dumps's \u escapes took 12
    assert encoded.startswith(b'{"question":"\xf0\x9f\x98\x80')
    assert encode_state(SessionState()) == b"{}"  # nothing but what differs from a new one
    assert b"null" not in encode_state(SessionState(question="x"))


@pytest.mark.slow
async def test_the_memory_store_stays_under_its_byte_budget_under_a_flood() -> None:
    budget = 2 * 1024 * 1024
    store = MemorySessionStore(max_bytes=budget)
    gc.collect()
    tracemalloc.start()
    try:
        before = tracemalloc.get_traced_memory()[0]
        for n in range(20_000):  # 20,000 conversations of ~6 KB: 120 MB if nothing is dropped
            await store.put(f"http:flood-{n:05d}", large_state(n))
            if n % 1000 == 0:
                assert store.nbytes <= budget
        gc.collect()
        used = tracemalloc.get_traced_memory()[0] - before
    finally:
        tracemalloc.stop()
    # What Python really holds for them, not only what the store counts.
    assert used <= budget, f"{used:,} bytes for a budget of {budget:,}"
    assert store.nbytes <= budget
    assert len(store) > 250  # still holds as many as fit
    assert await store.find("http:flood-19999") == large_state(19999)
    assert await store.find("http:flood-00000") is None  # the least recently written went


@pytest.mark.slow
def test_a_flooded_server_drops_its_oldest_conversations_and_keeps_answering() -> None:
    env = {"QUOTEBOT_SEMANTIC": "off", "QUOTEBOT_RATE_LIMIT_IP": "0",
           "QUOTEBOT_SESSION_MEMORY_MB": "1"}
    question = "how many stabbings? " + EMOJI * 975
    with serve(env=env) as server:
        sessions = []
        for _ in range(400):  # ~4.4 KB each: about 240 fit in 1 MB
            status, body = server.post("/v1/ask", {"question": question})
            assert status == 200 and quotes_the_stabbings(body)
            sessions.append(body["session"])
        status, oldest = server.post("/v1/ask", {"question": "more", "session": sessions[0]})
        assert (status, oldest["error"]["code"]) == (404, "unknown_session")
        status, newest = server.post("/v1/ask", {"question": "more", "session": sessions[-1]})
        assert status == 200 and newest["resolved_question"] == question


# -- the memory store's rules, on a clock moved by hand ----------------------------------


class Clock:
    """``time.monotonic`` for the store, moved by hand."""

    def __init__(self) -> None:
        self.now = 1000.0

    def monotonic(self) -> float:
        return self.now


@pytest.fixture()
def clock(monkeypatch: pytest.MonkeyPatch) -> Clock:
    moved = Clock()
    # The store's own view of the clock only: the event loop keeps the real one.
    monkeypatch.setattr(sessions, "time", moved)
    return moved


def cost(key: str, state: SessionState) -> int:
    return int(ENTRY_OVERHEAD) + len(key) + len(encode_state(state))


def test_a_conversation_comes_back_as_it_was_written() -> None:
    state = SessionState(question="who went to New York?", question_entity="Ms Linden",
                         referents=(("Ms Linden", "she"),), place="London", shown=3,
                         history=("who went?",), seen=(("doc", 4),), anchor=2,
                         homes=(("doc", 4), ("other", 0)), asked_homes=(("other", 0),))
    assert decode_state(encode_state(state)) == state
    assert decode_state(encode_state(state).decode()) == state
    for unreadable in (b"{not json", b"\xff\xfe", "", b"[1, 2]", b"null"):
        assert decode_state(unreadable) == SessionState()


def test_a_busy_conversation_is_a_conflict_with_its_own_code() -> None:
    busy = ConversationBusy("busy")
    assert (busy.code, busy.http_status) == ("conversation_busy", 409)


async def test_an_idle_conversation_expires_after_the_ttl_and_not_before(clock: Clock) -> None:
    store = MemorySessionStore(ttl=60)
    state = SessionState(question="who went?")
    assert await store.find("http:a") is None
    assert await store.get("http:a") == SessionState()
    await store.put("http:a", state)
    clock.now += 60  # the last moment it is kept
    assert await store.find("http:a") == state
    assert await store.get("http:a") == state
    clock.now += 0.01
    assert await store.find("http:a") is None
    assert (len(store), store.nbytes) == (0, 0)  # forgotten, not only hidden
    await store.put("http:a", state)  # a write starts its time again
    clock.now += 59
    await store.put("http:a", state)
    clock.now += 59
    assert await store.find("http:a") == state


async def test_expired_conversations_are_dropped_by_the_next_write(clock: Clock) -> None:
    store = MemorySessionStore(ttl=60)
    await store.put("http:old", SessionState(question="old"))
    clock.now += 30
    await store.put("http:middle", SessionState(question="middle"))
    clock.now += 30.5
    await store.put("http:new", SessionState(question="new"))
    assert len(store) == 2 and await store.find("http:middle") is not None
    assert store.nbytes == cost("http:middle", SessionState(question="middle")) + cost(
        "http:new", SessionState(question="new"))
    clock.now += 29.5  # "middle" is at its last moment: a write keeps it
    await store.put("http:newer", SessionState(question="newer"))
    assert len(store) == 3 and await store.find("http:middle") is not None


async def test_the_byte_count_is_each_conversations_key_json_and_overhead(clock: Clock) -> None:
    store = MemorySessionStore()
    first, second = SessionState(question="who went?"), SessionState(question="x", shown=2)
    await store.put("tg:1", first)
    assert store.nbytes == cost("tg:1", first) == (
        ENTRY_OVERHEAD + len("tg:1") + len(b'{"question":"who went?"}'))
    await store.put("tg:1", second)  # replaced, not counted twice
    assert (len(store), store.nbytes) == (1, cost("tg:1", second))
    await store.put("tg:22", first)
    assert store.nbytes == cost("tg:1", second) + cost("tg:22", first)
    store.forget("tg:1")
    store.forget("tg:1")  # forgetting twice takes nothing more
    assert (len(store), store.nbytes) == (1, cost("tg:22", first))
    await store.close()
    assert (len(store), store.nbytes) == (0, 0)
    assert await store.find("tg:22") is None


async def test_over_its_budget_the_least_recently_written_conversation_goes(
        clock: Clock) -> None:
    state = SessionState(question="who went to New York?")
    one = cost("http:a", state)
    store = MemorySessionStore(max_bytes=2 * one)
    await store.put("http:a", state)
    await store.put("http:b", state)
    assert len(store) == 2 and store.nbytes == 2 * one  # exactly the budget is allowed
    await store.put("http:a", state)  # written again: now the most recent
    await store.put("http:c", state)
    assert await store.find("http:b") is None
    assert await store.find("http:a") == state and await store.find("http:c") == state
    assert store.nbytes == 2 * one
    small = MemorySessionStore(max_bytes=one - 1)  # nothing fits: nothing is kept
    await small.put("http:a", state)
    assert (len(small), small.nbytes) == (0, 0)


async def test_an_update_is_first_delivered_once_among_the_last_ids() -> None:
    store = MemorySessionStore()
    assert await store.first_delivery("7") is True
    assert await store.first_delivery("8") is True
    assert await store.first_delivery("7") is False
    recent = RecentIds(size=2)
    assert [recent.first(u) for u in ("1", "2", "3")] == [True, True, True]
    assert recent.first("3") is False and recent.first("2") is False
    assert recent.first("1") is True  # the oldest was forgotten, the last two were not
    assert RecentIds().size == RECENT_UPDATES


async def test_turns_of_one_conversation_share_a_lock_and_unused_locks_are_forgotten(
        ) -> None:
    store = MemorySessionStore()
    held = store.lock("tg:held")
    assert store.lock("tg:held") is held and store.lock("tg:other") is not held
    async with held:
        spare = store.lock("tg:spare")
        for n in range(10_000 - 3):
            store.lock(f"tg:{n}")
        # 10,000 locks are kept as they are ...
        assert store.lock("tg:spare") is spare
        store.lock("tg:one-more")
        # ... and past that, those nobody holds are forgotten; the held one stays.
        assert store.lock("tg:held") is held
        assert store.lock("tg:spare") is not spare


async def test_a_request_over_the_rate_is_told_how_long_to_wait(clock: Clock) -> None:
    store = MemorySessionStore()
    limits = RateLimiter(per_minute=60, burst=1, clock=lambda: clock.now)
    assert await store.take("ip:1", limits) == 0.0
    assert await store.take("ip:1", limits) == pytest.approx(1.0)
    clock.now += 0.9999999
    assert await store.take("ip:1", limits) == 1e-3  # never 0, which would mean "go"
    clock.now += 1
    # Counted when it arrived, a second earlier, not now.
    assert await store.take("ip:1", limits, Arrival(clock.now - 1, 0.0)) > 0
    assert await store.take("ip:1", limits, Arrival(clock.now, 0.0)) == 0.0
    assert await store.health() is None and store.kind == "memory"
