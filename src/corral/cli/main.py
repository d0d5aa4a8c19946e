"""``corral``: the command-line entry point (click).

Subcommands are loaded when they are used: a coding-agent hook or ``corral run`` runs on every
tool call or agent start, and should not pay for importing the proxy, the API server and the
audit. ``COMMANDS`` is the explicit registry: command name -> (module, attribute).
"""

from __future__ import annotations

import importlib

import click

from corral import __version__

COMMANDS: dict[str, tuple[str, str]] = {
    "alerts": ("corral.cli.sessions", "alerts"),
    "approvals": ("corral.cli.ledger", "approvals"),
    "audit": ("corral.cli.audit", "audit"),
    "budget": ("corral.cli.ledger", "budget"),
    "check": ("corral.cli.check", "check"),
    "demo": ("corral.cli.run", "demo"),
    "explain": ("corral.cli.explain", "explain"),
    "hook": ("corral.cli.hook", "hook"),
    "install": ("corral.cli.hook", "install"),
    "log": ("corral.cli.log", "log"),
    "mcp-proxy": ("corral.cli.mcp", "mcp_proxy"),
    "policy": ("corral.cli.policy", "policy"),
    "proxy": ("corral.cli.proxy", "proxy"),
    "rules": ("corral.cli.rules", "rules"),
    "run": ("corral.cli.run", "run"),
    "serve": ("corral.cli.serve", "serve"),
    "session": ("corral.cli.sessions", "session"),
    "sessions": ("corral.cli.sessions", "sessions"),
    "show": ("corral.cli.sessions", "show"),
}


class LazyGroup(click.Group):
    """A click group that imports a subcommand's module only when that command is wanted."""

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted({*super().list_commands(ctx), *COMMANDS})

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        found = super().get_command(ctx, cmd_name)
        if found is not None or cmd_name not in COMMANDS:
            return found
        module_name, attribute = COMMANDS[cmd_name]
        command = getattr(importlib.import_module(module_name), attribute)
        if not isinstance(command, click.Command):  # a registry typo must fail loudly in tests
            raise TypeError(f"{module_name}.{attribute} is not a click command")
        return command


@click.group(cls=LazyGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="corral")
def cli() -> None:
    """Corral keeps autonomous AI agents inside the bounds their owners set."""


def main() -> None:
    cli()
