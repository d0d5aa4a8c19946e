"""The forwarder inside a sandbox: 127.0.0.1:PORT there, relayed to the proxy's Unix socket.

It runs inside the sandbox's network namespace, where loopback is the only interface, so it is
the agent's only way out, and it leads to exactly one place: the proxy. Killing it cuts the agent
off; it cannot open anything itself. It imports nothing from Corral so that it starts in tens of
milliseconds and can run as a plain script (``python -I forwarder.py --unix P --port N``).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import sys
from collections.abc import Callable

CHUNK = 256 * 1024
MAX_CONNECTIONS = 4096


async def _pipe(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    try:
        while data := await reader.read(CHUNK):
            writer.write(data)
            await writer.drain()
        if writer.can_write_eof():
            writer.write_eof()
    except (OSError, RuntimeError):
        writer.transport.abort()


async def serve(
    unix_path: str,
    port: int,
    host: str = "127.0.0.1",
    ready: Callable[[int], None] | None = None,
    max_connections: int = MAX_CONNECTIONS,
) -> None:
    """Accept on ``host:port`` and relay each connection to ``unix_path``, until cancelled."""
    open_count = 0

    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        nonlocal open_count
        if open_count >= max_connections:
            writer.transport.abort()
            return
        open_count += 1
        try:
            up_reader, up_writer = await asyncio.open_unix_connection(unix_path, limit=CHUNK)
        except OSError:
            open_count -= 1
            writer.transport.abort()
            return
        try:
            await asyncio.gather(_pipe(reader, up_writer), _pipe(up_reader, writer))
        finally:
            open_count -= 1
            up_writer.transport.abort()
            writer.transport.abort()

    server = await asyncio.start_server(handle, host, port, limit=CHUNK, backlog=1024)
    bound = server.sockets[0].getsockname()[1]
    if ready is not None:
        ready(bound)
    async with server:
        await server.serve_forever()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Relay 127.0.0.1:PORT to a Unix socket.")
    parser.add_argument("--unix", required=True, help="the proxy's Unix socket")
    parser.add_argument("--port", type=int, required=True, help="loopback port (0: any)")
    parser.add_argument("--host", default="127.0.0.1")
    args = parser.parse_args(argv)

    def announce(port: int) -> None:
        print(f"ready {port}", flush=True)  # the supervisor waits for this line

    with contextlib.suppress(KeyboardInterrupt):
        try:
            asyncio.run(serve(args.unix, args.port, args.host, announce))
        except OSError as exc:
            print(
                f"corral forwarder: cannot listen on {args.host}:{args.port}: {exc}",
                file=sys.stderr,
            )
            return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
