"""Time as the ledger sees it: injectable, so tests roll windows over without sleeping."""

from __future__ import annotations

import time
from collections.abc import Callable

Clock = Callable[[], float]


def system_clock() -> float:
    """Seconds since the epoch (UTC). Windows are aligned to it: an hour starts at :00 UTC."""
    return time.time()


class ManualClock:
    """A clock that moves only when told to."""

    def __init__(self, start: float = 1_700_000_000.0):
        self.now = start

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds
