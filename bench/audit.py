"""How long a full local audit takes (target: 3 s), in-process and as `corral audit --json`.

Every check runs, on this machine as it is; network probes are bounded by their own timeouts
(0.4 s per metadata endpoint and loopback port, all in parallel).
"""

from __future__ import annotations

import shutil
import socket
import statistics
import subprocess
import sys
import time
from pathlib import Path

from corral.audit import AuditConfig, run_audit
from corral.audit.config import METADATA_ENDPOINTS, Endpoint

from common import machine, stamp

ROUNDS = 10
TARGET_S = 3.0


def in_process(cfg: AuditConfig | None = None) -> list[float]:
    times = []
    for _ in range(ROUNDS):
        start = time.perf_counter()
        report = run_audit(cfg)
        times.append(time.perf_counter() - start)
    print(f"  last run: {len(report.findings)} findings from {len(report.meta.checks)} checks")
    return times


def command_line() -> list[float]:
    script = shutil.which("corral", path=str(Path(sys.executable).parent))
    argv = [script] if script else [sys.executable, "-m", "corral"]
    times = []
    for _ in range(ROUNDS):
        start = time.perf_counter()
        subprocess.run([*argv, "audit", "--json"], capture_output=True, check=False)
        times.append(time.perf_counter() - start)
    return times


def show(label: str, times: list[float]) -> None:
    ordered = sorted(times)
    verdict = "met" if ordered[-1] <= TARGET_S else "NOT met"
    print(
        f"{label}: median {statistics.median(ordered):.3f} s, max {ordered[-1]:.3f} s "
        f"over {ROUNDS} runs (target {TARGET_S:.0f} s: {verdict})"
    )


def main() -> None:
    print(f"{machine()}, {stamp()}")
    show("run_audit() in-process", in_process())
    show("corral audit --json, start-up included", command_line())
    # The worst case for the probes: every metadata endpoint accepts the connection and then
    # never answers (a loopback listener standing in for a black-holing firewall).
    with socket.socket() as silent:
        silent.bind(("127.0.0.1", 0))
        silent.listen(64)
        port = silent.getsockname()[1]
        endpoints = tuple(
            Endpoint(e.name, "127.0.0.1", port, e.path, e.headers) for e in METADATA_ENDPOINTS
        )
        show(
            "run_audit(), every metadata endpoint silent",
            in_process(AuditConfig(metadata_endpoints=endpoints)),
        )


if __name__ == "__main__":
    main()
