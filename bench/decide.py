"""In-process Guard.decide latency over the mixed corpus, one core.

Usage: python bench/decide.py [--rounds N]
"""

from __future__ import annotations

import argparse
import statistics
import time

from corral import Guard

from common import machine, mixed_corpus, percentile, stamp


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args()
    actions = mixed_corpus()
    guard = Guard("default")
    for action in actions:  # warm-up: import-time work and first-use caches out of the numbers
        guard.decide(action)
    samples: list[float] = []
    for _ in range(args.rounds):
        for action in actions:
            start = time.perf_counter_ns()
            guard.decide(action)
            samples.append((time.perf_counter_ns() - start) / 1000)
    samples.sort()
    print(f"Guard.decide, policy default, {len(actions)} actions x {args.rounds} rounds")
    print(f"  machine: {machine()}; {stamp()}")
    print(
        f"  median {statistics.median(samples):.1f} us, p90 {percentile(samples, 0.9):.1f} us, "
        f"p99 {percentile(samples, 0.99):.1f} us, max {samples[-1]:.1f} us"
    )


if __name__ == "__main__":
    main()
