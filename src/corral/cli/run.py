"""``corral run`` (supervise an agent in its fence) and ``corral demo`` (the incident, replayed)."""

from __future__ import annotations

import json
import os
import signal
import sys
import threading
from collections.abc import Callable
from pathlib import Path
from types import FrameType
from typing import Any

import click

from corral.cli import log as log_cmd
from corral.cli.common import EXIT_CANNOT_RUN, policy_option, workspace_option
from corral.demo import run_demo
from corral.engine.guard import Guard
from corral.integrations.guard_factory import close_state, make_guard
from corral.sinks import DecisionLog, LogError
from corral.supervision.cgroups import Limits
from corral.supervision.egress import EgressBridge, serialize_state
from corral.supervision.events import Event
from corral.supervision.fence import PARTS, FenceError, FenceOptions, SandboxExtension
from corral.supervision.gpu import open_gpu_provider
from corral.supervision.supervisor import Supervisor
from corral.util.yamlfile import SourceError

EXIT_FENCE = 125  # like container runtimes: the fence, not the agent, failed


def parse_degraded(values: tuple[str, ...]) -> frozenset[str]:
    parts: set[str] = set()
    for value in values:
        for part in filter(None, (p.strip() for p in value.split(","))):
            if part == "all":
                parts |= set(PARTS)
            elif part not in PARTS:
                raise click.BadParameter(
                    f"unknown fence part {part!r}; choose from {', '.join(PARTS)} or all",
                    param_hint="--degraded",
                )
            else:
                parts.add(part)
    return frozenset(parts)


def _reporter(verbose: bool) -> Callable[[Event], None]:
    def report(event: Event) -> None:
        if (event.kind == "fence" and "DEGRADED" in event.summary) or event.step or verbose:
            latency = f" ({event.latency_ms:.1f} ms)" if event.latency_ms is not None else ""
            label = (event.step or event.kind).upper()
            click.echo(f"corral: {label} {event.summary[:200]}{latency}", err=True)

    return report


def _log_listener(decision_log: DecisionLog) -> Callable[[Event], None]:
    def append(event: Event) -> None:
        if event.logged:  # the proxy wrote it before acting on it
            return
        try:
            decision_log.append(event.record(), event.action if event.action else None)
        except LogError as exc:  # the log is unusable: say so once, keep enforcing
            click.echo(f"corral: decision log failed: {exc}", err=True)

    return append


@click.command("run", context_settings={"allow_interspersed_args": False})
@policy_option
@workspace_option
@click.option(
    "--degraded",
    multiple=True,
    metavar="PART[,PART]",
    help=f"Start even though these fence parts are missing ({', '.join(PARTS)}, all); "
    "logged and shown. Without it a missing part stops the start.",
)
@click.option(
    "--audit-report",
    type=click.Path(dir_okay=False, writable=True, path_type=Path),
    metavar="FILE",
    help="Write the start-up audit's full report (JSON) to FILE.",
)
@click.option("--pass-env", multiple=True, metavar="NAME", help="Keep this credential variable.")
@click.option("--verbose", "-v", is_flag=True, help="Also print every allowed exec and connection.")
@log_cmd.log_options
@click.argument("command", nargs=-1, required=True, type=click.UNPROCESSED)
def run(  # noqa: PLR0917 (click passes every option)
    policy: str,
    workspace: tuple[str, ...],
    degraded: tuple[str, ...],
    audit_report: Path | None,
    pass_env: tuple[str, ...],
    verbose: bool,
    log: log_cmd.LogOptions | None,
    command: tuple[str, ...],
) -> None:
    """Run COMMAND as a supervised agent: fenced, watched and judged by the policy.

    The agent's network has loopback only; its one way out is Corral's egress proxy, which
    judges every connection with the same policy. Limits and the response ladder come from the
    policy's `supervision:` section.

    Exit status: the agent's; 137 when Corral killed it; 125 when the fence could not be set up;
    2 for a bad policy or option.
    """
    audit = StartupAudit(policy)  # runs while the fence is set up
    fence_off = parse_degraded(degraded)
    guard = _guard(policy, workspace)
    try:
        status = _supervise(guard, fence_off, pass_env, verbose, log, list(command), audit)
    finally:
        for message in close_state(guard):
            click.echo(f"corral: {message}", err=True)
    audit.finish(audit_report)
    sys.exit(status)


def _guard(policy: str, workspace: tuple[str, ...]) -> Guard:
    """The run's guard, with the session layer (the session is the run's id) and the ledger."""
    try:
        guard = make_guard(policy, workspace)
    except SourceError as exc:
        click.echo(f"corral: policy error: {exc}", err=True)
        sys.exit(EXIT_CANNOT_RUN)
    return serialize_state(guard)


