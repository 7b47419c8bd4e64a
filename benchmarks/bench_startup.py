"""Start-up: wall time of `quotebot ask "how many stabbings?"` as a fresh process, next to
`python -c "import nltk"` (the floor: quotebot needs NLTK's stemmer at start).

    python benchmarks/bench_startup.py [--runs 7]

Prints a table and writes benchmarks/results/startup.json.
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent

COMMANDS = {
    "python -c pass": [sys.executable, "-c", "pass"],
    "python -c 'import nltk' (floor)": [sys.executable, "-c", "import nltk"],
    "quotebot ask 'how many stabbings?'": [sys.executable, "-m", "quotebot", "ask",
                                            "how many stabbings?"],
    "quotebot ask --json": [sys.executable, "-m", "quotebot", "ask", "how many stabbings?",
                            "--json"],
    "quotebot --help": [sys.executable, "-m", "quotebot", "--help"],
}


def wall(cmd: list[str]) -> float:
    started = time.perf_counter()
    subprocess.run(cmd, check=True, capture_output=True)
    return time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=7)
    args = parser.parse_args()
    wall(COMMANDS["quotebot ask 'how many stabbings?'"])  # build the cached index once
    medians = {}
    for name, cmd in COMMANDS.items():
        times = [wall(cmd) for _ in range(args.runs)]
        medians[name] = statistics.median(times)
    floor = medians["python -c 'import nltk' (floor)"]
    print("| command | median wall time s | × the import nltk floor |")
    print("|---|---|---|")
    for name, value in medians.items():
        print(f"| `{name}` | {value:.3f} | {value / floor:.2f} |")
    (HERE / "results").mkdir(exist_ok=True)
    (HERE / "results" / "startup.json").write_text(json.dumps(
        {"runs": args.runs, "median_s": medians,
         "ratio_to_nltk_floor": medians["quotebot ask 'how many stabbings?'"] / floor},
        indent=2) + "\n")


if __name__ == "__main__":
    main()
