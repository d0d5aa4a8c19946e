"""Many real processes against one budget: never over it, every unit accounted for.

CI runs 32 processes x 200 reservations per backend; bench/ledger.py runs the full
32 x 1,000 (see bench/RESULTS-ledger.md). The assertions are the same at both sizes.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from corral.ledger import ManualClock, Subjects, open_ledger
from corral.ledger.amounts import MICRO
from corral.ledger.model import Limit

WORKER = str(Path(__file__).parent / "worker.py")
PROCESSES = 32
PER_PROCESS = 200


def _spawn(args: list[str]) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, WORKER, *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,  # its own process group, killed as a whole if the test fails
    )


def _kill(proc: subprocess.Popen[str]) -> None:
    if proc.poll() is None:
        os.killpg(proc.pid, signal.SIGKILL)
    proc.wait(timeout=30)


def test_concurrent_processes_never_exceed_a_shared_budget(ledger_url: str) -> None:
    budget = PROCESSES * PER_PROCESS // 2  # half of what is asked for: many must be denied
    open_ledger(ledger_url).close()  # schema first, so the workers race only on the budget
    procs = [_spawn([ledger_url, str(PER_PROCESS), str(budget), f"w{i}"]) for i in range(PROCESSES)]
    try:
        outputs = [p.communicate(timeout=300) for p in procs]
    finally:
        for proc in procs:
            _kill(proc)
    assert all(p.returncode == 0 for p in procs), [err for _, err in outputs if err][:1]
    reports = [json.loads(out) for out, _ in outputs]
    allowed = sum(r["allowed"] for r in reports)
    denied = sum(r["denied"] for r in reports)
    committed = sum(r["committed_micro"] for r in reports)
    assert allowed + denied == PROCESSES * PER_PROCESS
    assert denied > 0  # the budget really was contended
    ledger = open_ledger(ledger_url)
    try:
        (usage,) = ledger.usage()
        # Every unit the workers committed is in the ledger, nothing else is, nothing is held.
        assert usage.spent == committed
        assert usage.held == 0
        assert usage.spent <= budget * MICRO
        records = ledger.reservations()
        assert len(records) == allowed
        assert sum((r.spent or {}).get("USD", 0) for r in records) == committed
        assert {r.state for r in records} <= {"committed", "released"}
    finally:
        ledger.close()


def test_killed_between_reserve_and_commit_the_hold_expires(ledger_url: str) -> None:
    open_ledger(ledger_url).close()
    proc = _spawn([ledger_url, "hold", "10", "doomed"])
    try:
        assert proc.stdout is not None
        reservation_id = proc.stdout.readline().strip()
        assert reservation_id, proc.stderr.read() if proc.stderr else ""
    finally:
        _kill(proc)  # SIGKILL: no cleanup code of the worker runs
    limits = [Limit("global", "total", "USD", hard=10 * MICRO)]
    clock = ManualClock(time.time())
    ledger = open_ledger(ledger_url, clock=clock)
    try:
        # While the hold lives the budget is spent...
        assert ledger.reserve({"USD": 1}, Subjects(), limits, ttl=60).verdict == "deny"
        clock.advance(31)  # ...past its 30 s expiry it is not, without any sweeper having run.
        assert ledger.get(reservation_id).state == "expired"
        outcome = ledger.reserve({"USD": 10}, Subjects(), limits, ttl=60)
        assert outcome.verdict == "allow"
        assert outcome.reservation is not None
        ledger.commit(outcome.reservation.id)
        (usage,) = ledger.usage()
        assert usage.spent == 10 * MICRO  # the dead reservation counted for nothing
        with pytest.raises(Exception, match="expired"):
            ledger.commit(reservation_id)
        assert ledger.purge() == 1
    finally:
        ledger.close()
