"""Start-up: wall time of `quotebot ask "how many stabbings?"` as a fresh process, next to
`python -c "import nltk"` (the floor: quotebot needs NLTK's Punkt and Snowball stemmer).

    python benchmarks/bench_startup.py [--runs 9]

Each command runs --runs times after one untimed run (which also builds the default
article's index into its cache, as a first `quotebot ask` does); the median counts.
Also checks, with `python -X importtime`, that `quotebot ask` imports nothing of the
network stack (aiohttp, telegram, redis), and lists the slowest imports of its chain.
Child processes run without OPENBLAS_CORETYPE and OPENBLAS_L2_SIZE (unset together,
for the benchmark only). Prints tables and writes benchmarks/results/startup.json.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import statistics
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
QUESTION = "how many stabbings?"
PY = sys.executable
COMMANDS = {
    "python -c pass": [PY, "-c", "pass"],
    "python -c 'import nltk' (floor)": [PY, "-c", "import nltk"],
    f"quotebot ask '{QUESTION}'": [PY, "-m", "quotebot", "ask", QUESTION],
    "quotebot ask --json": [PY, "-m", "quotebot", "ask", QUESTION, "--json"],
    "quotebot ask, words only (QUOTEBOT_SEMANTIC=off)": ["env", "QUOTEBOT_SEMANTIC=off", PY, "-m",
                                                         "quotebot", "ask", QUESTION],
    "quotebot --help": [PY, "-m", "quotebot", "--help"],
}
NETWORK = ("aiohttp", "telegram", "redis", "httpx")
#: Where `quotebot ask`'s import time goes (cumulative, each includes what it imports).
WATCHED = ("quotebot.cli", "quotebot.engine", "quotebot.analysis", "nltk", "nltk.collocations",
           "scipy.stats", "quotebot.sentences", "quotebot.store", "numpy", "lemminflect",
           "rapidfuzz", "click", "onnxruntime", "tokenizers")


def child_env() -> dict[str, str]:
    env = dict(os.environ)
    env.pop("OPENBLAS_CORETYPE", None)
    env.pop("OPENBLAS_L2_SIZE", None)
    return env


def wall(cmd: list[str]) -> float:
    started = time.perf_counter()
    subprocess.run(cmd, check=True, capture_output=True, env=child_env())
    return time.perf_counter() - started


def import_times(cmd: list[str]) -> list[tuple[str, float, int]]:
    """(module, cumulative seconds, depth) for every import of ``cmd``."""
    done = subprocess.run([cmd[0], "-X", "importtime", *cmd[1:]], capture_output=True,
                          text=True, check=True, env=child_env())
    out = []
    for line in done.stderr.splitlines():
        match = re.match(r"import time:\s+\d+ \|\s+(\d+) \|( *)(\S+)", line)
        if match:
            out.append((match.group(3), int(match.group(1)) / 1e6,
                        len(match.group(2)) // 2))
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=9)
    args = parser.parse_args()
    ask = COMMANDS[f"quotebot ask '{QUESTION}'"]
    wall(ask)  # the first run builds the cached index of the default article
    timings = {}
    for name, cmd in COMMANDS.items():
        wall(cmd)
        timings[name] = [wall(cmd) for _ in range(args.runs)]
    medians = {name: statistics.median(t) for name, t in timings.items()}
    floor = medians["python -c 'import nltk' (floor)"]

    imports = import_times(ask)
    network = sorted({m for m, _, _ in imports if m.split(".")[0] in NETWORK})
    total_imports = sum(s for _, s, depth in imports if depth == 0)
    cumulative: dict[str, float] = {}
    for module, seconds, _ in imports:
        cumulative.setdefault(module, seconds)
    slowest = [(m, cumulative[m]) for m in WATCHED if m in cumulative]

    print("| command | median s | min s | ÷ `import nltk` |")
    print("|---|---:|---:|---:|")
    for name, value in medians.items():
        print(f"| `{name}` | {value:.3f} | {min(timings[name]):.3f} | {value / floor:.2f} |")
    print()
    print(f"`quotebot ask` imports {total_imports:.3f} s of modules; network stack imported: "
          f"{', '.join(network) or 'none'}")
    print()
    print("| imports of `quotebot ask` (cumulative) | s |")
    print("|---|---:|")
    for module, seconds in slowest:
        print(f"| {module} | {seconds:.3f} |")
    (HERE / "results").mkdir(exist_ok=True)
    (HERE / "results" / "startup.json").write_text(json.dumps({
        "runs": args.runs, "median_s": medians,
        "min_s": {name: min(t) for name, t in timings.items()},
        "ratio_to_nltk_floor": medians[f"quotebot ask '{QUESTION}'"] / floor,
        "ask_imports_s": total_imports, "ask_network_imports": network,
        "ask_imports": dict(slowest)}, indent=2) + "\n")


if __name__ == "__main__":
    main()
