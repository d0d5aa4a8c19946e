"""Ledger throughput: reservations per second from concurrent worker processes, and latency.

Every worker reserves 1 USD against ONE shared budget (the worst case: every reservation
contends for the same lock), then commits it; a reservation is counted when its reserve call
returns. Run: .venv/bin/python bench/ledger.py [--workers 8] [--per-worker 2000]
[--backend sqlite|postgresql|both] [--write]
"""

from __future__ import annotations

import argparse
import multiprocessing as mp
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from common import machine, percentile, stamp

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tests" / "ledger"))

from corral.ledger import Limit, Subjects, open_ledger  # noqa: E402
from corral.ledger.amounts import to_micro  # noqa: E402

RESULTS = ROOT / "bench" / "RESULTS-ledger.md"


def _limits(total: int) -> list[Limit]:
    return [Limit("global", "total", "USD", hard=to_micro(total))]


def worker(job: tuple[str, int, int, int, float], out: Any) -> None:
    url, index, count, budget, start_at = job
    ledger = open_ledger(url)
    limits = _limits(budget)
    subjects = Subjects(agent=f"bench-{index}", session=f"s-{index}")
    reserve_ms: list[float] = []
    commit_ms: list[float] = []
    denied = 0
    while time.time() < start_at:
        time.sleep(0.001)
    for _ in range(count):
        t0 = time.perf_counter()
        outcome = ledger.reserve({"USD": 1}, subjects, limits, ttl=60)
        t1 = time.perf_counter()
        reserve_ms.append((t1 - t0) * 1000)
        if outcome.reservation is None:
            denied += 1
            continue
        ledger.commit(outcome.reservation.id)
        commit_ms.append((time.perf_counter() - t1) * 1000)
    out.put((reserve_ms, commit_ms, denied, time.time()))
    ledger.close()


def run(url: str, workers: int, per_worker: int) -> dict[str, Any]:
    open_ledger(url).close()  # create the schema before the clock starts
    ctx = mp.get_context("spawn")
    queue = ctx.Queue()
    budget = workers * per_worker  # exactly enough: nothing is denied, everything contends
    start_at = time.time() + 2.0 + 0.2 * workers  # after every worker has imported and connected
    procs = [
        ctx.Process(target=worker, args=((url, i, per_worker, budget, start_at), queue))
        for i in range(workers)
    ]
    for proc in procs:
        proc.start()
    results = [queue.get(timeout=600) for _ in procs]
    for proc in procs:
        proc.join()
    end = max(r[3] for r in results)
    reserve = sorted(x for r in results for x in r[0])
    commit = sorted(x for r in results for x in r[1])
    elapsed = end - start_at
    return {
        "reservations": len(reserve),
        "denied": sum(r[2] for r in results),
        "seconds": elapsed,
        "per_second": len(reserve) / elapsed,
        "reserve_p50": percentile(reserve, 0.50),
        "reserve_p99": percentile(reserve, 0.99),
        "commit_p99": percentile(commit, 0.99),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--workers", type=int, default=8)
    parser.add_argument("--per-worker", type=int, default=2000)
    parser.add_argument("--backend", choices=["sqlite", "postgresql", "both"], default="both")
    parser.add_argument("--durable-pg", action="store_true", help="fsync on in the test cluster")
    parser.add_argument("--write", action="store_true", help=f"append to {RESULTS.name}")
    args = parser.parse_args()
    rows: list[tuple[str, dict[str, Any]]] = []
    if args.backend in ("sqlite", "both"):
        with tempfile.TemporaryDirectory() as tmp:
            url = f"{tmp}/bench.sqlite3"
            rows.append(("SQLite (WAL)", run(url, args.workers, args.per_worker)))
    if args.backend in ("postgresql", "both"):
        import pgcluster  # noqa: PLC0415

        cluster = pgcluster.start(durable=args.durable_pg)
        try:
            label = "PostgreSQL " + ("(fsync on)" if args.durable_pg else "(fsync off)")
            rows.append((label, run(cluster.url, args.workers, args.per_worker)))
        finally:
            cluster.stop()
    lines = [
        f"| {name} | {args.workers} | {r['reservations']} | {r['per_second']:,.0f} | "
        f"{r['reserve_p50']:.2f} | {r['reserve_p99']:.2f} | {r['commit_p99']:.2f} |"
        for name, r in rows
    ]
    for line in lines:
        print(line)
    if args.write:
        with RESULTS.open("a", encoding="utf-8") as handle:
            handle.write(f"\n### {stamp()} — {machine()}\n\n")
            handle.write(
                "| backend | workers | reservations | reservations/s | reserve p50 ms "
                "| reserve p99 ms | commit p99 ms |\n|---|---|---|---|---|---|---|\n"
            )
            handle.write("\n".join(lines) + "\n")


if __name__ == "__main__":
    main()
