"""Askers beside adders: the latency of POST /v1/ask for 20 clients asking new questions,
alone and while 4 clients add 1 MB articles to libraries of their own.

    python benchmarks/bench_mixed_load.py [--seconds 30] [--askers 20] [--adders 4]

`quotebot serve` runs as a subprocess on a free port of 127.0.0.1 with an API key, a data
folder of its own, meaning as by default, and the per-address rate limit off. Each phase
runs for the same bounded time: first the askers alone, then the askers while the adders
each upload one 1 MB plain-text article after another (a multipart `file`, the way a page
or a PDF comes) to their own library. Every question is new (the answer cache never
answers). Client and server share the machine's cores, so the figures are read as the
ratio of the two phases, from one run. Prints a table and writes
benchmarks/results/mixed_load.json.
"""

from __future__ import annotations

import argparse
import asyncio
import itertools
import os
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from typing import Any

import aiohttp
import numpy as np
from bench_http import ask_loop, free_port, print_table, save_results, start

KEY = "mixed-load-benchmark-key-0123456789"
WORDS = ("harbour council ferry island museum winter storm bridge river market school "
         "festival library station tram mayor budget report district water").split()


def article(n: int, size: int = 1_000_000) -> bytes:
    """About ``size`` bytes of sentences, different for each ``n``."""
    rng = np.random.default_rng(n)
    lines, total = [], 0
    while total < size:
        words = rng.choice(WORDS, size=12)
        line = f"In {1900 + int(rng.integers(0, 120))} the " + " ".join(words) + ".\n"
        lines.append(line)
        total += len(line)
    return "".join(lines).encode("utf-8")


def new_questions(salt: int) -> Callable[[], str]:
    """A new question at each call (the answer cache never answers)."""
    counter = itertools.count()
    return lambda: f"how many stabbings in {salt}-{next(counter)}?"


async def add_loop(session: aiohttp.ClientSession, base: str, name: str, until: float,
                   done: list[float], statuses: list[int]) -> None:
    n = 0
    while time.monotonic() < until:
        form = aiohttp.FormData()
        form.add_field("file", article(hash((name, n)) % 2**31), filename=f"{name}-{n}.txt",
                       content_type="text/plain")
        n += 1
        started = time.perf_counter()

        async def upload(form: aiohttp.FormData = form) -> int:
            async with session.post(f"{base}/v1/libraries/{name}/docs", data=form,
                                    headers={"Authorization": f"Bearer {KEY}"}) as response:
                await response.read()
                return response.status

        try:  # an add still running when the phase ends is left to the server
            statuses.append(await asyncio.wait_for(upload(), max(until - time.monotonic(),
                                                                 0.1)))
        except TimeoutError:
            return
        done.append(time.perf_counter() - started)


async def phase(base: str, seconds: float, askers: int, adders: int) -> dict[str, Any]:
    latencies: list[float] = []
    errors: list[int] = []
    adds: list[float] = []
    statuses: list[int] = []
    until = time.monotonic() + seconds
    connector = aiohttp.TCPConnector(limit=askers + adders)
    async with aiohttp.ClientSession(connector=connector) as session:
        tasks = [ask_loop(session, base + "/v1/ask", until, new_questions(time.time_ns() + i),
                          latencies, errors) for i in range(askers)]
        tasks += [add_loop(session, base, f"adder-{i}", until, adds, statuses)
                  for i in range(adders)]
        await asyncio.gather(*tasks)
    ms = np.array(latencies) * 1000
    return {"questions": len(latencies), "errors": len(errors),
            "p50_ms": float(np.percentile(ms, 50)), "p99_ms": float(np.percentile(ms, 99)),
            "adds": len(adds), "add_statuses": sorted(set(statuses)),
            "add_mean_s": float(np.mean(adds)) if adds else None}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=30.0, help="length of each phase")
    parser.add_argument("--askers", type=int, default=20)
    parser.add_argument("--adders", type=int, default=4)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as data:
        os.environ.update({"QUOTEBOT_API_KEY": KEY, "QUOTEBOT_DATA_DIR": data})
        port = free_port()
        proc = start([sys.executable, "-m", "quotebot", "serve", "--host", "127.0.0.1",
                      "--port", str(port), "--rate-limit-ip", "0"], port)
        base = f"http://127.0.0.1:{port}"
        try:
            asyncio.run(phase(base, 3, 4, 0))  # warm up
            alone = asyncio.run(phase(base, args.seconds, args.askers, 0))
            mixed = asyncio.run(phase(base, args.seconds, args.askers, args.adders))
        finally:
            # Adds still running in the server's adding processes are not waited for.
            subprocess.run(["pkill", "-KILL", "-P", str(proc.pid)], check=False)
            proc.kill()
            proc.wait(60)
    ratio = mixed["p99_ms"] / alone["p99_ms"]
    load = save_results("mixed_load", {
        "seconds": args.seconds, "askers": args.askers, "adders": args.adders,
        "alone": alone, "with_adders": mixed, "p99_ratio": ratio})
    print_table([f"phase ({args.seconds:.0f} s each, {args.askers} askers)", "questions",
                 "p50 ms", "p99 ms", "errors", "adds done", "add statuses"],
                [[name, r["questions"], f"{r['p50_ms']:.1f}", f"{r['p99_ms']:.1f}", r["errors"],
                  r["adds"], r["add_statuses"]]
                 for name, r in (("askers alone", alone),
                                 (f"with {args.adders} adders of 1 MB", mixed))])
    print(f"\naskers' p99 with adders ÷ alone: {ratio:.2f}× (target ≤ 2×); load average "
          f"after the run {load:.1f}")


if __name__ == "__main__":
    main()
