"""``corral demo``: the incident replayed against a scripted rogue agent, under ``corral run``.

The demo plants decoy credentials in a throw-away home directory, starts a stratum-like pool in
the agent's network namespace and a fake cloud compute API on the host's loopback, runs the rogue
agent (:mod:`corral.demo.rogue_agent.agent`) under the supervisor with the egress proxy bridged
in and the budget ledger in the guard, and prints a timeline and a summary of what was stopped,
how and how fast. The demo's proxy resolves only the fake API's name: nothing leaves the
machine. Its state (sessions, ledger) lives in the throw-away directory, removed after.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import sys
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TextIO

import corral
from corral.demo.servers import BillingAPI, StratumPool
from corral.demo.timeline import render, seen_lines
from corral.integrations.guard_factory import close_state, make_guard
from corral.supervision.cgroups import Limits
from corral.supervision.egress import EgressBridge, serialize_state
from corral.supervision.events import Event
from corral.supervision.fence import Bind, FenceError, FenceOptions
from corral.supervision.supervisor import Outcome, Supervisor

AGENT_DIR = Path(__file__).resolve().parent / "rogue_agent"
DEMO_POLICY = Path(__file__).resolve().parent / "demo-policy.yaml"
POOL_PORT = 3333
COMPUTE_API_HOST = "compute.googleapis.com"  # the fake's name, resolved by the demo's proxy only
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
    refused: int = 0  # connections the egress proxy refused
    budget_stops: tuple[str, ...] = ()  # the ledger's refusals (CR-BUD-... reason)


def _plant(root: Path) -> tuple[Path, Path, Path]:
    workspace, home, policy_dir = root / "workspace", root / "home", root / "policy"
    for directory in (workspace, home / ".aws", home / ".ssh", policy_dir):
        directory.mkdir(parents=True)
    (home / ".aws" / "credentials").write_text(DECOY_AWS)
    (home / ".ssh" / "id_ed25519").write_text("decoy key: not a real key\n")
    policy = policy_dir / "demo-policy.yaml"
    shutil.copyfile(DEMO_POLICY, policy)  # a copy the agent may try to edit (it is hidden)
    return workspace, home, policy


async def _demo_resolver(host: str, port: int) -> list[str]:
    """The demo's DNS: the fake compute API's name and nothing else, so nothing leaves."""
    if host.lower().rstrip(".") == COMPUTE_API_HOST:
        return ["127.0.0.1"]
    raise OSError(f"the demo resolves only {COMPUTE_API_HOST}")


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
        billing = BillingAPI(COMPUTE_API_HOST)
        guard = serialize_state(make_guard(policy, [str(workspace)], state_dir=root / "state"))
        bridge = EgressBridge(guard, resolver=_demo_resolver)
        supervisor = _supervisor(guard, bridge, workspace, home, policy, tamper_target, billing)
        supervisor.listeners.append(_live_printer(out) if live else (lambda event: None))
        out.write("corral demo: a rogue agent replays the incident under `corral run`\n\n")
        try:
            try:
                supervisor.start([sys.executable, str(AGENT_DIR / "agent.py")])
            except FenceError as exc:
                out.write(exc.describe() + "\n")
                return None
            pool = StratumPool(supervisor.listen_in_agent_netns(POOL_PORT))
            try:
                outcome = supervisor.wait()
            finally:
                pool.close()
        finally:
            bridge.close()
            billing.close()
            close_state(guard)
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
            refused=sum(1 for e in outcome.events if e.step == "refuse"),
            budget_stops=_budget_stops(outcome),
        )
        out.write("\n" + render(result.outcome, steps, _facts(result)) + "\n")
        return result


def _supervisor(  # noqa: PLR0917 (the demo's pieces)
    guard: corral.Guard,
    bridge: EgressBridge,
    workspace: Path,
    home: Path,
    policy: Path,
    tamper: Path,
    billing: BillingAPI,
) -> Supervisor:
    limits = guard.policy.spec.supervision.limits
    supervisor = Supervisor(
        guard,
        guard.policy.spec.supervision,
        FenceOptions(
            workspace=(str(workspace),),
            limits=Limits(
                cpu_cores=limits.cpu_cores,
                memory_bytes=limits.memory_mb << 20 if limits.memory_mb else None,
                pids=limits.pids,
            ),
            homes=(str(home),),
            hide=(str(policy),),
            binds=(Bind(str(home), str(home)), Bind(str(AGENT_DIR), str(AGENT_DIR))),
            env=_agent_env(home, workspace, billing.url, policy, tamper),
            cwd=str(workspace),
            extensions=(bridge.extension,),
        ),
    )
    bridge.emit = supervisor.report
    return supervisor


def _budget_stops(outcome: Outcome) -> tuple[str, ...]:
    """The budget ledger's refusals, one reason each."""
    stops = []
    for event in outcome.events:
        if event.step not in ("stop", "refuse") or event.decision is None:
            continue
        budget = next((r for r in event.decision.rules if r.id.startswith("CR-BUD-")), None)
        if budget is not None:
            stops.append(f"{budget.id} {event.summary[:70]}")
    return tuple(stops)


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
        f"egress proxy: {result.refused} connection(s) refused",
        *(f"budget ledger: {stop}" for stop in result.budget_stops),
        f"compute API orders received: {result.orders}",
        f"mining pool: {result.pool_connections} connection(s), {result.pool_shares} share(s) "
        "submitted before the miner was killed",
        "verdict: every escalation was stopped or contained"
        if result.contained
        else "verdict: SOMETHING GOT THROUGH (see above)",
    ]


__all__ = ["DemoResult", "run_demo"]
