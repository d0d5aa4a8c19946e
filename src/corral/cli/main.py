"""``corral``: the command-line entry point (click)."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import IO

import click

from corral import __version__
from corral.cli import explain as explain_cmd
from corral.cli import log as log_cmd
from corral.cli import policy as policy_cmd
from corral.cli import rules as rules_cmd
from corral.cli.check import check_stream
from corral.cli.common import EXIT_CANNOT_RUN, make_guard, policy_option, workspace_option


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="corral")
def cli() -> None:
    """Corral keeps autonomous AI agents inside the bounds their owners set."""


@cli.command()
@policy_option
@workspace_option
@log_cmd.log_options
@click.argument("file", required=False, type=click.Path(dir_okay=False, path_type=Path))
def check(
    policy: str, workspace: tuple[str, ...], file: Path | None, log: log_cmd.LogOptions | None
) -> None:
    """Judge actions (JSON Lines, from FILE or stdin); write decisions as JSON Lines.

    Exit status: 0 every line judged cleanly, 1 some line was malformed, 2 could not run.
    """
    guard = make_guard(policy, workspace)
    source: IO[bytes]
    if file is None or str(file) == "-":
        source = sys.stdin.buffer
    else:
        try:
            source = file.open("rb")
        except OSError as exc:
            click.echo(f"corral: cannot read {file}: {exc.strerror}", err=True)
            sys.exit(EXIT_CANNOT_RUN)
    with source, log_cmd.opened_log(log) as decision_log:
        sys.exit(check_stream(guard, source, sys.stdout, decision_log))


cli.add_command(explain_cmd.explain)
cli.add_command(log_cmd.log)
cli.add_command(policy_cmd.policy)
cli.add_command(rules_cmd.rules)


def main() -> None:
    cli()
