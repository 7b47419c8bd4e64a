"""Health while answering is saturated: /healthz and the web page, answering in a thread of
each worker against answering in processes apart from the event loop.

    python benchmarks/bench_health.py [--sentences 200000] [--seconds 20] [--workers 2]
                                      [--rounds 3] [--work DIR]

A news-like corpus (corpora.write_news) is indexed once. `quotebot serve --workers N` runs
on it (words only, the rate limit off, conversations in a throwaway redis-server, in a
session of its own as a service would be) in three ways taking turns for ``--rounds``
rounds: `--answer-processes 0` (answers in a thread of each worker, the event loop waiting
for the interpreter lock), and `--answer-processes 1` with `--answer-nice 0` and with
`--answer-nice 10` (the default: answering processes nicer than the event loop). In each,
`wrk` (a C client) posts a new question on every request at 32 connections, which
saturates answering; meanwhile one client asks `/healthz` every 50 ms and another fetches
the web page (`GET /`) every 50 ms, each on a new connection as a load balancer or a
reader would. CPU seconds of each worker's event loop (its main thread) and of its
answering (its other threads, or its answering processes) are read from /proc before and
after, and divided by the questions answered. One run; the ratios between the ways are
the point. Prints a table and writes benchmarks/results/health.json; `--docs` puts the saved run's
table into docs/performance.md, `--table` prints it.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

import bench_scale  # noqa: E402
import bench_workers  # noqa: E402

RESULTS = HERE / "results"
#: The ways compared: (--answer-processes, --answer-nice).
WAYS = ((0, 0), (1, 0), (1, 10))


def name(processes: int, nice: int) -> str:
    return f"in processes, nice {nice}" if processes else "in threads"
TICKS = os.sysconf("SC_CLK_TCK")


def descendants(pid: int, *, depth: int = 1_000) -> list[int]:
    """``pid``'s children, grandchildren … down to ``depth`` generations (from /proc)."""
    children: dict[int, list[int]] = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            stat = Path(f"/proc/{entry}/stat").read_text()
        except OSError:
            continue
        parent = int(stat.rsplit(")", 1)[1].split()[1])
        children.setdefault(parent, []).append(int(entry))
    out: list[int] = []
    todo = [(pid, 0)]
    while todo:
        parent, level = todo.pop()
        if level >= depth:
            continue
        for child in children.get(parent, []):
            out.append(child)
            todo.append((child, level + 1))
    return out


def cpu_seconds(pid: int, thread: int | None = None) -> float:
    """User and system CPU seconds ``pid`` has used itself, or its thread ``thread`` (0
    once it is gone)."""
    stat = f"/proc/{pid}/task/{thread}/stat" if thread is not None else f"/proc/{pid}/stat"
    try:
        fields = Path(stat).read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / TICKS


