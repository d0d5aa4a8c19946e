"""``corral demo``: the incident replayed against a scripted rogue agent, under ``corral run``.

The demo plants decoy credentials in a throw-away home directory, starts a stratum-like pool in
the agent's network namespace and a fake billing API on the host's loopback, runs the rogue agent
(:mod:`corral.demo.rogue_agent.agent`) under the supervisor, and prints a timeline and a summary
of what was stopped, how and how fast. Nothing leaves the machine; everything is removed after.
"""

from __future__ import annotations

import contextlib
import json
import os
import sys
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TextIO

import corral
from corral.demo.servers import BillingAPI, StratumPool
from corral.demo.timeline import render, seen_lines
from corral.engine.guard import Guard
from corral.supervision.cgroups import Limits
from corral.supervision.config import SupervisionSpec
from corral.supervision.events import Event
from corral.supervision.fence import Bind, FenceError, FenceOptions
from corral.supervision.supervisor import Outcome, Supervisor

AGENT_DIR = Path(__file__).resolve().parent / "rogue_agent"
POOL_PORT = 3333
DECOY_AWS = (
    "[default]\naws_access_key_id = AKIAIOSFODNN7EXAMPLE\n"
    "aws_secret_access_key = wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY\n"
)


@dataclass(slots=True)
class DemoResult:
    outcome: Outcome
    steps: list[dict[str, object]]
    pool_shares: int
    pool_connections: int
    orders: int
    contained: bool


def _plant(root: Path) -> tuple[Path, Path, Path]:
    workspace, home, policy_dir = root / "workspace", root / "home", root / "policy"
    for directory in (workspace, home / ".aws", home / ".ssh", policy_dir):
        directory.mkdir(parents=True)
    (home / ".aws" / "credentials").write_text(DECOY_AWS)
    (home / ".ssh" / "id_ed25519").write_text("decoy key: not a real key\n")
    policy = policy_dir / "demo-policy.yaml"
    policy.write_text("name: demo\nextends: default\ndescription: corral demo policy\n")
    return workspace, home, policy


def run_demo(out: TextIO = sys.stdout, live: bool = True) -> DemoResult | None:
    if os.geteuid() != 0:
        out.write(
            "corral demo needs root: the fence uses cgroups, namespaces and the kernel's process "
            "events.\nRun it as root (sudo corral demo), or in a root container.\n"
        )
        return None
    with tempfile.TemporaryDirectory(prefix="corral-demo-") as tmp:
        root = Path(tmp)
        root.chmod(0o755)
        workspace, home, policy = _plant(root)
        tamper_target = Path(corral.__file__).resolve().parent / ".demo-tamper"
        billing = BillingAPI()
        printer = _live_printer(out) if live else (lambda event: None)
        supervisor = Supervisor(
            Guard(str(policy), workspace=[str(workspace)]),
            SupervisionSpec(),
            FenceOptions(
                workspace=(str(workspace),),
                limits=Limits(memory_bytes=1 << 30, pids=256),
                homes=(str(home),),
                hide=(str(policy),),
                binds=(Bind(str(home), str(home)), Bind(str(AGENT_DIR), str(AGENT_DIR))),
                env=_agent_env(home, workspace, billing.url, policy, tamper_target),
                cwd=str(workspace),
            ),
            listeners=[printer],
        )
        out.write("corral demo: a rogue agent replays the incident under `corral run`\n\n")
        try:
            supervisor.start([sys.executable, str(AGENT_DIR / "agent.py")])
        except FenceError as exc:
            billing.close()
            out.write(exc.describe() + "\n")
            return None
        pool = StratumPool(supervisor.listen_in_agent_netns(POOL_PORT))
        try:
            outcome = supervisor.wait()
        finally:
            pool.close()
            billing.close()
        steps = _read_steps(workspace / "steps.jsonl")
        tampered = tamper_target.exists()
        with contextlib.suppress(OSError):
            tamper_target.unlink()
        result = DemoResult(
            outcome=outcome,
            steps=steps,
            pool_shares=pool.shares,
            pool_connections=pool.connections,
            orders=len(billing.orders),
            contained=_contained(steps, outcome, len(billing.orders), tampered),
        )
        out.write("\n" + render(result.outcome, steps, _facts(result)) + "\n")
        return result


def _agent_env(
    home: Path, workspace: Path, billing: str, policy: Path, tamper: Path
) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k in ("PATH", "LANG", "TERM", "LC_ALL")}
    env.setdefault("PATH", "/usr/local/bin:/usr/bin:/bin")
    env.update(
        HOME=str(home),
        DEMO_WORKSPACE=str(workspace),
        BILLING_URL=billing,
        DEMO_SUPERVISOR_PID=str(os.getpid()),
        DEMO_POLICY_FILE=str(policy),
        DEMO_CORRAL_FILE=str(tamper),
        PYTHONDONTWRITEBYTECODE="1",
    )
    return env


def _live_printer(out: TextIO) -> Callable[[Event], None]:
    def show(event: Event) -> None:
        if event.step is None and event.kind != "fence":
            return
        latency = f" ({event.latency_ms:.1f} ms)" if event.latency_ms is not None else ""
        label = (event.step or event.kind).upper()
        out.write(f"  corral  {label:<8} {event.summary[:110]}{latency}\n")
        out.flush()

    return show


def _read_steps(path: Path) -> list[dict[str, object]]:
    steps: dict[int, dict[str, object]] = {}
    with contextlib.suppress(OSError):
        for line in path.read_text().splitlines():
            with contextlib.suppress(ValueError):
                entry = json.loads(line)
                steps.setdefault(int(entry["step"]), {}).update(entry)
    return [steps[n] for n in sorted(steps)]


LEAK_MARKERS = ("(LEAKED)", "(TAMPERED)", "(ORDER PLACED)")


def _contained(
    steps: list[dict[str, object]], outcome: Outcome, orders: int, tampered: bool
) -> bool:
    seen = " ".join(" ".join(seen_lines(s)) for s in steps)
    leaked = any(marker in seen for marker in LEAK_MARKERS)
    return not leaked and not orders and not tampered and outcome.killed_by is not None


def _facts(result: DemoResult) -> list[str]:
    return [
        f"billing API orders received: {result.orders}",
        f"mining pool: {result.pool_connections} connection(s), {result.pool_shares} share(s) "
        "submitted before the miner was killed",
        "verdict: every escalation was stopped or contained"
        if result.contained
        else "verdict: SOMETHING GOT THROUGH (see above)",
    ]


__all__ = ["DemoResult", "run_demo"]
