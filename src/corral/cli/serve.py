"""``corral serve``: the HTTP decision API (uvicorn serving :mod:`corral.api.app`)."""

from __future__ import annotations

import ipaddress
import os
import sys
from pathlib import Path

import click

from corral.cli.common import EXIT_CANNOT_RUN, policy_option, workspace_option

TOKEN_ENV = "CORRAL_API_TOKEN"


def is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def read_token(token_file: Path | None) -> str | None:
    if token_file is not None:
        try:
            token = token_file.read_text(encoding="utf-8").strip()
        except OSError as exc:
            raise click.UsageError(
                f"cannot read --token-file {token_file}: {exc.strerror}"
            ) from exc
        if not token:
            raise click.UsageError(f"--token-file {token_file} is empty")
        return token
    return os.environ.get(TOKEN_ENV) or None


@click.command("serve")
@policy_option
@workspace_option
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to listen on.")
@click.option("--port", default=8700, show_default=True, type=click.IntRange(0, 65535))
@click.option(
    "--token-file",
    type=click.Path(dir_okay=False, path_type=Path),
    help=f"File holding the bearer token clients must send (or set {TOKEN_ENV}). Required "
    "unless listening on loopback only.",
)
@click.option("--max-body", default=1024 * 1024, show_default=True, help="Largest body, bytes.")
@click.option(
    "--rate-limit",
    default=5000.0,
    show_default=True,
    help="Requests per second per client address (0: no limit); bursts up to twice that.",
)
def serve(
    *,
    policy: str,
    workspace: tuple[str, ...],
    host: str,
    port: int,
    token_file: Path | None,
    max_body: int,
    rate_limit: float,
) -> None:
    """Serve the decision API: POST /v1/decide, POST /v1/decide/batch, /healthz, /metrics.

    The OpenAPI document is at /openapi.json. Listening on anything but loopback needs a bearer
    token; Corral refuses to start without one.
    """
    token = read_token(token_file)
    if token is None and not is_loopback(host):
        click.echo(
            f"corral: refusing to listen on {host} without a bearer token: anyone who can reach "
            f"it could ask for decisions and read metrics; pass --token-file or set {TOKEN_ENV}",
            err=True,
        )
        sys.exit(EXIT_CANNOT_RUN)
    import uvicorn  # noqa: PLC0415 - lazy: server deps load only to serve

    from corral.api.app import ApiSettings, create_app  # noqa: PLC0415 - lazy: server deps load only to serve
    from corral.integrations.guard_factory import close_state, make_guard  # noqa: PLC0415 - lazy: server deps load only to serve
    from corral.util.yamlfile import SourceError  # noqa: PLC0415 - lazy: server deps load only to serve

    try:
        guard = make_guard(policy, workspace)
    except SourceError as exc:
        click.echo(f"corral: policy error: {exc}", err=True)
        sys.exit(EXIT_CANNOT_RUN)
    settings = ApiSettings(
        token=token, max_body_bytes=max_body, rate_per_s=rate_limit, burst=rate_limit * 2
    )
    click.echo(f"corral: serving policy {guard.policy.name!r} on http://{host}:{port}", err=True)
    try:
        uvicorn.run(
            create_app(guard, settings),
            host=host,
            port=port,
            log_level="warning",
            access_log=False,
            server_header=False,
        )
    finally:  # flush alert sinks and close the store and ledger on shutdown
        for message in close_state(guard):
            click.echo(f"corral: {message}", err=True)
