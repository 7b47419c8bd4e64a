"""The queue adds run in: apart from answering, in worker processes, fair between tenants."""

from __future__ import annotations

import asyncio
import functools
import time
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

import pytest

from quotebot.bot.adding import AddQueue, AddRefused, AddsBusy
from quotebot.bot.libraries import warm_adding_process
from quotebot.errors import QuotebotError

pytestmark = pytest.mark.slow

T = TypeVar("T")


def timed(label: str, seconds: float) -> tuple[str, float, float]:
    """In a worker: wait ``seconds``; when it started and ended."""
    started = time.monotonic()
    time.sleep(seconds)
    return label, started, time.monotonic()


def spin(seconds: float) -> str:
    """In a worker: compute for ``seconds`` (Python code, as extraction is)."""
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        pass
    return "finished"


def refuse(code: str) -> None:
    error = QuotebotError(f"Refused with {code}.", code=code)
    error.http_status = 409
    raise error


def with_queue(queue: AddQueue, work: Callable[[AddQueue], Awaitable[T]]) -> T:
    async def run() -> T:
        try:
            return await work(queue)
        finally:
            queue.close()

    return asyncio.run(run())


def test_web_page_sessions_never_keep_an_api_client_waiting() -> None:
    async def work(queue: AddQueue) -> list[Any]:
        await queue.run("warm", timed, "warm", 0.0)  # the processes are up
        pages = [asyncio.ensure_future(queue.run(f"web-{n}", timed, f"web-{n}", 1.5))
                 for n in (1, 2)]
        await asyncio.sleep(0.3)
        client = await queue.run("desk", timed, "desk", 0.0)
        return [client, *await asyncio.gather(*pages)]

    (_, _, client_end), (_, start1, end1), (_, start2, end2) = with_queue(
        AddQueue(workers=3, anonymous=1), work)
    assert client_end < min(end1, end2), "the client waited for a page"
    # One page at a time: the second starts once the first is done.
    assert max(start1, start2) >= min(end1, end2) - 0.05


def test_a_tenants_adds_run_one_at_a_time_in_order_and_tenants_take_turns() -> None:
    async def work(queue: AddQueue) -> list[str]:
        await queue.run("warm", timed, "warm", 0.0)
        first = [asyncio.ensure_future(queue.run("tg-1", timed, f"a{n}", 0.2)) for n in range(3)]
        await asyncio.sleep(0.05)
        second = asyncio.ensure_future(queue.run("tg-2", timed, "b0", 0.2))
        done = await asyncio.gather(*first, second)
        return [label for label, _, _ in sorted(done, key=lambda d: d[1])]

    assert with_queue(AddQueue(workers=1), work) == ["a0", "b0", "a1", "a2"]


def test_a_refusal_in_a_worker_comes_back_with_its_code_message_and_status() -> None:
    async def work(queue: AddQueue) -> AddRefused:
        with pytest.raises(AddRefused) as refused:
            await queue.run("tg-1", refuse, "library_full")
        return refused.value

    refused = with_queue(AddQueue(workers=1), work)
    assert (refused.code, refused.message, refused.http_status) == (
        "library_full", "Refused with library_full.", 409)


def test_a_tenant_with_too_many_adds_waiting_is_refused_politely() -> None:
    async def work(queue: AddQueue) -> str:
        waiting = [asyncio.ensure_future(queue.run("tg-1", timed, str(n), 0.1))
                   for n in range(3)]
        await asyncio.sleep(0)
        with pytest.raises(AddsBusy) as busy:
            await queue.run("tg-1", timed, "3", 0.0)
        await asyncio.gather(*waiting)
        other = await queue.run("tg-2", timed, "other", 0.0)  # others are not refused
        return f"{busy.value.message} {other[0]}"

    said = with_queue(AddQueue(workers=1, per_tenant=2), work)
    assert said.startswith("2 documents are already waiting") and said.endswith(" other")


def test_an_add_past_its_time_is_stopped_and_the_worker_goes_on() -> None:
    async def work(queue: AddQueue) -> tuple[AddRefused, float, list[str]]:
        await queue.run("warm", timed, "warm", 0.0)  # the processes are up
        started = time.monotonic()
        with pytest.raises(AddRefused) as stopped:
            await queue.run("desk", spin, 30.0)
        took = time.monotonic() - started
        # The same tenant and another go on in the same worker, with a fresh timer each.
        after = [await queue.run("desk", spin, 0.5), await queue.run("other", spin, 0.5)]
        return stopped.value, took, after

    stopped, took, after = with_queue(AddQueue(workers=1, seconds=1.0), work)
    assert stopped.code == "add_too_slow" and stopped.http_status == 413
    assert "longer than 1 seconds" in stopped.message and "nothing was added" in stopped.message
    assert took < 10, took
    assert after == ["finished", "finished"]


def what_is_loaded() -> tuple[bool, bool]:
    """In a worker: whether lemminflect's lemma tables and the sentence model are loaded."""
    from lemminflect.core.Lemmatizer import Lemmatizer

    from quotebot.semantic import _load_encoder

    return hasattr(Lemmatizer(), "lemma_dict"), _load_encoder.cache_info().currsize > 0


@pytest.mark.parametrize("semantic", ["on", "off"])
def test_a_process_has_what_adds_need_loaded_before_its_first_add(semantic: str) -> None:
    """Each process's first add once waited 2.2 s for lemminflect's tables (and a second
    for the sentence model): they are loaded as the processes start."""
    async def work(queue: AddQueue) -> list[tuple[bool, bool]]:
        queue.start()
        return list(await asyncio.gather(*(queue.run(f"t{n}", what_is_loaded)
                                           for n in range(2))))

    loaded = with_queue(AddQueue(workers=2, warm=functools.partial(warm_adding_process,
                                                                   semantic)), work)
    assert loaded == [(True, semantic == "on")] * 2


def test_adds_whose_clients_hung_up_while_waiting_no_longer_count_as_waiting() -> None:
    async def work(queue: AddQueue) -> str:
        running = asyncio.ensure_future(queue.run("tg-1", timed, "running", 1.0))
        await asyncio.sleep(0.2)
        gone = [asyncio.ensure_future(queue.run("tg-1", timed, f"gone{n}", 0.0))
                for n in range(2)]
        await asyncio.sleep(0.05)
        for task in gone:
            task.cancel()  # their clients hung up
        await asyncio.gather(*gone, return_exceptions=True)
        retried = await queue.run("tg-1", timed, "retried", 0.0)  # not refused as busy
        await running
        return retried[0]

    assert with_queue(AddQueue(workers=1, per_tenant=2), work) == "retried"
