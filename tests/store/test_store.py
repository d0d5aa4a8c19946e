"""The store with real processes: no lost updates, a verifiable chain, bounded session state."""

from __future__ import annotations

import json
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

from corral.store import SQLiteStore

WORKER = Path(__file__).with_name("worker.py")


def fill(db: Path, count: int) -> None:
    with SQLiteStore(db) as store:
        store.log_decisions(
            (time.time(), {"decision": "allow", "session": "s", "reason": f"r{i}"}, {"i": i})
            for i in range(count)
        )


def test_concurrent_processes_lose_no_update(tmp_path: Path) -> None:
    db = tmp_path / "c.db"
    SQLiteStore(db).close()
    per_process, processes = 150, 3
    workers = [
        subprocess.Popen(
            [sys.executable, str(WORKER), "decide", str(db), "shared", str(per_process), f"p{n}"]
        )
        for n in range(processes)
    ]
    try:
        for worker in workers:
            assert worker.wait(timeout=120) == 0
    finally:
        for worker in workers:
            if worker.poll() is None:
                worker.kill()
                worker.wait()
    with SQLiteStore(db) as store:
        row = store.get_session("shared")
        assert row is not None
        total = per_process * processes
        # Every process read-modify-wrote the same row: any lost update would show here.
        assert row.actions == total
        assert row.state["step"] == total
        assert store.count_decisions("shared") == total
        steps = [
            d.body["decision"]["session_state"]["step"] for d in store.decisions("shared", total)
        ]
        assert steps == list(range(1, total + 1))
        assert store.verify().ok


def test_chain_catches_edit_delete_and_swap(tmp_path: Path) -> None:
    db = tmp_path / "c.db"
    fill(db, 20)
    with SQLiteStore(db) as store:
        assert store.verify().ok and store.verify().records == 20
        body = store.decisions(None, 20)[0].body

    def tampered(sql: str, *args: object) -> tuple[bool, int | None]:
        copy = tmp_path / f"t{time.monotonic_ns()}.db"
        copy.write_bytes(db.read_bytes())
        with sqlite3.connect(copy) as raw:
            raw.execute(sql, args)
        with SQLiteStore(copy) as store:
            result = store.verify()
        return result.ok, result.first_bad

    edited = json.dumps({**body, "decision": {**body["decision"], "decision": "deny"}})
    assert tampered("UPDATE decisions SET body = ? WHERE seq = 1", edited) == (False, 1)
    assert tampered("UPDATE decisions SET verdict = 'deny', ts = ts + 1 WHERE seq = 7") == (
        False,
        7,
    )
    assert tampered("DELETE FROM decisions WHERE seq = 5") == (False, 5)
    swap = (
        "UPDATE decisions SET seq = -1 WHERE seq = 8; UPDATE decisions SET seq = 8 WHERE seq = 9;"
    )
    copy = tmp_path / "swapped.db"
    copy.write_bytes(db.read_bytes())
    with sqlite3.connect(copy) as raw:
        raw.executescript(swap + "UPDATE decisions SET seq = 9 WHERE seq = -1;")
    with SQLiteStore(copy) as store:
        assert (store.verify().ok, store.verify().first_bad) == (False, 8)
    assert tampered("DELETE FROM decisions WHERE seq = 20")[0] is True  # see docs: tail cut


def test_flood_keeps_session_state_bounded(tmp_path: Path) -> None:
    """100,000 actions, each to a new host: the session's state and the process stay bounded."""
    db = tmp_path / "c.db"
    done = subprocess.run(
        [sys.executable, str(WORKER), "flood", str(db), "100000"],
        capture_output=True,
        text=True,
        timeout=300,
        check=True,
    )
    report = {int(k): v for k, v in json.loads(done.stdout).items()}
    early, late = report[10000], report[100000]
    assert late["actions"] == 100000
    assert early["hosts"] == late["hosts"] == 1000  # the policy's memory.hosts cap
    assert late["state_bytes"] <= early["state_bytes"] * 1.1
    assert late["rss_kib"] - early["rss_kib"] < 20 * 1024
    with SQLiteStore(db) as store:
        assert store.count_decisions("flood") == 100000  # on disk, not in memory
