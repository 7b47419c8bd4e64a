"""Token-bucket rate limits per key (a chat, a client address)."""

from __future__ import annotations

import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Arrival:
    """When a request came in: by this process's monotonic clock and by the wall clock
    (which replicas share)."""

    monotonic: float
    wall: float

    @classmethod
    def now(cls) -> Arrival:
        return cls(time.monotonic(), time.time())


class RateLimiter:
    """Allows ``per_minute`` requests per key on average, in bursts of up to ``burst``.

    ``per_minute <= 0`` turns the limit off. Old keys are forgotten (at most
    ``max_keys`` are tracked), so memory stays bounded under a flood of new keys.
    ``clock`` gives the time in seconds (monotonic); tests pass a clock they move by hand.
    """

    def __init__(self, per_minute: float, burst: int | None = None, max_keys: int = 100_000,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.rate = per_minute / 60.0
        self.burst = float(burst if burst is not None else max(1, int(per_minute // 6) or 1))
        self.max_keys = max_keys
        self.clock = clock
        self._buckets: OrderedDict[str, tuple[float, float]] = OrderedDict()

    @property
    def enabled(self) -> bool:
        return self.rate > 0

    def _tokens(self, key: str, now: float) -> float:
        tokens, last = self._buckets.get(key, (self.burst, now))
        return min(self.burst, tokens + max(0.0, now - last) * self.rate)

    def allow(self, key: str, now: float | None = None) -> bool:
        """Take one token for ``key`` (for a request that arrived at ``now``, by default
        this moment); False when the bucket is empty."""
        if not self.enabled:
            return True
        now = self.clock() if now is None else now
        tokens = self._tokens(key, now)
        allowed = tokens >= 1.0
        _, last = self._buckets.get(key, (0.0, now))
        self._buckets[key] = (tokens - 1.0 if allowed else tokens, max(now, last))
        self._buckets.move_to_end(key)
        while len(self._buckets) > self.max_keys:
            self._buckets.popitem(last=False)
        return allowed

    def retry_after(self, key: str) -> float:
        """Seconds until ``key`` may send again."""
        if not self.enabled:
            return 0.0
        tokens = self._tokens(key, self.clock())
        return 0.0 if tokens >= 1.0 else (1.0 - tokens) / self.rate
