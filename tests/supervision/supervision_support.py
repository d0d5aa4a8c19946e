"""Fixtures for the supervisor's tests: a supervised run with cleanup, skipped without root."""

from __future__ import annotations

import os
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from corral import Guard
from corral.supervision.cgroups import Limits
from corral.supervision.config import LadderSpec, SupervisionSpec
from corral.supervision.fence import FenceOptions
from corral.supervision.supervisor import Outcome, Supervisor

needs_root = pytest.mark.skipif(
    os.geteuid() != 0,
    reason="needs root: the fence creates cgroups and namespaces and reads the kernel's process "
    "events (CI runs as root)",
)
PY = sys.executable


def fast_spec(**ladder: object) -> SupervisionSpec:
    """Defaults, with the ladder stepping every 0.3 s so that tests stay short."""
    return SupervisionSpec(ladder=LadderSpec(step_after_s=0.3, **ladder))


class Run:
    """One supervised agent; ``finish`` waits for it, and cleanup kills whatever is left."""

    def __init__(self, workspace: Path, spec: SupervisionSpec, limits: Limits) -> None:
        self.workspace = workspace
        self.spec = spec
        self.limits = limits
        self.supervisor: Supervisor | None = None
        self.outcome: Outcome | None = None

    def start(
        self, argv: list[str], env: dict[str, str] | None = None, guard: Guard | None = None
    ) -> Supervisor:
        base = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "HOME": str(self.workspace)}
        self.supervisor = Supervisor(
            guard or Guard("default", workspace=[str(self.workspace)]),
            self.spec,
            FenceOptions(
                workspace=(str(self.workspace),),
                limits=self.limits,
                env={**base, **(env or {})},
                cwd=str(self.workspace),
            ),
        )
        self.supervisor.start(argv)
        return self.supervisor

    def finish(self, timeout: float = 30) -> Outcome:
        assert self.supervisor is not None and self.supervisor.started is not None
        process = self.supervisor.started.process
        deadline = time.monotonic() + timeout
        while process.poll() is None and time.monotonic() < deadline:
            time.sleep(0.02)
        if process.poll() is None:
            self.supervisor.stop("test timeout")
        self.outcome = self.supervisor.wait()
        return self.outcome

    def cleanup(self) -> None:
        if self.supervisor is not None and self.outcome is None:
            self.supervisor.stop("test cleanup")
            self.supervisor.wait()


@pytest.fixture
def supervised(tmp_path: Path) -> Iterator[Callable[..., Run]]:
    runs: list[Run] = []

    def make(spec: SupervisionSpec | None = None, limits: Limits | None = None) -> Run:
        workspace = tmp_path / f"ws{len(runs)}"
        workspace.mkdir()
        run = Run(workspace, spec or fast_spec(), limits or Limits(memory_bytes=512 << 20, pids=64))
        runs.append(run)
        return run

    yield make
    for run in runs:
        run.cleanup()


def processes_with(marker: str) -> list[int]:
    """Host pids whose command line contains ``marker`` (to prove nothing survived)."""
    found = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit() or int(entry) == os.getpid():
            continue
        try:
            with open(f"/proc/{entry}/cmdline", "rb") as handle:
                if marker.encode() in handle.read():
                    found.append(int(entry))
        except OSError:
            continue
    return found


def wait_for(predicate: Callable[[], object], timeout: float = 10.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.02)
    return bool(predicate())
