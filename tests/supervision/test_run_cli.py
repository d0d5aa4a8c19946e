"""`corral run` and `corral demo` end to end, through the installed command."""

from __future__ import annotations

import subprocess
from pathlib import Path

from supervision_support import needs_root

pytestmark = needs_root


def test_run_passes_the_exit_status_through(corral: list[str], tmp_path: Path) -> None:
    done = subprocess.run(  # noqa: PLW1510 (the status is asserted)
        [*corral, "run", "-w", str(tmp_path), "--", "sh", "-c", "exit 3"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 3, done.stderr


def test_run_stops_a_denied_exec_and_logs_it(corral: list[str], tmp_path: Path) -> None:
    log = tmp_path / "decisions.jsonl"
    done = subprocess.run(  # noqa: PLW1510 (the status is asserted)
        [
            *corral,
            "run",
            "-w",
            str(tmp_path),
            "--log",
            str(log),
            "--",
            "sh",
            "-c",
            # the sleep: ssh fails in a millisecond; the stop of `sh` must not race its end
            "ssh -N -R 8080:localhost:22 x@127.0.0.1; sleep 3; exit 0",
        ],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 137
    assert "STOP" in done.stderr and "ssh -N -R" in done.stderr
    text = log.read_text()
    assert "CR-TUN-001" in text and '"step":"stop"' in text
    verify = subprocess.run(  # noqa: PLW1510 (the status is asserted)
        [*corral, "log", "verify", str(log)], capture_output=True, timeout=60
    )
    assert verify.returncode == 0


def test_unknown_degraded_part_is_refused(corral: list[str], tmp_path: Path) -> None:
    done = subprocess.run(  # noqa: PLW1510 (the status is asserted)
        [*corral, "run", "--degraded=firewall", "--", "true"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 2 and "unknown fence part" in done.stderr


def test_demo_contains_every_step(corral: list[str]) -> None:
    done = subprocess.run(  # noqa: PLW1510 (the status is asserted)
        [*corral, "demo", "--quiet"], capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 0, done.stdout + done.stderr
    out = done.stdout
    assert "verdict: every escalation was stopped or contained" in out
    assert "compute API orders received: 0" in out
    assert "CR-SUP-001" in out  # the renamed miner was caught by behaviour
    # the tunnel and the miner fail at the network too, not only at exec
    assert "connection refused by the egress proxy (CR-TUN-024" in out
    assert "connection refused by the egress proxy (CR-MIN-008" in out
    # the GPU purchase is stopped by the budget ledger
    assert "budget ledger: CR-BUD-001" in out
