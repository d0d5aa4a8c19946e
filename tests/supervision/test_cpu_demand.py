"""A busy process that has to share its core still shows as wanting a whole core."""

from __future__ import annotations

import os
import subprocess
import sys
import time

from corral.supervision import procfs

BUSY = "import time\nend = time.time() + 3\nwhile time.time() < end:\n    pass\n"


def _pinned(core: int) -> subprocess.Popen[bytes]:
    proc = subprocess.Popen([sys.executable, "-c", BUSY])
    os.sched_setaffinity(proc.pid, {core})
    return proc


def test_two_busy_processes_on_one_core_each_want_a_whole_core() -> None:
    core = min(os.sched_getaffinity(0))
    first, second = _pinned(core), _pinned(core)
    try:
        time.sleep(0.3)
        before = {p.pid: procfs.sched_demand_ns(p.pid) for p in (first, second)}
        start = time.monotonic()
        time.sleep(1.0)
        elapsed = time.monotonic() - start
        for proc in (first, second):
            now = procfs.sched_demand_ns(proc.pid)
            was = before[proc.pid]
            assert now is not None and was is not None
            wanted = (now - was) / 1e9 / elapsed
            assert wanted > 0.85  # each got about half the core, and waited for the rest
    finally:
        for proc in (first, second):
            proc.kill()
            proc.wait()