def command(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode()
    except OSError:
        return ""


def worker_cpu(server: int) -> dict[int, dict[str, float]]:
    """For each worker process of ``server``: CPU seconds of its event loop ("loop") and of
    answering ("answering": its other threads, the processes under it and their fork
    server)."""
    # Workers are forked by the server (with --workers N > 1); what multiprocessing starts
    # runs its own command.
    workers = [p for p in descendants(server, depth=1)
               if "multiprocessing" not in command(p)] or [server]
    # The event loop runs in the worker's main thread (its thread id is the process id);
    # answering in its other threads (with --answer-processes 0) or processes.
    return {w: {"loop": cpu_seconds(w, thread=w),
                "answering": cpu_seconds(w) - cpu_seconds(w, thread=w)
                + sum(cpu_seconds(p) for p in descendants(w))} for w in workers}


def saturate(url: str, server: int, questions: Path, seconds: int, offset: int
             ) -> dict[str, Any]:
    """wrk at 32 connections for ``seconds`` with /healthz and / polled alongside."""
    health: list[float] = []
    page: list[float] = []
    before = worker_cpu(server)
    out = bench_workers.wrk(url, questions, seconds, offset, {"/healthz": health, "/": page})
    after = worker_cpu(server)
    total = int(re.search(r"(\d+) requests in", out).group(1))  # type: ignore[union-attr]
    errors = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    answered = total - (int(errors.group(1)) if errors else 0)
    p50 = re.search(r"50%\s+([\d.]+)(us|ms|s)", out)
    workers = []
    for pid, used in after.items():
        was = before.get(pid, {"loop": 0.0, "answering": 0.0})
        workers.append({"loop_s": used["loop"] - was["loop"],
                        "answering_s": used["answering"] - was["answering"]})
    cpu = sum(w["loop_s"] + w["answering_s"] for w in workers)
    return {"answers": answered, "answers_per_s": answered / seconds,
            "ask_p50_ms": bench_workers._ms(p50.group(1), p50.group(2)) if p50 else None,
            "healthz_p50_ms": float(np.percentile(health, 50)),
            "healthz_p99_ms": float(np.percentile(health, 99)),
            "healthz_max_ms": max(health),
            "page_p50_ms": float(np.percentile(page, 50)),
            "page_p99_ms": float(np.percentile(page, 99)),
            "workers": workers,
            "cpu_ms_per_answer": 1000 * cpu / max(1, answered),
            "loop_cpu_ms_per_answer": 1000 * sum(w["loop_s"] for w in workers)
            / max(1, answered)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sentences", type=int, default=200_000)
    parser.add_argument("--seconds", type=int, default=20)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--work", help="a folder to keep the corpus and index in, and to "
                        "take them from on the next run (default: a temporary one)")
    args = parser.parse_args()
    if shutil.which("wrk") is None or shutil.which("redis-server") is None:
        sys.exit("needs wrk and redis-server (Debian packages wrk, redis-server)")
    results: dict[str, Any] = {"started": time.strftime("%Y-%m-%d %H:%M"),
                               "load_average_start": os.getloadavg()[0],
                               "sentences": args.sentences, "workers": args.workers,
                               "seconds": args.seconds, "runs": []}
    with contextlib.ExitStack() as stack:
        work = Path(args.work) if args.work else Path(stack.enter_context(
            tempfile.TemporaryDirectory(prefix="bench-health-")))
        built = work / "build.json"
        questions = work / "questions.txt"
        if not (built.exists() and questions.exists()):
            print(f"indexing {args.sentences:,} sentences of news text …", file=sys.stderr)
            work.mkdir(parents=True, exist_ok=True)
            steps: dict[str, Any] = {}
            for step in ("news.write", "news.build"):
                steps.update(bench_scale.run(step, args.sentences, work))
            questions.write_text("\n".join(q.replace('"', "") for q in bench_scale.questions(
                bench_workers._index(work), bench_workers.QUESTIONS)) + "\n")
            built.write_text(json.dumps(steps))
        results.update(json.loads(built.read_text()))
        redis_port = bench_workers.free_port()
        redis = subprocess.Popen(["redis-server", "--port", str(redis_port), "--save", "",
                                  "--appendonly", "no"], stdout=subprocess.DEVNULL)
        try:
            for round_ in range(args.rounds):
                for way, (processes, nice) in enumerate(WAYS):
                    print(f"round {round_ + 1}: {args.workers} worker(s), answering "
                          f"{name(processes, nice)} …", file=sys.stderr)
                    proc, url = bench_workers.serve(
                        work / "news-index", args.workers,
                        f"redis://127.0.0.1:{redis_port}/0",
                        extra=("--answer-processes", str(processes),
                               "--answer-nice", str(nice)))
                    try:
                        row = saturate(url, proc.pid, questions, args.seconds,
                                       offset=1000 * (len(WAYS) * round_ + way))
                    finally:
                        proc.terminate()
                        proc.wait(60)
                    row.update(answer_processes=processes, answer_nice=nice,
                               round=round_ + 1, load_average=os.getloadavg()[0])
                    results["runs"].append(row)
        finally:
            redis.terminate()
            redis.wait(10)
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / "health.json").write_text(json.dumps(results, indent=2) + "\n")
    print(docs_block(results))


DOCS_BEGIN = "<!-- bench_health.py: from benchmarks/results/health.json -->"
DOCS_END = "<!-- end of bench_health.py's figures -->"


