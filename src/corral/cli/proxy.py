"""``corral proxy``: the egress proxy on its own, for sandboxes Corral does not start."""

from __future__ import annotations

import asyncio
import contextlib
import signal
import sys
from pathlib import Path

import click

from corral.cli import log as log_cmd
from corral.cli.common import EXIT_CANNOT_RUN, make_guard, policy_option
from corral.engine.guard import Guard
from corral.proxy import EgressProxy
from corral.sinks import DecisionLog

DEFAULT_LISTEN = "127.0.0.1:3128"


def parse_listen(value: str) -> tuple[str, int]:
    """``HOST:PORT``, ``[V6]:PORT`` or ``:PORT`` (loopback)."""
    if value.startswith("["):
        host, _, rest = value[1:].partition("]")
        port_text = rest[1:] if rest.startswith(":") else ""
    else:
        host, _, port_text = value.rpartition(":")
    if not port_text.isdigit() or int(port_text) > 65535:
        raise click.BadParameter(
            f"{value!r} is not HOST:PORT (for example 127.0.0.1:3128 or [::1]:3128)",
            param_hint="--listen",
        )
    return host or "127.0.0.1", int(port_text)


@click.command("proxy")
@policy_option
@click.option(
    "--listen",
    "listen",
    metavar="HOST:PORT",
    help=f"TCP address to listen on (default {DEFAULT_LISTEN} unless --unix is given).",
)
@click.option(
    "--unix",
    "unix",
    type=click.Path(dir_okay=False, path_type=Path),
    metavar="PATH",
    help="Also (or only) listen on this Unix socket, e.g. one bind-mounted into a sandbox.",
)
@click.option(
    "--session",
    metavar="NAME",
    help="Count every connection toward this one session (its limits and upload budget). "
    "Without it the session is the proxy user name, else one per listener.",
)
@log_cmd.log_options
def proxy(
    policy: str,
    listen: str | None,
    unix: Path | None,
    session: str | None,
    log: log_cmd.LogOptions | None,
) -> None:
    """Run the egress proxy: HTTP (forward and CONNECT) and SOCKS5 on one port, every new
    connection judged by POLICY and, with --log, recorded in the decision log.

    Exit status: 0 stopped by a signal, 2 could not run or could not record a decision.
    """
    address = parse_listen(listen or DEFAULT_LISTEN) if listen or unix is None else None
    guard = make_guard(policy, ())
    with log_cmd.opened_log(log) as decision_log:
        try:
            code = asyncio.run(_serve(guard, address, unix, session, decision_log))
        except OSError as exc:
            click.echo(f"corral: proxy cannot listen: {exc.strerror or exc}", err=True)
            code = EXIT_CANNOT_RUN
    sys.exit(code)


async def _serve(
    guard: Guard,
    address: tuple[str, int] | None,
    unix: Path | None,
    session: str | None,
    decision_log: DecisionLog | None,
) -> int:
    server = EgressProxy(guard, log=decision_log)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    try:
        if address is not None:
            listener = await server.listen_tcp(*address, session=session)
            click.echo(f"corral proxy: listening on {listener.address}", err=True)
        if unix is not None:
            listener = await server.listen_unix(unix, session=session)
            click.echo(f"corral proxy: listening on {listener.address}", err=True)
        failed = asyncio.create_task(server.failed.wait())
        stopped = asyncio.create_task(stop.wait())
        await asyncio.wait({failed, stopped}, return_when=asyncio.FIRST_COMPLETED)
        for task in (failed, stopped):
            task.cancel()
        return EXIT_CANNOT_RUN if server.failed.is_set() else 0
    finally:
        await server.close()
        if unix is not None:
            with contextlib.suppress(OSError):
                unix.unlink()
