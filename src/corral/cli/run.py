"""``corral run`` (supervise an agent in its fence) and ``corral demo`` (the incident, replayed)."""

from __future__ import annotations

import os
import signal
import sys
from collections.abc import Callable
from pathlib import Path
from types import FrameType

import click

from corral.cli import log as log_cmd
from corral.cli.common import EXIT_CANNOT_RUN, make_guard, policy_option, workspace_option
from corral.demo import run_demo
from corral.sinks import DecisionLog, LogError
from corral.supervision import config as supervision_config
from corral.supervision.cgroups import Limits
from corral.supervision.events import Event
from corral.supervision.fence import PARTS, FenceError, FenceOptions
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
    "--supervision",
    "supervision_file",
    type=click.Path(dir_okay=False, path_type=Path),
    metavar="FILE",
    help="Limits, detector thresholds and the response ladder (YAML); default: the policy's.",
)
@click.option("--pass-env", multiple=True, metavar="NAME", help="Keep this credential variable.")
@click.option("--verbose", "-v", is_flag=True, help="Also print every allowed exec and connection.")
@log_cmd.log_options
@click.argument("command", nargs=-1, required=True, type=click.UNPROCESSED)
def run(  # noqa: PLR0917 (click passes every option)
    policy: str,
    workspace: tuple[str, ...],
    degraded: tuple[str, ...],
    supervision_file: Path | None,
    pass_env: tuple[str, ...],
    verbose: bool,
    log: log_cmd.LogOptions | None,
    command: tuple[str, ...],
) -> None:
    """Run COMMAND as a supervised agent: fenced, watched and judged by the policy.

    Exit status: the agent's; 137 when Corral killed it; 125 when the fence could not be set up;
    2 for a bad policy or option.
    """
    guard = make_guard(policy, workspace)
    try:
        spec = (
            supervision_config.load_file(supervision_file)
            if supervision_file is not None
            else supervision_config.from_policy(guard.policy)
        )
    except SourceError as exc:
        click.echo(f"corral: supervision settings: {exc}", err=True)
        sys.exit(EXIT_CANNOT_RUN)
    roots = _workspace(guard.policy.workspace)
    limits = Limits(
        cpu_cores=spec.limits.cpu_cores,
        memory_bytes=spec.limits.memory_mb << 20 if spec.limits.memory_mb else None,
        pids=spec.limits.pids,
    )
    options = FenceOptions(
        workspace=roots,
        limits=limits,
        degraded=parse_degraded(degraded),
        hide=tuple(guard.policy.protected),
        pass_env=frozenset(pass_env),
        cwd=os.getcwd() if os.getcwd() in roots else None,
    )
    gpu, _ = open_gpu_provider()
    with log_cmd.opened_log(log) as decision_log:
        listeners = [_reporter(verbose)]
        if decision_log is not None:
            listeners.append(_log_listener(decision_log))
        supervisor = Supervisor(guard, spec, options, gpu=gpu, listeners=listeners)
        try:
            supervisor.start(list(command))
        except FenceError as exc:
            click.echo(exc.describe(), err=True)
            sys.exit(EXIT_FENCE)
        _stop_on(supervisor, (signal.SIGTERM, signal.SIGHUP))
        outcome = supervisor.wait()
    if gpu is not None:
        gpu.close()
    if outcome.killed_by:
        click.echo(f"corral: the agent was killed: {outcome.killed_by[:300]}", err=True)
    sys.exit(outcome.exit_code)


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
