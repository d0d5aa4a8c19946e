"""Session-aware decisions vs stateless ones, and decisions logged to the SQLite store.

1. ``Guard.decide`` on the mixed corpus, stateless and with a :class:`SessionTracker` over a
   SQLite store (WAL, synchronous=NORMAL), the corpus cut into sessions of --session-size actions
   (quarantine off, so every action is judged in full rather than short-circuited). Each
   session-aware decision is one store transaction: session row read and written, the decision
   redacted, hash-chained and inserted, alerts grouped.
2. ``SQLiteStore.log_decisions``: the Guard's real decisions on the corpus, redacted, hash-chained
   and inserted in transactions of 2,000, on one core.

The store lives under --dir (default: a temporary folder next to this script, on the repository's
disk). Usage: python bench/sessions.py [--rounds N] [--records N] [--dir DIR]
"""

from __future__ import annotations

import argparse
import shutil
import statistics
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

from corral import Guard
from corral.policy.loader import load_policy
from corral.sessions import SessionTracker
from corral.store import SQLiteStore

from common import machine, mixed_corpus, percentile, stamp


def timed(guard: Guard, actions: list[dict[str, Any]]) -> list[float]:
    out = []
    for action in actions:
        start = time.perf_counter()
        guard.decide(action)
        out.append(time.perf_counter() - start)
    return out


def decide_costs(folder: Path, rounds: int, session_size: int) -> dict[str, list[float]]:
    corpus = mixed_corpus()
    policy = load_policy("default")
    policy.spec.sessions.quarantine.enabled = False
    stateless = Guard(policy)
    store = SQLiteStore(folder / "decide.db")
    aware = Guard(policy, sessions=SessionTracker(store))
    results: dict[str, list[float]] = {"stateless": [], "session": []}
    for r in range(rounds):
        with_sessions = [
            {**a, "session": f"r{r}-s{i // session_size}"} for i, a in enumerate(corpus)
        ]
        results["stateless"] += timed(stateless, corpus)
        results["session"] += timed(aware, with_sessions)
    store.close()
    return results


def log_rate(folder: Path, records: int) -> tuple[float, bool]:
    guard = Guard("default")
    corpus = mixed_corpus()
    judged = [(guard.decide(a).to_dict(), a) for a in corpus]
    entries = []
    for i in range(records):
        decision, action = judged[i % len(judged)]
        entries.append((time.time(), {**decision, "decision_id": str(uuid.uuid4())}, action))
    with SQLiteStore(folder / "log.db") as store:
        start = time.perf_counter()
        store.log_decisions(entries)
        elapsed = time.perf_counter() - start
        return records / elapsed, store.verify().ok


def summary(values: list[float]) -> str:
    ordered = sorted(values)
    us = [v * 1e6 for v in (statistics.median(ordered), percentile(ordered, 0.9))]
    return (
        f"median {us[0]:.0f} µs, p90 {us[1]:.0f} µs, mean {statistics.fmean(ordered) * 1e6:.0f} µs"
    )


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--session-size", type=int, default=20)
    parser.add_argument("--records", type=int, default=100_000)
    parser.add_argument("--dir", type=Path, default=None)
    args = parser.parse_args()
    folder = Path(tempfile.mkdtemp(dir=args.dir or Path(__file__).parent, prefix=".bench-"))
    try:
        costs = decide_costs(folder, args.rounds, args.session_size)
        rate, intact = log_rate(folder, args.records)
    finally:
        shutil.rmtree(folder, ignore_errors=True)
    ratio_median = statistics.median(costs["session"]) / statistics.median(costs["stateless"])
    ratio_mean = statistics.fmean(costs["session"]) / statistics.fmean(costs["stateless"])
    print(f"machine: {machine()}  date: {stamp()}")
    print(f"stateless decide: {summary(costs['stateless'])}")
    print(f"session decide:   {summary(costs['session'])}")
    print(f"ratio: median {ratio_median:.2f}x, mean {ratio_mean:.2f}x (target ≤ 2x)")
    print(f"store logging: {rate:,.0f} decisions/s (target ≥ 20,000), chain verifies: {intact}")


if __name__ == "__main__":
    main()
