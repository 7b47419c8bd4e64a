"""HTTP: requests/s and latency of POST /v1/ask on the default article at 1, 10 and 100
concurrent clients, next to a bare aiohttp JSON endpoint on the same machine (the ceiling).

    python benchmarks/bench_http.py [--requests 3000]

Both servers run as separate processes on 127.0.0.1 and get the same bounded number of
requests from the same client. Prints a table and writes benchmarks/results/http.json.
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
from pathlib import Path
from typing import Any

import aiohttp
import numpy as np

HERE = Path(__file__).resolve().parent
BARE = """
from aiohttp import web
async def ask(request):
    data = await request.json()
    return web.json_response({"question": data["question"], "answered": True})
app = web.Application()
app.router.add_post("/v1/ask", ask)
app.router.add_get("/healthz", lambda r: web.json_response({"status": "ok"}))
web.run_app(app, host="127.0.0.1", port=int(__import__("sys").argv[1]), print=None,
            access_log=None)
"""


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def start(cmd: list[str], port: int) -> subprocess.Popen[bytes]:
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                            env=dict(os.environ, QUOTEBOT_RATE_LIMIT_IP="0"))
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=1):
                return proc
        except OSError:
            time.sleep(0.1)
    proc.kill()
    raise RuntimeError(f"{cmd} did not start")


async def load(url: str, total: int, concurrency: int, distinct: bool = False
               ) -> dict[str, Any]:
    latencies: list[float] = []
    errors = 0
    counter = iter(range(total))
    payload = {"question": "how many stabbings?"}
    salt = time.time_ns()
    async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=concurrency)) as s:

        async def worker() -> None:
            nonlocal errors
            for n in counter:
                started = time.perf_counter()
                # A new question each time defeats quotebot's answer cache.
                body = {"question": f"how many stabbings in {salt + n}?"} if distinct else payload
                try:
                    async with s.post(url, json=body) as response:
                        await response.read()
                        errors += response.status != 200
                except aiohttp.ClientError:
                    errors += 1
                latencies.append(time.perf_counter() - started)

        started = time.perf_counter()
        await asyncio.gather(*(worker() for _ in range(concurrency)))
        elapsed = time.perf_counter() - started
    ms = np.array(latencies) * 1000
    return {"requests": total, "errors": errors, "rps": total / elapsed,
            "p50_ms": float(np.percentile(ms, 50)), "p99_ms": float(np.percentile(ms, 99))}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=3000)
    args = parser.parse_args()
    quotebot = lambda p: [sys.executable, "-m", "quotebot", "serve", "--port", str(p)]  # noqa: E731
    servers = {
        "quotebot serve": (quotebot, False),
        "quotebot serve, every question new": (quotebot, True),
        "bare aiohttp": (lambda p: [sys.executable, "-c", BARE, str(p)], False),
    }
    results: dict[str, Any] = {}
    for name, (cmd, distinct) in servers.items():
        port = free_port()
        proc = start(cmd(port), port)
        try:
            asyncio.run(load(f"http://127.0.0.1:{port}/v1/ask", 200, 10))  # warm up
            results[name] = {str(c): asyncio.run(load(f"http://127.0.0.1:{port}/v1/ask",
                                                      args.requests, c, distinct))
                             for c in (1, 10, 100)}
        finally:
            proc.terminate()
            proc.wait(15)
    print("| clients | server | requests/s | p50 ms | p99 ms | errors |")
    print("|---|---|---|---|---|---|")
    for c in ("1", "10", "100"):
        for name in servers:
            r = results[name][c]
            print(f"| {c} | {name} | {r['rps']:,.0f} | {r['p50_ms']:.2f} | {r['p99_ms']:.2f} "
                  f"| {r['errors']} |")
    print()
    for c in ("1", "10", "100"):
        bare = results["bare aiohttp"][c]["rps"]
        print(f"{c} clients: quotebot reaches {results['quotebot serve'][c]['rps'] / bare:.0%} "
              f"of the bare endpoint's requests/s ("
              f"{results['quotebot serve, every question new'][c]['rps'] / bare:.0%} when every "
              f"question is new)")
    (HERE / "results").mkdir(exist_ok=True)
    (HERE / "results" / "http.json").write_text(json.dumps(results, indent=2) + "\n")


if __name__ == "__main__":
    main()
