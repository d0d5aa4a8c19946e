"""A decision-log writer to be killed: appends until stopped and prints each acknowledged id.

Usage: python crash_writer.py LOG SYNC RUN_ID SEED

Records vary from a few bytes to a few MiB, so a kill often lands in the middle of a write.
"""

from __future__ import annotations

import random
import sys
from functools import partial

from corral.sinks import DecisionLog


def main() -> None:
    path, sync, run_id, seed = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4])
    rng = random.Random(seed)
    out = sys.stdout

    def acknowledged(decision_id: str) -> None:
        out.write(decision_id + "\n")
        out.flush()

    log = DecisionLog(
        path, sync="batch" if sync == "batch" else "always", batch_records=16, batch_ms=2
    )
    with log:
        for number in range(1_000_000):
            decision_id = f"{run_id}-{number}"
            size = rng.choice((0, 100, 10_000, 300_000, 3_000_000))
            action = {"kind": "file", "op": "write", "path": "/workspace/f", "content": "x" * size}
            decision = {"id": number, "decision_id": decision_id, "decision": "allow"}
            log.append(decision, action, on_durable=partial(acknowledged, decision_id))


if __name__ == "__main__":
    main()