def docs_block(results: dict[str, Any]) -> str:
    """The run's table, ratios and CPU seconds, as docs/performance.md shows them."""
    lines = [f"{results['sentences']:,} sentences of news text, `--workers "
             f"{results['workers']}`, wrk at 32 connections for {results['seconds']} s, words "
             f"only; run of {results['started']} UTC, load average "
             f"{results['load_average_start']:.1f} at the start and "
             + ", ".join(f"{r['load_average']:.1f}" for r in results["runs"])
             + " after each phase.", "",
             "| answering | round | answers/s | ask p50 ms | /healthz p50 ms | /healthz p99 ms "
             "| web page p50 ms | web page p99 ms | CPU ms per answer (of it event loops) |",
             "|---|---:|---:|---:|---:|---:|---:|---:|---:|"]
    for row in results["runs"]:
        lines.append(
            f"| {way_of(row)} | {row['round']} "
            f"| {row['answers_per_s']:,.0f} | {row['ask_p50_ms']:.0f} "
            f"| {row['healthz_p50_ms']:.1f} | {row['healthz_p99_ms']:.1f} "
            f"| {row['page_p50_ms']:.1f} | {row['page_p99_ms']:.1f} "
            f"| {row['cpu_ms_per_answer']:.2f} ({row['loop_cpu_ms_per_answer']:.2f}) |")
    lines += ["", "Medians of the rounds:", "",
              "| answering | /healthz p99 ms | web page p99 ms | answers/s "
              "| CPU ms per answer | ÷ threads: /healthz p99 | web page p99 | answers/s "
              "| CPU per answer |", "|---|---:|---:|---:|---:|---:|---:|---:|---:|"]
    ratios = ratios_to_threads(results)
    for way, medians in medians_by_way(results).items():
        ratio = ratios.get(way)
        shown = "| " + " | ".join(f"{ratio[k]:.2f}×" if ratio else "—" for k in KEYS)
        lines.append(f"| {way} | {medians['healthz_p99_ms']:.1f} | {medians['page_p99_ms']:.1f} "
                     f"| {medians['answers_per_s']:,.0f} | {medians['cpu_ms_per_answer']:.2f} "
                     f"{shown} |")
    lines += ["", "CPU seconds of each worker while saturated (event loop + answering):", ""]
    for row in results["runs"]:
        lines.append(f"- {way_of(row)}, round {row['round']}: "
                     + "; ".join(f"{w['loop_s']:.1f} + {w['answering_s']:.1f} s"
                                 for w in row["workers"]))
    return "\n".join(lines)


def write_docs(results: dict[str, Any]) -> None:
    page = bench_scale.DOCS_PAGE.read_text(encoding="utf-8")
    head, rest = page.split(DOCS_BEGIN, 1)
    _, tail = rest.split(DOCS_END, 1)
    bench_scale.DOCS_PAGE.write_text(f"{head}{DOCS_BEGIN}\n{docs_block(results)}\n"
                                     f"{DOCS_END}{tail}", encoding="utf-8")


def way_of(row: dict[str, Any]) -> str:
    if not row["answer_processes"]:
        return "threads"
    return f"processes, nice {row.get('answer_nice', 0)}"


#: What the ways are compared by.
KEYS = ("healthz_p99_ms", "page_p99_ms", "answers_per_s", "cpu_ms_per_answer")


def medians_by_way(results: dict[str, Any]) -> dict[str, dict[str, float]]:
    """Each way's medians over the rounds, threads first."""
    by_way: dict[str, list[dict[str, Any]]] = {}
    for row in results["runs"]:
        by_way.setdefault(way_of(row), []).append(row)
    return {way: {key: float(np.median([r[key] for r in rows])) for key in KEYS}
            for way, rows in by_way.items()}


def ratios_to_threads(results: dict[str, Any]) -> dict[str, dict[str, float]]:
    """For each way with processes, its medians over the rounds ÷ those of threads."""
    medians = medians_by_way(results)
    threads = medians.pop("threads")
    return {way: {key: values[key] / threads[key] for key in KEYS}
            for way, values in medians.items()}


if __name__ == "__main__":
    if sys.argv[1:] in (["--table"], ["--docs"]):
        saved = json.loads((RESULTS / "health.json").read_text())
        if sys.argv[1] == "--docs":
            write_docs(saved)
        print(docs_block(saved))
    else:
        main()
