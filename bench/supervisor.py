"""Supervisor benchmarks (root): kill latency, behaviour detection, overhead, start-up.

    sudo .venv/bin/python bench/supervisor.py          # writes bench/RESULTS-supervisor.md

1. exec -> tree killed: an agent execs a miner by name 30 times; latency is from the kernel's
   exec timestamp to the SIGKILLs being sent (the process and its descendants).
2. behaviour-only miner: a renamed, argument-free miner emulator talking stratum to a pool in
   the agent's network; latency is from the miner's start to the whole agent being killed.
3. overhead: the supervisor's own CPU time (all threads) while the agent sleeps, and while it
   execs processes as fast as one core allows.
4. start-up: ``Supervisor.start`` + run + teardown of ``true`` (the fence's cost), and the wall
   time of the whole ``corral run true`` next to ``corral --version`` (the CLI's own cost).
"""

from __future__ import annotations

import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from corral import Guard
from corral.demo.servers import StratumPool
from corral.supervision.cgroups import Limits
from corral.supervision.config import SupervisionSpec
from corral.supervision.fence import FenceOptions
from corral.supervision.supervisor import Outcome, Supervisor

from common import ROOT, machine, stamp

MINER = ROOT / "src/corral/demo/rogue_agent/miner_emulator.py"
PY = sys.executable
GUARD = Guard("default")


def supervised(workspace: Path, argv: list[str]) -> Supervisor:
    sup = Supervisor(
        GUARD,
        SupervisionSpec(),
        FenceOptions(
            workspace=(str(workspace),),
            limits=Limits(memory_bytes=1 << 30, pids=4096),
            env={"PATH": os.environ.get("PATH", "/usr/bin:/bin")},
            cwd=str(workspace),
        ),
    )
    sup.start(argv)
    return sup


def exec_kill(workspace: Path, rounds: int = 30) -> list[float]:
    code = (
        "import subprocess, sys\n"
        f"for _ in range({rounds}):\n"
        "    subprocess.run(['xmrig', '-c', 'import time; time.sleep(5)', '-o',\n"
        "                    'stratum+tcp://127.0.0.1:3333'], executable=sys.executable)\n"
    )
    script = workspace / "exec_miners.py"  # a file: the agent's own command line is innocent
    script.write_text(code)
    outcome = supervised(workspace, [PY, str(script)]).wait()
    return [e.latency_ms for e in outcome.events if e.step == "stop" and e.latency_ms is not None]


def behaviour_miner(workspace: Path) -> float | None:
    (workspace / "miner.json").write_text('{"host": "127.0.0.1", "port": 3333}')
    (workspace / "go").unlink(missing_ok=True)
    code = (
        "import os, sys, time\n"
        "while not os.path.exists('go'): time.sleep(0.01)\n"
        f"os.execv(sys.executable, ['kworker', {str(MINER)!r}])\n"
    )
    sup = supervised(workspace, [PY, "-c", code])
    pool = StratumPool(sup.listen_in_agent_netns(3333))
    (workspace / "go").touch()
    outcome = sup.wait()
    pool.close()
    kills = [e for e in outcome.events if e.step == "kill"]
    return kills[0].latency_ms if kills else None


def cpu_seconds() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def overhead(workspace: Path, argv: list[str], seconds: float) -> tuple[float, int]:
    """(supervisor CPU as % of one core, exec events seen) over ``seconds``."""
    sup = supervised(workspace, argv)
    time.sleep(0.5)  # past start-up
    before_cpu, before_wall = cpu_seconds(), time.monotonic()
    before_events = len(sup.events)
    time.sleep(seconds)
    used, wall = cpu_seconds() - before_cpu, time.monotonic() - before_wall
    execs = sum(1 for e in sup.events[before_events:] if e.kind == "exec")
    sup.stop("benchmark over")
    sup.wait()
    return 100 * used / wall, int(execs / wall)


def startup(workspace: Path, rounds: int = 10) -> list[float]:
    times = []
    for _ in range(rounds):
        start = time.perf_counter()
        outcome: Outcome = supervised(workspace, ["true"]).wait()
        times.append((time.perf_counter() - start) * 1000)
        assert outcome.exit_code == 0
    return times


def cli_wall(argv: list[str], rounds: int = 5) -> float:
    times = []
    for _ in range(rounds):
        start = time.perf_counter()
        subprocess.run(argv, check=True, capture_output=True)
        times.append((time.perf_counter() - start) * 1000)
    return statistics.median(times)


def main() -> int:
    if os.geteuid() != 0:
        print("bench/supervisor.py needs root (cgroups, namespaces, process events)")
        return 2
    corral = [PY, "-m", "corral"]
    with tempfile.TemporaryDirectory() as tmp:
        ws = Path(tmp)
        kills = sorted(exec_kill(ws))
        detections = [d for d in (behaviour_miner(ws) for _ in range(5)) if d is not None]
        idle_cpu, _ = overhead(ws, ["sleep", "60"], 5.0)
        storm = "while :; do /bin/true; done"
        storm_cpu, storm_rate = overhead(ws, ["sh", "-c", storm], 5.0)
        fence_ms = sorted(startup(ws))
        run_true = cli_wall([*corral, "run", "-w", str(ws), "--", "true"])
        version = cli_wall([*corral, "--version"])
    lines = [
        "# Supervisor benchmarks",
        "",
        f"Machine: {machine()}. Date: {stamp()}. Run: `sudo .venv/bin/python bench/supervisor.py`.",
        "",
        "| measure | target | result |",
        "|---|---|---|",
        f"| exec of a named miner -> process tree killed, median of {len(kills)} "
        f"(p90, max) | <= 100 ms | {statistics.median(kills):.2f} ms "
        f"({kills[int(0.9 * (len(kills) - 1))]:.2f}, {kills[-1]:.2f}) |",
        f"| behaviour-only miner (renamed, no arguments) -> agent killed, median of "
        f"{len(detections)} (max) | <= 2 s | {statistics.median(detections) / 1000:.2f} s "
        f"({max(detections) / 1000:.2f}) |",
        f"| supervisor CPU while the agent idles | <= 3% of a core | {idle_cpu:.2f}% |",
        f"| supervisor CPU while the agent execs {storm_rate}/s | <= 10% of a core at 1,000/s "
        f"| {storm_cpu:.1f}% |",
        f"| fence start + `true` + teardown (Supervisor API), median of {len(fence_ms)} "
        f"| <= 150 ms | {statistics.median(fence_ms):.0f} ms |",
        f"| `corral run true` wall, median of 5 (`corral --version`: {version:.0f} ms) "
        f"| - | {run_true:.0f} ms |",
        "",
    ]
    text = "\n".join(lines)
    print(text)
    (ROOT / "bench" / "RESULTS-supervisor.md").write_text(text + NOTES)
    return 0


NOTES = """
Notes

- Kill latency counts from the kernel's exec event (its CLOCK_MONOTONIC timestamp) to the
  SIGKILLs having been sent: reading the command line, judging it with the engine (cached for
  repeated command lines) and signalling the process and its descendants.
- Detection latency counts from the miner process's start (its /proc start time) to the kill of
  the whole cgroup; it is bounded below by the detector's `sustain_s` (1 s by default) plus one
  sampling interval (0.25 s).
- The exec storm's rate is what one shell loop reaches on this machine; the supervisor judges
  every exec (most hit the decision cache) and queues an event for each.
- `corral run true` includes the CLI's import and the rule library's compilation (the same cost
  `corral check` pays); the fence itself is the Supervisor line.
"""

if __name__ == "__main__":
    sys.exit(main())
