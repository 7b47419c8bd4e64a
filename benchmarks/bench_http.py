"""HTTP: requests/s and latency of POST /v1/ask at 1, 10 and 100 concurrent clients, next to
a bare aiohttp JSON endpoint on the same machine (the ceiling).

    python benchmarks/bench_http.py [--requests 3000] [--index DIR]

`quotebot serve` runs as a subprocess on a free port of 127.0.0.1 (the default article, or
the saved index given with --index), with the per-address rate limit off; the bare
endpoint parses the same JSON and returns a small object. Both get the same bounded
number of requests per level from the same aiohttp client, which runs on the same
machine (so on 2 cores, client and server share them). Two quotebot rows: the same
question every time (answered from the server's answer cache after the first), and a
new question every time (the whole answer path). Child processes run without
OPENBLAS_CORETYPE and OPENBLAS_L2_SIZE (unset together, for the benchmark only).
Prints a table and writes benchmarks/results/http.json.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Callable
from pathlib import Path
from typing import Any

import aiohttp
import numpy as np

HERE = Path(__file__).resolve().parent
QUESTION = "how many stabbings?"
LEVELS = (1, 10, 100)
BARE = """
import sys
from aiohttp import web

async def ask(request):
    data = await request.json()
    return web.json_response({"question": data["question"], "answered": True})

async def health(request):
    return web.json_response({"status": "ok"})

app = web.Application()
app.router.add_post("/v1/ask", ask)
app.router.add_get("/healthz", health)
web.run_app(app, host="127.0.0.1", port=int(sys.argv[1]), print=None, access_log=None)
"""


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def child_env() -> dict[str, str]:
    env = dict(os.environ)
    env.pop("OPENBLAS_CORETYPE", None)
    env.pop("OPENBLAS_L2_SIZE", None)
    return env


async def ask_loop(session: aiohttp.ClientSession, url: str, until: float,
                   make: Callable[[], str], latencies: list[float], errors: list[int]) -> None:
    """Ask ``make()`` at ``url`` one question after another until ``until``: each
    question's seconds in ``latencies``, the statuses other than 200 in ``errors`` (0: no
    answer at all)."""
    while time.monotonic() < until:
        started = time.perf_counter()
        try:
            async with session.post(url, json={"question": make()}) as response:
                await response.read()
                if response.status != 200:
                    errors.append(response.status)
        except aiohttp.ClientError:
            errors.append(0)
        latencies.append(time.perf_counter() - started)


def save_results(name: str, figures: dict[str, Any]) -> float:
    """Write ``figures`` with the load average after the run to benchmarks/results/NAME.json;
    returns that load average."""
    load = os.getloadavg()[0]
    (HERE / "results").mkdir(exist_ok=True)
    (HERE / "results" / f"{name}.json").write_text(json.dumps(
        {**figures, "load_average_after": load}, indent=2) + "\n")
    return load


def print_table(header: list[str], rows: list[list[Any]]) -> None:
    """A Markdown table: the first column left-aligned, the others right-aligned."""
    print("| " + " | ".join(header) + " |")
    print("|---|" + "---:|" * (len(header) - 1))
    for row in rows:
        print("| " + " | ".join(str(cell) for cell in row) + " |")


def start(cmd: list[str], port: int) -> subprocess.Popen[bytes]:
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                            env=child_env())
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"{cmd} exited: {proc.stderr.read().decode()[-2000:]}"
                               if proc.stderr else f"{cmd} exited")
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=1):
                return proc
        except OSError:
            time.sleep(0.1)
    proc.kill()
    raise RuntimeError(f"{cmd} did not answer /healthz within 120 s")


async def load(url: str, total: int, concurrency: int, distinct: bool) -> dict[str, Any]:
    latencies: list[float] = []
    errors = 0
    counter = iter(range(total))
    salt = time.time_ns()
    connector = aiohttp.TCPConnector(limit=concurrency)
    async with aiohttp.ClientSession(connector=connector) as session:

        async def client() -> None:
            nonlocal errors
            for n in counter:
                # A new question each time defeats the server's answer cache.
                question = f"how many stabbings in {salt + n}?" if distinct else QUESTION
                started = time.perf_counter()
                try:
                    async with session.post(url, json={"question": question}) as response:
                        await response.read()
                        errors += response.status != 200
                except aiohttp.ClientError:
                    errors += 1
                latencies.append(time.perf_counter() - started)

        started = time.perf_counter()
        await asyncio.gather(*(client() for _ in range(concurrency)))
        elapsed = time.perf_counter() - started
    ms = np.array(latencies) * 1000
    return {"requests": total, "errors": errors, "rps": total / elapsed,
            "p50_ms": float(np.percentile(ms, 50)), "p99_ms": float(np.percentile(ms, 99))}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=3000, help="requests per level")
    parser.add_argument("--index", default=None, help="serve this saved index instead")
    args = parser.parse_args()

    def quotebot(port: int) -> list[str]:
        cmd = [sys.executable, "-m", "quotebot", "serve", "--host", "127.0.0.1",
               "--port", str(port), "--rate-limit-ip", "0"]
        return cmd + (["--index", args.index] if args.index else [])

    servers = {
        "quotebot serve, same question": (quotebot, False),
        "quotebot serve, every question new": (quotebot, True),
        "bare aiohttp": (lambda port: [sys.executable, "-c", BARE, str(port)], False),
    }
    results: dict[str, Any] = {}
    for name, (command, distinct) in servers.items():
        port = free_port()
        proc = start(command(port), port)
        url = f"http://127.0.0.1:{port}/v1/ask"
        try:
            asyncio.run(load(url, 200, 10, distinct))  # warm up
            results[name] = {str(c): asyncio.run(load(url, args.requests, c, distinct))
                             for c in LEVELS}
        finally:
            proc.terminate()
            proc.wait(30)
    print("| clients | server | requests/s | p50 ms | p99 ms | errors |")
    print("|---:|---|---:|---:|---:|---:|")
    for c in map(str, LEVELS):
        for name in servers:
            r = results[name][c]
            print(f"| {c} | {name} | {r['rps']:,.0f} | {r['p50_ms']:.2f} | {r['p99_ms']:.2f} "
                  f"| {r['errors']} |")
    print()
    ratios = {}
    for c in map(str, LEVELS):
        bare = results["bare aiohttp"][c]["rps"]
        same = results["quotebot serve, same question"][c]["rps"] / bare
        new = results["quotebot serve, every question new"][c]["rps"] / bare
        ratios[c] = {"same_question": same, "every_question_new": new}
        print(f"- {c} client(s): quotebot reaches {same:.0%} of the bare endpoint's "
              f"requests/s with the same question, {new:.0%} when every question is new")
    (HERE / "results").mkdir(exist_ok=True)
    (HERE / "results" / "http.json").write_text(json.dumps(
        {"requests_per_level": args.requests, "index": args.index, "results": results,
         "ratio_to_bare": ratios}, indent=2) + "\n")


if __name__ == "__main__":
    main()
