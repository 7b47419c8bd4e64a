"""Conversations in memory stay within their byte budget, however large and many they are."""

from __future__ import annotations

import gc
import tracemalloc

import pytest

from quotebot.bot.sessions import MemorySessionStore, encode_state
from quotebot.session import SessionState

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
            assert status == 200 and body["answer"] == "72"
            sessions.append(body["session"])
        status, oldest = server.post("/v1/ask", {"question": "more", "session": sessions[0]})
        assert (status, oldest["error"]["code"]) == (404, "unknown_session")
        status, newest = server.post("/v1/ask", {"question": "more", "session": sessions[-1]})
        assert status == 200 and newest["resolved_question"] == question
