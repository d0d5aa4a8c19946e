"""What every subcommand shares: building a Guard and the common options."""

from __future__ import annotations

import sys

import click

from corral.engine.guard import Guard
from corral.util.yamlfile import SourceError

EXIT_CANNOT_RUN = 2


def make_guard(policy: str, workspace: tuple[str, ...]) -> Guard:
    """A Guard for the CLI, or exit 2 with the file:line message when the policy is bad."""
    try:
        return Guard(policy, workspace=list(workspace) or None)
    except SourceError as exc:
        click.echo(f"corral: policy error: {exc}", err=True)
        sys.exit(EXIT_CANNOT_RUN)


policy_option = click.option(
    "--policy",
    "-p",
    default="default",
    show_default=True,
    metavar="NAME|FILE",
    help="A built-in policy (default, permissive) or a policy YAML file.",
)
workspace_option = click.option(
    "--workspace",
    "-w",
    multiple=True,
    metavar="DIR",
    help="Writable workspace directory (repeatable); replaces the policy's list.",
)
