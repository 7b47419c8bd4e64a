"""A link that cannot be fetched: wall time of `quotebot add LINK --to DIR` until it says
why, as a fresh process, next to `quotebot --help` (the floor: starting Python and the CLI)
and `python -c "import quotebot.library"` (what saying it used to wait for: the index's
machinery, NLTK and SciPy).

    python benchmarks/bench_refusal.py [--runs 5]

The links are refused for their address (loopback, a private network), their scheme (ftp)
and a host that cannot be found (``.invalid`` never resolves); nothing leaves the machine.
Each command runs --runs times after one untimed run; the median counts. Prints a table
and writes benchmarks/results/refusal.json.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
PY = sys.executable
LINKS = {
    "loopback address": "http://127.0.0.1:9/report",
    "private network": "http://10.0.0.1/report",
    "ftp link": "ftp://example.org/report.txt",
    "unknown host": "http://no-such-host.invalid/report",
}


def timed(command: list[str], runs: int) -> float:
    """Median wall seconds of ``command`` over ``runs`` runs (after one untimed)."""
    env = {**os.environ, "QUOTEBOT_SEMANTIC": "off"}
    env.pop("QUOTEBOT_ALLOW_PRIVATE_URLS", None)
    times = []
    for n in range(runs + 1):
        started = time.perf_counter()
        subprocess.run(command, capture_output=True, env=env, timeout=300, check=False)
        if n:
            times.append(time.perf_counter() - started)
    return statistics.median(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()
    rows: dict[str, float] = {}
    with tempfile.TemporaryDirectory() as folder:
        rows["quotebot --help (floor)"] = timed([PY, "-m", "quotebot", "--help"], args.runs)
        rows["python -c 'import quotebot.library'"] = timed(
            [PY, "-c", "import quotebot.library"], args.runs)
        for kind, link in LINKS.items():
            rows[f"quotebot add {link} ({kind})"] = timed(
                [PY, "-m", "quotebot", "add", link, "--to", str(Path(folder) / "lib")],
                args.runs)
    floor = rows["quotebot --help (floor)"]
    print(f"{'command':<72} {'median s':>9} {'× floor':>8}")
    for name, seconds in rows.items():
        print(f"{name:<72} {seconds:>9.2f} {seconds / floor:>8.2f}")
    out = HERE / "results" / "refusal.json"
    out.write_text(json.dumps({"runs": args.runs, "load": os.getloadavg()[0],
                               "median_seconds": rows}, indent=2) + "\n", encoding="utf-8")
    print(f"wrote {out.relative_to(HERE.parent)}")


if __name__ == "__main__":
    main()
