"""``corral``: the command-line entry point (click)."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import IO

import click

from corral import __version__
from corral.cli import audit as audit_cmd
from corral.cli import explain as explain_cmd
from corral.cli import hook as hook_cmd
from corral.cli import ledger as ledger_cmd
from corral.cli import log as log_cmd
from corral.cli import mcp as mcp_cmd
from corral.cli import policy as policy_cmd
from corral.cli import proxy as proxy_cmd
from corral.cli import rules as rules_cmd
from corral.cli import run as run_cmd
from corral.cli import serve as serve_cmd
from corral.cli import sessions as sessions_cmd
from corral.cli.check import SessionOptions, check_stream, session_options
from corral.cli.common import EXIT_CANNOT_RUN, make_guard, policy_option, workspace_option
from corral.integrations.guard_factory import attach_state, close_state


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="corral")
def cli() -> None:
    """Corral keeps autonomous AI agents inside the bounds their owners set."""


@cli.command()
@policy_option
@workspace_option
@log_cmd.log_options
@session_options
@click.argument("file", required=False, type=click.Path(dir_okay=False, path_type=Path))
def check(
    policy: str,
    workspace: tuple[str, ...],
    file: Path | None,
    log: log_cmd.LogOptions | None,
    sessions: SessionOptions,
) -> None:
    """Judge actions (JSON Lines, from FILE or stdin); write decisions as JSON Lines.

    Actions that carry 'session' are judged with their session's history (kept in the state
    directory). Exit status: 0 every line judged cleanly, 1 some line was malformed, 2 could not
    run.
    """
    guard = attach_state(
        make_guard(policy, workspace),
        state_dir=sessions.state_dir,
        sessions=sessions.enabled,
        replay_time=sessions.replay_time,
    )
    source: IO[bytes]
    if file is None or str(file) == "-":
        source = sys.stdin.buffer
    else:
        try:
            source = file.open("rb")
        except OSError as exc:
            click.echo(f"corral: cannot read {file}: {exc.strerror}", err=True)
            sys.exit(EXIT_CANNOT_RUN)
    try:
        with source, log_cmd.opened_log(log) as decision_log:
            status = check_stream(guard, source, sys.stdout, decision_log)
    finally:
        for message in close_state(guard):
            click.echo(f"corral: {message}", err=True)
    sys.exit(status)


cli.add_command(audit_cmd.audit)
cli.add_command(explain_cmd.explain)
for command in sessions_cmd.COMMANDS:
    cli.add_command(command)
cli.add_command(hook_cmd.hook)
cli.add_command(hook_cmd.install)
cli.add_command(log_cmd.log)
for ledger_command in ledger_cmd.COMMANDS:
    cli.add_command(ledger_command)
cli.add_command(mcp_cmd.mcp_proxy)
cli.add_command(policy_cmd.policy)
cli.add_command(proxy_cmd.proxy)
cli.add_command(rules_cmd.rules)
for run_command in run_cmd.COMMANDS:
    cli.add_command(run_command)
cli.add_command(serve_cmd.serve)


def main() -> None:
    cli()