def _supervise(  # noqa: PLR0917 (one run's inputs)
    guard: Guard,
    degraded: frozenset[str],
    pass_env: tuple[str, ...],
    verbose: bool,
    log: log_cmd.LogOptions | None,
    command: list[str],
    audit: StartupAudit,
) -> int:
    spec = guard.policy.spec.supervision
    roots = _workspace(guard.policy.workspace)
    limits = Limits(
        cpu_cores=spec.limits.cpu_cores,
        memory_bytes=spec.limits.memory_mb << 20 if spec.limits.memory_mb else None,
        pids=spec.limits.pids,
    )
    gpu, _ = open_gpu_provider()
    with log_cmd.opened_log(log) as decision_log:
        bridge = None if degraded & {"proxy", "net"} else EgressBridge(guard, log=decision_log)
        extensions: tuple[SandboxExtension, ...] = (bridge.extension,) if bridge else ()
        options = FenceOptions(
            workspace=roots,
            limits=limits,
            degraded=degraded,
            hide=tuple(guard.policy.protected),
            pass_env=frozenset(pass_env),
            cwd=os.getcwd() if os.getcwd() in roots else None,
            extensions=extensions,
        )
        listeners = [_reporter(verbose)]
        if decision_log is not None:
            listeners.append(_log_listener(decision_log))
        supervisor = Supervisor(guard, spec, options, gpu=gpu, listeners=listeners)
        if bridge is not None:
            bridge.emit = supervisor.report
        # The audit ran while the guard loaded; it ends before the agent starts, so that its
        # threads never compete with the judgement of the agent's first execs.
        audit.show()
        try:
            try:
                supervisor.start(command)
            except FenceError as exc:
                click.echo(exc.describe(), err=True)
                return EXIT_FENCE
            _stop_on(supervisor, (signal.SIGTERM, signal.SIGHUP))
            outcome = supervisor.wait()
        finally:
            if bridge is not None:
                bridge.close()
            if gpu is not None:
                gpu.close()
    if outcome.killed_by:
        click.echo(f"corral: the agent was killed: {outcome.killed_by[:300]}", err=True)
    return outcome.exit_code


# The start-up audit: local checks only. The cloud CLIs' identity calls are left out, and the
# metadata check probes only endpoints on loopback (none by default): nothing leaves the host.
STARTUP_SKIPPED_CHECKS = ("cloud-identity",)


class StartupAudit:
    """``corral audit`` of the environment the agent is started from, on a thread, so that it
    costs the start-up nothing but its share of the CPU while the fence is set up."""

    def __init__(self, policy: str) -> None:
        self.policy = policy
        self.report: Any = None
        self.error: str | None = None
        self._shown = False
        self._thread = threading.Thread(target=self._run, name="corral-audit", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        try:
            from corral.audit import CHECKS, AuditConfig, run_audit  # noqa: PLC0415 - on the thread
            from corral.audit.config import METADATA_ENDPOINTS  # noqa: PLC0415
            from corral.policy.egress import is_loopback  # noqa: PLC0415

            only = tuple(name for name in CHECKS if name not in STARTUP_SKIPPED_CHECKS)
            local = tuple(e for e in METADATA_ENDPOINTS if is_loopback(e.host))
            self.report = run_audit(
                AuditConfig(policy=self.policy, only=only, metadata_endpoints=local)
            )
        except Exception as exc:  # the audit informs; it never stops the run
            self.error = f"{type(exc).__name__}: {exc}"

    def show(self, timeout: float = 10.0) -> None:
        """Print the one-line summary (waits for the audit if it is still running)."""
        self._thread.join(timeout)
        self._shown = True
        if self.report is not None:
            from corral.audit import summary_line  # noqa: PLC0415 - loaded by the thread

            click.echo(summary_line(self.report), err=True)
        else:
            click.echo(f"corral audit: could not run ({self.error or 'timed out'})", err=True)

    def finish(self, path: Path | None) -> None:
        """Write the full report when asked to (also when the agent never started)."""
        if path is None:
            return
        self._thread.join(10.0)
        if self.report is None:
            click.echo(f"corral: no audit report to write ({self.error or 'timed out'})", err=True)
            return
        from corral.audit.summary import report_json  # noqa: PLC0415

        try:
            path.write_text(json.dumps(report_json(self.report), indent=2) + "\n")
        except OSError as exc:
            click.echo(f"corral: cannot write {path}: {exc.strerror or exc}", err=True)


def _workspace(entries: tuple[str, ...]) -> tuple[str, ...]:
    """The policy's workspace roots that exist; scratch space is private anyway."""
    roots = []
    for entry in entries:
        if entry in ("/tmp", "/var/tmp", "/dev/shm") or not os.path.isdir(entry):
            continue
        if entry == "/":
            click.echo("corral: the workspace cannot be / (nothing would be fenced)", err=True)
            sys.exit(EXIT_CANNOT_RUN)
        roots.append(entry)
    return tuple(roots)


def _stop_on(supervisor: Supervisor, signals: tuple[signal.Signals, ...]) -> None:
    def handler(signum: int, frame: FrameType | None) -> None:
        supervisor.stop(f"corral received {signal.Signals(signum).name}")

    for sig in signals:
        signal.signal(sig, handler)


@click.command("demo")
@click.option("--quiet", "-q", is_flag=True, help="Only the closing timeline and summary.")
def demo(quiet: bool) -> None:
    """Replay the incident: a rogue agent escalates under `corral run` and is contained."""
    result = run_demo(sys.stdout, live=not quiet)
    if result is None:
        sys.exit(EXIT_FENCE)
    sys.exit(0 if result.contained else 1)


COMMANDS = (run, demo)
