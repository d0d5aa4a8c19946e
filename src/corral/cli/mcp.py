"""``corral mcp-proxy``: put the guard between an MCP client and an MCP server."""

from __future__ import annotations

import os
import sys
import uuid
from pathlib import Path
from typing import TYPE_CHECKING

import click

from corral.cli import log as log_cmd
from corral.cli.common import EXIT_CANNOT_RUN, policy_option, workspace_option

if TYPE_CHECKING:
    from corral.integrations.mcp_gateway import Gateway


@click.command(
    "mcp-proxy",
    context_settings={"ignore_unknown_options": True, "allow_interspersed_args": False},
)
@policy_option
@workspace_option
@log_cmd.log_options
@click.option(
    "--session",
    metavar="ID",
    help="Session the calls belong to (default: a new one per run). 'none' sends no session.",
)
@click.option("--name", "server_label", metavar="NAME", help="What to call the server in logs.")
@click.option(
    "--allow-tool-changes",
    is_flag=True,
    help="Still flag a server whose tools change mid-session, but judge calls to new or "
    "redefined tools like any other call instead of denying them.",
)
@click.option("--http", "upstream", metavar="URL", help="A remote streamable-HTTP MCP server.")
@click.option(
    "--listen",
    default="127.0.0.1:8765",
    show_default=True,
    metavar="HOST:PORT",
    help="Where the HTTP gateway listens (with --http).",
)
@click.argument("server_command", nargs=-1, type=click.UNPROCESSED)
def mcp_proxy(
    *,
    policy: str,
    workspace: tuple[str, ...],
    log: log_cmd.LogOptions | None,
    session: str | None,
    server_label: str | None,
    allow_tool_changes: bool,
    upstream: str | None,
    listen: str,
    server_command: tuple[str, ...],
) -> None:
    """Judge every tool call an MCP client makes before the server sees it.

    \b
    stdio:  corral mcp-proxy [OPTIONS] -- SERVER_COMMAND [ARGS...]
    HTTP:   corral mcp-proxy --http https://host/mcp --listen 127.0.0.1:8765

    A blocked call gets a tool result with isError true and the reason; it never reaches the
    server. A server whose tool list changes after the first listing is flagged (CR-MCP-001)
    and calls to its new or redefined tools are denied.
    """
    from corral.integrations.guard_factory import make_guard  # noqa: PLC0415 - lazy: fast --help
    from corral.integrations.mcp_gateway import Gateway, GatewayOptions  # noqa: PLC0415 - lazy
    from corral.util.yamlfile import SourceError  # noqa: PLC0415 - lazy

    if bool(server_command) == bool(upstream):
        raise click.UsageError("give either a server command after '--' or --http URL, not both")
    try:
        guard = make_guard(policy, workspace)
    except SourceError as exc:
        click.echo(f"corral: policy error: {exc}", err=True)
        sys.exit(EXIT_CANNOT_RUN)
    label = server_label or (Path(server_command[0]).name if server_command else str(upstream))
    options = GatewayOptions(
        server_label=f"mcp:{label}",
        session=_session_id(session),
        allow_tool_changes=allow_tool_changes,
    )
    with log_cmd.opened_log(log) as decision_log:
        gateway = Gateway(guard, options, log=decision_log)
        status = _serve(gateway, server_command, upstream, listen)
    sys.exit(status)


def _session_id(given: str | None) -> str | None:
    if given == "none":
        return None
    return given or os.environ.get("CORRAL_SESSION") or f"mcp-{uuid.uuid4().hex[:12]}"


def _serve(
    gateway: Gateway, server_command: tuple[str, ...], upstream: str | None, listen: str
) -> int:
    if upstream is None:
        from corral.integrations import mcp_stdio  # noqa: PLC0415 - lazy

        try:
            return mcp_stdio.run(gateway, server_command)
        except OSError as exc:
            click.echo(
                f"corral: cannot start {server_command[0]!r}: {exc.strerror or exc}", err=True
            )
            return EXIT_CANNOT_RUN
    from corral.integrations.mcp_http import parse_listen, run_http  # noqa: PLC0415 - lazy

    try:
        host, port = parse_listen(listen)
    except ValueError as exc:
        raise click.BadParameter(str(exc), param_hint="--listen") from exc
    return run_http(gateway, upstream, host, port)
