"""Serving over HTTP: new questions per second with 1 and 2 workers, /healthz while answering
is saturated, and one client's full answer over HTTP next to bm25s's retrieval.

    python benchmarks/bench_workers.py [--sentences 200000] [--seconds 20]

A news-like corpus (corpora.write_news) is indexed once. `quotebot serve --workers N` runs
on it (words only, the rate limit off, conversations in a throwaway redis-server) and
`wrk` (Debian package wrk: a C client, so the load costs the two cores little) posts a
new question on every request, from a list of questions made of the corpus's own words
(the answer cache never helps). While wrk saturates the server, a second client asks
/healthz every 50 ms and keeps the slowest reply. Then one client, one question at a
time: the full answer over HTTP, against bm25s's retrieval of the same questions' terms
over the same sentences (see bench_scale.py, part 2). One run; ratios are the point.
Prints a table and writes benchmarks/results/workers.json.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from pathlib import Path
from typing import Any

import numpy as np

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

import bench_scale  # noqa: E402

RESULTS = HERE / "results"
#: Questions written for wrk: more than a run asks, so that each request's is new.
QUESTIONS = 8000
#: wrk's threads; each asks every WRK_THREADS-th question from its own start (the threads
#: would otherwise ask the same questions, each its own copy of the script's counter).
WRK_THREADS = 2
WRK_SCRIPT = """
local questions = {}
for line in io.lines(os.getenv("QUESTIONS")) do questions[#questions + 1] = line end
local threads = 0
setup = function(thread)
  thread:set("first", threads)
  threads = threads + 1
end
local n = 0
request = function()
  n = n + 1
  local i = (n * tonumber(os.getenv("THREADS")) + first) * 7919 + tonumber(os.getenv("OFFSET"))
  local q = questions[i % #questions + 1]
  return wrk.format("POST", "/v1/ask", {["Content-Type"] = "application/json"},
                    '{"question": "' .. q .. '"}')
end
"""


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def get_ms(url: str) -> float:
    started = time.perf_counter()
    with urllib.request.urlopen(url, timeout=30) as response:
        response.read()
    return (time.perf_counter() - started) * 1000


def serve(index: Path, workers: int, redis_url: str, extra: tuple[str, ...] = ()
          ) -> tuple[subprocess.Popen[bytes], str]:
    port = free_port()
    env = dict(os.environ, QUOTEBOT_SEMANTIC="off", QUOTEBOT_RATE_LIMIT_IP="0",
               QUOTEBOT_REDIS_URL=redis_url, QUOTEBOT_INDEX=str(index))
    env.pop("QUOTEBOT_CORPUS", None)
    # In a session of its own, as a service is: Linux's autogroup shares CPU between
    # sessions first, and the server should not share its share with its load (wrk).
    proc = subprocess.Popen([sys.executable, "-m", "quotebot", "serve", "--port", str(port),
                             "--workers", str(workers), *extra], env=env,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                            start_new_session=True)
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 300
    seen: set[int] = set()
    while time.monotonic() < deadline and len(seen) < workers:
        try:
            with urllib.request.urlopen(url + "/healthz", timeout=2) as response:
                seen.add(json.loads(response.read())["worker"])
        except OSError:
            time.sleep(0.2)
    if len(seen) < workers:
        proc.kill()
        raise RuntimeError("the server did not start")
    return proc, url


def wrk(url: str, questions: Path, seconds: int, offset: int,
        polled: dict[str, list[float]]) -> str:
    """wrk at 32 connections for ``seconds`` (its report), while each path of ``polled`` is
    fetched every 50 ms, its times in ms added to its list."""
    script = questions.with_suffix(".lua")
    script.write_text(WRK_SCRIPT)
    stop = threading.Event()

    def poll(path: str, into: list[float]) -> None:
        while not stop.wait(0.05):
            into.append(get_ms(url + path))

    pollers = [threading.Thread(target=poll, args=item) for item in polled.items()]
    for poller in pollers:
        poller.start()
    try:
        done = subprocess.run(["wrk", "-t", str(WRK_THREADS), "-c", "32", "-d", f"{seconds}s",
                               "--latency", "-s", str(script), url], capture_output=True,
                              text=True, env=dict(os.environ, QUESTIONS=str(questions),
                                                  OFFSET=str(offset),
                                                  THREADS=str(WRK_THREADS)), check=True,
                              # Its CPU apart from the clients that poll (see serve).
                              start_new_session=True)
    finally:
        stop.set()
        for poller in pollers:
            poller.join()
    return done.stdout


def load(url: str, questions: Path, seconds: int, offset: int) -> dict[str, Any]:
    """wrk at 32 connections for ``seconds``, with /healthz polled alongside."""
    slowest: list[float] = []
    out = wrk(url, questions, seconds, offset, {"/healthz": slowest})
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))  # type: ignore[union-attr]
    p50 = re.search(r"50%\s+([\d.]+)(us|ms|s)", out)
    errors = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    return {"requests_per_s": rps, "p50_ms": _ms(p50.group(1), p50.group(2)) if p50 else None,
            "non_2xx": int(errors.group(1)) if errors else 0,
            "healthz_max_ms": max(slowest) if slowest else None,
            "healthz_p99_ms": float(np.percentile(slowest, 99)) if slowest else None}


def _ms(value: str, unit: str) -> float:
    return float(value) * {"us": 0.001, "ms": 1.0, "s": 1000.0}[unit]


def one_client(url: str, questions: list[str]) -> dict[str, float]:
    """One question at a time over HTTP (a new connection each: what a page does)."""
    times = []
    for q in questions:
        body = json.dumps({"question": q}).encode()
        request = urllib.request.Request(url + "/v1/ask", data=body, method="POST",
                                         headers={"Content-Type": "application/json"})
        started = time.perf_counter()
        with urllib.request.urlopen(request, timeout=30) as response:
            response.read()
        times.append((time.perf_counter() - started) * 1000)
    return {"p50_ms": float(np.percentile(times, 50)), "p99_ms": float(np.percentile(times, 99))}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sentences", type=int, default=200_000)
    parser.add_argument("--seconds", type=int, default=20)
    args = parser.parse_args()
    if shutil.which("wrk") is None or shutil.which("redis-server") is None:
        sys.exit("needs wrk and redis-server (Debian packages wrk, redis-server)")
    results: dict[str, Any] = {"started": time.strftime("%Y-%m-%d %H:%M"),
                               "sentences": args.sentences}
    with tempfile.TemporaryDirectory(prefix="bench-workers-") as tmp:
        work = Path(tmp)
        print(f"indexing {args.sentences:,} sentences of news text …", file=sys.stderr)
        for step in ("news.write", "news.build", "news.tokens", "news.bm25s"):
            results.update(bench_scale.run(step, args.sentences, work))
        qs, _ = bench_scale._news_queries(work)
        more = bench_scale.questions(_index(work), QUESTIONS)
        questions = work / "questions.txt"
        questions.write_text("\n".join(q.replace('"', "") for q in more) + "\n")
        redis_port = free_port()
        redis = subprocess.Popen(["redis-server", "--port", str(redis_port), "--save", "",
                                  "--appendonly", "no"], stdout=subprocess.DEVNULL)
        try:
            for workers in (1, 2):
                print(f"serving with {workers} worker(s) …", file=sys.stderr)
                proc, url = serve(work / "news-index", workers,
                                  f"redis://127.0.0.1:{redis_port}/0")
                try:
                    results[f"workers_{workers}"] = load(url, questions, args.seconds,
                                                         offset=workers * 1000)
                    if workers == 1:
                        results["http_one_client"] = one_client(url, qs[:100])
                finally:
                    proc.terminate()
                    proc.wait(60)
        finally:
            redis.terminate()
            redis.wait(10)
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / "workers.json").write_text(json.dumps(results, indent=2) + "\n")
    one, two = results["workers_1"], results["workers_2"]
    http = results["http_one_client"]
    print(f"\n{args.sentences:,} sentences of news text, new questions, words only\n")
    print("| workers | new questions/s | p50 ms (32 connections) | non-2xx | /healthz slowest "
          "ms while saturated |")
    print("|---:|---:|---:|---:|---:|")
    for n, row in (("1", one), ("2", two)):
        print(f"| {n} | {row['requests_per_s']:,.0f} | {row['p50_ms']:.1f} | {row['non_2xx']} "
              f"| {row['healthz_max_ms']:.1f} |")
    print(f"\n2 workers ÷ 1 worker: {two['requests_per_s'] / one['requests_per_s']:.2f}×")
    print(f"one client over HTTP, full answer p50 {http['p50_ms']:.2f} ms (p99 "
          f"{http['p99_ms']:.1f}); bm25s retrieval alone p50 {results['bm25s_p50_ms']:.2f} ms "
          f"on the same sentences: {http['p50_ms'] / results['bm25s_p50_ms']:.2f}×")


def _index(work: Path) -> Any:
    from quotebot.store import load_index

    return load_index(work / "news-index")


if __name__ == "__main__":
    main()
