"""Decision-log appends per second, hash chain and redaction included, on one core.

Each append redacts the decision and its action, serialises the record canonically, hashes it into
the chain and writes one line; ``sync=always`` fsyncs every record before acknowledging it,
``sync=batch`` groups fsyncs (every --batch-records records or --batch-ms milliseconds) and
acknowledges each record after the fsync that covers it. The decisions are the Guard's real
verdicts on the mixed corpus, judged once before timing; every append gets a fresh decision id.
The log is written under --dir (default: a temporary folder next to this script, so on the
repository's disk rather than a RAM-backed /tmp); the file system is printed with the numbers.

Usage: python bench/log_throughput.py [--records N] [--always-records N] [--dir DIR]
"""

from __future__ import annotations

import argparse
import os
import shutil
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

from corral import Guard
from corral.sinks import DecisionLog, Redactor, default_redactor

from common import machine, mixed_corpus, stamp


def file_system(path: Path) -> str:
    """The mount's file system type and device, from /proc/mounts (best effort)."""
    best, kind = "", "unknown"
    try:
        for line in Path("/proc/mounts").read_text().splitlines():
            device, mount, fstype, *_ = line.split()
            if str(path).startswith(mount) and len(mount) > len(best):
                best, kind = mount, f"{fstype} on {device} (mounted at {mount})"
    except OSError:
        pass
    return kind


def judged(limit: int) -> list[tuple[dict[str, Any], dict[str, Any]]]:
    guard = Guard("default")
    pairs = []
    for action in mixed_corpus()[:limit]:
        pairs.append((guard.decide(action).to_dict(), action))
    return pairs


def run(
    *,
    folder: Path,
    pairs: list[tuple[dict[str, Any], dict[str, Any]]],
    records: int,
    sync: str,
    batch_records: int,
    batch_ms: float,
    fresh: bool = False,
) -> tuple[float, int]:
    path = folder / f"bench-{sync}.jsonl"
    ids = [str(uuid.uuid4()) for _ in range(records)]
    acknowledged = 0

    def ack() -> None:
        nonlocal acknowledged
        acknowledged += 1

    start = time.perf_counter()
    log = DecisionLog(
        path,
        sync="batch" if sync == "batch" else "always",
        batch_records=batch_records,
        batch_ms=batch_ms,
        redactor=Redactor() if fresh else None,
    )
    for index in range(records):
        decision, action = pairs[index % len(pairs)]
        log.append({**decision, "decision_id": ids[index]}, action, on_durable=ack)
    log.close()  # the last fsync: every record is acknowledged when this returns
    elapsed = time.perf_counter() - start
    path.unlink()
    return elapsed, acknowledged


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--records", type=int, default=100_000, help="appends with sync=batch")
    parser.add_argument("--always-records", type=int, default=3_000, help="with sync=always")
    parser.add_argument("--distinct", type=int, default=3_000, help="distinct corpus actions")
    parser.add_argument("--batch-records", type=int, default=1000)
    parser.add_argument("--batch-ms", type=float, default=10.0)
    parser.add_argument("--dir", type=Path, default=Path(__file__).resolve().parent)
    args = parser.parse_args()
    if hasattr(os, "sched_setaffinity"):
        os.sched_setaffinity(0, {min(os.sched_getaffinity(0))})  # one core, sync thread included
    pairs = judged(args.distinct)
    folder = Path(tempfile.mkdtemp(prefix="corral-log-bench-", dir=args.dir))
    try:
        print(
            f"decision log appends (redaction + canonical JSON + SHA-256 chain + write), "
            f"{len(pairs)} distinct corpus decisions"
        )
        print(f"  machine: {machine()}; one core; {stamp()}")
        print(f"  log file system: {file_system(folder.resolve())}")
        redactor, sample = default_redactor(), [{**d, "action": a} for d, a in pairs]
        start = time.perf_counter()
        for item in sample:
            redactor.redact(item, "$.decision")
        per = (time.perf_counter() - start) / len(sample) * 1e6
        print(f"  redaction alone, first pass over the distinct records: {per:.1f} us/record")
        runs = (
            ("always", args.always_records, False, "fsync per record"),
            (
                "batch",
                args.records,
                False,
                f"fsync every {args.batch_records} records or {args.batch_ms:g} ms",
            ),
            ("batch", len(pairs), True, "the same, each decision once, redaction caches cold"),
        )
        for sync, records, fresh, detail in runs:
            elapsed, acknowledged = run(
                folder=folder,
                pairs=pairs,
                records=records,
                sync=sync,
                batch_records=args.batch_records,
                batch_ms=args.batch_ms,
                fresh=fresh,
            )
            print(
                f"  sync={sync:6} ({detail}): {records:,} appends in {elapsed:.2f} s = "
                f"{records / elapsed:,.0f} decisions/s, {acknowledged:,} acknowledged"
            )
    finally:
        shutil.rmtree(folder, ignore_errors=True)


if __name__ == "__main__":
    main()
