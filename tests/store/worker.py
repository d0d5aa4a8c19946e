"""A process that judges ``count`` actions of one session against a shared store (for tests)."""

from __future__ import annotations

import json
import resource
import sys

from corral import Guard
from corral.sessions import SessionTracker
from corral.store import SQLiteStore


def decide_many(db: str, session: str, count: int, tag: str) -> None:
    guard = Guard("permissive", sessions=SessionTracker(SQLiteStore(db)))
    for i in range(count):
        guard.decide({"kind": "exec", "command": f"echo {tag}-{i}", "session": session})


def flood(db: str, count: int) -> None:
    """One session contacting a new host every step; report RSS (KiB) and state size as it goes."""
    store = SQLiteStore(db)
    guard = Guard("permissive", sessions=SessionTracker(store))
    report = {}
    for i in range(1, count + 1):
        guard.decide({"kind": "net", "host": f"h{i}.example.net", "port": 443, "session": "flood"})
        if i in (count // 10, count):
            row = store.get_session("flood")
            assert row is not None
            report[i] = {
                "rss_kib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss,
                "state_bytes": len(json.dumps(row.state)),
                "hosts": store.count_hosts("flood"),
                "actions": row.actions,
            }
    print(json.dumps(report))


if __name__ == "__main__":
    if sys.argv[1] == "decide":
        decide_many(sys.argv[2], sys.argv[3], int(sys.argv[4]), sys.argv[5])
    else:
        flood(sys.argv[2], int(sys.argv[3]))
