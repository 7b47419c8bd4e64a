"""A few Prometheus metrics, written in the text exposition format by hand."""

from __future__ import annotations

import bisect
from collections import defaultdict

BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5)


def _labels(labels: tuple[tuple[str, str], ...]) -> str:
    if not labels:
        return ""
    inner = ",".join(f'{k}="{_escape(v)}"' for k, v in labels)
    return "{" + inner + "}"


def _escape(value: str) -> str:
    return value.replace("\\", "\\\\").replace("\n", "\\n").replace('"', '\\"')


class Metrics:
    """Counters and one latency histogram per route."""

    def __init__(self) -> None:
        self.counters: dict[str, dict[tuple[tuple[str, str], ...], float]] = defaultdict(
            lambda: defaultdict(float))
        self.help: dict[str, str] = {}
        self.hist: dict[tuple[tuple[str, str], ...], list[float]] = {}
        self.hist_sum: dict[tuple[tuple[str, str], ...], float] = defaultdict(float)

    def inc(self, name: str, help_text: str, amount: float = 1.0, **labels: str) -> None:
        self.help.setdefault(name, help_text)
        self.counters[name][tuple(sorted(labels.items()))] += amount

    def observe(self, seconds: float, **labels: str) -> None:
        key = tuple(sorted(labels.items()))
        counts = self.hist.setdefault(key, [0.0] * (len(BUCKETS) + 1))
        counts[bisect.bisect_left(BUCKETS, seconds)] += 1
        self.hist_sum[key] += seconds

    def render(self) -> str:
        lines: list[str] = []
        for name, series in sorted(self.counters.items()):
            lines.append(f"# HELP {name} {self.help[name]}")
            lines.append(f"# TYPE {name} counter")
            for labels, value in sorted(series.items()):
                lines.append(f"{name}{_labels(labels)} {value:g}")
        name = "quotebot_http_request_duration_seconds"
        lines.append(f"# HELP {name} Time to answer HTTP requests.")
        lines.append(f"# TYPE {name} histogram")
        for labels, counts in sorted(self.hist.items()):
            running = 0.0
            for bound, count in zip((*BUCKETS, float("inf")), counts, strict=True):
                running += count
                le = "+Inf" if bound == float("inf") else f"{bound:g}"
                lines.append(f"{name}_bucket{_labels((*labels, ('le', le)))} {running:g}")
            lines.append(f"{name}_sum{_labels(labels)} {self.hist_sum[labels]:.6f}")
            lines.append(f"{name}_count{_labels(labels)} {running:g}")
        return "\n".join(lines) + "\n"
