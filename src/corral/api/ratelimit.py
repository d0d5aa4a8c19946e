"""A per-client token bucket: ``rate`` requests a second on average, ``burst`` at once."""

from __future__ import annotations

import time

MAX_CLIENTS = 10_000


class RateLimiter:
    def __init__(self, rate: float, burst: float) -> None:
        self.rate = rate
        self.burst = max(burst, 1.0)
        self._buckets: dict[str, tuple[float, float]] = {}

    def allow(self, client: str) -> bool:
        """Take one token from ``client``'s bucket; False when it is empty. ``rate <= 0``: off."""
        if self.rate <= 0:
            return True
        now = time.monotonic()
        tokens, last = self._buckets.get(client, (self.burst, now))
        tokens = min(self.burst, tokens + (now - last) * self.rate)
        if tokens < 1.0:
            self._buckets[client] = (tokens, now)
            return False
        if len(self._buckets) >= MAX_CLIENTS and client not in self._buckets:
            self._forget_full()  # a flood of addresses must not grow memory without bound
        self._buckets[client] = (tokens - 1.0, now)
        return True

    def _forget_full(self) -> None:
        now = time.monotonic()
        self._buckets = {
            c: (t, last)
            for c, (t, last) in self._buckets.items()
            if t + (now - last) * self.rate < self.burst
        }
